/* crl.c: refresh a CA's CRLs in place with its own keys (the crl-refresh procedure's action). */
#include "crl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "x509.h"

static char *at(const char *root, const char *cadir, const char *name)
{
	char *p = path_join(cadir, name);
	if (root && *root) {
		char *r = path_join(root, p);
		free(p);
		return r;
	}
	return p;
}

/* A CRL number as `openssl crl -text` shows it (decimal), from its hex. */
static const char *number_dec(const char *hex, char buf[32])
{
	if (!hex[0])
		return "none";
	if (strlen(hex) > 15)
		return hex;
	snprintf(buf, 32, "%llu", strtoull(hex, NULL, 16));
	return buf;
}

/* One CRL file: re-sign, replace (owner and mode kept), read back. */
static cw_status refresh_file(const char *path, const char *ca, size_t calen, char *const *keys, int days, time_t now,
			      struct strbuf *out, struct cw_error *err)
{
	char *pem = NULL, *fresh = NULL;
	size_t len = 0, n = 0;
	struct stat st;
	cw_status s;
	if (stat(path, &st) != 0)
		return cw_error_set(err, CW_EIO, "%s: cannot read it", path);
	if ((s = file_read(path, X509_PEM_MAX, &pem, &len, err)))
		return s;
	struct x509_crl_info *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	if ((s = x509_parse_crls(pem, len, &before, &nb, err)) ||
	    (s = x509_crl_resign(pem, len, ca, calen, keys, now, days, &fresh, &n, err)))
		goto done;
	if ((s = file_write_atomic(path, fresh, strlen(fresh), st.st_mode & 07777, err)))
		goto done;
	if (chown(path, st.st_uid, st.st_gid) != 0) {
		s = cw_error_set(err, CW_EIO, "%s: written, but its owner could not be set back to %d:%d", path,
				 (int)st.st_uid, (int)st.st_gid);
		goto done;
	}
	free(pem);
	pem = NULL;
	if ((s = file_read(path, X509_PEM_MAX, &pem, &len, err)) || (s = x509_parse_crls(pem, len, &after, &na, err)))
		goto done;
	for (size_t i = 0; i < nb && i < na; i++) {
		char when[32];
		if (after[i].nrevoked != before[i].nrevoked || after[i].next_update != now + (time_t)days * 86400) {
			s = cw_error_set(err, CW_EVERIFY, "%s: read back, the CRL from %s is not the one written", path,
					 after[i].issuer_cn);
			goto done;
		}
		char b[32], a[32];
		strbuf_addf(out, "%s: CRL from %s re-signed: %zu revoked entries kept, number %s -> %s, next update %s\n",
			    path, after[i].issuer_cn, after[i].nrevoked, number_dec(before[i].number, b),
			    number_dec(after[i].number, a), time_iso8601((long)after[i].next_update, when));
	}
	if (na != nb)
		s = cw_error_set(err, CW_EVERIFY, "%s: read back, it holds %zu CRLs, not %zu", path, na, nb);
done:
	x509_crl_infos_free(before, nb);
	x509_crl_infos_free(after, na);
	free(pem);
	free(fresh);
	return s;
}

cw_status crl_refresh(const char *root, const char *cadir, int days, time_t now, struct strbuf *out,
		      struct cw_error *err)
{
	char *capath = at(root, cadir, "ca_crt.pem"), *ca = NULL;
	char **keys = NULL;
	size_t calen = 0;
	cw_status s = file_read(capath, X509_PEM_MAX, &ca, &calen, err);
	static const char *const key_names[] = {"ca_key.pem", "root_key.pem", NULL};
	for (size_t i = 0; !s && key_names[i]; i++) {
		char *kp = at(root, cadir, key_names[i]), *key = NULL;
		if (path_exists(kp) && (s = file_read(kp, 1 << 20, &key, NULL, err)) == CW_OK)
			strv_push_owned(&keys, key);
		free(kp);
	}
	static const char *const crls[] = {"ca_crl.pem", "infra_crl.pem", NULL};
	for (size_t i = 0; !s && crls[i]; i++) {
		char *p = at(root, cadir, crls[i]);
		if (i == 0 || path_exists(p))
			s = refresh_file(p, ca, calen, keys, days, now, out, err);
		free(p);
	}
	/* The keys' text is wiped before it is freed. */
	for (size_t i = 0; keys && keys[i]; i++)
		memset(keys[i], 0, strlen(keys[i]));
	strv_free(keys);
	free(ca);
	free(capath);
	return s;
}
