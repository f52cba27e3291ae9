/* plan.h: a procedure expanded with the facts and the chosen hosts into concrete steps.
 * Every variable is resolved and every name and path validated here, before anything runs. */
#ifndef CW_PLAN_H
#define CW_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "facts.h"
#include "util.h"
#include "transport.h"
#include "vars.h"

struct plan_host {
	char *name;        /* certname of the host */
	char *role;        /* ca | agent | puppetdb | console */
	bool local;        /* certwiz runs here */
	char *address, *user, *identity, *os, *tmpdir;
	char *known_hosts;   /* NULL: ~/.ssh/known_hosts */
	int port;
	int connect_timeout; /* 0: the transport's default */
	bool sudo;
	struct vars vars;  /* that host's facts: certname, ssldir, cadir, dns_alt_names, ... */
};

struct plan_check {
	enum check_kind kind;
	size_t host;       /* index of the host that holds path */
	char *path;
	char *ca, *crl, *cn, *key;
	char **san;        /* strv */
	char *other;       /* same/csr: file on other_host */
	size_t other_host;
	bool changed, unchanged, same_key, is_ca;
	int crl_days;      /* cert with crl: every CRL's next update at least this many days away */
	char *address;
	int port;
	char **argv;       /* command */
};

struct plan_step {
	size_t index;          /* 0-based position in the plan */
	size_t phase;
	char *id;              /* template id, "@host" appended for per-agent steps */
	char *tmpl_id;
	char *title, *explain, *undo;
	size_t host;           /* where it runs */
	char *target;          /* the agent a per-agent step is about (NULL otherwise) */
	enum step_kind kind;
	char **argv;           /* STEP_RUN */
	char **batch_argv;     /* STEP_RUN with batch_run: the shared command, the agents' names left
				* as PLAN_BATCH_NAMES (plan_batch_argv fills them in) */
	char *manual;          /* STEP_MANUAL: instructions */
	char *service_action;  /* STEP_SERVICE: "stop" | "start" */
	char **services;       /* STEP_SERVICE: names in the order to act on */
	char **service_cmds;   /* STEP_SERVICE: each one's control command as shown (the backend's argv),
				* in the same order; NULL where the backend has none */
	char **backup_paths;   /* STEP_BACKUP */
	bool destructive;
	bool batch;            /* one command may serve this step and its siblings (plan_batch_argv) */
	char *confirm;         /* destructive: the word the operator types (a certname) */
	int *ok_exit; size_t nok;
	int timeout_s;
	char *until;           /* STEP_RUN: stopped once its output shows this text; success is seeing it */
	struct plan_check *require; size_t nrequire;
	struct plan_check *verify; size_t nverify;
};

struct plan_phase {
	char *id, *title, *explain;
	size_t first, count;   /* steps[first .. first+count) */
};

struct plan {
	char *procedure, *procedure_title, *seed;
	char *profile, *profile_title, *flavour;
	enum dialect dialect;
	struct plan_host *hosts; size_t nhosts;  /* hosts[0] is the CA / primary server */
	struct plan_phase *phases; size_t nphases;
	struct plan_step *steps; size_t nsteps;
	char **warnings;   /* the operator should read these */
	char **blockers;   /* these stop `run` until fixed (each says how) */
};

struct plan_input {
	const struct procedure *proc;
	const struct profile *profile;
	const struct facts *facts;   /* of this host, the CA / primary server */
	const struct site *site;     /* hosts and their settings, options, variable overrides */
	const char *certname;        /* NULL: facts */
	char **dns_alt_names;        /* used when alt_names_set */
	bool alt_names_set;
	char **agents;               /* agent certnames (each-agent steps) */
	const char *puppetdb_host, *console_host; /* pe-split */
};

cw_status plan_build(const struct plan_input *in, struct plan **out, struct cw_error *err);
void plan_free(struct plan *p);

/* The checklist as text, for `certwiz plan` and the plan review screen. */
void plan_format(const struct plan *p, struct strbuf *out);
/* One step's block of the checklist (without the explanation when brief). */
void plan_format_step(const struct plan *p, const struct plan_step *s, bool brief, struct strbuf *out);
/* argv as a person would type it (display only; commands never go through a shell). */
char *argv_display(char *const *argv);
/* What a check verifies, in words. */
char *plan_check_describe(const struct plan *p, const struct plan_check *c);

/* How to reach a remote plan host over SSH (the strings are borrowed from h). */
struct ssh_opts plan_host_ssh_opts(const struct plan_host *h);

/* One command for several per-agent steps of one batch template (the same template, run on
 * the same host, their commands equal but for the elements that name each step's agent):
 * modern dialect: that element becomes the certnames joined by ',' (puppetserver ca clean
 * --certname a,b); legacy: it is repeated, one element per certname (puppet cert clean a b).
 * NULL when the steps cannot share a command (heap strv otherwise). */
char **plan_batch_argv(const struct plan *p, const size_t *steps, size_t n);
/* Where batch_argv names the agents (the value of ${batch.certnames_json} while planning). */
#define PLAN_BATCH_NAMES "\x1f" "certnames" "\x1f"

#endif
