/* execute.c: screen 6: the run, one step at a time. The current phase's steps as a checklist
 * on the left, the services of the host the step runs on (live) on the right, the step and
 * its command, the output as it streams, and what to do now. Before a step: run it, skip it
 * (with a reason), mark it done by hand, or stop; destructive steps ask for the certname.
 * After it: its verification, then the operator's sign-off (Enter, or n with a note). A
 * failed step offers retry, the recovery hint, a rollback to the backups, or stop. Steps run
 * on the worker thread, so keys keep working while a command runs. */
#include "screens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "util.h"

enum { P_SKIP = 1, P_NOTE, P_MANUAL };
enum { C_STOP = 1, C_ROLLBACK, C_CANCEL };

struct execute {
	struct tui_checklist list;
	size_t phase;           /* the phase the checklist shows */
	bool have_phase;
	size_t shown_step;      /* the step whose header is in the log */
	size_t shown_phase;
	bool said_read_only;
	bool typed_open;
	struct tui_typed_confirm typed;
	size_t typed_step;
	bool confirm_open;
	int confirm_purpose;
	struct tui_confirm confirm;
	struct app_prompt prompt;
	size_t prompt_step;
	struct tui_hint hints[12];
};

static const struct tui_help_entry help[] = {
	{NULL, "Before a step"},
	{"Enter", "run it (a destructive step first asks you to type the certname; a step done by hand "
		  "asks what you did)"},
	{"s", "skip it: you give a reason, which goes into the report"},
	{"m", "mark it done by hand: certwiz still checks its result where the procedure says how"},
	{"x", "stop the run here and go to the summary; steps not run stay as they are"},
	{NULL, "While a step runs"},
	{"c", "cancel the running command (the step is then failed, and can be retried)"},
	{"Up/Down", "scroll the output; PgUp/PgDn a page; End follows the output again"},
	{NULL, "After a step"},
	{"Enter", "sign it off as yourself (recorded in the journal and the report)"},
	{"n", "sign it off with a note"},
	{NULL, "When a step failed"},
	{"r", "run it again"},
	{"u", "show how to undo or recover"},
	{"b", "roll back: restore every host's verified backup, then end the run"},
	{"g", "go on with the other hosts (only for a step about one agent)"},
	{NULL, "Anywhere on this screen"},
	{"h", "the hosts screen: one row per host, with its progress"},
	{NULL, NULL},
};

static const struct plan *plan_of(const struct app *a)
{
	return a->w->plan;
}

static enum tui_step_state box_of(enum step_state st)
{
	switch (st) {
	case STEP_RUNNING: return TUI_STEP_RUNNING;
	case STEP_DONE:
	case STEP_SIGNED: return TUI_STEP_DONE;
	case STEP_FAILED:
	case STEP_HOST_FAILED: return TUI_STEP_FAILED;
	case STEP_SKIPPED: return TUI_STEP_SKIPPED;
	case STEP_MANUAL_DONE: return TUI_STEP_MANUAL;
	case STEP_PENDING: break;
	}
	return TUI_STEP_PENDING;
}

static size_t agent_hosts(const struct plan *p)
{
	size_t n = 0;
	for (size_t h = 1; h < p->nhosts; h++)
		n += strcmp(p->hosts[h].role, "agent") == 0;
	return n;
}

static void build_phase(struct app *a, struct execute *s, size_t phase)
{
	const struct plan *p = plan_of(a);
	tui_checklist_clear(&s->list);
	const struct plan_phase *ph = &p->phases[phase];
	for (size_t i = ph->first; i < ph->first + ph->count; i++) {
		char *label = xasprintf("%zu. %s", i + 1, p->steps[i].title);
		tui_checklist_add(&s->list, label, p->steps[i].destructive);
		free(label);
	}
	s->list.cursor = true;
	s->phase = phase;
	s->have_phase = true;
}

