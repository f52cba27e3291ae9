/* batch.c: `certwiz run`: the plan executed without a screen, from an answers file. Every
 * step is shown before it runs, verified, and signed off as batch:OPERATOR. */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "journal.h"
#include "util.h"

struct printer {
	const struct plan *plan;
	bool at_line_start;
};

static void on_started(void *ctx, const struct plan_step *s, char *const *argv)
{
	struct printer *pr = ctx;
	printf("\n[%zu/%zu] %s\n", s->index + 1, pr->plan->nsteps, s->title);
	printf("        on %s\n", pr->plan->hosts[s->host].name);
	if (argv) {
		char *cmd = argv_display(argv);
		printf("        $ %s\n", cmd);
		free(cmd);
	} else if (s->kind == STEP_SERVICE) {
		char *svc = strv_join(s->services, ", ");
		printf("        %s: %s\n", s->service_action, svc);
		free(svc);
	} else if (s->kind == STEP_BACKUP) {
		char *paths = strv_join(s->backup_paths, ", ");
		printf("        back up: %s\n", paths);
		free(paths);
	}
	pr->at_line_start = true;
	fflush(stdout);
}

static void on_output(void *ctx, const struct plan_step *s, int stream, const char *data, size_t len)
{
	struct printer *pr = ctx;
	(void)s;
	(void)stream;
	for (size_t i = 0; i < len; i++) {
		if (pr->at_line_start)
			fputs("        | ", stdout);
		unsigned char c = (unsigned char)data[i];
		if (c == '\n' || c == '\t' || c >= 0x20)
			putchar(c);
		pr->at_line_start = c == '\n';
	}
	fflush(stdout);
}

static void on_finished(void *ctx, const struct plan_step *s, const struct step_result *r)
{
	struct printer *pr = ctx;
	(void)s;
	if (!pr->at_line_start)
		putchar('\n');
	for (size_t i = 0; r->checks && r->checks[i]; i++)
		printf("        %s\n", r->checks[i]);
	if (r->state == STEP_DONE)
		printf("        => done%s\n", r->ran ? "" : "");
	else
		printf("        => FAILED: %s\n", r->detail ? r->detail : "?");
	fflush(stdout);
}

static void on_message(void *ctx, enum msg_level level, const char *text)
{
	(void)ctx;
	fprintf(level == MSG_INFO ? stdout : stderr, "certwiz: %s\n", text);
}

static int fail(const struct cw_error *err)
{
	char buf[1400];
	fprintf(stderr, "certwiz: %s\n", cw_error_format(err, buf, sizeof buf));
	return cw_status_exit_code(err->code);
}

/* done / failed at step N / skipped, per host. */
static void host_table(const struct plan *p, const struct exec *ex)
{
	printf("\nHosts:\n");
	for (size_t h = 0; h < p->nhosts; h++) {
		const char *state = "done";
		char where[256] = "";
		for (size_t i = 0; i < p->nsteps; i++) {
			const struct plan_step *s = &p->steps[i];
			bool mine = s->host == h || (s->target && strcmp(s->target, p->hosts[h].name) == 0);
			if (!mine)
				continue;
			const struct step_result *r = exec_result(ex, i);
			if (r->state == STEP_FAILED) {
				state = "FAILED";
				snprintf(where, sizeof where, " at step %zu (%s): %s", i + 1, s->id, r->detail ? r->detail : "");
				break;
			}
			if (r->state == STEP_PENDING || r->state == STEP_HOST_FAILED)
				state = "not finished";
		}
		printf("  %-30s %-6s %s%s\n", p->hosts[h].name, p->hosts[h].role, state, where);
	}
}

static int run_plan(const struct wizard_opts *o, const char *resume);

int batch_run(const struct wizard_opts *o)
{
	return run_plan(o, NULL);
}

int batch_resume(const struct wizard_opts *cli, const char *journal)
{
	struct cw_error err = {0};
	struct journal_log log = {0};
	if (!journal) {
		fprintf(stderr, "certwiz: resume needs the journal of the interrupted run: certwiz resume "
				"RUNDIR/journal.jsonl\n");
		return 2;
	}
	char *path = path_is_dir(journal) ? path_join(journal, "journal.jsonl") : xstrdup(journal);
	if (journal_load(path, &log, &err)) {
		free(path);
		return fail(&err);
	}
	/* The same answers and configuration as the interrupted run, unless given again. */
	struct wizard_opts o = *cli;
	char *answers = NULL, *config = NULL;
	for (size_t i = 0; i < log.n; i++)
		if (log.entries[i].event == JE_RUN_START) {
			free(answers);
			free(config);
			answers = xstrdup(log.entries[i].path);
			config = xstrdup(log.entries[i].value);
		}
	if (!o.answers_path)
		o.answers_path = answers;
	if (!o.config_path)
		o.config_path = config;
	journal_log_done(&log);
	printf("certwiz resume: %s (answers %s)\n", path, o.answers_path ? o.answers_path : "none");
	int rc = run_plan(&o, path);
	free(answers);
	free(config);
	free(path);
	return rc;
}

