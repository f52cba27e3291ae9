/* verify.c: the checks behind "verify:" and "before:" lines of a plan. */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "carenew.h"
#include "runner.h"
#include "util.h"
#include "x509.h"

#define MAX_PEM (1 << 20)

/* Private keys are read only to compare; wipe them before freeing. */
static void free_secret(char *s, size_t len)
{
	if (s) {
		explicit_bzero(s, len);
		free(s);
	}
}

static cw_status read_on(const struct verify_env *env, size_t host, const char *path, char **data,
			 size_t *len, struct cw_error *err)
{
	return transport_read_file(env->transport(env->ctx, host), path, MAX_PEM, data, len, err);
}

static bool fail_line(char **line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail_line(char **line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(line, fmt, ap) < 0)
		*line = NULL;
	va_end(ap);
	return false;
}

static bool check_cert(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		       char **line)
{
	struct cw_error err = {0};
	char *pem = NULL;
	size_t len = 0;
	const char *host = p->hosts[c->host].name;
	if (read_on(env, c->host, c->path, &pem, &len, &err))
		return fail_line(line, "%s on %s: %s", c->path, host, err.msg);
	struct x509_info info = {0};
	if (x509_parse_cert(pem, len, &info, &err)) {
		free(pem);
		return fail_line(line, "%s on %s is not a certificate: %s", c->path, host, err.msg);
	}
	bool ok = true;
	struct strbuf why;
	strbuf_init(&why);
	if (c->cn && (!info.subject_cn || strcmp(info.subject_cn, c->cn) != 0)) {
		strbuf_addf(&why, "; its subject is '%s', expected '%s'", info.subject_cn ? info.subject_cn : "", c->cn);
		ok = false;
	}
	if (c->is_ca && !info.is_ca) {
		strbuf_adds(&why, "; it is not a CA certificate");
		ok = false;
	}
	for (size_t i = 0; c->san && c->san[i]; i++) {
		const char *want = strncmp(c->san[i], "DNS:", 4) == 0 ? c->san[i] + 4 : c->san[i];
		if (strncmp(want, "IP:", 3) == 0)
			continue; /* IP SANs are not in san_dns */
		if (!strv_contains(info.san_dns, want)) {
			strbuf_addf(&why, "; alt name '%s' is missing", want);
			ok = false;
		}
	}
	if (c->ca) {
		char *ca = NULL, *crl = NULL;
		size_t calen = 0, crllen = 0;
		if (read_on(env, c->host, c->ca, &ca, &calen, &err)) {
			strbuf_addf(&why, "; cannot read the CA bundle: %s", err.msg);
			ok = false;
		} else if (c->crl && read_on(env, c->host, c->crl, &crl, &crllen, &err)) {
			strbuf_addf(&why, "; cannot read the CRL: %s", err.msg);
			ok = false;
		} else if (x509_verify(pem, len, ca, calen, crl, crllen, &err)) {
			strbuf_addf(&why, "; it does not verify against %s: %s", c->ca, err.msg);
			ok = false;
		} else if (crl && c->crl_days) {
			/* Fresh enough: a CRL just re-signed, not one merely still valid. */
			struct x509_crl_info *ci = NULL;
			size_t nci = 0;
			time_t want = time(NULL) + (time_t)c->crl_days * 86400;
			if (x509_parse_crls(crl, crllen, &ci, &nci, &err) != CW_OK) {
				strbuf_addf(&why, "; %s: %s", c->crl, err.msg);
				ok = false;
			}
			for (size_t k = 0; k < nci && ok; k++)
				if (!ci[k].next_update || ci[k].next_update < want) {
					char when[32];
					strbuf_addf(&why, "; the CRL from %s in %s has its next update at %s, not at least %d days away",
						    ci[k].issuer_cn, c->crl, ci[k].next_update ? time_iso8601((long)ci[k].next_update, when) : "never",
						    c->crl_days);
					ok = false;
				}
			x509_crl_infos_free(ci, nci);
		}
		free(ca);
		free(crl);
	}
	if (c->key) {
		char *key = NULL;
		size_t klen = 0;
		bool match = false;
		if (read_on(env, c->host, c->key, &key, &klen, &err)) {
			strbuf_addf(&why, "; cannot read the private key: %s", err.msg);
			ok = false;
		} else if (x509_key_matches(pem, len, key, klen, &match, &err) || !match) {
			strbuf_addf(&why, "; it does not belong to the private key %s", c->key);
			ok = false;
		}
		free_secret(key, klen);
	}
	if (c->changed) {
		const char *before = env->before ? env->before(env->ctx, c->host, c->path) : NULL;
		if (before && *before && strcmp(before, info.fingerprint) == 0) {
			strbuf_addf(&why, "; it is still the old certificate (fingerprint %s)", before);
			ok = false;
		}
	}
	if (c->unchanged) {
		const char *before = env->before ? env->before(env->ctx, c->host, c->path) : NULL;
		if (!before || !*before) {
			strbuf_adds(&why, "; what it was before the run is not known");
			ok = false;
		} else if (strcmp(before, info.fingerprint) != 0) {
			strbuf_addf(&why, "; it is not the certificate it was before the run (fingerprint %s)", before);
			ok = false;
		}
	}
	if (c->same_key) {
		char pk[65];
		time_t end;
		if (!env->before_key || !env->before_key(env->ctx, c->host, c->path, pk, &end)) {
			strbuf_adds(&why, "; its public key before the run is not known");
			ok = false;
		} else if (strcmp(pk, info.pubkey_sha256) != 0) {
			strbuf_addf(&why, "; PUBLIC KEYS DIFFER: it has %s, before the run it had %s", info.pubkey_sha256, pk);
			ok = false;
		}
	}
	char exp[32];
	time_iso8601((long)info.not_after, exp);
	if (ok)
		*line = xasprintf("%s on %s: %s, expires %s, SHA-256 %s%s%s", c->path, host,
				  info.subject_cn ? info.subject_cn : "?", exp, info.fingerprint,
				  c->same_key ? ", the same public key as before the run: " : "",
				  c->same_key ? info.pubkey_sha256 : "");
	else
		*line = xasprintf("%s on %s (subject %s, SHA-256 %s)%s", c->path, host,
				  info.subject_cn ? info.subject_cn : "?", info.fingerprint, why.buf);
	strbuf_done(&why);
	x509_info_done(&info);
	free(pem);
	return ok;
}

