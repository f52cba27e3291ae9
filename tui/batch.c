/* batch.c: `certwiz run`: the plan executed without a screen, from an answers file. Every
 * step is shown before it runs, verified, and signed off as batch:OPERATOR. */
#include "batch.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "journal.h"
#include "schedule.h"
#include "util.h"

/* Output of steps. While several hosts run at once, each step's lines go to its own buffer,
 * printed whole when the step is settled, so the output of two hosts never interleaves. */
struct printer {
	const struct plan *plan;
	bool at_line_start;
	bool buffered;
	struct strbuf *bufs;     /* per step, while buffered */
	bool *line_start;        /* per step, while buffered */
	pthread_mutex_t mu;
};

static void out(struct printer *pr, const struct plan_step *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void out(struct printer *pr, const struct plan_step *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (pr->buffered) {
		char *text;
		if (vasprintf(&text, fmt, ap) >= 0) {
			pthread_mutex_lock(&pr->mu);
			strbuf_adds(&pr->bufs[s->index], text);
			pthread_mutex_unlock(&pr->mu);
			free(text);
		}
	} else {
		vprintf(fmt, ap);
	}
	va_end(ap);
}

static bool *line_start(struct printer *pr, const struct plan_step *s)
{
	return pr->buffered ? &pr->line_start[s->index] : &pr->at_line_start;
}

/* Test hook for the fault tests: CERTWIZ_TEST_STOP_AT=boundary,started makes a batch run
 * stop itself (SIGSTOP) after each sign-off and as each destructive step starts, so a test can
 * SIGKILL it at exactly that point and resume. Several agents run at once: one mutex makes a
 * sign-off and its stop one event that no other thread's stop can come between, and each stop
 * says on stderr which it is, for the test to count. */
static pthread_mutex_t test_mu = PTHREAD_MUTEX_INITIALIZER;

static bool test_wants(const char *where)
{
	const char *at = getenv("CERTWIZ_TEST_STOP_AT");
	return at && strstr(at, where);
}

/* With test_mu held. */
static void test_stop_locked(const char *where)
{
	if (!test_wants(where))
		return;
	fflush(stdout);
	fprintf(stderr, "certwiz: test stop at %s\n", where);
	fflush(stderr);
	raise(SIGSTOP);
}

static void test_stop(const char *where)
{
	if (!test_wants(where))
		return;
	pthread_mutex_lock(&test_mu);
	test_stop_locked(where);
	pthread_mutex_unlock(&test_mu);
}

/* Sign step i off, then stop there when the test asks: one event for the fault test. */
static cw_status sign_and_stop(struct exec *ex, size_t i, const char *note, struct cw_error *err)
{
	pthread_mutex_lock(&test_mu);
	cw_status st = exec_sign_off(ex, i, note, err);
	if (!st) {
		const struct step_result *r = exec_result(ex, i);
		if (strcmp(note, "batch run") == 0)
			printf("        signed off by %s\n", r->who);
		test_stop_locked("boundary");
	}
	pthread_mutex_unlock(&test_mu);
	return st;
}

static void on_started(void *ctx, const struct plan_step *s, char *const *argv)
{
	struct printer *pr = ctx;
	out(pr, s, "\n[%zu/%zu] %s\n", s->index + 1, pr->plan->nsteps, s->title);
	out(pr, s, "        on %s\n", pr->plan->hosts[s->host].name);
	if (argv) {
		char *cmd = argv_display(argv);
		out(pr, s, s->kind == STEP_ACTION ? "        certwiz itself: %s\n" : "        $ %s\n", cmd);
		if (s->batch)
			out(pr, s, "        (its part of the shared command above, where the agents can share one)\n");
		free(cmd);
	} else if (s->kind == STEP_SERVICE) {
		char *svc = strv_join(s->services, ", ");
		out(pr, s, "        %s: %s\n", s->service_action, svc);
		free(svc);
	} else if (s->kind == STEP_BACKUP) {
		char *paths = strv_join(s->backup_paths, ", ");
		out(pr, s, "        back up: %s\n", paths);
		free(paths);
	}
	*line_start(pr, s) = true;
	fflush(stdout);
	if (s->destructive)
		test_stop("started"); /* the step is journaled as started; its command has not run */
}

static void on_output(void *ctx, const struct plan_step *s, int stream, const char *data, size_t len)
{
	struct printer *pr = ctx;
	(void)stream;
	bool *ls = line_start(pr, s);
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; i < len; i++) {
		if (*ls)
			strbuf_adds(&sb, "        | ");
		unsigned char c = (unsigned char)data[i];
		if (c == '\n' || c == '\t' || c >= 0x20)
			strbuf_add(&sb, (const char *)&data[i], 1);
		*ls = c == '\n';
	}
	if (sb.buf)
		out(pr, s, "%s", sb.buf);
	strbuf_done(&sb);
	fflush(stdout);
}

