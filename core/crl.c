/* crl.c: refresh a CA's CRLs in place with its own keys (the crl-refresh procedure's action). */
#include "crl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "x509.h"

char *cadir_file(const char *root, const char *cadir, const char *name)
{
	char *p = path_join(cadir, name);
	if (root && *root) {
		char *r = path_join(root, p);
		free(p);
		return r;
	}
	return p;
}

cw_status cadir_keys(const char *root, const char *cadir, char ***keys, struct cw_error *err)
{
	static const char *const key_names[] = {"ca_key.pem", "root_key.pem", NULL};
	cw_status s = CW_OK;
	*keys = NULL;
	for (size_t i = 0; !s && key_names[i]; i++) {
		char *kp = cadir_file(root, cadir, key_names[i]), *key = NULL;
		if (path_exists(kp) && (s = file_read(kp, 1 << 20, &key, NULL, err)) == CW_OK)
			strv_push_owned(keys, key);
		free(kp);
	}
	return s;
}

void cadir_keys_free(char **keys)
{
	for (size_t i = 0; keys && keys[i]; i++)
		explicit_bzero(keys[i], strlen(keys[i]));
	strv_free(keys);
}

cw_status file_replace_keeping(const char *path, const char *data, size_t len, const struct stat *was,
			       struct cw_error *err)
{
	cw_status s = file_write_atomic(path, data, len, was->st_mode & 07777, err);
	if (!s && chown(path, was->st_uid, was->st_gid) != 0)
		s = cw_error_set(err, CW_EIO, "%s: written, but its owner could not be set back to %d:%d", path,
				 (int)was->st_uid, (int)was->st_gid);
	return s;
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
	if ((s = file_replace_keeping(path, fresh, strlen(fresh), &st, err)))
		goto done;
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
	char *capath = cadir_file(root, cadir, "ca_crt.pem"), *ca = NULL;
	char **keys = NULL;
	size_t calen = 0;
	cw_status s = file_read(capath, X509_PEM_MAX, &ca, &calen, err);
	if (!s)
		s = cadir_keys(root, cadir, &keys, err);
	static const char *const crls[] = {"ca_crl.pem", "infra_crl.pem", NULL};
	for (size_t i = 0; !s && crls[i]; i++) {
		char *p = cadir_file(root, cadir, crls[i]);
		if (i == 0 || path_exists(p))
			s = refresh_file(p, ca, calen, keys, days, now, out, err);
		free(p);
	}
	cadir_keys_free(keys);
	free(ca);
	free(capath);
	return s;
}
