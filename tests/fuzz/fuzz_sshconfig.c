/* fuzz_sshconfig.c: the OpenSSH client config reader and the lookup of a few host names. */
#include "fuzz.h"

#include "sshconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct sshcfg c;
	struct cw_error err;
	memset(&c, 0, sizeof c);
	if (sshcfg_parse("config", text, &c, &err) == CW_OK) {
		static const char *const hosts[] = { "agent1.example.com", "ca", "10.0.0.1", "x", NULL };
		for (int i = 0; hosts[i]; i++) {
			struct sshcfg_host h;
			memset(&h, 0, sizeof h);
			if (sshcfg_lookup(&c, hosts[i], "/home/op", &h, &err) == CW_OK)
				sshcfg_host_done(&h);
		}
	}
	sshcfg_done(&c);
	free(text);
	return 0;
}
