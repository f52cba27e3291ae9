/* crl.h: certwiz's own step actions on a CA directory: re-sign its CRLs in place. */
#ifndef CW_CRL_H
#define CW_CRL_H

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

#endif
