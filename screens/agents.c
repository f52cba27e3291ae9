/* agents.c: screen 7: the hosts of a run with many agents: one row per host with its current
 * step and state, the counts and a progress bar, a filter to the failed ones, and retry of a
 * failed host (the run screen then offers its failed step again). */
#include "screens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct agents {
	struct tui_list list;
	size_t *host_of;      /* list item -> plan host */
	size_t sel_host;      /* keeps the selection when the list is rebuilt */
	bool failed_only;
};

static const struct tui_help_entry help[] = {
	{NULL, "Hosts"},
	{"Up/Down", "select a host; the pane below shows its progress and its last failure"},
	{"f", "show only the hosts with a failed step (again: all hosts)"},
	{"r", "retry the selected host: the run screen offers its failed step again"},
	{"R", "retry every failed host, one after the other"},
	{"Enter  Esc  h", "back to the run screen"},
	{NULL, NULL},
};

enum hstate { H_WAITING, H_RUNNING, H_DONE, H_FAILED };

struct hinfo {
	size_t total, finished, failed;
	size_t current;       /* first step not finished, SIZE_MAX when none */
	size_t failed_step;   /* the last failed step, SIZE_MAX when none */
	bool running;
	enum hstate state;
};

static struct hinfo host_info(const struct app *a, size_t h)
{
	const struct plan *p = a->w->plan;
	struct hinfo hi = {.current = SIZE_MAX, .failed_step = SIZE_MAX};
	for (size_t i = 0; i < p->nsteps; i++) {
		if (app_step_unit(p, &p->steps[i]) != h)
			continue;
		hi.total++;
		enum step_state st = app_step_state(a, i);
		if (st == STEP_SIGNED || st == STEP_SKIPPED || st == STEP_MANUAL_DONE) {
			hi.finished++;
			continue;
		}
		if (st == STEP_FAILED || st == STEP_HOST_FAILED) {
			hi.failed++;
			if (st == STEP_FAILED)
				hi.failed_step = i;
			continue;
		}
		if (st == STEP_RUNNING)
			hi.running = true;
		if (hi.current == SIZE_MAX)
			hi.current = i;
	}
	hi.state = hi.running ? H_RUNNING : hi.failed ? H_FAILED : hi.finished == hi.total ? H_DONE : H_WAITING;
	return hi;
}

static void build(struct app *a, struct agents *s)
{
	const struct plan *p = a->w->plan;
	tui_list_clear(&s->list);
	free(s->host_of);
	s->host_of = xcalloc(p->nhosts, sizeof *s->host_of);
	size_t sel = 0;
	for (size_t h = 0; h < p->nhosts; h++) {
		struct hinfo hi = host_info(a, h);
		if (s->failed_only && hi.state != H_FAILED)
			continue;
		const char *now;
		char buf[512];
		if (hi.state == H_FAILED) {
			size_t f = hi.failed_step != SIZE_MAX ? hi.failed_step : hi.current;
			snprintf(buf, sizeof buf, "failed at %zu. %s", f == SIZE_MAX ? 0 : f + 1,
				 f == SIZE_MAX ? "?" : p->steps[f].title);
			now = buf;
		} else if (hi.current != SIZE_MAX) {
			snprintf(buf, sizeof buf, "%s%zu. %s", hi.running ? "running " : "next: ", hi.current + 1,
				 p->steps[hi.current].title);
			now = buf;
		} else {
			now = hi.total ? "all steps finished" : "no steps";
		}
		char *label = xasprintf("%-26s %s", p->hosts[h].name, now);
		char *detail = xasprintf("%zu/%zu", hi.finished, hi.total);
		struct strbuf d;
		strbuf_init(&d);
		strbuf_addf(&d, "%s (%s): %zu of %zu steps finished", p->hosts[h].name, p->hosts[h].role, hi.finished,
			    hi.total);
		if (hi.failed)
			strbuf_addf(&d, ", %zu failed or not run", hi.failed);
		strbuf_adds(&d, ".");
		if (hi.failed_step != SIZE_MAX && a->ex) {
			const struct step_result *r = exec_result(a->ex, hi.failed_step);
			strbuf_addf(&d, "\nFailed: step %zu: %s", hi.failed_step + 1, r->detail ? r->detail : "?");
		}
		if (p->hosts[h].local)
			strbuf_adds(&d, "\nThis host: certwiz runs here.");
		else
			strbuf_addf(&d, "\nReached over SSH as %s at %s:%d.", p->hosts[h].user, p->hosts[h].address,
				    p->hosts[h].port);
		size_t k = tui_list_add(&s->list, label, detail, d.buf);
		strbuf_done(&d);
		free(label);
		free(detail);
		s->list.items[k].state = hi.state == H_DONE ? TUI_ST_OK : hi.state == H_FAILED ? TUI_ST_FAIL
				       : hi.state == H_RUNNING ? TUI_ST_RUNNING : TUI_ST_NONE;
		s->host_of[k] = h;
		if (h == s->sel_host)
			sel = k;
	}
	size_t top = s->list.top;
	tui_list_select(&s->list, sel);
	s->list.top = top;
}

