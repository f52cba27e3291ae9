/* review.c: screen 5: the whole plan, every phase and step with where it runs, its command,
 * how it is verified, why it is there and how to undo it, in a scrollable viewer.
 * Destructive steps are marked with the word DESTRUCTIVE. */
#include "screens.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct review {
	struct tui_viewer v;
	unsigned gen;
	bool built;
	size_t ndestructive;
};

static const struct tui_help_entry help[] = {
	{NULL, "Plan review"},
	{"Up/Down", "scroll a line; PgUp/PgDn or Space/b a page; Home/End the start and the end"},
	{"Enter", "go on to the run: the steps run one at a time, each only when you say so"},
	{"Esc", "back to the pre-flight screen"},
	{NULL, "Reading the plan"},
	{"$ command", "exactly what runs, as you would type it (certwiz never goes through a shell)"},
	{"DESTRUCTIVE", "the step deletes or replaces keys or certificates: it runs only after the verified "
			"backup of its host and after you type the certname (for a step on many agents: how many)"},
	{NULL, NULL},
};

static const char *step_box(const struct app *a, size_t i)
{
	if (!a->ex)
		return "[ ]";
	switch (exec_result(a->ex, i)->state) {
	case STEP_SIGNED:
	case STEP_MANUAL_DONE:
	case STEP_DONE: return term_utf8() ? "[✓]" : "[x]";
	case STEP_FAILED:
	case STEP_HOST_FAILED: return term_utf8() ? "[✗]" : "[!]";
	case STEP_SKIPPED: return "[-]";
	default: return "[ ]";
	}
}

static void add_lines(struct strbuf *sb, const char *indent, const char *text)
{
	char **lines = strv_split(text, '\n');
	for (size_t i = 0; lines && lines[i]; i++)
		strbuf_addf(sb, "%s%s\n", indent, lines[i]);
	strv_free(lines);
}

static void build(struct app *a, struct review *s)
{
	const struct plan *p = a->w->plan;
	struct strbuf sb;
	strbuf_init(&sb);
	s->ndestructive = 0;
	for (size_t i = 0; i < p->nsteps; i++)
		s->ndestructive += p->steps[i].destructive;
	strbuf_addf(&sb, "# %s\n", p->procedure_title);
	strbuf_addf(&sb, "Follows %s. Profile %s, %s dialect (%s).\n", p->seed, p->profile,
		    dialect_str(p->dialect), p->dialect == DIALECT_MODERN ? "puppetserver ca, puppet ssl" : "puppet cert, puppet master");
	const char *alt = vars_get(&p->hosts[0].vars, "dns_alt_names");
	strbuf_addf(&sb, "CA server: %s (this host), alt names: %s.\n", p->hosts[0].name, alt && *alt ? alt : "(none)");
	for (size_t h = 1; h < p->nhosts; h++)
		strbuf_addf(&sb, "- %s %s (%s@%s:%d%s)\n", p->hosts[h].role, p->hosts[h].name, p->hosts[h].user,
			    p->hosts[h].address, p->hosts[h].port, strcmp(p->hosts[h].os, "windows") == 0 ? ", Windows: by hand" : "");
	strbuf_addf(&sb, "%zu steps in %zu phases; %zu DESTRUCTIVE.\n", p->nsteps, p->nphases, s->ndestructive);
	for (size_t i = 0; p->blockers && p->blockers[i]; i++)
		strbuf_addf(&sb, "- BLOCKED: %s\n", p->blockers[i]);
	for (size_t i = 0; p->warnings && p->warnings[i]; i++)
		strbuf_addf(&sb, "- warning: %s\n", p->warnings[i]);
	for (size_t ph = 0; ph < p->nphases; ph++) {
		const struct plan_phase *phase = &p->phases[ph];
		strbuf_addf(&sb, "\n# Phase %zu of %zu: %s\n%s\n", ph + 1, p->nphases, phase->title, phase->explain);
		for (size_t i = phase->first; i < phase->first + phase->count; i++) {
			const struct plan_step *st = &p->steps[i];
			strbuf_addf(&sb, "\n%s %zu. %s%s\n", step_box(a, i), i + 1, st->destructive ? "DESTRUCTIVE: " : "", st->title);
			strbuf_addf(&sb, "    on %s%s\n", p->hosts[st->host].name, p->hosts[st->host].local ? " (this host)" : " (over SSH)");
			switch (st->kind) {
			case STEP_RUN: {
				char *cmd = argv_display(st->argv);
				strbuf_addf(&sb, "$ %s\n", cmd);
				free(cmd);
				if (st->nok > 1 || st->ok_exit[0] != 0) {
					strbuf_adds(&sb, "    success: exit code");
					for (size_t k = 0; k < st->nok; k++)
						strbuf_addf(&sb, "%s %d", k ? "," : "", st->ok_exit[k]);
					strbuf_adds(&sb, "\n");
				}
				break;
			}
			case STEP_SERVICE: {
				char *svc = strv_join(st->services, ", ");
				strbuf_addf(&sb, "    %s the services, in this order: %s\n", st->service_action, svc);
				free(svc);
				break;
			}
			case STEP_MANUAL:
				strbuf_adds(&sb, "    BY HAND: you do this, then mark it done:\n");
				add_lines(&sb, "      ", st->manual);
				break;
			case STEP_BACKUP: {
				char *paths = strv_join(st->backup_paths, ", ");
				strbuf_addf(&sb, "    archive, with owners, modes and a SHA-256 manifest: %s\n", paths);
				free(paths);
				break;
			}
			case STEP_ACTION:
				strbuf_addf(&sb, "    certwiz itself: %s %s, next update in %s days\n", st->argv[0], st->argv[1],
					    st->argv[2]);
				break;
			}
			if (st->destructive)
				strbuf_addf(&sb, "    DESTRUCTIVE: runs only after the verified backup of %s, and after you type "
					    "'%s'\n", p->hosts[st->host].name, st->confirm);
			for (size_t k = 0; k < st->nrequire; k++) {
				char *d = plan_check_describe(p, &st->require[k]);
				strbuf_addf(&sb, "    before: %s\n", d);
				free(d);
			}
			if (st->kind == STEP_BACKUP)
				strbuf_adds(&sb, "    verify: the archive is read back and matches its manifest\n");
			if (st->kind == STEP_SERVICE)
				strbuf_addf(&sb, "    verify: each service is really %s (pid and port checked)\n",
					    strcmp(st->service_action, "stop") == 0 ? "stopped" : "running");
			for (size_t k = 0; k < st->nverify; k++) {
				char *d = plan_check_describe(p, &st->verify[k]);
				strbuf_addf(&sb, "    verify: %s\n", d);
				free(d);
			}
			if (st->kind == STEP_RUN && !st->nverify)
				strbuf_adds(&sb, "    verify: the exit code\n");
			if (st->explain)
				strbuf_addf(&sb, "    why: %s\n", st->explain);
			if (st->undo)
				strbuf_addf(&sb, "    undo: %s\n", st->undo);
		}
	}
	tui_viewer_set(&s->v, sb.buf ? sb.buf : "");
	strbuf_done(&sb);
	s->gen = a->plan_gen;
	s->built = true;
}

