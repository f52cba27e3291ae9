/* config.h: the site configuration, deployment profiles and procedures, loaded from
 * libconfig files into plain structs. Every error names file:line, what was expected and
 * what was found. All strings are heap-owned by the struct that holds them. */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "service.h"
#include "sshconfig.h"
#include "vars.h"

/* ---- profiles: paths, services and command dialect of one Puppet flavour and version ---- */

enum dialect { DIALECT_MODERN, DIALECT_LEGACY }; /* puppetserver ca / puppet ssl vs puppet cert */
const char *dialect_str(enum dialect d);

struct service_group {
	char *name;        /* "agent", "primary", "all", "puppetdb", "console" */
	char **stop;       /* service names in stop order (strv) */
	char **start;      /* service names in start order (strv) */
};

struct profile {
	char *file;
	char *name, *title, *flavour; /* flavour: "oss" | "pe" */
	enum dialect dialect;
	char **detect_paths;          /* all exist on a host of this profile */
	char **detect_absent;         /* none exists on it (oss: no pe_version) */
	char *version_file;           /* Ruby file holding PUPPETVERSION */
	int min_major, max_major;     /* Puppet major versions this profile is for (0: any) */
	struct vars vars;             /* confdir, ssldir, cadir, client_datadir, ... */
	/* Added: where this flavour keeps its commands when they are not on a plain PATH (AIO:
	 * /opt/puppetlabs/bin/puppet, ...): absolute paths; a command named by its last part runs
	 * from there. NULL: every command as named. */
	char **tools;
	struct service_backend backend;
	struct service_def *services; size_t nservices;
	struct service_group *groups; size_t ngroups;
};

const struct service_def *profile_service(const struct profile *p, const char *name);
/* The service backend in force: the site's override when it has one, else the profile's. */
struct site;
const struct service_backend *site_backend(const struct site *s, const struct profile *p);
/* The command to run for a tool name: the profile's path for it, else the name itself. */
const char *profile_tool(const struct profile *p, const char *name);
const struct service_group *profile_group(const struct profile *p, const char *name);

/* ---- procedures: phases of steps, as data ---- */

/* One argv element, or an optional group of elements that is left out entirely when any
 * variable it uses is empty (["--subject-alt-names", "${dns_alt_names}"]). */
struct argv_item {
	char **words;   /* strv of templates */
	bool optional;
};
struct argv_tmpl {
	struct argv_item *items;
	size_t n;
};

/* A check, before (require) or after (verify) a step. Paths are templates. */
enum check_kind {
	CHECK_ABSENT,   /* path does not exist */
	CHECK_PRESENT,  /* path exists */
	CHECK_EMPTY,    /* directory is empty or absent */
	CHECK_CERT,     /* certificate at path; options below */
	CHECK_CSR,      /* certificate request at path; key/same_key options */
	CHECK_SAME,     /* file at path has the same bytes as file at other */
	CHECK_TLS,      /* the service at address:port serves a cert chaining to ca */
	CHECK_COMMAND,  /* argv exits 0 */
	CHECK_SIGNED,   /* every certificate in the directory path verifies under ca, now and after
			   the end of the CA bundle ca held before the run */
};
const char *check_kind_str(enum check_kind k);

struct check_tmpl {
	enum check_kind kind;
	char *path;          /* absent/present/empty/cert/csr/same */
	char *on;            /* role whose host holds path (default: the step's host) */
	char *ca;            /* cert: must chain to this CA bundle; tls: likewise */
	char *crl;           /* cert: and not be revoked in this CRL */
	char *cn;            /* cert: subject CN */
	char *san;           /* cert: must include these alt names (comma list) */
	char *key;           /* cert/csr: private key at this path matches */
	char *other;         /* same: the file to compare with; csr: a key/csr on other_on */
	char *other_on;      /* role whose host holds other */
	bool changed;        /* cert: fingerprint differs from before the run */
	bool unchanged;      /* cert: fingerprint is the one it had before the run */
	bool same_key;       /* cert: public key is the one it had before the run */
	bool is_ca;          /* cert: is a CA certificate */
	int crl_days;        /* cert with crl: every CRL's next update at least this many days away */
	char *address;       /* tls */
	char *port;          /* tls */
	struct argv_tmpl argv; /* command */
	int line;
};

/* STEP_ACTION: work certwiz does itself on the host it runs on (no external command), named
 * by the first word of its argv: "crl-refresh CADIR DAYS", "ca-renew CADIR DAYS". */
enum step_kind { STEP_RUN, STEP_SERVICE, STEP_MANUAL, STEP_BACKUP, STEP_ACTION };
const char *step_kind_str(enum step_kind k);

