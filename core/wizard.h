/* wizard.h: the session shared by the screens and the batch mode: configuration, profile,
 * procedure, facts, plan; then the run state of every step (see exec.h). */
#ifndef CW_WIZARD_H
#define CW_WIZARD_H

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "facts.h"
#include "plan.h"

/* What the command line (or the screens) chose. NULL fields: not given. */
struct wizard_opts {
	const char *datadir;        /* where config/ lives (default: installed, then source tree) */
	const char *config_path;    /* site config (default: /etc/certwiz/certwiz.cfg when present) */
	const char *answers_path;   /* batch answers, same schema, loaded after the site config */
	const char *procedure, *profile, *certname, *dns_alt_names, *agents, *agents_file;
	const char *puppetdb_host, *console_host, *root, *operator_name;
	const char *backup_dir, *journal_dir;
	const char *on_failure;     /* "stop" | "rollback" */
	int parallel;               /* hosts at once; 0: the configured value */
};

struct wizard {
	char *datadir;
	struct site site;                   /* site config + answers + command line */
	struct profile **profiles; size_t nprofiles;
	const struct profile *profile;      /* chosen or detected */
	char *detect_note;                  /* what detection saw */
	struct procedure *proc;             /* chosen procedure (NULL until chosen) */
	char **procedure_names;
	struct facts facts;                 /* of this host, for the chosen profile */
	bool have_facts;
	struct plan *plan;                  /* built by wizard_build_plan */
};

cw_status wizard_open(const struct wizard_opts *o, struct wizard **out, struct cw_error *err);
void wizard_free(struct wizard *w);

cw_status wizard_choose_profile(struct wizard *w, const char *name, struct cw_error *err);
cw_status wizard_choose_procedure(struct wizard *w, const char *name, struct cw_error *err);
/* Operator edits from the discovery screen (validated). */
cw_status wizard_set_certname(struct wizard *w, const char *certname, struct cw_error *err);
cw_status wizard_set_alt_names(struct wizard *w, const char *comma_list, struct cw_error *err);
cw_status wizard_set_agents(struct wizard *w, const char *comma_list, struct cw_error *err);
cw_status wizard_build_plan(struct wizard *w, struct cw_error *err);

/* The session's choices (procedure, profile, operator, certname, alt names, agents, hosts,
 * directories, on_failure) as an answers file JOURNAL_DIR/WHO-TIME-PROCEDURE.cfg, starting with
 * header; *path_out (caller frees) is what exec records so `certwiz resume` rebuilds the plan.
 * Needs a built plan. */
cw_status wizard_write_answers(const struct wizard *w, const char *who, const char *operator_name,
			       const char *header, char **path_out, struct cw_error *err);

/* The loaded procedure with this name, for the chooser's descriptions (loads on demand). */
cw_status wizard_procedure_info(struct wizard *w, const char *name, struct procedure **out,
				struct cw_error *err);

#endif
