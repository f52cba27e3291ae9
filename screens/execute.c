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
	size_t *row_first;      /* per checklist row: its first step */
	size_t *row_n;          /* per checklist row: how many steps (more than 1: a fleet row) */
	size_t nrows;
	bool show_log;          /* a fleet row: the whole log instead of the host table */
	size_t sel;             /* a fleet row: the selected host (index into the row) */
	size_t typed_n;         /* the typed confirmation is for a fleet: how many steps */
	size_t *typed_steps;    /* ... and which (owned) */
};

static const struct tui_help_entry help[] = {
	{NULL, "Before a step"},
	{"Enter", "run it (a destructive step first asks you to type the certname, or for a step on many "
		  "agents how many; a step done by hand "
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
	{NULL, "A fleet step (one row for every agent)"},
	{"Enter", "run it on every agent still to do (a destructive one asks you to type how many agents it touches)"},
	{"Up/Down", "select a host in the table; o shows its output, l the whole log"},
	{"r", "retry the agents that failed"},
	{"g", "leave the failed agents out of the rest of the run (each keeps its backup; the report says so)"},
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

/* A fleet row: the steps of one template, one per agent, next to each other in the plan. True
 * (with its first step and count) when step i is in one of at least two agents. */
static bool fleet_row(const struct plan *p, size_t i, size_t *first, size_t *n)
{
	const struct plan_step *s = &p->steps[i];
	if (!s->target)
		return false;
	size_t f = i, e = i + 1;
	while (f > 0 && p->steps[f - 1].target && strcmp(p->steps[f - 1].tmpl_id, s->tmpl_id) == 0)
		f--;
	while (e < p->nsteps && p->steps[e].target && strcmp(p->steps[e].tmpl_id, s->tmpl_id) == 0)
		e++;
	if (e - f < 2)
		return false;
	*first = f;
	*n = e - f;
	return true;
}

/* "Revoke and remove every agent's certificate on the CA": the first agent's title, its name
 * replaced (heap string). */
static char *fleet_title(const struct plan *p, size_t first, size_t n)
{
	const struct plan_step *s = &p->steps[first];
	const char *at = strstr(s->title, s->target);
	if (!at)
		return xasprintf("%s (and %zu more agents)", s->title, n - 1);
	return xasprintf("%.*severy agent%s", (int)(at - s->title), s->title, at + strlen(s->target));
}

struct fleet {
	size_t first, n;
	size_t waiting, running, to_sign, finished, failed, left;
};

static struct fleet fleet_count(const struct app *a, size_t first, size_t n)
{
	struct fleet f = {.first = first, .n = n};
	for (size_t i = first; i < first + n; i++) {
		switch (app_step_state(a, i)) {
		case STEP_PENDING: f.waiting++; break;
		case STEP_RUNNING: f.running++; break;
		case STEP_DONE: f.to_sign++; break;
		case STEP_FAILED:
			if (a->ack && a->ack[i])
				f.left++;
			else
				f.failed++;
			break;
		case STEP_HOST_FAILED: f.left++; break;
		case STEP_SIGNED:
		case STEP_SKIPPED:
		case STEP_MANUAL_DONE: f.finished++; break;
		}
	}
	return f;
}

static void build_phase(struct app *a, struct execute *s, size_t phase)
{
	const struct plan *p = plan_of(a);
	tui_checklist_clear(&s->list);
	const struct plan_phase *ph = &p->phases[phase];
	free(s->row_first);
	free(s->row_n);
	s->row_first = xcalloc(ph->count ? ph->count : 1, sizeof *s->row_first);
	s->row_n = xcalloc(ph->count ? ph->count : 1, sizeof *s->row_n);
	s->nrows = 0;
	for (size_t i = ph->first; i < ph->first + ph->count;) {
		size_t first = i, n = 1;
		char *label;
		if (fleet_row(p, i, &first, &n) && first == i) {
			char *title = fleet_title(p, first, n);
			label = xasprintf("%zu. %s (%zu agents)", i + 1, title, n);
			free(title);
		} else {
			n = 1;
			label = xasprintf("%zu. %s", i + 1, p->steps[i].title);
		}
		tui_checklist_add(&s->list, label, p->steps[i].destructive);
		free(label);
		s->row_first[s->nrows] = i;
		s->row_n[s->nrows++] = n;
		i += n;
	}
	s->list.cursor = true;
	s->phase = phase;
	s->have_phase = true;
}

/* The checklist row of step i. */
static size_t row_of(const struct execute *s, size_t i)
{
	for (size_t r = 0; r < s->nrows; r++)
		if (i >= s->row_first[r] && i < s->row_first[r] + s->row_n[r])
			return r;
	return 0;
}

static void log_step_header(struct app *a, size_t i)
{
	const struct plan *p = plan_of(a);
	const struct plan_step *st = &p->steps[i];
	size_t first, n;
	if (fleet_row(p, i, &first, &n)) {
		char *title = fleet_title(p, first, n);
		app_log(a, TUI_NORMAL, "%s", "");
		app_log(a, st->destructive ? TUI_DESTRUCTIVE : TUI_TITLE, "Step %zu of %zu%s: %s (%zu agents)", i + 1,
			p->nsteps, st->destructive ? " (DESTRUCTIVE)" : "", title, n);
		app_log(a, TUI_DIM, "on %s, for each agent; up to %d at once", st->host == 0 && p->nhosts ? p->hosts[0].name
											       : "each agent",
			a->w->site.parallel);
		if (st->explain)
			app_log(a, TUI_DIM, "why: %s", st->explain);
		free(title);
		return;
	}
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
	/* A fleet row: the steps of agents left out are recorded as not run before it is offered. */
	size_t first, n;
	if (!app_busy(a) && fleet_row(p, cur, &first, &n)) {
		for (size_t i = first; i < first + n; i++) {
			size_t unit = app_step_unit(p, &p->steps[i]);
			if (app_step_state(a, i) != STEP_PENDING || !exec_host_failed(a->ex, unit))
				continue;
			struct cw_error err = {0};
			if (exec_run_step(a->ex, i, false, &err) != CW_OK) {
				app_error(a, "The journal could not be written", &err);
				break;
			}
		}
		cur = app_current_step(a);
		if (cur >= p->nsteps)
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
	if (fleet_row(p, cur, &first, &n))
		cur = first; /* one header for the fleet row */
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
	size_t first, n;
	if (fleet_row(plan_of(a), *cur, &first, &n)) {
		struct fleet f = fleet_count(a, first, n);
		*cur = first;
		if (f.failed)
			return X_FAILED;
		if (f.waiting)
			return X_READY;
		if (f.to_sign)
			return X_TO_SIGN;
	}
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
static const struct tui_hint h_fleet_running[] = {
	{"c", "cancel"}, {"Up/Down", "host"}, {"o", "its output"}, {"l", "log"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint h_fleet_ready[] = {
	{"Enter", "run on all"}, {"Up/Down", "host"}, {"o", "output"}, {"l", "log"}, {"s", "skip"}, {"x", "stop"},
	{"?", "help"}, {NULL, NULL},
};
static const struct tui_hint h_fleet_sign[] = {
	{"Enter", "sign off all"}, {"n", "with a note"}, {"o", "output"}, {"l", "log"}, {"?", "help"}, {"q", "quit"},
	{NULL, NULL},
};
static const struct tui_hint h_fleet_failed[] = {
	{"r", "retry failed"}, {"g", "leave them out"}, {"o", "output"}, {"u", "undo"}, {"b", "roll back"}, {"x", "stop"},
	{"?", "help"}, {NULL, NULL},
};
static const struct tui_hint h_dialog[] = {
	{"Enter", "accept"}, {"Esc", "cancel"}, {NULL, NULL},
};

static bool fleet_now(struct app *a, size_t *first, size_t *n)
{
	size_t cur;
	enum xstate xs = state_of(a, &cur);
	if (xs == X_RUNNING) {
		if (a->job.kind != JOB_RUN_FLEET || !a->job.nsteps)
			return false;
		cur = a->job.steps[0];
	}
	return xs != X_FINISHED && xs != X_READ_ONLY && xs != X_NOT_OPEN && cur < plan_of(a)->nsteps &&
	       fleet_row(plan_of(a), cur, first, n);
}

static const struct tui_hint *state_hints(struct app *a)
{
	size_t cur, first, n;
	if (fleet_now(a, &first, &n)) {
		switch (state_of(a, &cur)) {
		case X_RUNNING: return h_fleet_running;
		case X_READY: return h_fleet_ready;
		case X_TO_SIGN: return h_fleet_sign;
		case X_FAILED: return h_fleet_failed;
		default: break;
		}
	}
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

static enum tui_step_state fleet_box(struct fleet f)
{
	if (f.running)
		return TUI_STEP_RUNNING;
	if (f.failed)
		return TUI_STEP_FAILED;
	if (f.waiting)
		return f.to_sign || f.finished ? TUI_STEP_RUNNING : TUI_STEP_PENDING;
	return f.finished || f.to_sign ? TUI_STEP_DONE : f.left ? TUI_STEP_FAILED : TUI_STEP_PENDING;
}

/* A fleet row's step: its title, where it runs, the first agent's command. */
static void draw_fleet_step(struct app *a, WINDOW *w, struct tui_rect r, size_t first, size_t n)
{
	const struct plan *p = plan_of(a);
	const struct plan_step *st = &p->steps[first];
	int x = 0;
	if (st->destructive)
		x += tui_puts(w, r.y, r.x, r.w, term_style(TUI_DESTRUCTIVE), " DESTRUCTIVE ") + 1;
	char where[300];
	if (st->host == app_step_unit(p, st))
		snprintf(where, sizeof where, "on each of %zu agents", n);
	else /* the log's header names the host */
		snprintf(where, sizeof where, "for %zu agents", n);
	int ww = tui_text_width(where);
	if (ww > r.w / 3)
		ww = r.w / 3;
	char *title = fleet_title(p, first, n);
	tui_printf(w, r.y, r.x + x, r.w - x - ww - 1, term_style(TUI_TITLE), "Step %zu of %zu: %s", first + 1, p->nsteps,
		   title);
	free(title);
	tui_puts_right(w, r.y, r.x + r.w, ww, term_style(TUI_DIM), where);
	char *text = NULL;
	if (st->kind == STEP_RUN) {
		char **shared = st->batch ? plan_batch_argv(p, (size_t[]){first, first + 1}, 2) : NULL;
		char *cmd = argv_display(st->argv);
		text = shared ? xasprintf("$ %s\n(the CA's share calls name the agents that are ready together)", cmd)
			      : xasprintf("$ %s\n(and the same on each of the other %zu agents)", cmd, n - 1);
		strv_free(shared);
		free(cmd);
	} else if (st->kind == STEP_SERVICE) {
		char *svc = strv_join(st->services, ", ");
		text = xasprintf("%s, in this order, on each agent: %s", st->service_action, svc);
		free(svc);
	} else if (st->kind == STEP_BACKUP) {
		char *paths = strv_join(st->backup_paths, ", ");
		text = xasprintf("archive and read back, on each agent: %s", paths);
		free(paths);
	} else {
		text = xstrdup(st->title);
	}
	tui_wrap_draw(w, (struct tui_rect){r.y + 1, r.x, r.h - 1, r.w}, st->kind == STEP_RUN ? term_style(TUI_KEY) : A_NORMAL,
		      text);
	free(text);
}

static const char *host_word(const struct app *a, size_t i, enum tui_style *style)
{
	switch (app_step_state(a, i)) {
	case STEP_PENDING: *style = TUI_DIM; return "waiting";
	case STEP_RUNNING: *style = TUI_RUNNING; return "running";
	case STEP_DONE: *style = TUI_OK; return "done";
	case STEP_SIGNED: *style = TUI_OK; return "signed";
	case STEP_FAILED:
		*style = TUI_FAIL;
		return a->ack && a->ack[i] ? "left out" : "FAILED";
	case STEP_HOST_FAILED: *style = TUI_WARN; return "left out";
	case STEP_SKIPPED: *style = TUI_WARN; return "skipped";
	case STEP_MANUAL_DONE: *style = TUI_OK; return "by hand";
	}
	*style = TUI_NORMAL;
	return "?";
}

/* The live view of a fleet row: the counts, then one line per agent: state and last line. */
static void draw_fleet(struct app *a, struct execute *s, WINDOW *w, struct tui_rect r, size_t first, size_t n)
{
	if (r.h < 2)
		return;
	struct fleet f = fleet_count(a, first, n);
	tui_printf(w, r.y, r.x, r.w, term_style(TUI_TITLE), "done %zu %s running %zu %s waiting %zu %s failed %zu",
		   f.to_sign + f.finished, tui_glyph(TUI_G_DOT), f.running, tui_glyph(TUI_G_DOT), f.waiting,
		   tui_glyph(TUI_G_DOT), f.failed);
	if (f.left)
		tui_printf(w, r.y, r.x + r.w - 16, 16, term_style(TUI_WARN), "left out %zu", f.left);
	if (s->sel >= n)
		s->sel = n - 1;
	int rows = r.h - 1;
	size_t top = s->sel >= (size_t)rows ? s->sel - (size_t)rows + 1 : 0;
	int nw = 0;
	for (size_t k = 0; k < n; k++) {
		int l = tui_text_width(plan_of(a)->steps[first + k].target);
		nw = l > nw ? l : nw;
	}
	nw = nw > r.w / 3 ? r.w / 3 : nw;
	for (int row = 0; row < rows && top + (size_t)row < n; row++) {
		size_t k = top + (size_t)row, i = first + k;
		int y = r.y + 1 + row;
		enum tui_style style;
		const char *word = host_word(a, i, &style);
		bool sel = k == s->sel;
		tui_puts(w, y, r.x, 2, sel ? term_style(TUI_KEY) : A_NORMAL, sel ? ">" : " ");
		tui_puts(w, y, r.x + 2, nw, sel ? A_BOLD : A_NORMAL, plan_of(a)->steps[i].target);
		tui_puts(w, y, r.x + 3 + nw, 9, term_style(style), word);
		const char *last = a->last_line && a->last_line[i] ? a->last_line[i] : "";
		tui_puts(w, y, r.x + 13 + nw, r.w - 13 - nw, term_style(TUI_DIM), last);
	}
}

static void prompt_line(struct app *a, WINDOW *w, int y, struct tui_rect r)
{
	const struct plan *p = plan_of(a);
	size_t cur;
	char msg[1200];
	enum tui_style style = TUI_NORMAL;
	size_t first, n;
	if (fleet_now(a, &first, &n)) {
		struct fleet f = fleet_count(a, first, n);
		const struct plan_step *st = &p->steps[first];
		switch (state_of(a, &cur)) {
		case X_RUNNING:
			snprintf(msg, sizeof msg, "Running on %zu agents%s (c cancels).", f.running + f.waiting + f.to_sign +
				 f.failed + f.finished, tui_glyph(TUI_G_ELLIPSIS));
			style = TUI_RUNNING;
			break;
		case X_READY:
			if (st->destructive)
				snprintf(msg, sizeof msg, "DESTRUCTIVE on %zu agents: Enter asks you to type %zu, then runs it.",
					 f.waiting, f.waiting);
			else
				snprintf(msg, sizeof msg, "Enter runs it on %zu agents, up to %d at once.", f.waiting,
					 a->w->site.parallel);
			break;
		case X_TO_SIGN:
			snprintf(msg, sizeof msg, "%s %zu agents done and verified. Enter signs them off as %s.",
				 tui_glyph(TUI_G_CHECK), f.to_sign, a->operator_name);
			style = TUI_OK;
			break;
		case X_FAILED:
			snprintf(msg, sizeof msg, "%s %zu of %zu agents FAILED: r retries them, g leaves them out.",
				 tui_glyph(TUI_G_CROSS), f.failed, n);
			style = TUI_FAIL;
			break;
		default:
			break;
		}
		tui_puts(w, y, r.x, r.w, term_style(style), msg);
		return;
	}
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
		cur = a->job.kind == JOB_RUN_STEP || a->job.kind == JOB_MANUAL_DONE ? a->job.step
		      : a->job.kind == JOB_RUN_FLEET && a->job.nsteps	    ? a->job.steps[0]
									    : s->shown_step;
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
	for (size_t k = 0; k < s->list.n && k < s->nrows; k++)
		tui_checklist_set(&s->list, k, s->row_n[k] > 1 ? fleet_box(fleet_count(a, s->row_first[k], s->row_n[k]))
							       : box_of(app_step_state(a, s->row_first[k])));
	if (cur >= ph->first && cur < ph->first + ph->count)
		tui_checklist_select(&s->list, row_of(s, cur));
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
	size_t first, n;
	bool fleet = cur < p->nsteps && fleet_row(p, cur, &first, &n);
	if (fleet)
		draw_fleet_step(a, w, (struct tui_rect){y, r.x, 3, r.w}, first, n);
	else
		draw_step(a, w, (struct tui_rect){y, r.x, 3, r.w}, cur);
	y += 3;
	int log_h = r.y + r.h - 1 - y;
	a->log_width = r.w;
	if (fleet && !s->show_log)
		draw_fleet(a, s, w, (struct tui_rect){y, r.x, log_h, r.w}, first, n);
	else
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

static void fleet_done(struct app *a, struct app_job *j)
{
	size_t ok = 0, failed = 0;
	for (size_t k = 0; k < j->nsteps; k++) {
		enum step_state st = exec_result(a->ex, j->steps[k])->state;
		ok += st == STEP_DONE;
		failed += st == STEP_FAILED;
	}
	app_log(a, failed ? TUI_FAIL : TUI_OK, "%s step %zu: %zu agent%s done and verified, %zu failed",
		tui_glyph(TUI_G_ARROW), j->steps[0] + 1, ok, ok == 1 ? "" : "s", failed);
}

/* Run steps[0..n) (one fleet row's, owned) through the scheduler on the worker. */
static void run_fleet(struct app *a, size_t *steps, size_t n, bool confirmed)
{
	struct app_job j = {.kind = JOB_RUN_FLEET, .steps = steps, .nsteps = n, .confirmed = confirmed, .done = fleet_done};
	for (size_t k = 0; k < n; k++)
		if (a->last_line) {
			free(a->last_line[steps[k]]);
			a->last_line[steps[k]] = NULL;
		}
	app_job_start(a, &j);
}

/* The steps of a fleet row in one state (FAILED: those not left out). Heap array. */
static size_t *fleet_steps(const struct app *a, size_t first, size_t n, enum step_state want, size_t *count)
{
	size_t *v = xcalloc(n, sizeof *v);
	*count = 0;
	for (size_t i = first; i < first + n; i++)
		if (app_step_state(a, i) == want && !(want == STEP_FAILED && a->ack && a->ack[i]))
			v[(*count)++] = i;
	return v;
}

/* A fleet step asks once: the operator types how many agents it touches. */
static void open_typed_fleet(struct app *a, struct execute *s, size_t *steps, size_t n)
{
	const struct plan *p = plan_of(a);
	const struct plan_step *st = &p->steps[steps[0]];
	char *cmd = st->argv ? argv_display(st->argv) : xstrdup(st->title);
	char *title = fleet_title(p, steps[0], 2);
	char word[32];
	snprintf(word, sizeof word, "%zu", n);
	char *text = xasprintf("%s\nOn %zu agent%s (the first: %s):\n$ %s\nEach host's verified backup is the way back. "
			       "Type the NUMBER of agents it will touch, not their names.",
			       title, n, n == 1 ? "" : "s", st->target, cmd);
	char *dtitle = xasprintf("Step %zu is DESTRUCTIVE on %zu agent%s", steps[0] + 1, n, n == 1 ? "" : "s");
	tui_typed_confirm_done(&s->typed);
	tui_typed_confirm_init(&s->typed, dtitle, text, word);
	s->typed_open = true;
	s->typed_step = steps[0];
	free(s->typed_steps);
	s->typed_steps = steps;
	s->typed_n = n;
	free(cmd);
	free(text);
	free(title);
	free(dtitle);
}

/* Enter on a fleet row, r on a failed one: the steps in that state, asked for once. */
static void start_fleet(struct app *a, struct execute *s, size_t first, size_t n, enum step_state which)
{
	size_t count;
	size_t *steps = fleet_steps(a, first, n, which, &count);
	if (!count) {
		free(steps);
		app_notice(a, "No agent is left to run this step on");
		return;
	}
	if (plan_of(a)->steps[first].destructive)
		open_typed_fleet(a, s, steps, count);
	else
		run_fleet(a, steps, count, false);
}

/* The output of the selected host of a fleet row, a key away. */
static void show_output(struct app *a, size_t i)
{
	const struct strbuf *o = a->out ? &a->out[i] : NULL;
	const struct step_result *r = exec_result(a->ex, i);
	const char *text = o && o->len ? o->buf : "(no output yet)";
	size_t len = strlen(text);
	if (len > 6000) /* the end is what matters; the whole of it is in the log (l) */
		text += len - 6000;
	app_message(a, plan_of(a)->steps[i].target, "Step %zu on %s: %s\n%s%s\n%s", i + 1, plan_of(a)->steps[i].target,
		    step_state_str(app_step_state(a, i)), r->detail ? r->detail : "", r->detail ? "\n" : "", text);
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
	size_t first, n;
	if (fleet_row(plan_of(a), i, &first, &n)) {
		/* one sign-off, recorded for every agent that is done (each host's own verdict) */
		size_t count = 0;
		for (size_t k = first; k < first + n; k++) {
			if (app_step_state(a, k) != STEP_DONE)
				continue;
			if (exec_sign_off(a->ex, k, note, &err) != CW_OK) {
				app_error(a, "The sign-off was not recorded", &err);
				return;
			}
			count++;
		}
		app_log(a, TUI_OK, "%s step %zu signed off for %zu agent%s by %s%s%s", tui_glyph(TUI_G_ARROW), first + 1,
			count, count == 1 ? "" : "s", a->operator_name, note && *note ? ": " : "", note && *note ? note : "");
		return;
	}
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

/* Skip a fleet row: every agent's step not yet run. False when i is not in a fleet row. */
static bool skip_fleet(struct app *a, size_t i, const char *reason)
{
	size_t first, n;
	if (!fleet_row(plan_of(a), i, &first, &n))
		return false;
	size_t count = 0;
	for (size_t k = first; k < first + n; k++) {
		enum step_state st = app_step_state(a, k);
		struct cw_error err = {0};
		if (st != STEP_PENDING && !(st == STEP_FAILED && !a->ack[k]))
			continue;
		if (exec_skip_step(a->ex, k, reason, &err) != CW_OK) {
			app_error(a, "The step was not skipped", &err);
			return true;
		}
		count++;
	}
	app_log(a, TUI_WARN, "%s step %zu skipped on %zu agents by %s: %s", tui_glyph(TUI_G_ARROW), first + 1, count,
		a->operator_name, reason);
	return true;
}

/* g on a failed fleet row: the failed agents are left out of the rest of the run. Each keeps
 * its backup; the journal (so the report) says so, with the archive. */
static void leave_out(struct app *a, size_t first, size_t n)
{
	const struct plan *p = plan_of(a);
	for (size_t i = first; i < first + n; i++) {
		if (app_step_state(a, i) != STEP_FAILED || a->ack[i])
			continue;
		a->ack[i] = true;
		size_t unit = app_step_unit(p, &p->steps[i]);
		const struct backup_result *b = exec_backup(a->ex, unit);
		char *what = xasprintf("left out of the rest of the run at step %zu by %s; it keeps its backup %s", i + 1,
				       a->operator_name, b && b->archive ? b->archive : "(none was made)");
		struct cw_error err = {0};
		if (exec_record(a->ex, p->hosts[unit].name, "left-out", what, &err) != CW_OK)
			app_error(a, "The journal could not be written", &err);
		app_log(a, TUI_WARN, "%s %s %s", tui_glyph(TUI_G_ARROW), p->hosts[unit].name, what);
		free(what);
	}
}

static int dialogs_key(struct app *a, struct execute *s, int k)
{
	const struct plan *p = plan_of(a);
	if (s->typed_open) {
		int r = tui_typed_confirm_key(&s->typed, k);
		if (r & TUI_SELECT) {
			s->typed_open = false;
			if (s->typed_steps) {
				app_log(a, TUI_DIM, "%s typed %s to confirm step %zu on %zu agent%s", a->operator_name,
					s->typed.word, s->typed_step + 1, s->typed_n, s->typed_n == 1 ? "" : "s");
				run_fleet(a, s->typed_steps, s->typed_n, true);
				s->typed_steps = NULL;
			} else {
				app_log(a, TUI_DIM, "%s typed %s to confirm step %zu", a->operator_name, s->typed.word,
					s->typed_step + 1);
				run_step(a, s->typed_step, true);
			}
		} else if (r & TUI_BACK) {
			s->typed_open = false;
			free(s->typed_steps);
			s->typed_steps = NULL;
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
				atomic_store(&a->fleet_stop, true); /* a fleet row: its waiting agents do not start */
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
			if (skip_fleet(a, i, value))
				;
			else if (exec_skip_step(a->ex, i, value, &err) != CW_OK)
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
	size_t ffirst, fn;
	if (fleet_now(a, &ffirst, &fn)) {
		if (k == 'l') {
			s->show_log = !s->show_log;
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'o') {
			show_output(a, ffirst + (s->sel < fn ? s->sel : 0));
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (!s->show_log && (k == KEY_UP || k == KEY_DOWN || k == KEY_HOME || k == KEY_END)) {
			if (k == KEY_UP && s->sel > 0)
				s->sel--;
			else if (k == KEY_DOWN && s->sel + 1 < fn)
				s->sel++;
			else if (k == KEY_HOME)
				s->sel = 0;
			else if (k == KEY_END)
				s->sel = fn - 1;
			return TUI_HANDLED | TUI_REDRAW;
		}
	}
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
		if (k == 'c' && (a->job.kind == JOB_RUN_STEP || a->job.kind == JOB_RUN_FLEET)) {
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
		size_t first, n;
		if (fleet_row(p, cur, &first, &n) && (k == '\n' || k == 'm')) {
			if (k == 'm')
				app_notice(a, "A step for many agents is not marked done by hand: skip it (s) with a reason");
			else
				start_fleet(a, s, first, n, STEP_PENDING);
			return TUI_HANDLED | TUI_REDRAW;
		}
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
		size_t first, n;
		if (fleet_row(p, cur, &first, &n) && (k == 'r' || k == 'g' || k == 'u')) {
			if (k == 'r') {
				start_fleet(a, s, first, n, STEP_FAILED);
				return TUI_HANDLED | TUI_REDRAW;
			}
			if (k == 'g') {
				leave_out(a, first, n);
				return after_action(a, s);
			}
			size_t count, *failed = fleet_steps(a, first, n, STEP_FAILED, &count);
			struct strbuf sb;
			strbuf_init(&sb);
			for (size_t c = 0; c < count; c++)
				strbuf_addf(&sb, "%s: %s\n", p->steps[failed[c]].target,
					    exec_result(a->ex, failed[c])->detail ? exec_result(a->ex, failed[c])->detail : "?");
			app_message(a, "How to recover", "Step %zu failed on %zu agent%s:\n%s\nTo undo or recover: %s\n\n"
				    "r runs it again on them; g leaves them out (each keeps its backup); b restores every "
				    "host's backup; x stops the run here.", first + 1, count, count == 1 ? "" : "s",
				    sb.buf ? sb.buf : "", st->undo ? st->undo : "restore the agent's backup");
			strbuf_done(&sb);
			free(failed);
			return TUI_HANDLED | TUI_REDRAW;
		}
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
	free(s->row_first);
	free(s->row_n);
	free(s->typed_steps);
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