struct step_tmpl {
	char *id, *title, *explain, *undo;
	char *role;            /* ca | agent | puppetdb | console */
	char *each;            /* "agent": expand once per agent (implied when role is agent) */
	char **when;           /* conditions, all must hold: "name", "!name", "name=value" */
	enum step_kind kind;
	struct argv_tmpl run[2];      /* by dialect; both the same when not per-dialect */
	bool has_run[2];
	/* batch = true: the command that serves many agents at once, where it is not run's own with
	 * the names joined (${batch.certnames_json}: "a","b",... as JSON strings); by dialect */
	struct argv_tmpl batch_run[2];
	bool has_batch_run[2];
	struct argv_tmpl action;      /* kind ACTION: the action's name and its arguments */
	char *manual;          /* instructions when kind is MANUAL */
	char *manual_windows;  /* instructions for Windows hosts (the step becomes manual there) */
	char *service_action;  /* "stop" | "start" */
	char *service_group;
	bool destructive;
	bool ca_signs_alt_names; /* its alt names reach the CA online: needs allow-subject-alt-names */
	bool batch;            /* each = agent, off the agents: one command may serve many agents */
	int *ok_exit[2]; size_t nok[2]; /* by dialect; default {0} */
	int timeout_s;
	char *until;           /* the command serves until stopped: stop it once its output shows this */
	struct check_tmpl *require; size_t nrequire;
	struct check_tmpl *verify; size_t nverify;
	int line;
};

struct phase_tmpl {
	char *id, *title, *explain;
	struct step_tmpl *steps; size_t nsteps;
	int line;
};

struct backup_tmpl {
	char *role;
	char **paths;   /* templates */
	char **when;
};

struct procedure {
	char *file;
	char *name, *title, *summary, *when_to_use, *seed;
	char **roles;            /* roles this procedure needs hosts for */
	struct backup_tmpl *backups; size_t nbackups;
	struct phase_tmpl *phases; size_t nphases;
	struct vars vars;        /* the procedure's own variables and their defaults (ca_renew_days);
				    the site's vars (answers file) override them */
};

/* ---- the site configuration (certwiz.cfg) and the batch answers file: one schema ---- */

struct host_cfg {
	char *name;        /* certname / host name */
	char *address, *user, *identity, *os, *tmpdir;
	char **dns_alt_names;
	int port;
	int sudo;          /* -1 unset */
	/* resolved by site_host_settings only (not keys of a hosts entry): */
	char *known_hosts;
	int connect_timeout;
};

struct site {
	char *file;
	char *operator_name;
	char *procedure, *profile;          /* answers: what to run; profile "auto" = detect */
	char *certname;
	char **dns_alt_names; bool alt_names_set;
	char *backup_dir, *journal_dir, *report_dir;
	char *root;                          /* test hook: a directory that stands for / */
	bool autosign;
	bool puppetdb;                       /* oss-ca: PuppetDB runs on the primary */
	char *on_failure;                    /* stop | rollback */
	/* ssh defaults (port and connect_timeout 0: not set) */
	char *ssh_user, *ssh_identity, *ssh_known_hosts;
	int ssh_port, ssh_sudo, ssh_connect_timeout, parallel, command_timeout;
	char *ssh_config;                    /* OpenSSH client config; NULL: ~/.ssh/config, "": none */
	struct sshcfg sshcfg;                /* loaded by site_load_ssh_config */
	/* hosts */
	struct host_cfg *hosts; size_t nhosts;   /* known hosts with their connection settings */
	char **agents;                            /* names of agent hosts for this run */
	char *agents_file;
	char *puppetdb_host, *console_host;       /* pe-split */
	/* service backend override for the primary (e.g. the sandbox's command scripts) */
	bool has_backend;
	struct service_backend backend;
	struct vars vars;                         /* overrides of profile variables */
	/* batch answers */
	bool confirm_destructive;                 /* answers: the operator agrees to destructive steps */
	char **skip;                              /* step ids to skip (with reason skip_reason) */
	char *skip_reason;
	char **manual_done;                       /* manual step ids the operator has done */
	/* where skip and manual_done were set (file, line), for errors about the ids they name */
	char *skip_file, *manual_done_file;
	int skip_line, manual_done_line;
	struct vars vars_where;                   /* each name of vars -> "FILE:LINE" where it was set */
};

void site_init(struct site *s);
void site_done(struct site *s);
/* Load a site or answers file on top of what s holds (later files override). */
cw_status site_load(struct site *s, const char *path, struct cw_error *err);
/* Read an agents file: one name per line, '#' comments, blank lines ignored. */
cw_status agents_file_read(const char *path, char ***agents, struct cw_error *err);
const struct host_cfg *site_host(const struct site *s, const char *name);
/* Read the OpenSSH client config the site names (ssh.config; default HOME/.ssh/config; a
 * missing file is no config). Call once after the last site_load. */
cw_status site_load_ssh_config(struct site *s, const char *home, struct cw_error *err);
/* How to reach a host, each setting from the first that gives it: the host's own entry in
 * the site config, the site's ssh section, the OpenSSH client config (HostName, User, Port,
 * IdentityFile, UserKnownHostsFile, ConnectTimeout for that name), then the defaults (address
 * = name, user root, port 22, os linux). out owns its strings: host_cfg_done. */
cw_status site_host_settings(const struct site *s, const char *name, const char *home, struct host_cfg *out,
			     struct cw_error *err);
void host_cfg_done(struct host_cfg *h);

cw_status profile_load(const char *path, struct profile **out, struct cw_error *err);
void profile_free(struct profile *p);
cw_status procedure_load(const char *path, struct procedure **out, struct cw_error *err);
void procedure_free(struct procedure *p);

/* Where data files live: $CERTWIZ_DATADIR, then the installed pkgdatadir, then the source
 * tree. Returns a heap path to "config/<rel>" that exists, or NULL. */
char *config_find(const char *datadir, const char *rel);
/* Names of available profiles / procedures (strv, sorted). */
char **config_list(const char *datadir, const char *subdir);

#endif
