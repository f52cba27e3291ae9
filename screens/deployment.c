/* deployment.c: screen 2: what to regenerate (the five procedures, each with when to use it
 * and the Puppet documents it follows), and the deployment profile: detected, changeable with p. */
#include "screens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct deployment {
	struct tui_list procs;
	char **names;          /* procedure name of each item (strv) */
	bool choosing;         /* the profile chooser is open */
	struct tui_list profiles;
};

/* The order an operator thinks in: smallest change first. */
static const char *const order[] = {"agent", "primary", "oss-ca", "pe-monolithic", "pe-split", NULL};

static const struct tui_help_entry help[] = {
	{NULL, "Deployment type"},
	{"Up/Down", "choose what to regenerate; the pane below says when to use it and which of Puppet's "
		    "documents it follows"},
	{"Enter", "take the selected procedure and go on to what certwiz found on this host"},
	{"p", "change the deployment profile: where this Puppet keeps its files, which services it runs "
	      "and which commands it speaks (puppet cert before Puppet 6, puppetserver ca after)"},
	{NULL, NULL},
};

static void add_proc(struct app *a, struct deployment *s, const char *name)
{
	struct procedure *p;
	struct cw_error err = {0};
	if (wizard_procedure_info(a->w, name, &p, &err) != CW_OK) {
		size_t i = tui_list_add(&s->procs, name, "cannot be loaded", err.msg);
		s->procs.items[i].disabled = true;
		strv_push(&s->names, name);
		return;
	}
	char *desc = xasprintf("%s Follows %s.\n\nWhen to use this: %s", p->summary, p->seed, p->when_to_use);
	tui_list_add(&s->procs, p->title, NULL, desc);
	strv_push(&s->names, name);
	free(desc);
	procedure_free(p);
}

static void build_profiles(struct app *a, struct deployment *s)
{
	tui_list_clear(&s->profiles);
	for (size_t i = 0; i < a->w->nprofiles; i++) {
		const struct profile *p = a->w->profiles[i];
		char *label = xasprintf("%-12s %s", p->name, p->title);
		tui_list_add(&s->profiles, label, p == a->w->profile ? "current" : NULL, NULL);
		free(label);
		if (p == a->w->profile)
			tui_list_select(&s->profiles, i);
	}
}

static void init(struct app *a)
{
	struct deployment *s = a->priv[SCR_DEPLOYMENT];
	if (s)
		return;
	s = a->priv[SCR_DEPLOYMENT] = xcalloc(1, sizeof *s);
	tui_list_init(&s->procs);
	tui_list_init(&s->profiles);
	for (size_t i = 0; order[i]; i++)
		if (strv_contains(a->w->procedure_names, order[i]))
			add_proc(a, s, order[i]);
	for (size_t i = 0; a->w->procedure_names && a->w->procedure_names[i]; i++)
		if (!strv_contains((char *const *)order, a->w->procedure_names[i]))
			add_proc(a, s, a->w->procedure_names[i]);
	for (size_t i = 0; s->names && s->names[i]; i++)
		if (a->w->proc && strcmp(a->w->proc->name, s->names[i]) == 0)
			tui_list_select(&s->procs, i);
}

