/* inventory.h: the CA's view of the fleet: every signed certificate with its expiry and
 * revocation, read from the CA directory with OpenSSL (no Puppet, no server). */
#ifndef CW_INVENTORY_H
#define CW_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"
#include "x509.h"

enum inv_state {
	INV_OK,          /* valid beyond the threshold */
	INV_EXPIRING,    /* expires within the threshold */
	INV_EXPIRED,     /* notAfter has passed */
	INV_REVOKED,     /* on its issuer's CRL (whatever its dates) */
	INV_UNREADABLE,  /* the file is not a certificate */
	INV_STATE_COUNT
};
const char *inv_state_str(enum inv_state s);

struct inventory_entry {
	char *certname;          /* heap: from the file name signed/CERTNAME.pem, control chars as '?' */
	bool valid_name;         /* certname passes validate_certname (may go into an agents file) */
	struct x509_info cert;   /* subject_cn, issuer_cn, san_dns, dates, serial (no fingerprint) */
	long days_left;          /* whole days from now to notAfter, rounded down (negative: expired) */
	bool in_inventory;       /* inventory.txt lists its serial */
	enum inv_state state;
	char *error;             /* heap, INV_UNREADABLE: why */
};

struct inventory {
	char *cadir;             /* heap: the CA directory read (without the root prefix) */
	bool cadir_in_ssldir;    /* $ssldir/ca: Puppet 5 and PE before 2021 */
	char *cadir_note;        /* heap or NULL: why this cadir and not the configured one */
	long now;
	int within;              /* days: expiring sooner is INV_EXPIRING */
	struct inventory_entry *entries; /* sorted: soonest notAfter first, then certname */
	size_t n;
	size_t counts[INV_STATE_COUNT];
	struct x509_info *cas;   /* every certificate of ca_crt.pem (two-tier: intermediate, root) */
	size_t ncas;
	struct x509_crl_info *crls; /* every CRL of ca_crl.pem (NULL when there is none) */
	size_t ncrls;
	size_t inventory_lines;  /* certificates listed in inventory.txt (0 when absent) */
	bool has_inventory_txt;
	/* inventory.txt entries for a certname with no file in signed/, neither revoked nor
	 * expired: certificates still valid that the CA no longer shows. strv of
	 * "CERTNAME serial S, expires DATE". */
	char **unlisted;
	char **warnings;         /* for the operator: unreadable files, missing CRL, ... */
};

/* Read the CA below root (NULL or "" for /): cadir/ca_crt.pem, cadir/ca_crl.pem,
 * cadir/inventory.txt and every .pem file of cadir/signed. When cadir has no ca_crt.pem but
 * ssldir/ca has (a CA kept in the old place), that one is read and cadir_note says so.
 * now: the time to judge by (0: the clock). No CA at all is CW_ENOTFOUND. */
cw_status inventory_read(const char *root, const char *cadir, const char *ssldir, long now, int within,
			 struct inventory *out, struct cw_error *err);
void inventory_done(struct inventory *inv);

/* 0 nothing to do, 1 something expires within the threshold, 2 something has expired (a
 * signed certificate not revoked, a CA certificate, a CRL's next update) or cannot be read:
 * the exit code of `certwiz inventory`, as `certwiz check`. */
int inventory_worst(const struct inventory *inv);

/* The days and state of a date against now and the threshold (CA certificates, CRLs). */
long inventory_days_left(long t, long now);

/* Certnames to regenerate with the agent procedure: expiring or expired, not revoked,
 * readable, valid certnames, not a CA certificate, and not skip (the CA server's own,
 * which the primary procedure renews; may be NULL). Heap strv (NULL when none). */
char **inventory_expiring_agents(const struct inventory *inv, const char *skip);

/* The text table, and JSON ("certwiz-inventory-1"). only_expiring: list only the entries
 * that are expiring, expired or unreadable (the summary counts every entry). */
void inventory_format_text(const struct inventory *inv, bool only_expiring, struct strbuf *sb);
void inventory_format_json(const struct inventory *inv, bool only_expiring, struct strbuf *sb);

/* The fix for a CRL near or past its next update. */
#define INVENTORY_CRL_FIX                                                                         \
	"certwiz inventory --within 36500 --write-agents all-agents.txt (every agent), then certwiz " \
	"plan --procedure crl-refresh --agents-file all-agents.txt (re-signs it with the CA's own key " \
	"and gives it to the server and the agents)"

/* The fix for a CA certificate near or past its end: renewed with its own key, so every
 * certificate it signed stays valid. */
#define INVENTORY_CA_FIX                                                                           \
	"renew it with its own key: certwiz inventory --within 36500 --write-agents all-agents.txt "  \
	"(every agent), then certwiz plan --procedure ca-renew --agents-file all-agents.txt (every "   \
	"certificate stays valid)"

/* What fixes each finding, as the certwiz command to run (one heap string a finding, NULL
 * when nothing is due): the expiring agents (through agents_file when one was written,
 * otherwise how to write it), self (the CA server's own certificate: the primary procedure),
 * the CA (INVENTORY_CA_FIX; ca_procedure, e.g. "oss-ca", when its key must change too) and the
 * CRL. */
char **inventory_fixes(const struct inventory *inv, const char *self, const char *ca_procedure,
		       char *const *agents, const char *agents_file);

/* An agents file for --agents-file: a comment header, then one certname a line. Heap. */
char *inventory_agents_file_text(const struct inventory *inv, char *const *agents);

#endif
