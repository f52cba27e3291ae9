/* check.h: pre-flight checks before a run, and the expiry watch behind `certwiz check`:
 * each item is ok, warn or fail, says what was found and, when not ok, the fix. */
#ifndef CW_CHECK_H
#define CW_CHECK_H

#include "error.h"
#include "wizard.h"

enum check_level { LEVEL_OK, LEVEL_WARN, LEVEL_FAIL };
const char *check_level_str(enum check_level l);

struct check_item {
	char *name;
	enum check_level level;
	char *found;   /* what was seen */
	char *fix;     /* the exact thing to do, when not ok (NULL when ok) */
};

struct check_report {
	struct check_item *items;
	size_t n;
	enum check_level worst;
};

/* Run every check for this host. within_days: certificates expiring sooner warn.
 * now: the time to judge expiry by (0: the clock). */
cw_status checks_run(struct wizard *w, int within_days, long now, struct check_report *out,
		     struct cw_error *err);
void check_report_done(struct check_report *r);

/* The expiry findings of this host from its files alone (CA and host certificates, CRL; no
 * scan of the CA's signed certificates, no network), each "NAME needs attention: FIX", for
 * the wizard's welcome screen. Heap strv, NULL when all is well. now 0: the clock. */
char **check_expiry_findings(const struct wizard *w, int within, long now);

/* The procedure that renews the CA of this profile's flavour ("oss-ca", "pe-monolithic"). */
const char *check_ca_procedure(const struct profile *p);

#endif