static void log_step_header(struct app *a, size_t i)
{
	const struct plan *p = plan_of(a);
	const struct plan_step *st = &p->steps[i];
	app_log(a, TUI_NORMAL, "%s", "");
	app_log(a, st->destructive ? TUI_DESTRUCTIVE : TUI_TITLE, "Step %zu of %zu%s: %s", i + 1, p->nsteps,
		st->destructive ? " (DESTRUCTIVE)" : "", st->title);
	app_log(a, TUI_DIM, "on %s%s", p->hosts[st->host].name, p->hosts[st->host].local ? " (this host)" : " (over SSH)");
	if (st->kind == STEP_MANUAL) {
		app_log(a, TUI_WARN, "%s", "By hand: do this, then press Enter to mark it done:");
		char **lines = strv_split(st->manual, '\n');
		for (size_t k = 0; lines && lines[k]; k++)
			app_log(a, TUI_NORMAL, "  %s", lines[k]);
		strv_free(lines);
	}
	if (st->explain)
		app_log(a, TUI_DIM, "why: %s", st->explain);
}

/* Follow the run: the phase of the current step, its header in the log, steps of failed
 * hosts recorded as not run. */
static void sync(struct app *a, struct execute *s)
{
	const struct plan *p = plan_of(a);
	if (a->read_only) {
		if (!s->said_read_only) {
			app_log(a, TUI_WARN, "%s", app_read_only_reason(a));
			s->said_read_only = true;
		}
		if (!s->have_phase)
			build_phase(a, s, 0);
		return;
	}
	if (!a->ex)
		return;
	size_t cur = app_current_step(a);
	while (!app_busy(a) && cur < p->nsteps && app_step_state(a, cur) == STEP_PENDING) {
		const struct plan_step *st = &p->steps[cur];
		size_t unit = app_step_unit(p, st);
		if (!exec_host_failed(a->ex, unit) && !exec_host_failed(a->ex, st->host))
			break;
		struct cw_error err = {0};
		if (exec_run_step(a->ex, cur, false, &err) != CW_OK) { /* records it as not run */
			app_error(a, "The journal could not be written", &err);
			break;
		}
		const struct step_result *r = exec_result(a->ex, cur);
		app_log(a, TUI_DIM, "step %zu (%s) not run: %s", cur + 1, st->title, r->detail ? r->detail : "");
		cur = app_current_step(a);
	}
	if (cur >= p->nsteps) {
		if (!s->have_phase)
			build_phase(a, s, p->nphases ? p->nphases - 1 : 0);
		return;
	}
	size_t phase = p->steps[cur].phase;
	if (!s->have_phase || phase != s->phase)
		build_phase(a, s, phase);
	if (phase != s->shown_phase) {
		app_log(a, TUI_NORMAL, "%s", "");
		app_log(a, TUI_TITLE, "Phase %zu of %zu: %s", phase + 1, p->nphases, p->phases[phase].title);
		app_log(a, TUI_NORMAL, "%s", p->phases[phase].explain);
		s->shown_phase = phase;
	}
	if (cur != s->shown_step) {
		log_step_header(a, cur);
		s->shown_step = cur;
	}
}

static void init(struct app *a)
{
	struct execute *s = a->priv[SCR_EXECUTE];
	if (!s) {
		s = a->priv[SCR_EXECUTE] = xcalloc(1, sizeof *s);
		tui_checklist_init(&s->list);
		tui_confirm_init(&s->confirm, "", "", false);
		s->shown_step = SIZE_MAX;
		s->shown_phase = SIZE_MAX;
		if (a->ex)
			app_refresh_services(a, 0);
	}
	sync(a, s);
}

/* ---- the state the screen is in ---- */

enum xstate { X_READ_ONLY, X_NOT_OPEN, X_RUNNING, X_READY, X_TO_SIGN, X_FAILED, X_FINISHED };

static enum xstate state_of(const struct app *a, size_t *cur)
{
	*cur = 0;
	if (a->read_only)
		return X_READ_ONLY;
	if (!a->ex)
		return X_NOT_OPEN;
	if (app_busy(a))
		return X_RUNNING;
	*cur = app_current_step(a);
	if (*cur >= plan_of(a)->nsteps)
		return X_FINISHED;
	switch (app_step_state(a, *cur)) {
	case STEP_DONE: return X_TO_SIGN;
	case STEP_FAILED: return X_FAILED;
	default: return X_READY;
	}
}

