/* carenew.c: re-issue a CA's certificates with its own keys (the ca-renew procedure's action). */
#include "carenew.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crl.h"
#include "x509.h"

/* Each certificate of a PEM bundle, one x509_info each (heap array). */
static cw_status bundle_infos(const char *pem, struct x509_info **out, size_t *n, struct cw_error *err)
{
	*out = NULL;
	*n = 0;
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	for (const char *p = strstr(pem, begin); p; p = strstr(p + 1, begin)) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		cw_status st = x509_parse_cert(p, strlen(p), &(*out)[*n], err);
		if (st) {
			for (size_t i = 0; i <= *n; i++)
				x509_info_done(&(*out)[i]);
			free(*out);
			*out = NULL;
			*n = 0;
			return st;
		}
		(*n)++;
	}
	if (!*n)
		return cw_error_set(err, CW_EINVAL, "no certificate in the CA bundle");
	return CW_OK;
}

static void infos_free(struct x509_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x509_info_done(&v[i]);
	free(v);
}

time_t ca_bundle_end(const char *pem, size_t len)
{
	struct x509_info *v = NULL;
	size_t n = 0;
	(void)len;
	if (bundle_infos(pem, &v, &n, NULL))
		return 0;
	time_t end = v[0].not_after;
	for (size_t i = 1; i < n; i++)
		if (v[i].not_after < end)
			end = v[i].not_after;
	infos_free(v, n);
	return end;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ca_renew_judge(struct ca_renew_tally *t, const char *name, const char *pem, size_t len, const char *old_ca,
		    size_t old_len, const char *new_ca, size_t new_len, time_t now, struct strbuf *out)
{
	struct x509_info info = {0};
	struct cw_error e = {0};
	char when[32];
	if (x509_parse_cert(pem, len, &info, &e)) {
		strbuf_addf(out, "%s: cannot read it: %s\n", name, e.msg);
		t->failed++;
	} else if (info.not_after <= now) {
		t->expired++;
	} else if (old_ca && x509_verify_at(pem, len, old_ca, old_len, NULL, 0, now, &e)) {
		t->foreign++;
	} else if (x509_verify_at(pem, len, new_ca, new_len, NULL, 0, now, &e)) {
		strbuf_addf(out, "%s: does not verify under the new CA bundle: %s\n", name, e.msg);
		t->failed++;
	} else {
		/* After the old CA's end, or the certificate's own last second when it ends first. */
		time_t at = t->after && t->after < info.not_after ? t->after : info.not_after - 1;
		if (x509_verify_at(pem, len, new_ca, new_len, NULL, 0, at, &e)) {
			strbuf_addf(out, "%s: does not verify under the new CA bundle at %s: %s\n", name,
				    time_iso8601((long)at, when), e.msg);
			t->failed++;
		} else {
			t->checked++;
			t->past += t->after && t->after < info.not_after;
		}
	}
	x509_info_done(&info);
}

void ca_renew_tally_line(const struct ca_renew_tally *t, const char *dir, struct strbuf *out)
{
	char when[32] = "-";
	if (t->after)
		time_iso8601((long)t->after, when);
	strbuf_addf(out, "%s: %zu certificates verify under the new CA bundle now, %zu of them also at %s (a day "
			 "after the old CA's end), the rest until their own end; %zu expired and %zu not from this CA "
			 "left out; %zu failed\n",
		    dir, t->checked, t->past, when, t->expired, t->foreign, t->failed);
}

/* The *.pem files of dir, sorted (heap strv, may be NULL). */
static cw_status pem_files(const char *dir, char ***names, struct cw_error *err)
{
	*names = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return cw_error_set(err, CW_EIO, "%s: cannot list it", dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".pem") == 0)
			strv_push(names, de->d_name);
	}
	closedir(d);
	if (*names)
		qsort(*names, strv_len(*names), sizeof **names, cmp_str);
	return CW_OK;
}

cw_status ca_renew_named_serials(const char *dir, char ***serials, struct cw_error *err)
{
	char **names = NULL;
	*serials = NULL;
	cw_status st = pem_files(dir, &names, err);
	for (size_t i = 0; !st && names && names[i]; i++) {
		char *p = path_join(dir, names[i]), *pem = NULL, serial[X509_SERIAL_MAX];
		size_t len = 0;
		if (file_read(p, 1 << 20, &pem, &len, NULL) == CW_OK && x509_aki_serial(pem, len, serial) &&
		    !strv_contains(*serials, serial))
			strv_push(serials, serial);
		free(pem);
		free(p);
	}
	strv_free(names);
	return st;
}

