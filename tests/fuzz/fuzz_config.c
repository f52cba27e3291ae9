/* fuzz_config.c: the site / answers / profile / procedure loader. The first byte picks the
 * loader; the rest is the file. Procedures are loaded next to the shipped ones, so a use =
 * include can reach them (and the input itself). */
#include "fuzz.h"

#include "config.h"
#include "util.h"

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	static const char *const procs[] = { "agent", "primary", "oss-ca", "pe-monolithic",
					     "pe-split", NULL };
	for (int i = 0; procs[i]; i++) {
		char from[512], to[512];
		snprintf(from, sizeof from, "%s/config/procedures/%s.cfg", CW_FUZZ_SRCDIR, procs[i]);
		snprintf(to, sizeof to, "%s/%s.cfg", fuzz_dir(), procs[i]);
		if (symlink(from, to) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	char path[256];
	struct cw_error err;
	fuzz_write("x.cfg", data + 1, size - 1, path, sizeof path);
	switch (data[0] % 4) {
	case 0:
	case 1: { /* site or answers (the same syntax) */
		struct site s;
		site_init(&s);
		if (site_load(&s, path, &err) == CW_OK) {
			for (size_t i = 0; i <= s.nhosts; i++) {
				struct host_cfg h;
				const char *name = i < s.nhosts ? s.hosts[i].name : "other.example.com";
				if (site_host_settings(&s, name, NULL, &h, &err) == CW_OK)
					host_cfg_done(&h);
			}
		}
		site_done(&s);
		char **agents = NULL; /* the caller frees what was read, on an error too */
		agents_file_read(path, &agents, &err);
		strv_free(agents);
		break;
	}
	case 2: {
		struct profile *p = NULL;
		if (profile_load(path, &p, &err) == CW_OK)
			profile_free(p);
		break;
	}
	case 3: {
		struct procedure *p = NULL;
		if (procedure_load(path, &p, &err) == CW_OK)
			procedure_free(p);
		break;
	}
	}
	return 0;
}
