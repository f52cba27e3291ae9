/* sshconfig.h: the basics of an OpenSSH client config (~/.ssh/config) for certwiz's SSH
 * transport: per-host HostName, User, Port, IdentityFile, UserKnownHostsFile and
 * ConnectTimeout, chosen by Host patterns as ssh(1) does (the first value obtained wins). */
#ifndef CW_SSHCONFIG_H
#define CW_SSHCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct sshcfg_option {
	char *key;    /* lower case: hostname, user, port, identityfile, userknownhostsfile, connecttimeout */
	char *value;  /* as written (quotes removed); expanded by sshcfg_lookup */
	int line;
};

struct sshcfg_block {
	char **patterns; /* strv of Host patterns ("*", "?", "!neg"); NULL: before the first Host (all) */
	bool never;      /* a Match block: not understood, so it applies to no host */
	struct sshcfg_option *opts;
	size_t nopts;
};

struct sshcfg {
	char *file;
	struct sshcfg_block *blocks; /* owned */
	size_t nblocks;
};

/* What the config says for one host; every string is heap and NULL when the config is silent. */
struct sshcfg_host {
	char *hostname, *user, *identity, *known_hosts;
	int port;            /* 0: not set */
	int connect_timeout; /* 0: not set */
};

/* Parse text (the content of file, used in messages). Keywords other than the six above are
 * skipped, as are Include and Match blocks (said in README). Errors name file:line. */
cw_status sshcfg_parse(const char *file, const char *text, struct sshcfg *out, struct cw_error *err);
/* Read and parse path; a missing file is an empty config, not an error. */
cw_status sshcfg_load(const char *path, struct sshcfg *out, struct cw_error *err);
void sshcfg_done(struct sshcfg *c);

/* The settings for host (matched case-insensitively against the Host patterns). "~/" and
 * %d (home), %h and %n (host name), %r (remote user), %u (local user, $USER), %% are expanded in HostName, IdentityFile and
 * UserKnownHostsFile; home is $HOME. */
cw_status sshcfg_lookup(const struct sshcfg *c, const char *host, const char *home, struct sshcfg_host *out,
			struct cw_error *err);
void sshcfg_host_done(struct sshcfg_host *h);

/* One Host pattern list against a name: true when a plain pattern matches and no "!" one does. */
bool sshcfg_match(char *const *patterns, const char *host);

#endif