cw_status ca_renew_check_signed(const char *dir, const char *old_ca, size_t old_len, const char *new_ca,
				size_t new_len, time_t now, struct strbuf *out, struct cw_error *err)
{
	char **names = NULL;
	cw_status st = pem_files(dir, &names, err);
	if (st)
		return st;
	/* A day after the old chain's end. */
	time_t old_end = ca_bundle_end(old_ca, old_len);
	struct ca_renew_tally t = {.after = old_end ? old_end + 86400 : 0};
	for (size_t i = 0; names && names[i]; i++) {
		char *p = path_join(dir, names[i]), *pem = NULL;
		size_t len = 0;
		struct cw_error e = {0};
		if (file_read(p, 1 << 20, &pem, &len, &e)) {
			strbuf_addf(out, "%s: cannot read it: %s\n", p, e.msg);
			t.failed++;
		} else {
			ca_renew_judge(&t, p, pem, len, old_ca, old_len, new_ca, new_len, now, out);
		}
		free(pem);
		free(p);
	}
	strv_free(names);
	ca_renew_tally_line(&t, dir, out);
	if (t.failed)
		return cw_error_set(err, CW_EVERIFY, "%zu certificate(s) in %s would not verify under the new CA bundle",
				    t.failed, dir);
	return CW_OK;
}

cw_status ca_renew(const char *root, const char *cadir, int days, time_t now, struct strbuf *out,
		   struct cw_error *err)
{
	char *capath = cadir_file(root, cadir, "ca_crt.pem"), *signed_dir = cadir_file(root, cadir, "signed");
	char *ca = NULL, *fresh = NULL, *back = NULL;
	char **keys = NULL, **keep = NULL;
	size_t calen = 0, backlen = 0;
	struct x509_info *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	struct stat st;
	cw_status s = CW_OK;
	if (stat(capath, &st) != 0)
		s = cw_error_set(err, CW_EIO, "%s: cannot read it", capath);
	if (!s)
		s = file_read(capath, X509_PEM_MAX, &ca, &calen, err);
	/* Serials that signed certificates name in their authorityKeyIdentifier stay. */
	if (s || (s = cadir_keys(root, cadir, &keys, err)) || (s = bundle_infos(ca, &before, &nb, err)) ||
	    (path_is_dir(signed_dir) && (s = ca_renew_named_serials(signed_dir, &keep, err))) ||
	    (s = x509_ca_reissue(ca, calen, keys, keep, now, days, &fresh, err)))
		goto done;
	/* Nothing is written unless every certificate of this CA keeps verifying. */
	if (path_is_dir(signed_dir) &&
	    (s = ca_renew_check_signed(signed_dir, ca, calen, fresh, strlen(fresh), now, out, err)))
		goto done;
	if ((s = file_replace_keeping(capath, fresh, strlen(fresh), &st, err)) ||
	    (s = file_read(capath, X509_PEM_MAX, &back, &backlen, err)))
		goto done;
	if (backlen != strlen(fresh) || memcmp(back, fresh, backlen) != 0 || (s = bundle_infos(back, &after, &na, err)) ||
	    na != nb) {
		if (!s)
			s = cw_error_set(err, CW_EVERIFY, "%s: read back, it is not the bundle written", capath);
		goto done;
	}
	for (size_t i = 0; i < na; i++) {
		char nb_s[32], na_s[32];
		if (strcmp(after[i].pubkey_sha256, before[i].pubkey_sha256) != 0) {
			s = cw_error_set(err, CW_EVERIFY, "%s: read back, '%s' has another public key", capath,
					 after[i].subject_cn);
			goto done;
		}
		strbuf_addf(out, "%s: CA certificate '%s' re-issued with its own key (public key SHA-256 %.16s...): serial "
				 "%s -> %s%s, valid %s to %s (was until %s)\n",
			    capath, after[i].subject_cn, after[i].pubkey_sha256, before[i].serial, after[i].serial,
			    strcmp(before[i].serial, after[i].serial) == 0 ? " (kept: the certificates it signed name it)" : "",
			    time_iso8601((long)after[i].not_before, nb_s), time_iso8601((long)after[i].not_after, na_s),
			    time_iso8601((long)before[i].not_after, (char[32]){0}));
	}
done:
	infos_free(before, nb);
	infos_free(after, na);
	cadir_keys_free(keys);
	strv_free(keep);
	free(ca);
	free(fresh);
	free(back);
	free(capath);
	free(signed_dir);
	return s;
}