static void init(struct app *a)
{
	struct agents *s = a->priv[SCR_AGENTS];
	if (!s) {
		s = a->priv[SCR_AGENTS] = xcalloc(1, sizeof *s);
		tui_list_init(&s->list);
	}
	build(a, s);
}

static const struct tui_hint hints[] = {
	{"f", "failed only"}, {"r", "retry host"}, {"R", "retry all failed"}, {"Esc", "back to the run"}, {"?", "help"},
	{NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	(void)a;
	return hints;
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct agents *s = a->priv[SCR_AGENTS];
	build(a, s);
	const struct plan *p = a->w->plan;
	size_t n[4] = {0, 0, 0, 0};
	for (size_t h = 0; h < p->nhosts; h++)
		n[host_info(a, h).state]++;
	int x = tui_printf(w, r.y, r.x, r.w, term_style(TUI_TITLE), "%zu hosts: ", p->nhosts);
	x += tui_printf(w, r.y, r.x + x, r.w - x, term_style(TUI_OK), "%zu done", n[H_DONE]);
	x += tui_printf(w, r.y, r.x + x, r.w - x, n[H_FAILED] ? term_style(TUI_FAIL) : A_NORMAL, ", %zu failed", n[H_FAILED]);
	x += tui_printf(w, r.y, r.x + x, r.w - x, term_style(TUI_RUNNING), ", %zu running", n[H_RUNNING]);
	x += tui_printf(w, r.y, r.x + x, r.w - x, A_NORMAL, ", %zu waiting", n[H_WAITING]);
	if (s->failed_only)
		tui_puts(w, r.y, r.x + x, r.w - x, term_style(TUI_WARN), "  (showing the failed only: f shows all)");
	struct tui_progress pr = {"Hosts finished", n[H_DONE], p->nhosts};
	tui_progress_draw(&pr, w, r.y + 1, r.x, r.w);
	s->list.desc_rows = 4;
	if (!s->list.n)
		tui_puts(w, r.y + 3, r.x, r.w, term_style(TUI_DIM), s->failed_only ? "No host has failed." : "No hosts.");
	else
		tui_list_draw(&s->list, w, (struct tui_rect){r.y + 3, r.x, r.h - 3, r.w});
}

static int retry(struct app *a, size_t h)
{
	const struct plan *p = a->w->plan;
	bool any = false;
	for (size_t i = 0; i < p->nsteps && a->ack; i++)
		if (app_step_unit(p, &p->steps[i]) == h && app_step_state(a, i) == STEP_FAILED && a->ack[i]) {
			a->ack[i] = false;
			any = true;
		}
	return any;
}

static int key(struct app *a, int k)
{
	struct agents *s = a->priv[SCR_AGENTS];
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE)
		return TUI_UNHANDLED;
	switch (k) {
	case 'f':
		s->failed_only = !s->failed_only;
		build(a, s);
		return TUI_HANDLED | TUI_REDRAW;
	case 'r':
	case 'R': {
		if (app_busy(a)) {
			app_notice(a, "Wait for the running step first");
			return TUI_HANDLED | TUI_REDRAW;
		}
		bool any = false;
		if (k == 'r' && s->list.n)
			any = retry(a, s->host_of[s->list.sel]);
		for (size_t h = 0; k == 'R' && h < a->w->plan->nhosts; h++)
			any = retry(a, h) || any;
		if (!any) {
			app_notice(a, "Nothing to retry: %s", k == 'r' ? "this host has no failed step that can run again"
								   : "no host has a failed step that can run again");
			return TUI_HANDLED | TUI_REDRAW;
		}
		a->goto_screen = SCR_EXECUTE;
		return TUI_HANDLED | TUI_REDRAW | SCR_GOTO;
	}
	case '\n':
	case 'h':
	case TUI_KEY_ESC:
		a->goto_screen = SCR_EXECUTE;
		return TUI_HANDLED | TUI_REDRAW | SCR_GOTO;
	}
	int r = tui_list_key(&s->list, k);
	if (s->list.n)
		s->sel_host = s->host_of[s->list.sel];
	return r;
}

static void done(struct app *a)
{
	struct agents *s = a->priv[SCR_AGENTS];
	tui_list_done(&s->list);
	free(s->host_of);
	free(s);
	a->priv[SCR_AGENTS] = NULL;
}

const struct screen screen_agents = {
	.name = "agents",
	.title = "Hosts",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