static void on_finished(void *ctx, const struct plan_step *s, const struct step_result *r)
{
	struct printer *pr = ctx;
	if (!*line_start(pr, s))
		out(pr, s, "\n");
	for (size_t i = 0; r->checks && r->checks[i]; i++)
		out(pr, s, "        %s\n", r->checks[i]);
	if (r->state == STEP_DONE)
		out(pr, s, "        => done\n");
	else
		out(pr, s, "        => FAILED: %s\n", r->detail ? r->detail : "?");
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
			/* a per-agent step is its agent's, wherever it runs (the CA signs for the agent) */
			bool mine = s->target ? strcmp(s->target, p->hosts[h].name) == 0 : s->host == h;
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

int batch_resume(const struct wizard_opts *cli, const char *journal, bool force_batch)
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
	char *answers = NULL, *config = NULL, *who = NULL;
	for (size_t i = 0; i < log.n; i++)
		if (log.entries[i].event == JE_RUN_START) {
			free(answers);
			free(config);
			answers = xstrdup(log.entries[i].path);
			config = xstrdup(log.entries[i].value);
			if (!who)
				who = xstrdup(log.entries[i].who ? log.entries[i].who : "");
		}
	if (!o.answers_path)
		o.answers_path = answers;
	if (!o.config_path)
		o.config_path = config;
	journal_log_done(&log);
	/* A wizard run goes on in the wizard, where the operator signs the rest off as before. */
	bool wizard_run = who && strncmp(who, "batch:", 6) != 0;
	free(who);
	if (wizard_run && !force_batch) {
		int rc;
		const char *headless = getenv("CERTWIZ_HEADLESS"); /* the screen tests' terminal */
		if ((isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) || (headless && strcmp(headless, "1") == 0)) {
			int app_resume(const struct wizard_opts *o, const char *journal); /* screens/app.c */
			rc = app_resume(&o, path);
		} else {
			fprintf(stderr, "certwiz: %s is a wizard run: run certwiz resume in a terminal to go on in the "
					"wizard, or give --batch to go on without a screen (signed off as batch:OPERATOR; "
					"the wizard's answers do not confirm destructive steps)\n", path);
			rc = 2;
		}
		free(answers);
		free(config);
		free(path);
		return rc;
	}
	printf("certwiz resume: %s (answers %s)\n", path, o.answers_path ? o.answers_path : "none");
	int rc = run_plan(&o, path);
	free(answers);
	free(config);
	free(path);
	return rc;
}

struct run_ctx {
	const struct plan *p;
	struct exec *ex;
	const struct site *site;
	struct printer *pr;
	cw_status first_error;
	bool stop;
	bool manual_wait; /* stopped at a manual step not yet in manual_done: resumable */
};

static void note_error(struct run_ctx *c, cw_status st)
{
	if (!c->first_error)
		c->first_error = st;
}

/* Before step i runs (the scheduler asks when its agent's previous step is settled): resume
 * states, skip list, manual steps, destructive consent. */
