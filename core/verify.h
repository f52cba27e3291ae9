/* verify.h: evaluate a plan's checks against the real state of a host: files, certificates,
 * requests, keys (compared, never shown), served TLS certificates, commands. */
#ifndef CW_VERIFY_H
#define CW_VERIFY_H

#include <stdbool.h>
#include <time.h>

#include "plan.h"
#include "transport.h"

struct verify_env {
	void *ctx;
	/* The connected transport of a host. */
	struct transport *(*transport)(void *ctx, size_t host);
	/* Fingerprint a certificate at path on host had before the run ("" if none, NULL unknown). */
	const char *(*before)(void *ctx, size_t host, const char *path);
	/* The public key (SHA-256) a certificate at path had before the run and the end of the
	 * file's chain (its earliest notAfter): false when unknown. May be NULL. */
	bool (*before_key)(void *ctx, size_t host, const char *path, char pubkey[65], time_t *not_after);
	int tls_wait_s;   /* how long a TLS check keeps trying while a server comes up */
};

/* True when the check holds. *line (heap) says what was seen, for the operator and journal. */
bool verify_check(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		  char **line);

#endif
