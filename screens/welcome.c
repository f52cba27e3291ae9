/* welcome.c: screen 1: what certwiz does, that nothing changes until confirmed, the keys, and
 * the operator's name (asked once, recorded with every sign-off). */
#include "screens.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct welcome {
	struct tui_field name;
	char **expiry; /* what `certwiz check` would say about expiry here, with the fix */
};

static const char intro[] =
	"certwiz walks you through regenerating Puppet's SSL certificates: one or many agents, the "
	"primary server, or the whole certificate authority, the way Puppet's own documents do it.\n"
	"\n"
	"Nothing changes on this host until you confirm it. Every command is shown before it runs. "
	"Nothing is deleted before a backup has been written and read back, and a destructive step "
	"runs only after you type the certname (for a step on many agents: how many). Each step is "
	"checked with OpenSSL and signed off by you; a journal and a report record everything.";

static const struct tui_help_entry help[] = {
	{NULL, "Welcome"},
	{"Enter", "accept your name and go on to choose what to regenerate"},
	{"typing", "your name, as it should appear in the journal and the report next to every step you sign off"},
	{NULL, NULL},
};

static const char *validate_name(const char *v, void *ctx)
{
	(void)ctx;
	if (!*v)
		return "a name is needed: it is recorded with every sign-off";
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return "no control characters";
	bool blank = true;
	for (const char *c = v; *c; c++)
		blank = blank && *c == ' ';
	return blank ? "a name is needed: it is recorded with every sign-off" : NULL;
}

static void init(struct app *a)
{
	struct welcome *s = a->priv[SCR_WELCOME];
	if (s)
		return;
	s = a->priv[SCR_WELCOME] = xcalloc(1, sizeof *s);
	tui_field_init(&s->name, "Your name", 64);
	s->name.label_w = 12;
	tui_field_set_validator(&s->name, validate_name, NULL);
	tui_field_set(&s->name, a->operator_name);
	tui_field_set_hint(&s->name, "recorded with every step you sign off (default: your login name)");
	s->expiry = check_expiry_findings(a->w, 30, 0);
}

static const struct tui_hint hints[] = {
	{"Enter", "continue"}, {"F1", "help"}, {"Esc", "quit"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	(void)a;
	return hints;
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct welcome *s = a->priv[SCR_WELCOME];
	int y = r.y;
	y += tui_wrap_draw(w, (struct tui_rect){y, r.x, 9, r.w}, A_NORMAL, intro) + 1;
	char keys[256];
	snprintf(keys, sizeof keys, "%s%s", tui_glyph(TUI_G_UP), tui_glyph(TUI_G_DOWN));
	int x = r.x;
	static const char *const parts[][2] = {
		{NULL, "move"}, {"Enter", "continue/choose"}, {"Esc", "back"}, {"?", "help"}, {"q", "quit (asks first)"},
	};
	x += tui_puts(w, y, x, r.w, term_style(TUI_TITLE), "Keys: ");
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		x += tui_puts(w, y, x, r.x + r.w - x, term_style(TUI_KEY), parts[i][0] ? parts[i][0] : keys);
		x += tui_puts(w, y, x + 1, r.x + r.w - x - 1, A_NORMAL, parts[i][1]) + 3;
	}
	y += 2;
	tui_puts(w, y++, r.x, r.w, term_style(TUI_TITLE), "Who is at the keyboard?");
	s->name.focused = !app_overlay_open(a);
	tui_field_draw(&s->name, w, (struct tui_rect){y, r.x, 2, r.w});
	y += 3;
	const struct wizard *wz = a->w;
	tui_printf(w, y++, r.x, r.w, A_NORMAL, "This host:  %s, profile %s", vars_get(&wz->facts.vars, "certname"),
		   wz->profile->name);
	bool warn = strncmp(a->profile_note, "NOT detected", 12) == 0;
	y += tui_wrap_draw(w, (struct tui_rect){y, r.x + 12, 2, r.w - 12}, term_style(warn ? TUI_WARN : TUI_DIM),
			   a->profile_note) > 1 ? 2 : 1;
	if (a->read_only && y < r.y + r.h) {
		char buf[512];
		snprintf(buf, sizeof buf, "--root %s: read-only, nothing can run", wz->site.root);
		tui_puts(w, y++, r.x + 12, r.w - 12, term_style(TUI_WARN), buf);
	}
	/* The first expiry finding and its fix, in the rows that are left. */
	size_t n = strv_len(s->expiry);
	if (n && y < r.y + r.h) {
		char *text = xasprintf("certwiz check: %s%s", s->expiry[0],
				       n > 1 ? " (more on the Pre-flight screen)" : "");
		tui_wrap_draw(w, (struct tui_rect){y, r.x, r.y + r.h - y, r.w}, term_style(TUI_WARN), text);
		free(text);
	}
}

static int key(struct app *a, int k)
{
	struct welcome *s = a->priv[SCR_WELCOME];
	if (k == '\n') {
		if (!tui_field_valid(&s->name))
			return TUI_HANDLED | TUI_REDRAW;
		free(a->operator_name);
		a->operator_name = xstrdup(tui_field_value(&s->name));
		return TUI_HANDLED | TUI_REDRAW | TUI_NEXT;
	}
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE)
		return TUI_UNHANDLED;
	return tui_field_key(&s->name, k);
}

static void done(struct app *a)
{
	struct welcome *s = a->priv[SCR_WELCOME];
	tui_field_done(&s->name);
	strv_free(s->expiry);
	free(s);
	a->priv[SCR_WELCOME] = NULL;
}

const struct screen screen_welcome = {
	.name = "welcome",
	.title = "Welcome",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