static const struct tui_hint hints[] = {
	{"Enter", "choose"}, {"p", "change profile"}, {"Esc", "back"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_choosing[] = {
	{"Enter", "use this profile"}, {"Esc", "keep the current one"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	struct deployment *s = a->priv[SCR_DEPLOYMENT];
	return s->choosing ? hints_choosing : hints;
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct deployment *s = a->priv[SCR_DEPLOYMENT];
	tui_puts(w, r.y, r.x, r.w, term_style(TUI_TITLE), "What do you want to regenerate?");
	int list_h = r.h - 6;
	s->procs.desc_rows = list_h - (int)s->procs.n - 1;
	tui_list_draw(&s->procs, w, (struct tui_rect){r.y + 1, r.x, list_h, r.w});
	int y = r.y + r.h - 4;
	tui_hline(w, y++, r.x, r.w, term_style(TUI_DIM));
	const struct profile *p = a->w->profile;
	int x = tui_puts(w, y, r.x, r.w, term_style(TUI_TITLE), "Profile  ");
	tui_printf(w, y++, r.x + x, r.w - x, A_NORMAL, "%s: %s", p->name, p->title);
	bool warn = strncmp(a->profile_note, "NOT detected", 12) == 0;
	int nx = tui_printf(w, y, r.x + x, r.w - x, A_NORMAL, "%s dialect; ", dialect_str(p->dialect));
	tui_puts(w, y++, r.x + x + nx, r.w - x - nx, term_style(warn ? TUI_WARN : TUI_DIM), a->profile_note);
	x += tui_puts(w, y, r.x + x, r.w - x, term_style(TUI_KEY), "p");
	tui_puts(w, y, r.x + x + 1, r.w - x - 1, A_NORMAL, "changes it, if Puppet is installed another way here");
	if (s->choosing) {
		int n = (int)s->profiles.n;
		char hint[64];
		snprintf(hint, sizeof hint, "Enter use %s Esc cancel", tui_glyph(TUI_G_DOT));
		struct tui_rect in = tui_dialog_box(w, r, r.w - 4, n + 2, "Deployment profile", hint, false);
		tui_puts(w, in.y, in.x, in.w, A_NORMAL, "Which Puppet is installed on this host?");
		tui_list_draw(&s->profiles, w, (struct tui_rect){in.y + 2, in.x, in.h - 2, in.w});
	}
}

static void choose_profile(struct app *a, struct deployment *s)
{
	const struct tui_list_item *it = tui_list_selected(&s->profiles);
	if (!it)
		return;
	const struct profile *chosen = a->w->profiles[s->profiles.sel];
	s->choosing = false;
	if (chosen == a->w->profile)
		return;
	if (app_busy(a)) {
		app_notice(a, "Wait: certwiz is still checking the services");
		return;
	}
	const char *old = a->w->profile->name;
	struct cw_error err = {0};
	if (wizard_choose_profile(a->w, chosen->name, &err) != CW_OK) {
		struct cw_error e2 = {0};
		wizard_choose_profile(a->w, old, &e2);
		app_error(a, "That profile does not fit this host", &err);
	} else {
		free(a->profile_note);
		a->profile_note = xstrdup("chosen here");
	}
	a->facts_gen++;
	app_plan_changed(a);
}

static int key(struct app *a, int k)
{
	struct deployment *s = a->priv[SCR_DEPLOYMENT];
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE)
		return TUI_UNHANDLED;
	if (s->choosing) {
		if (k == TUI_KEY_ESC) {
			s->choosing = false;
			return TUI_HANDLED | TUI_REDRAW;
		}
		int r = tui_list_key(&s->profiles, k);
		if (r & TUI_SELECT)
			choose_profile(a, s);
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (k == 'p' || k == 'P') {
		build_profiles(a, s);
		s->choosing = true;
		return TUI_HANDLED | TUI_REDRAW;
	}
	int r = tui_list_key(&s->procs, k);
	if (!(r & TUI_SELECT))
		return r;
	const char *name = s->names[s->procs.sel];
	if (!a->w->proc || strcmp(a->w->proc->name, name) != 0) {
		struct cw_error err = {0};
		if (wizard_choose_procedure(a->w, name, &err) != CW_OK) {
			app_error(a, "This procedure cannot be used", &err);
			return TUI_HANDLED | TUI_REDRAW;
		}
		app_plan_changed(a);
	}
	return TUI_HANDLED | TUI_REDRAW | TUI_NEXT;
}

static void done(struct app *a)
{
	struct deployment *s = a->priv[SCR_DEPLOYMENT];
	tui_list_done(&s->procs);
	tui_list_done(&s->profiles);
	strv_free(s->names);
	free(s);
	a->priv[SCR_DEPLOYMENT] = NULL;
}

const struct screen screen_deployment = {
	.name = "deployment",
	.title = "Deployment type",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