/* Public key hash of a CSR, certificate or private key at path on host. */
static cw_status pubkey_of(const struct verify_env *env, size_t host, const char *path, char out[65],
			   struct cw_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	cw_status st = read_on(env, host, path, &pem, &len, err);
	if (st)
		return st;
	struct x509_info info = {0};
	if (strstr(pem, "CERTIFICATE REQUEST")) {
		st = x509_parse_csr(pem, len, &info, err);
	} else if (strstr(pem, "PRIVATE KEY")) {
		st = x509_key_pubkey_sha256(pem, len, out, err);
		free_secret(pem, len);
		return st;
	} else {
		st = x509_parse_cert(pem, len, &info, err);
	}
	if (!st)
		memcpy(out, info.pubkey_sha256, 65);
	x509_info_done(&info);
	free(pem);
	return st;
}

static bool check_csr(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		      char **line)
{
	struct cw_error err = {0};
	char *pem = NULL;
	size_t len = 0;
	const char *host = p->hosts[c->host].name;
	if (read_on(env, c->host, c->path, &pem, &len, &err))
		return fail_line(line, "%s on %s: %s", c->path, host, err.msg);
	struct x509_info info = {0};
	if (x509_parse_csr(pem, len, &info, &err)) {
		free(pem);
		return fail_line(line, "%s on %s is not a certificate request: %s", c->path, host, err.msg);
	}
	free(pem);
	bool ok = true;
	struct strbuf why;
	strbuf_init(&why);
	if (c->cn && (!info.subject_cn || strcmp(info.subject_cn, c->cn) != 0)) {
		strbuf_addf(&why, "; it asks for '%s', expected '%s'", info.subject_cn ? info.subject_cn : "", c->cn);
		ok = false;
	}
	const char *paths[2] = {c->key, c->other};
	size_t hosts[2] = {c->host, c->other_host};
	for (int k = 0; k < 2; k++) {
		if (!paths[k])
			continue;
		char pk[65];
		if (pubkey_of(env, hosts[k], paths[k], pk, &err)) {
			strbuf_addf(&why, "; cannot read %s on %s: %s", paths[k], p->hosts[hosts[k]].name, err.msg);
			ok = false;
		} else if (strcmp(pk, info.pubkey_sha256) != 0) {
			strbuf_addf(&why, "; PUBLIC KEYS DIFFER: %s on %s has %s, %s on %s has %s", c->path, host,
				    info.pubkey_sha256, paths[k], p->hosts[hosts[k]].name, pk);
			ok = false;
		}
	}
	if (ok)
		*line = xasprintf("%s on %s: request for %s, public key SHA-256 %s%s", c->path, host,
				  info.subject_cn ? info.subject_cn : "?", info.pubkey_sha256,
				  c->other ? " (the same on both ends)" : "");
	else
		*line = xasprintf("%s on %s%s", c->path, host, why.buf);
	strbuf_done(&why);
	x509_info_done(&info);
	return ok;
}