static const struct tui_hint h_read_only[] = {
	{"Up/Down", "scroll"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_not_open[] = {
	{"Esc", "back to the backup"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_running[] = {
	{"c", "cancel"}, {"Up/Down", "scroll"}, {"End", "follow"}, {"h", "hosts"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_ready[] = {
	{"Enter", "run"}, {"s", "skip"}, {"m", "done by hand"}, {"x", "stop"}, {"h", "hosts"}, {"?", "help"}, {"q", "quit"},
	{NULL, NULL},
};
static const struct tui_hint h_manual[] = {
	{"Enter", "mark done"}, {"s", "skip"}, {"x", "stop"}, {"h", "hosts"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_sign[] = {
	{"Enter", "sign off"}, {"n", "sign off with a note"}, {"h", "hosts"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_failed[] = {
	{"r", "retry"}, {"u", "undo hint"}, {"b", "roll back"}, {"s", "skip"}, {"g", "go on"}, {"x", "stop"}, {"?", "help"},
	{NULL, NULL},
};
static const struct tui_hint h_finished[] = {
	{"Enter", "summary"}, {"Up/Down", "scroll"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_dialog[] = {
	{"Enter", "accept"}, {"Esc", "cancel"}, {NULL, NULL},
};

static const struct tui_hint *state_hints(struct app *a)
{
	size_t cur;
	switch (state_of(a, &cur)) {
	case X_READ_ONLY: return h_read_only;
	case X_NOT_OPEN: return h_not_open;
	case X_RUNNING: return h_running;
	case X_READY: return plan_of(a)->steps[cur].kind == STEP_MANUAL ? h_manual : h_ready;
	case X_TO_SIGN: return h_sign;
	case X_FAILED: return h_failed;
	case X_FINISHED: return h_finished;
	}
	return h_read_only;
}

static const struct tui_hint *get_hints(struct app *a)
{
	struct execute *s = a->priv[SCR_EXECUTE];
	if (s->typed_open || s->prompt.open || s->confirm_open)
		return h_dialog;
	/* "h hosts" only where there are many agents (the key works whenever there are hosts) */
	const struct tui_hint *h = state_hints(a);
	bool hosts = agent_hosts(plan_of(a)) > 1;
	size_t n = 0;
	for (; h->key && n + 1 < sizeof s->hints / sizeof s->hints[0]; h++)
		if (hosts || strcmp(h->key, "h") != 0)
			s->hints[n++] = *h;
	s->hints[n] = (struct tui_hint){NULL, NULL};
	return s->hints;
}

/* ---- drawing ---- */

static void draw_step(struct app *a, WINDOW *w, struct tui_rect r, size_t i)
{
	const struct plan *p = plan_of(a);
	if (i >= p->nsteps) {
		tui_puts(w, r.y, r.x, r.w, term_style(TUI_TITLE), "Every step is finished.");
		return;
	}
	const struct plan_step *st = &p->steps[i];
	int x = 0;
	if (st->destructive)
		x += tui_puts(w, r.y, r.x, r.w, term_style(TUI_DESTRUCTIVE), " DESTRUCTIVE ") + 1;
	char where[300];
	snprintf(where, sizeof where, "on %s", p->hosts[st->host].name);
	int ww = tui_text_width(where);
	if (ww > r.w / 3)
		ww = r.w / 3;
	tui_printf(w, r.y, r.x + x, r.w - x - ww - 1, term_style(TUI_TITLE), "Step %zu of %zu: %s", i + 1, p->nsteps,
		   st->title);
	tui_puts_right(w, r.y, r.x + r.w, ww, term_style(TUI_DIM), where);
	struct tui_rect body = {r.y + 1, r.x, r.h - 1, r.w};
	char *text = NULL;
	attr_t attr = A_NORMAL;
	switch (st->kind) {
	case STEP_RUN: {
		char *cmd = argv_display(st->argv);
		text = xasprintf("$ %s", cmd);
		free(cmd);
		attr = term_style(TUI_KEY);
		break;
	}
	case STEP_SERVICE: {
		/* every control command, as the plan has it (the same lines `certwiz plan` prints) */
		char *svc = strv_join(st->services, ", ");
		struct strbuf sb;
		strbuf_init(&sb);
		strbuf_addf(&sb, "%s, in this order: %s", st->service_action, svc);
		for (size_t k = 0; st->service_cmds && st->service_cmds[k]; k++)
			if (*st->service_cmds[k])
				strbuf_addf(&sb, "\n$ %s", st->service_cmds[k]);
		text = strbuf_detach(&sb);
		attr = term_style(TUI_KEY);
		free(svc);
		break;
	}
	case STEP_BACKUP: {
		char *paths = strv_join(st->backup_paths, ", ");
		text = xasprintf("archive and read back: %s", paths);
		free(paths);
		break;
	}
	case STEP_MANUAL:
		text = xasprintf("BY HAND: %s", st->manual);
		attr = term_style(TUI_WARN);
		break;
	case STEP_ACTION:
		text = xasprintf("certwiz itself: %s %s, next update in %s days", st->argv[0], st->argv[1], st->argv[2]);
		break;
	}
	tui_wrap_draw(w, body, attr, text);
	free(text);
}

static void prompt_line(struct app *a, WINDOW *w, int y, struct tui_rect r)
{
	const struct plan *p = plan_of(a);
	size_t cur;
	char msg[1200];
	enum tui_style style = TUI_NORMAL;
	switch (state_of(a, &cur)) {
	case X_READ_ONLY:
		snprintf(msg, sizeof msg, "Nothing can run: certwiz was started with --root (read-only).");
		style = TUI_WARN;
		break;
	case X_NOT_OPEN:
		snprintf(msg, sizeof msg, "The run is not open yet: go back (Esc) and back up first.");
		style = TUI_WARN;
		break;
	case X_RUNNING:
		if (a->job.kind == JOB_RUN_STEP)
			snprintf(msg, sizeof msg, "Running%s the output streams above (c cancels).", tui_glyph(TUI_G_ELLIPSIS));
		else if (a->job.kind == JOB_SERVICES)
			snprintf(msg, sizeof msg, "Checking the services%s", tui_glyph(TUI_G_ELLIPSIS));
		else if (a->job.kind == JOB_ROLLBACK)
			snprintf(msg, sizeof msg, "Rolling back to the backups%s", tui_glyph(TUI_G_ELLIPSIS));
		else
			snprintf(msg, sizeof msg, "Checking the step%s", tui_glyph(TUI_G_ELLIPSIS));
		style = TUI_RUNNING;
		break;
	case X_READY: {
		const struct plan_step *st = &p->steps[cur];
		if (st->kind == STEP_MANUAL)
			snprintf(msg, sizeof msg, "Do it by hand (see the log), then Enter marks it done.");
		else if (st->kind == STEP_SERVICE)
			snprintf(msg, sizeof msg, "Enter %s them, one by one, each checked by its real state.",
				 strcmp(st->service_action, "stop") == 0 ? "stops" : "starts");
		else if (st->kind == STEP_BACKUP)
			snprintf(msg, sizeof msg, "Enter backs them up and reads the archive back.");
		else if (st->destructive)
			snprintf(msg, sizeof msg, "Read the command. Enter asks you to type %s, then runs it.", st->confirm);
		else
			snprintf(msg, sizeof msg, "Read the command. Enter runs it.");
		break;
	}
	case X_TO_SIGN:
		snprintf(msg, sizeof msg, "%s Done and verified. Enter signs it off as %s (n: with a note).",
			 tui_glyph(TUI_G_CHECK), a->operator_name);
		style = TUI_OK;
		break;
	case X_FAILED: {
		const struct step_result *res = exec_result(a->ex, cur);
		snprintf(msg, sizeof msg, "%s FAILED: %s", tui_glyph(TUI_G_CROSS), res->detail ? res->detail : "?");
		style = TUI_FAIL;
		break;
	}
	case X_FINISHED:
		snprintf(msg, sizeof msg, "Every step is finished. Enter shows the summary.");
		style = TUI_OK;
		break;
	}
	tui_puts(w, y, r.x, r.w, term_style(style), msg);
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct execute *s = a->priv[SCR_EXECUTE];
	const struct plan *p = plan_of(a);
	if (!p->nphases) {
		tui_puts(w, r.y, r.x, r.w, term_style(TUI_WARN), "This plan has no steps.");
		return;
	}
	size_t cur;
	enum xstate xs = state_of(a, &cur);
	if (xs == X_RUNNING)
		cur = a->job.kind == JOB_RUN_STEP || a->job.kind == JOB_MANUAL_DONE ? a->job.step : s->shown_step;
	if (cur == SIZE_MAX)
		cur = 0;
	/* the phase, and where the run is */
	const struct plan_phase *ph = &p->phases[s->phase];
	char where[64];
	snprintf(where, sizeof where, "step %zu of %zu", cur < p->nsteps ? cur + 1 : p->nsteps, p->nsteps);
	tui_printf(w, r.y, r.x, r.w - 18, term_style(TUI_TITLE), "Phase %zu of %zu: %s", s->phase + 1, p->nphases,
		   ph->title);
	tui_puts_right(w, r.y, r.x + r.w, 18, term_style(TUI_DIM), where);
	/* checklist | services */
	int top_h = r.h >= 30 ? r.h / 3 : 7;
	/* The services panel shows the pid from 47 columns on: it gets those first. */
	int rw = r.w * 45 / 100;
	rw = rw < 47 ? 47 : rw > 60 ? 60 : rw;
	int lw = r.w - rw - 1;
	for (size_t k = 0; k < s->list.n; k++)
		tui_checklist_set(&s->list, k, box_of(app_step_state(a, ph->first + k)));
	if (cur >= ph->first && cur < ph->first + ph->count)
		tui_checklist_select(&s->list, cur - ph->first);
	s->list.cursor = xs != X_READ_ONLY && xs != X_FINISHED;
	tui_checklist_draw(&s->list, w, (struct tui_rect){r.y + 1, r.x, top_h, lw});
	size_t host = cur < p->nsteps ? p->steps[cur].host : 0;
	struct tui_services *svc = app_host_services(a, host);
	if (!svc || !svc->n)
		svc = app_host_services(a, 0);
	if (!a->ex)
		svc = &a->local_svc; /* what discovery saw: there is no run to ask */
	if (svc)
		tui_services_draw(svc, w, (struct tui_rect){r.y + 1, r.x + lw + 1, top_h, rw});
	int y = r.y + 1 + top_h;
	tui_hline(w, y++, r.x, r.w, term_style(TUI_DIM));
	draw_step(a, w, (struct tui_rect){y, r.x, 3, r.w}, cur);
	y += 3;
	int log_h = r.y + r.h - 1 - y;
	a->log_width = r.w;
	tui_log_draw(&a->log, w, (struct tui_rect){y, r.x, log_h, r.w});
	prompt_line(a, w, r.y + r.h - 1, r);
	if (s->typed_open)
		tui_typed_confirm_draw(&s->typed, w, r);
	if (s->confirm_open)
		tui_confirm_draw(&s->confirm, w, r);
	app_prompt_draw(&s->prompt, w, r);
}

/* ---- actions ---- */

static void run_done(struct app *a, struct app_job *j)
{
	if (j->status && exec_result(a->ex, j->step)->state != STEP_FAILED)
		app_error(a, "The step was not run", &j->err); /* refused before it ran */
}

static void run_step(struct app *a, size_t i, bool confirmed)
{
	const struct plan_step *st = &plan_of(a)->steps[i];
	/* A service step reports every service it touches (service_changed): no query after it. */
	struct app_job j = {.kind = JOB_RUN_STEP, .step = i, .confirmed = confirmed, .done = run_done, .host = st->host};
	app_job_start(a, &j);
}

static void manual_done(struct app *a, struct app_job *j)
{
	const struct step_result *r = exec_result(a->ex, j->step);
	for (size_t k = 0; r->checks && r->checks[k]; k++) {
		bool ok = strncmp(r->checks[k], "ok", 2) == 0;
		app_log(a, ok ? TUI_OK : TUI_FAIL, "%s %s", tui_glyph(ok ? TUI_G_CHECK : TUI_G_CROSS),
			r->checks[k] + (ok ? 3 : strncmp(r->checks[k], "FAIL ", 5) == 0 ? 5 : 0));
	}
	if (j->status) {
		app_error(a, "Marked done, but", &j->err);
		return;
	}
	app_log(a, TUI_OK, "%s step %zu marked done by hand by %s%s%s", tui_glyph(TUI_G_ARROW), j->step + 1,
		a->operator_name, r->note && *r->note ? ": " : "", r->note ? r->note : "");
}

static void open_typed(struct app *a, struct execute *s, size_t i)
{
	const struct plan *p = plan_of(a);
	const struct plan_step *st = &p->steps[i];
	char *cmd = st->argv ? argv_display(st->argv) : xstrdup(st->title);
	const struct backup_result *b = exec_backup(a->ex, st->host);
	char *text = xasprintf("On %s:\n$ %s\n%s%sThe verified backup of %s is %s.", p->hosts[st->host].name, cmd,
			       st->explain ? st->explain : "", st->explain ? "\n" : "", p->hosts[st->host].name,
			       b && b->archive ? b->archive : "(none yet: the step will be refused)");
	char *title = xasprintf("Step %zu is DESTRUCTIVE", i + 1);
	tui_typed_confirm_done(&s->typed);
	tui_typed_confirm_init(&s->typed, title, text, st->confirm);
	s->typed_open = true;
	s->typed_step = i;
	free(cmd);
	free(text);
	free(title);
}

static void open_confirm(struct execute *s, int purpose, const char *title, const char *text, bool destructive)
{
	tui_confirm_done(&s->confirm);
	tui_confirm_init(&s->confirm, title, text, destructive);
	s->confirm_open = true;
	s->confirm_purpose = purpose;
}

static const char *outcome_now(const struct app *a)
{
	const struct plan *p = plan_of(a);
	for (size_t i = 0; i < p->nsteps; i++) {
		enum step_state st = exec_result(a->ex, i)->state;
		if (st == STEP_FAILED || st == STEP_HOST_FAILED)
			return "failed";
	}
	return "completed";
}

static int to_summary(struct app *a, const char *outcome)
{
	a->outcome = outcome;
	a->goto_screen = SCR_SUMMARY;
	return TUI_HANDLED | TUI_REDRAW | SCR_GOTO;
}

static void rollback_done(struct app *a, struct app_job *j)
{
	if (j->status) {
		app_error(a, "The rollback failed", &j->err);
		a->outcome = "rollback failed";
	} else {
		app_log(a, TUI_OK, "%s every host is back to its backup", tui_glyph(TUI_G_ARROW));
		a->outcome = "rolled back";
	}
	app_go(a, SCR_SUMMARY);
}

static void sign(struct app *a, size_t i, const char *note)
{
	struct cw_error err = {0};
	if (exec_sign_off(a->ex, i, note, &err) != CW_OK) {
		app_error(a, "The sign-off was not recorded", &err);
		return;
	}
	app_log(a, TUI_OK, "%s step %zu signed off by %s%s%s", tui_glyph(TUI_G_ARROW), i + 1, a->operator_name,
		note && *note ? ": " : "", note && *note ? note : "");
}

static int after_action(struct app *a, struct execute *s)
{
	sync(a, s);
	size_t cur;
	if (state_of(a, &cur) == X_FINISHED)
		return to_summary(a, outcome_now(a));
	return TUI_HANDLED | TUI_REDRAW;
}

static int dialogs_key(struct app *a, struct execute *s, int k)
{
	const struct plan *p = plan_of(a);
	if (s->typed_open) {
		int r = tui_typed_confirm_key(&s->typed, k);
		if (r & TUI_SELECT) {
			s->typed_open = false;
			app_log(a, TUI_DIM, "%s typed %s to confirm step %zu", a->operator_name, s->typed.word, s->typed_step + 1);
			run_step(a, s->typed_step, true);
		} else if (r & TUI_BACK) {
			s->typed_open = false;
		}
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (s->confirm_open) {
		int r = tui_confirm_key(&s->confirm, k);
		if (r & (TUI_SELECT | TUI_BACK))
			s->confirm_open = false;
		if (!(r & TUI_SELECT))
			return TUI_HANDLED | TUI_REDRAW;
		switch (s->confirm_purpose) {
		case C_STOP:
			return to_summary(a, "stopped");
		case C_ROLLBACK: {
			app_log(a, TUI_TITLE, "%s", "Rolling back to the backups");
			struct app_job j = {.kind = JOB_ROLLBACK, .done = rollback_done};
			app_job_start(a, &j);
			break;
		}
		case C_CANCEL:
			if (app_busy(a) && a->ex) {
				exec_cancel(a->ex);
				app_log(a, TUI_WARN, "%s", "cancelling the running command");
			}
			break;
		}
		return TUI_HANDLED | TUI_REDRAW;
	}
	int r = app_prompt_key(&s->prompt, k);
	if (!(r & (TUI_SELECT | TUI_BACK)))
		return TUI_HANDLED | (r & TUI_REDRAW);
	char *value = xstrdup(tui_field_value(&s->prompt.field));
	int purpose = s->prompt.purpose;
	size_t i = s->prompt_step;
	app_prompt_close(&s->prompt);
	int result = TUI_HANDLED | TUI_REDRAW;
	if (r & TUI_SELECT) {
		struct cw_error err = {0};
		switch (purpose) {
		case P_SKIP:
			if (exec_skip_step(a->ex, i, value, &err) != CW_OK)
				app_error(a, "The step was not skipped", &err);
			else
				app_log(a, TUI_WARN, "%s step %zu skipped by %s: %s", tui_glyph(TUI_G_ARROW), i + 1,
					a->operator_name, value);
			result = after_action(a, s);
			break;
		case P_NOTE:
			sign(a, i, value);
			result = after_action(a, s);
			break;
		case P_MANUAL: {
			struct app_job j = {.kind = JOB_MANUAL_DONE, .step = i, .note = xstrdup(value), .done = manual_done};
			app_log(a, TUI_DIM, "checking step %zu, done by hand (%s)", i + 1, p->steps[i].title);
			app_job_start(a, &j);
			break;
		}
		}
	}
	free(value);
	return result;
}

static int key(struct app *a, int k)
{
	struct execute *s = a->priv[SCR_EXECUTE];
	const struct plan *p = plan_of(a);
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE) {
		if (!app_busy(a) && !a->read_only && a->ex) {
			sync(a, s);
			size_t cur;
			if (state_of(a, &cur) == X_FINISHED && a->cur == SCR_EXECUTE && !a->outcome)
				return to_summary(a, outcome_now(a));
		}
		return TUI_UNHANDLED;
	}
	if (s->typed_open || s->confirm_open || s->prompt.open)
		return dialogs_key(a, s, k);
	switch (k) {
	case KEY_UP:
	case KEY_DOWN:
	case KEY_PPAGE:
	case KEY_NPAGE:
	case KEY_HOME:
	case KEY_END:
		return tui_log_key(&a->log, k) | TUI_HANDLED;
	case 'h':
		if (p->nhosts > 1) {
			a->goto_screen = SCR_AGENTS;
			return TUI_HANDLED | TUI_REDRAW | SCR_GOTO;
		}
		app_notice(a, "This plan has one host only");
		return TUI_HANDLED | TUI_REDRAW;
	case TUI_KEY_ESC:
		if (!a->ex && !a->read_only)
			return TUI_HANDLED | TUI_BACK;
		return TUI_HANDLED | TUI_QUIT;
	}
	size_t cur;
	enum xstate xs = state_of(a, &cur);
	switch (xs) {
	case X_READ_ONLY:
	case X_NOT_OPEN:
		if (k == '\n' || k == 's' || k == 'm') {
			app_notice(a, "%s", xs == X_READ_ONLY ? "Nothing can run here: certwiz was started with --root"
							      : "Back up first (Esc)");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case X_RUNNING:
		if (k == 'c' && a->job.kind == JOB_RUN_STEP) {
			open_confirm(s, C_CANCEL, "Cancel the running command?",
				     "The command is stopped (SIGTERM to its process group, then SIGKILL). The step is then "
				     "recorded as failed and can be retried, skipped or rolled back.",
				     false);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == '\n' || (k > 0 && k < 0x80 && strchr("smxrubgn", k))) {
			app_notice(a, "Wait: %s", a->job.kind == JOB_RUN_STEP ? "the step is still running (c cancels it)"
										: "certwiz is still checking");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case X_FINISHED:
		if (k == '\n')
			return to_summary(a, outcome_now(a));
		return TUI_UNHANDLED;
	case X_READY: {
		const struct plan_step *st = &p->steps[cur];
		if (k == '\n' && st->kind != STEP_MANUAL) {
			if (st->destructive)
				open_typed(a, s, cur);
			else
				run_step(a, cur, false);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'm' || (k == '\n' && st->kind == STEP_MANUAL)) {
			s->prompt_step = cur;
			app_prompt_open(&s->prompt, P_MANUAL, "Mark the step done by hand",
					st->kind == STEP_MANUAL ? "What did you do? certwiz then checks the result where the "
								  "procedure says how."
								: "You did this step yourself, outside certwiz. What did you do? "
								  "certwiz then checks the result where the procedure says how.",
					"Note", st->kind != STEP_MANUAL);
			return TUI_HANDLED | TUI_REDRAW;
		}
		break;
	}
	case X_TO_SIGN:
		if (k == '\n') {
			sign(a, cur, NULL);
			return after_action(a, s);
		}
		if (k == 'n') {
			s->prompt_step = cur;
			app_prompt_open(&s->prompt, P_NOTE, "Sign off with a note",
					"Your note goes into the journal and the report with your sign-off.", "Note", false);
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case X_FAILED: {
		const struct plan_step *st = &p->steps[cur];
		if (k == 'r') {
			if (st->destructive)
				open_typed(a, s, cur);
			else
				run_step(a, cur, false);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'u') {
			const struct step_result *r = exec_result(a->ex, cur);
			app_message(a, "How to recover", "Step %zu: %s\nWhat went wrong: %s\n\nTo undo or recover: %s\n\n"
				    "r runs it again; b restores every host's backup (%s); x stops the run here.",
				    cur + 1, st->title, r->detail ? r->detail : "?",
				    st->undo ? st->undo : "the procedure gives no specific hint: restore the backup",
				    exec_backup(a->ex, st->host)->archive ? exec_backup(a->ex, st->host)->archive : "none");
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'b') {
			char text[1024];
			snprintf(text, sizeof text,
				 "Every host with a verified backup is put back: the services certwiz found running "
				 "are stopped, the archives restored byte for byte, the services started again. The run "
				 "then ends. The backup of %s is %s.",
				 p->hosts[0].name, exec_backup(a->ex, 0)->archive ? exec_backup(a->ex, 0)->archive : "missing");
			open_confirm(s, C_ROLLBACK, "Roll back to the backups?", text, true);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'g') {
			size_t unit = app_step_unit(p, st);
			if (unit == 0) {
				app_notice(a, "This step is on the CA server: the run cannot go on without it (r, b or x)");
				return TUI_HANDLED | TUI_REDRAW;
			}
			a->ack[cur] = true;
			app_log(a, TUI_WARN, "%s going on without %s (its remaining steps are not run)", tui_glyph(TUI_G_ARROW),
				p->hosts[unit].name);
			return after_action(a, s);
		}
		break;
	}
	}
	if (k == 's') {
		s->prompt_step = cur;
		app_prompt_open(&s->prompt, P_SKIP, "Skip this step",
				"Why is it skipped? The reason goes into the journal and the report.", "Reason", true);
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (k == 'x') {
		open_confirm(s, C_STOP, "Stop the run here?",
			     "The steps not run yet stay as they are. The summary and the report say where the run "
			     "stopped, so it can be finished by hand or run again.",
			     false);
		return TUI_HANDLED | TUI_REDRAW;
	}
	return TUI_UNHANDLED;
}

static void done(struct app *a)
{
	struct execute *s = a->priv[SCR_EXECUTE];
	tui_checklist_done(&s->list);
	if (s->typed.title)
		tui_typed_confirm_done(&s->typed);
	tui_confirm_done(&s->confirm);
	app_prompt_close(&s->prompt);
	free(s);
	a->priv[SCR_EXECUTE] = NULL;
}

const struct screen screen_execute = {
	.name = "execute",
	.title = "Run",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