static void init(struct app *a)
{
	struct review *s = a->priv[SCR_REVIEW];
	if (!s) {
		s = a->priv[SCR_REVIEW] = xcalloc(1, sizeof *s);
		tui_viewer_init(&s->v);
		s->v.markup = true;
	}
	if (!s->built || s->gen != a->plan_gen)
		build(a, s);
}

static const struct tui_hint hints[] = {
	{"PgDn/PgUp", "scroll"}, {"Enter", "to the run"}, {"Esc", "back"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	(void)a;
	return hints;
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct review *s = a->priv[SCR_REVIEW];
	const struct plan *p = a->w->plan;
	int x = tui_printf(w, r.y, r.x, r.w, term_style(TUI_TITLE), "%zu steps in %zu phases,", p->nsteps, p->nphases);
	x += tui_printf(w, r.y, r.x + x, r.w - x, s->ndestructive ? term_style(TUI_DESTRUCTIVE) : A_NORMAL,
			" %zu DESTRUCTIVE ", s->ndestructive);
	tui_puts(w, r.y, r.x + x, r.w - x - 6, A_NORMAL, " Read each command.");
	tui_viewer_draw(&s->v, w, (struct tui_rect){r.y + 1, r.x, r.h - 1, r.w});
	if (s->v.nseg > (size_t)s->v.page) { /* after the draw: page is known then */
		char pos[32];
		size_t last = s->v.top + (size_t)s->v.page;
		snprintf(pos, sizeof pos, "%zu%%", (last >= s->v.nseg ? 100 : last * 100 / s->v.nseg));
		tui_puts_right(w, r.y, r.x + r.w, 5, term_style(TUI_DIM), pos);
	}
}

static int key(struct app *a, int k)
{
	struct review *s = a->priv[SCR_REVIEW];
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE)
		return TUI_UNHANDLED;
	if (k == '\n')
		return TUI_HANDLED | TUI_NEXT;
	return tui_viewer_key(&s->v, k);
}

static void done(struct app *a)
{
	struct review *s = a->priv[SCR_REVIEW];
	tui_viewer_done(&s->v);
	free(s);
	a->priv[SCR_REVIEW] = NULL;
}

const struct screen screen_review = {
	.name = "review",
	.title = "Plan review",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
