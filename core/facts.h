/* facts.h: discovery on this host without starting Ruby: puppet.conf (parsed here), Puppet's
 * defaults from the profile, the Puppet version, the current certificates, the CA settings. */
#ifndef CW_FACTS_H
#define CW_FACTS_H

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "vars.h"
#include "x509.h"

struct facts {
	/* certname, server, confdir, vardir, ssldir, cadir, client_datadir, dns_alt_names
	 * (comma list, the one the plan uses) and every other profile variable. */
	struct vars vars;
	char **conf_alt_names;     /* dns_alt_names from puppet.conf */
	char **cert_alt_names;     /* DNS SANs of the current host certificate, minus the certname */
	char *puppet_version;      /* "7.23.0" or NULL */
	int puppet_major;          /* 0 unknown */
	bool has_hostcert;
	struct x509_info hostcert;
	bool has_ca;               /* this host holds the CA (cadir/ca_crt.pem) */
	struct x509_info cacert;
	int allow_subject_alt_names; /* -1 unknown (no ca.conf), 0 no, 1 yes */
	bool autosign;
	char **warnings;           /* for the operator: disagreements, missing files */
};

/* Discover facts for profile p. root: a directory standing for "/" (tests), or NULL. */
cw_status facts_discover(const char *root, const struct profile *p, struct facts *f,
			 struct cw_error *err);
void facts_done(struct facts *f);

/* Parse puppet.conf text: for each setting, the value from the first of sections that has it
 * ("server", "master", "main" for the primary server; "agent", "main" for an agent).
 * $confdir, $vardir, $ssldir, $certname in values are resolved from base then from the file. */
cw_status puppetconf_parse(const char *text, const char *const *sections, const struct vars *base,
			   struct vars *out, struct cw_error *err);

/* PUPPETVERSION from Puppet's version.rb. */
cw_status puppet_version_read(const char *path, char **version, struct cw_error *err);

/* The first profile whose detect paths all exist under root and whose version range holds
 * the installed Puppet. *why says what was seen (heap). NULL when none fits. */
const struct profile *profile_detect(const char *root, struct profile *const *profiles, size_t n,
				     char **why);

#endif
