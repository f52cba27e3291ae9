/* carenew.h: certwiz's own step action on a CA directory: re-issue its CA certificate(s) with the same keys. */
#ifndef CW_CARENEW_H
#define CW_CARENEW_H

#include <time.h>

#include "error.h"
#include "util.h"

/* Re-issue cadir/ca_crt.pem (one self-signed CA, or a two-tier CA's intermediate and root)
 * with the CA's own keys (cadir/ca_key.pem, and cadir/root_key.pem for the root): same keys,
 * subjects, extensions and key identifiers, new serials (but a serial the certificates in
 * cadir/signed name in their authorityKeyIdentifier stays: Puppet Server's name the
 * intermediate's), valid from a day before now for days days. Before anything is written, every certificate in cadir/signed that verifies under the
 * old bundle now must verify under the new one now and after the old bundle's end (at the last
 * second of its own life when it ends first); one that does not stops the call. Then the file
 * is replaced atomically with its owner and mode kept, read back and compared. What was done
 * goes to out (never a key). root: NULL or a directory standing for "/" (tests). */
cw_status ca_renew(const char *root, const char *cadir, int days, time_t now, struct strbuf *out,
		   struct cw_error *err);

/* How the signed certificates fared under a new CA bundle. after: a day after the old bundle's
 * end (0: unknown, each certificate is then checked at its own last second). */
struct ca_renew_tally {
	time_t after;
	size_t checked, past, expired, foreign, failed;
};
/* One certificate (name is how out names it): expired ones and ones old_ca (may be NULL) does
 * not verify now are counted only; the rest must verify under new_ca now and at t->after (or at
 * their own last second when they end first). A failure is a line in out. */
void ca_renew_judge(struct ca_renew_tally *t, const char *name, const char *pem, size_t len, const char *old_ca,
		    size_t old_len, const char *new_ca, size_t new_len, time_t now, struct strbuf *out);
/* The summary line of a tally, for dir. */
void ca_renew_tally_line(const struct ca_renew_tally *t, const char *dir, struct strbuf *out);

/* The signed certificates of dir that verify under old_ca now, checked under new_ca now and
 * at a time after old_ca's end (the earliest notAfter of its certificates), or at the last
 * second of a certificate's own life when it ends first. Expired ones and ones old_ca does not
 * verify are counted, not checked (ca_renew_judge). One line a failure (and a summary) to out;
 * CW_EVERIFY when any fails. */
cw_status ca_renew_check_signed(const char *dir, const char *old_ca, size_t old_len, const char *new_ca,
				size_t new_len, time_t now, struct strbuf *out, struct cw_error *err);

/* The serials the certificates of dir name their issuer by (authorityKeyIdentifier), a heap
 * strv (NULL: none): a CA certificate with one of them keeps it (x509_ca_reissue). */
cw_status ca_renew_named_serials(const char *dir, char ***serials, struct cw_error *err);

/* The earliest notAfter of a bundle's certificates (the end of the chain), 0 on error. */
time_t ca_bundle_end(const char *pem, size_t len);

#endif