static bool check_same(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		       char **line)
{
	struct cw_error err = {0};
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	bool ok = false;
	if (read_on(env, c->host, c->path, &a, &alen, &err))
		fail_line(line, "%s on %s: %s", c->path, p->hosts[c->host].name, err.msg);
	else if (read_on(env, c->other_host, c->other, &b, &blen, &err))
		fail_line(line, "%s on %s: %s", c->other, p->hosts[c->other_host].name, err.msg);
	else if (alen != blen || memcmp(a, b, alen) != 0)
		fail_line(line, "%s differs from %s", c->path, c->other);
	else {
		char h[65];
		sha256_hex(a, alen, h);
		*line = xasprintf("%s is a copy of %s (SHA-256 of the file %.16s...)", c->path, c->other, h);
		ok = true;
	}
	free_secret(a, alen);
	free_secret(b, blen);
	return ok;
}

static bool check_tls(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		      char **line)
{
	struct cw_error err = {0};
	char *ca = NULL;
	size_t calen = 0;
	if (read_on(env, c->host, c->ca, &ca, &calen, &err))
		return fail_line(line, "cannot read the CA bundle %s: %s", c->ca, err.msg);
	time_t deadline = time(NULL) + (env->tls_wait_s > 0 ? env->tls_wait_s : 1);
	bool ok = false;
	for (;;) {
		char *pem = NULL;
		if (x509_fetch_tls(c->address, c->port, NULL, 5000, &pem, &err) == CW_OK) {
			struct x509_info info = {0};
			size_t len = strlen(pem);
			char pk[65];
			if (x509_parse_cert(pem, len, &info, &err) == CW_OK &&
			    x509_verify(pem, len, ca, calen, NULL, 0, &err) == CW_OK) {
				/* key: the served certificate must also be the one for this key (the
				 * service loaded the new certificate, not merely one of the new CA). */
				if (c->key && pubkey_of(env, c->host, c->key, pk, &err))
					fail_line(line, "%s:%d: cannot read the key %s: %s", c->address, c->port, c->key,
						  err.msg);
				else if (c->key && strcmp(pk, info.pubkey_sha256) != 0)
					fail_line(line, "%s:%d serves %s (SHA-256 %s), signed by the CA in %s, but its "
						  "PUBLIC KEY DIFFERS from %s (%.16s... served, %.16s... in the file)",
						  c->address, c->port, info.subject_cn ? info.subject_cn : "?",
						  info.fingerprint, c->ca, c->key, info.pubkey_sha256, pk);
				else {
					*line = xasprintf("%s:%d serves %s (SHA-256 %s), signed by the CA in %s%s%s",
							  c->address, c->port,
							  info.subject_cn ? info.subject_cn : "?", info.fingerprint,
							  c->ca, c->key ? ", for the key " : "", c->key ? c->key : "");
					ok = true;
				}
			} else {
				fail_line(line, "%s:%d serves %s, which does not verify against %s: %s", c->address,
					  c->port, info.subject_cn ? info.subject_cn : "a certificate", c->ca, err.msg);
			}
			x509_info_done(&info);
			free(pem);
			break;
		}
		if (time(NULL) >= deadline) {
			fail_line(line, "nothing answers TLS on %s:%d: %s", c->address, c->port, err.msg);
			break;
		}
		sleep(1);
	}
	free(ca);
	return ok;
}

/* Every certificate in a directory under a CA bundle, now and a day after the end of the bundle
 * the same path held before the run (ca_renew_judge). */
