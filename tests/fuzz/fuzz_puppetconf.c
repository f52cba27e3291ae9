/* fuzz_puppetconf.c: puppet.conf parsing (both section orders) and discovery over a root whose
 * puppet.conf is the input. */
#include "fuzz.h"

#include "config.h"
#include "facts.h"
#include "vars.h"

static struct profile *profile;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	static const char *const primary[] = { "server", "master", "main", NULL };
	static const char *const agent[] = { "agent", "main", NULL };
	struct vars base, out;
	vars_init(&base);
	vars_set(&base, "confdir", "/etc/puppetlabs/puppet");
	vars_set(&base, "vardir", "/opt/puppetlabs/puppet/cache");
	for (int k = 0; k < 2; k++) {
		vars_init(&out);
		struct cw_error err;
		puppetconf_parse(text, k ? agent : primary, &base, &out, &err);
		vars_done(&out);
	}
	vars_done(&base);
	free(text);

	/* discovery: the input is root/etc/puppetlabs/puppet/puppet.conf */
	if (!profile) {
		struct cw_error err;
		if (profile_load(CW_FUZZ_SRCDIR "/config/profiles/oss-aio.cfg", &profile, &err) != CW_OK)
			abort();
		char cmd[512];
		snprintf(cmd, sizeof cmd, "mkdir -p %s/root/etc/puppetlabs/puppet", fuzz_dir());
		if (system(cmd) != 0)
			abort();
	}
	char path[256];
	fuzz_write("root/etc/puppetlabs/puppet/puppet.conf", data, size, path, sizeof path);
	char root[128];
	snprintf(root, sizeof root, "%s/root", fuzz_dir());
	struct facts f;
	struct cw_error err;
	if (facts_discover(root, profile, &f, &err) == CW_OK)
		facts_done(&f);
	return 0;
}
