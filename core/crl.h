/* crl.h: certwiz's own step actions on a CA directory: re-sign its CRLs in place. */
#ifndef CW_CRL_H
#define CW_CRL_H

#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "util.h"

/* Re-sign cadir/ca_crl.pem (and cadir/infra_crl.pem where it exists, Puppet Enterprise) with
 * the CA's own keys (cadir/ca_key.pem, and cadir/root_key.pem for a two-tier CA's root): the
 * same revoked entries, lastUpdate now, nextUpdate now + days, the CRL number one more. Each
 * file is replaced atomically with its owner and mode kept, then read back and checked. What
 * was done goes to out, one line a CRL (never a key). root: NULL or a directory standing for
 * "/" (tests). */
cw_status crl_refresh(const char *root, const char *cadir, int days, time_t now, struct strbuf *out,
		      struct cw_error *err);

/* Shared with the other actions on a CA directory (carenew.c). */

/* cadir/name below root (NULL or "": "/"), heap. */
char *cadir_file(const char *root, const char *cadir, const char *name);
/* The PEM text of cadir/ca_key.pem and, where it exists, cadir/root_key.pem (a heap strv,
 * in memory only: free it with cadir_keys_free, which wipes the text first). */
cw_status cadir_keys(const char *root, const char *cadir, char ***keys, struct cw_error *err);
void cadir_keys_free(char **keys);
/* Replace path atomically with data, giving it back the mode and owner it had (was). */
cw_status file_replace_keeping(const char *path, const char *data, size_t len, const struct stat *was,
			       struct cw_error *err);

#endif