static enum sched_verdict pre_step(void *ctx, size_t i)
{
	struct run_ctx *c = ctx;
	const struct plan *p = c->p;
	const struct plan_step *s = &p->steps[i];
	const struct site *site = c->site;
	struct cw_error err = {0};
	enum step_state before = exec_result(c->ex, i)->state;
	if (before == STEP_SIGNED || before == STEP_SKIPPED || before == STEP_MANUAL_DONE) {
		printf("\n[%zu/%zu] %s\n        => done before the resume\n", i + 1, p->nsteps, s->title);
		return SCHED_SETTLED;
	}
	if (before == STEP_DONE) { /* was running at the crash; its verification holds */
		printf("\n[%zu/%zu] %s\n        => verified after the resume\n", i + 1, p->nsteps, s->title);
		if (sign_and_stop(c->ex, i, "verified after resume", &err)) {
			printf("        => %s\n", err.msg);
			note_error(c, err.code);
			return SCHED_STOP;
		}
		return SCHED_SETTLED;
	}
	if (strv_contains(site->skip, s->id) || strv_contains(site->skip, s->tmpl_id)) {
		const char *why = site->skip_reason ? site->skip_reason : "listed under skip in the answers file";
		printf("\n[%zu/%zu] %s\n        SKIPPED: %s\n", i + 1, p->nsteps, s->title, why);
		if (exec_skip_step(c->ex, i, why, &err)) {
			note_error(c, err.code);
			return SCHED_STOP;
		}
		return SCHED_SETTLED;
	}
	if (s->kind == STEP_MANUAL) {
		printf("\n[%zu/%zu] %s (manual)\n", i + 1, p->nsteps, s->title);
		if (strv_contains(site->manual_done, s->id) || strv_contains(site->manual_done, s->tmpl_id)) {
			if (exec_manual_done(c->ex, i, "done by hand (answers file: manual_done)", &err)) {
				printf("        => FAILED: %s\n", err.msg);
				note_error(c, err.code);
				return SCHED_SETTLED;
			}
			printf("        => marked done (answers file: manual_done)\n");
			return SCHED_SETTLED;
		}
		/* Not an error: the run waits for the operator, who does the step by hand and then
		 * continues this run (a new run would start the procedure again from the top). */
		printf("        %s\n        => NOT DONE: do it by hand, add \"%s\" to manual_done in the answers "
		       "file and continue with: certwiz resume %s\n", s->manual, s->id, exec_run_dir(c->ex));
		c->manual_wait = true;
		return SCHED_STOP;
	}
	if (s->destructive && !site->confirm_destructive) {
		printf("\n[%zu/%zu] %s\n        => REFUSED: this step is destructive; set confirm_destructive = "
		       "true in the answers file to allow it\n", i + 1, p->nsteps, s->title);
		note_error(c, CW_EINVAL);
		return SCHED_STOP;
	}
	if (c->pr->buffered) {
		c->pr->line_start[i] = true;
		strbuf_reset(&c->pr->bufs[i]);
	}
	return SCHED_RUN;
}

/* After step i ran: its buffered output, the sign-off, and what a failure means for the run.
 * False stops the run. */
static bool post_step(void *ctx, size_t i, cw_status st, const struct cw_error *err)
{
	struct run_ctx *c = ctx;
	const struct plan *p = c->p;
	const struct plan_step *s = &p->steps[i];
	struct cw_error e = {0};
	if (c->pr->bufs[i].len) {
		fputs(c->pr->bufs[i].buf, stdout);
		strbuf_reset(&c->pr->bufs[i]);
	}
	const struct step_result *r = exec_result(c->ex, i);
	if (r->state == STEP_HOST_FAILED) {
		printf("\n[%zu/%zu] %s\n        => %s\n", i + 1, p->nsteps, s->title, r->detail);
	} else if (st) {
		if (r->state != STEP_FAILED) /* refused before it ran: no backup, not confirmed */
			printf("\n[%zu/%zu] %s\n        => REFUSED: %s\n", i + 1, p->nsteps, s->title, err->msg);
		note_error(c, st);
		/* The CA itself failed, or the operator wants everything back: stop. A failure of
		 * one agent stops that agent only; the others go on. */
		if (st == CW_EBACKUP || exec_host_failed(c->ex, 0) ||
		    (c->site->on_failure && strcmp(c->site->on_failure, "rollback") == 0))
			c->stop = true;
	} else if (sign_and_stop(c->ex, i, "batch run", &e)) {
		printf("        => %s\n", e.msg);
		note_error(c, e.code);
		c->stop = true;
	}
	fflush(stdout);
	return !c->stop;
}

/* What the run cost this host: certwiz's own CPU (every thread) and peak memory apart from
 * the commands it ran here (puppetserver ca, puppet, ...), which are their own processes. */