static bool check_signed(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
			 char **line)
{
	struct cw_error err = {0};
	struct transport *t = env->transport(env->ctx, c->host);
	const char *host = p->hosts[c->host].name;
	char *ca = NULL, *list = NULL, pk[65];
	size_t calen = 0;
	time_t old_end = 0;
	if (read_on(env, c->host, c->ca, &ca, &calen, &err))
		return fail_line(line, "cannot read the CA bundle %s on %s: %s", c->ca, host, err.msg);
	if (!env->before_key || !env->before_key(env->ctx, c->host, c->ca, pk, &old_end)) {
		free(ca);
		return fail_line(line, "the end of the CA bundle %s before the run is not known", c->ca);
	}
	char *const argv[] = {"find", c->path, "-mindepth", "1", "-maxdepth", "1", "-name", "*.pem", "-type", "f", NULL};
	struct proc_result res;
	if (runner_capture(t, argv, 600, 64 << 20, &list, NULL, &res, &err) || res.exit_code != 0) {
		free(ca);
		free(list);
		return fail_line(line, "cannot list %s on %s: %s", c->path, host, err.msg[0] ? err.msg : "find failed");
	}
	char **names = strv_split(list, '\n');
	free(list);
	struct ca_renew_tally tally = {.after = old_end + 86400};
	struct strbuf out;
	strbuf_init(&out);
	time_t now = time(NULL);
	for (size_t i = 0; names && names[i]; i++) {
		char *pem = NULL;
		size_t len = 0;
		if (read_on(env, c->host, names[i], &pem, &len, &err)) {
			strbuf_addf(&out, "%s: cannot read it: %s\n", names[i], err.msg);
			tally.failed++;
		} else {
			ca_renew_judge(&tally, names[i], pem, len, NULL, 0, ca, calen, now, &out);
		}
		free(pem);
	}
	strv_free(names);
	free(ca);
	ca_renew_tally_line(&tally, c->path, &out);
	/* One line: the failures first (each ends in a newline), then the summary. */
	for (size_t i = 0; i < out.len; i++)
		if (out.buf[i] == '\n' && i + 1 < out.len)
			out.buf[i] = ';';
	if (out.len && out.buf[out.len - 1] == '\n')
		out.buf[--out.len] = '\0';
	bool ok = tally.failed == 0 && tally.checked > 0;
	*line = xasprintf("%s on %s%s", out.buf, host, tally.checked ? "" : " (nothing was checked)");
	strbuf_done(&out);
	return ok;
}

bool verify_check(const struct plan *p, const struct plan_check *c, const struct verify_env *env,
		  char **line)
{
	struct cw_error err = {0};
	struct transport *t = env->transport(env->ctx, c->host);
	const char *host = p->hosts[c->host].name;
	bool exists = false;
	*line = NULL;
	switch (c->kind) {
	case CHECK_ABSENT:
	case CHECK_PRESENT:
		if (transport_path_exists(t, c->path, &exists, &err))
			return fail_line(line, "cannot check %s on %s: %s", c->path, host, err.msg);
		if (exists == (c->kind == CHECK_PRESENT)) {
			*line = xasprintf("%s %s on %s", c->path, exists ? "exists" : "is gone", host);
			return true;
		}
		return fail_line(line, "%s %s on %s", c->path, exists ? "still exists" : "does not exist", host);
	case CHECK_EMPTY: {
		if (transport_path_exists(t, c->path, &exists, &err))
			return fail_line(line, "cannot check %s on %s: %s", c->path, host, err.msg);
		if (!exists) {
			*line = xasprintf("%s on %s is gone (so empty)", c->path, host);
			return true;
		}
		char *const argv[] = {"find", c->path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit", NULL};
		char *out = NULL;
		struct proc_result res;
		if (runner_capture(t, argv, 60, 4096, &out, NULL, &res, &err) || res.exit_code != 0) {
			free(out);
			return fail_line(line, "cannot list %s on %s: %s", c->path, host, err.msg[0] ? err.msg : "find failed");
		}
		bool empty = !out || !*out;
		if (empty)
			*line = xasprintf("%s on %s is empty", c->path, host);
		else
			fail_line(line, "%s on %s still holds %s", c->path, host, strtok(out, "\n"));
		free(out);
		return empty;
	}
	case CHECK_CERT:
		return check_cert(p, c, env, line);
	case CHECK_CSR:
		return check_csr(p, c, env, line);
	case CHECK_SAME:
		return check_same(p, c, env, line);
	case CHECK_TLS:
		return check_tls(p, c, env, line);
	case CHECK_SIGNED:
		return check_signed(p, c, env, line);
	case CHECK_COMMAND: {
		struct proc_result res;
		char *cmd = argv_display(c->argv);
		bool ok = runner_capture(t, c->argv, 600, 1 << 16, NULL, NULL, &res, &err) == CW_OK &&
			  res.exit_code == 0;
		if (ok)
			*line = xasprintf("`%s` succeeded on %s", cmd, host);
		else
			fail_line(line, "`%s` failed on %s (%s)", cmd, host,
				  err.msg[0] ? err.msg : (res.exit_code >= 0 ? "non-zero exit" : "killed"));
		free(cmd);
		return ok;
	}
	}
	return fail_line(line, "unknown check");
}