static int run_plan(const struct wizard_opts *o, const char *resume)
{
	struct cw_error err = {0};
	struct wizard *w;
	if (!o->answers_path && !o->procedure) {
		fprintf(stderr, "certwiz: run needs --answers FILE (see README: the answers file), or at least "
				"--procedure NAME\n");
		return 2;
	}
	if (wizard_open(o, &w, &err))
		return fail(&err);
	if (wizard_build_plan(w, &err)) {
		wizard_free(w);
		return fail(&err);
	}
	if (w->site.root) {
		/* Facts read from a stand-in root must never drive commands on the real host. */
		fprintf(stderr, "certwiz: --root is for certwiz plan only: a run acts on this host's real files; "
				"nothing was changed\n");
		wizard_free(w);
		return 2;
	}
	const struct plan *p = w->plan;
	if (p->blockers) {
		for (size_t i = 0; p->blockers[i]; i++)
			fprintf(stderr, "certwiz: blocked: %s\n", p->blockers[i]);
		fprintf(stderr, "certwiz: nothing was changed; fix the above and run again\n");
		wizard_free(w);
		return 2;
	}
	printf("certwiz run: %s (%s, profile %s), %zu steps\n", p->procedure_title, p->procedure, p->profile,
	       p->nsteps);
	for (size_t i = 0; p->warnings && p->warnings[i]; i++)
		printf("warning: %s\n", p->warnings[i]);
	struct printer pr = {.plan = p, .at_line_start = true};
	struct observer obs = {.ctx = &pr, .step_started = on_started, .step_output = on_output,
			       .step_finished = on_finished, .message = on_message};
	const char *op = w->site.operator_name ? w->site.operator_name : getenv("USER");
	struct exec_opts eo = {.operator_name = op, .batch = true, .obs = &obs, .answers_path = o->answers_path,
			       .config_path = o->config_path, .resume_journal = resume};
	struct exec *ex;
	if (exec_open(w, &eo, &ex, &err)) {
		wizard_free(w);
		return fail(&err);
	}
	printf("journal: %s/journal.jsonl\n", exec_run_dir(ex));
	const struct site *site = &w->site;
	int rc = 0;
	cw_status first_error = CW_OK;
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];
		enum step_state before = exec_result(ex, i)->state;
		if (before == STEP_SIGNED || before == STEP_SKIPPED || before == STEP_MANUAL_DONE) {
			printf("\n[%zu/%zu] %s\n        => done before the resume\n", i + 1, p->nsteps, s->title);
			continue;
		}
		if (before == STEP_DONE) { /* was running at the crash; its verification holds */
			printf("\n[%zu/%zu] %s\n        => verified after the resume\n", i + 1, p->nsteps, s->title);
			if (exec_sign_off(ex, i, "verified after resume", &err))
				return fail(&err);
			continue;
		}
		if (strv_contains(site->skip, s->id) || strv_contains(site->skip, s->tmpl_id)) {
			const char *why = site->skip_reason ? site->skip_reason : "listed under skip in the answers file";
			printf("\n[%zu/%zu] %s\n        SKIPPED: %s\n", i + 1, p->nsteps, s->title, why);
			if (exec_skip_step(ex, i, why, &err))
				break;
			continue;
		}
		if (s->kind == STEP_MANUAL) {
			printf("\n[%zu/%zu] %s (manual)\n", i + 1, p->nsteps, s->title);
			if (strv_contains(site->manual_done, s->id) || strv_contains(site->manual_done, s->tmpl_id)) {
				if (exec_manual_done(ex, i, "done by hand (answers file: manual_done)", &err)) {
					printf("        => FAILED: %s\n", err.msg);
					first_error = first_error ? first_error : err.code;
					continue;
				}
				printf("        => marked done (answers file: manual_done)\n");
				continue;
			}
			printf("        %s\n        => NOT DONE: do it by hand, add \"%s\" to manual_done in the answers "
			       "file and run again\n", s->manual, s->id);
			first_error = first_error ? first_error : CW_EEXEC;
			break;
		}
		if (s->destructive && !site->confirm_destructive) {
			printf("\n[%zu/%zu] %s\n        => REFUSED: this step is destructive; set confirm_destructive = "
			       "true in the answers file to allow it\n", i + 1, p->nsteps, s->title);
			first_error = CW_EINVAL;
			break;
		}
		cw_status st = exec_run_step(ex, i, site->confirm_destructive, &err);
		const struct step_result *r = exec_result(ex, i);
		if (r->state == STEP_HOST_FAILED) {
			printf("\n[%zu/%zu] %s\n        => %s\n", i + 1, p->nsteps, s->title, r->detail);
			continue;
		}
		if (st) {
			if (r->state != STEP_FAILED) /* refused before it ran: no backup, not confirmed */
				printf("\n[%zu/%zu] %s\n        => REFUSED: %s\n", i + 1, p->nsteps, s->title, err.msg);
			first_error = first_error ? first_error : st;
			if (st == CW_EBACKUP || exec_host_failed(ex, 0) || (site->on_failure && strcmp(site->on_failure, "rollback") == 0))
				break; /* the CA itself failed, or the operator wants everything back */
			continue;   /* another host's failure: the others go on */
		}
		if (exec_sign_off(ex, i, "batch run", &err))
			return fail(&err);
		printf("        signed off by %s\n", r->who);
	}
	if (first_error && site->on_failure && strcmp(site->on_failure, "rollback") == 0) {
		printf("\nRolling back to the backups (on_failure = rollback)\n");
		if (exec_rollback(ex, &err))
			fprintf(stderr, "certwiz: rollback: %s\n", err.msg);
	}
	host_table(p, ex);
	const char *outcome = first_error ? "failed" : "completed";
	if (exec_close(ex, outcome, &err))
		fprintf(stderr, "certwiz: could not write the report: %s\n", err.msg);
	else
		printf("\nreport: %s/report.md (and report.json)\n", exec_run_dir(ex));
	if (first_error) {
		printf("certwiz: run %s\n", outcome);
		rc = cw_status_exit_code(first_error);
	} else {
		printf("certwiz: run completed: every step verified and signed off\n");
	}
	exec_free(ex);
	wizard_free(w);
	return rc;
}

int batch_wizard(const struct wizard_opts *o)
{
	(void)o;
	fprintf(stderr, "certwiz: the wizard is being written\n");
	return 10;
}