static void print_resources(void)
{
	struct rusage self, kids;
	if (getrusage(RUSAGE_SELF, &self) != 0 || getrusage(RUSAGE_CHILDREN, &kids) != 0)
		return;
	double own = (double)self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + (double)self.ru_stime.tv_sec +
		     self.ru_stime.tv_usec / 1e6;
	double cmds = (double)kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 + (double)kids.ru_stime.tv_sec +
		      kids.ru_stime.tv_usec / 1e6;
	printf("certwiz: its own CPU %.2f s, peak memory %.1f MiB; the commands it ran on this host: %.2f s CPU\n",
	       own, self.ru_maxrss / 1024.0, cmds);
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
	/* Chosen on the command line alone: written down as an answers file, so that `certwiz
	 * resume` rebuilds this plan without the options being given again. */
	char *written = NULL;
	if (!o->answers_path &&
	    wizard_write_answers(w, "run", op, "# The choices of a `certwiz run` given on the command line, for `certwiz "
					     "resume` of its run.\n", &written, &err)) {
		fprintf(stderr, "certwiz: %s; nothing was changed\n", err.msg);
		wizard_free(w);
		return cw_status_exit_code(err.code);
	}
	struct exec_opts eo = {.operator_name = op, .batch = true, .obs = &obs,
			       .answers_path = written ? written : o->answers_path, .config_path = o->config_path,
			       .resume_journal = resume};
	struct exec *ex;
	cw_status st = exec_open(w, &eo, &ex, &err);
	free(written);
	if (st) {
		wizard_free(w);
		return fail(&err);
	}
	printf("journal: %s/journal.jsonl\n", exec_run_dir(ex));
	const struct site *site = &w->site;
	int rc = 0;
	struct run_ctx rc_ = {.p = p, .ex = ex, .site = site, .pr = &pr};
	struct run_ctx *c = &rc_;
	pr.bufs = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *pr.bufs);
	pr.line_start = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *pr.line_start);
	pthread_mutex_init(&pr.mu, NULL);
	/* Every agent goes on as soon as its own previous step is signed off (core/schedule.c). */
	pr.buffered = site->parallel > 1;
	size_t *all = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *all);
	for (size_t i = 0; i < p->nsteps; i++)
		all[i] = i;
	struct sched_opts so = {.parallel = site->parallel, .window_ms = -1, .confirmed = site->confirm_destructive,
				.ctx = c, .before = pre_step, .after = post_step};
	sched_run(ex, p, all, p->nsteps, &so, &err);
	free(all);
	pr.buffered = false;
	cw_status first_error = c->first_error;
	for (size_t i = 0; i < p->nsteps; i++)
		strbuf_done(&pr.bufs[i]);
	free(pr.bufs);
	free(pr.line_start);
	pthread_mutex_destroy(&pr.mu);
	if (first_error && site->on_failure && strcmp(site->on_failure, "rollback") == 0) {
		printf("\nRolling back to the backups (on_failure = rollback)\n");
		if (exec_rollback(ex, &err))
			fprintf(stderr, "certwiz: rollback: %s\n", err.msg);
	}
	host_table(p, ex);
	const char *outcome = first_error ? "failed" : c->manual_wait ? "waiting" : "completed";
	if (exec_close(ex, outcome, &err))
		fprintf(stderr, "certwiz: could not write the report: %s\n", err.msg);
	else if (site->report_dir)
		printf("\nreport: %s/report.md (and report.json), copied to %s\n", exec_run_dir(ex), site->report_dir);
	else
		printf("\nreport: %s/report.md (and report.json)\n", exec_run_dir(ex));
	if (first_error) {
		printf("certwiz: run %s\n", outcome);
		rc = cw_status_exit_code(first_error);
	} else if (c->manual_wait) {
		printf("certwiz: run waiting for a manual step; when it is done and in manual_done: certwiz resume %s\n",
		       exec_run_dir(ex));
		rc = cw_status_exit_code(CW_EEXEC);
	} else {
		printf("certwiz: run completed: every step verified and signed off\n");
	}
	print_resources();
	exec_free(ex);
	wizard_free(w);
	return rc;
}

int batch_wizard(const struct wizard_opts *o)
{
	int app_run(const struct wizard_opts *o); /* screens/app.c: the ncurses wizard */
	return app_run(o);
}
