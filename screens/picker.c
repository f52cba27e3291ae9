/* picker.c: choosing agents from the CA's list of signed certnames (see picker.h). */
#include "picker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "term.h"
#include "util.h"

enum { FOCUS_LIST, FOCUS_FILTER, FOCUS_DAYS };

static bool selectable(const struct inventory_entry *e)
{
	return e->valid_name && e->state != INV_UNREADABLE;
}

/* The list is in certname order (the inventory's is soonest expiry first: "expiring within"
 * shows those). */
static int by_name(const void *a, const void *b, void *ctx)
{
	const struct inventory *inv = ctx;
	return strcmp(inv->entries[*(const size_t *)a].certname, inv->entries[*(const size_t *)b].certname);
}

/* Which entries the filter text and the days let through. */
static void refilter(struct agent_picker *p)
{
	const char *text = tui_field_value(&p->filter);
	const char *d = tui_field_value(&p->days);
	long within = *d ? strtol(d, NULL, 10) : -1;
	p->nshown = 0;
	for (size_t k = 0; p->have_inv && k < p->inv.n; k++) {
		size_t i = p->order[k];
		const struct inventory_entry *e = &p->inv.entries[i];
		if (p->skip && strcmp(e->certname, p->skip) == 0)
			continue;
		if (*text && !strstr(e->certname, text))
			continue;
		if (within >= 0 && (e->state == INV_REVOKED || e->state == INV_UNREADABLE || e->days_left > within))
			continue;
		p->shown[p->nshown++] = i;
	}
	if (p->cursor >= p->nshown)
		p->cursor = p->nshown ? p->nshown - 1 : 0;
}

static const char *v_days(const char *v, void *ctx)
{
	(void)ctx;
	for (const char *c = v; *c; c++)
		if (*c < '0' || *c > '9')
			return "a number of days (empty: every certificate)";
	return strlen(v) > 5 ? "at most 99999 days" : NULL;
}

void picker_open(struct agent_picker *p, const char *root, const char *cadir, const char *ssldir,
		 const char *server_certname, char *const *chosen)
{
	picker_close(p);
	memset(p, 0, sizeof *p);
	p->open = true;
	p->skip = server_certname ? xstrdup(server_certname) : NULL;
	tui_field_init(&p->filter, "Filter", 253);
	p->filter.label_w = 8;
	tui_field_set_hint(&p->filter, "part of a certname");
	tui_field_init(&p->days, "Expiring within", 5);
	p->days.label_w = 17;
	tui_field_set_validator(&p->days, v_days, NULL);
	tui_field_set_hint(&p->days, "days; empty: all");
	struct cw_error err = {0};
	if (inventory_read(root, cadir, ssldir, 0, 30, &p->inv, &err) == CW_OK) {
		p->have_inv = true;
	} else {
		p->error = xasprintf("The CA's list cannot be read: %s", err.msg);
	}
	size_t n = p->have_inv ? p->inv.n : 0;
	p->sel = xcalloc(n ? n : 1, sizeof *p->sel);
	p->shown = xcalloc(n ? n : 1, sizeof *p->shown);
	p->order = xcalloc(n ? n : 1, sizeof *p->order);
	for (size_t i = 0; i < n; i++) {
		p->order[i] = i;
		p->sel[i] = selectable(&p->inv.entries[i]) && strv_contains(chosen, p->inv.entries[i].certname);
	}
	qsort_r(p->order, n, sizeof *p->order, by_name, &p->inv);
	refilter(p);
}

void picker_close(struct agent_picker *p)
{
	if (!p->open)
		return;
	if (p->have_inv)
		inventory_done(&p->inv);
	tui_field_done(&p->filter);
	tui_field_done(&p->days);
	free(p->error);
	free(p->sel);
	free(p->shown);
	free(p->order);
	free(p->skip);
	memset(p, 0, sizeof *p);
}

size_t picker_count(const struct agent_picker *p)
{
	size_t n = 0;
	for (size_t i = 0; p->have_inv && i < p->inv.n; i++)
		n += p->sel[i];
	return n;
}

char **picker_selected(const struct agent_picker *p)
{
	char **v = NULL;
	for (size_t k = 0; p->have_inv && k < p->inv.n; k++)
		if (p->sel[p->order[k]])
			strv_push(&v, p->inv.entries[p->order[k]].certname);
	return v;
}

static void date_of(long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%d", &tm);
}

void picker_draw(struct agent_picker *p, WINDOW *w, struct tui_rect r)
{
	int width = r.w - 4 > 76 ? 76 : r.w - 4;
	char hint[96];
	snprintf(hint, sizeof hint, "Space select %s a all shown %s Enter use %s Esc cancel", tui_glyph(TUI_G_DOT),
		 tui_glyph(TUI_G_DOT), tui_glyph(TUI_G_DOT));
	struct tui_rect in = tui_dialog_box(w, r, width, r.h - 4, "Agents from the CA's signed certificates", hint, false);
	int y = in.y;
	if (p->error) {
		tui_wrap_draw(w, (struct tui_rect){y, in.x, in.h, in.w}, term_style(TUI_FAIL), p->error);
		return;
	}
	size_t total = 0;
	for (size_t i = 0; i < p->inv.n; i++)
		total += !(p->skip && strcmp(p->inv.entries[i].certname, p->skip) == 0);
	tui_printf(w, y++, in.x, in.w, term_style(TUI_TITLE), "%zu selected of %zu signed (%zu shown)%s", picker_count(p),
		   total, p->nshown, p->skip ? "; the server's own is left out" : "");
	p->filter.focused = p->focus == FOCUS_FILTER;
	p->days.focused = p->focus == FOCUS_DAYS;
	int half = in.w / 2;
	tui_field_draw(&p->filter, w, (struct tui_rect){y, in.x, 2, half - 1});
	tui_field_draw(&p->days, w, (struct tui_rect){y, in.x + half, 2, in.w - half});
	y += 2;
	tui_puts(w, y++, in.x, in.w, term_style(TUI_DIM), "    certname                               expires     state");
	int rows = in.y + in.h - y;
	p->page = rows > 0 ? rows : 1;
	if (p->cursor < p->top)
		p->top = p->cursor;
	if (p->cursor >= p->top + (size_t)p->page)
		p->top = p->cursor - (size_t)p->page + 1;
	if (!p->nshown)
		tui_puts(w, y, in.x, in.w, term_style(TUI_WARN), "No certificate matches.");
	for (int row = 0; row < rows && p->top + (size_t)row < p->nshown; row++) {
		size_t k = p->top + (size_t)row, i = p->shown[k];
		const struct inventory_entry *e = &p->inv.entries[i];
		bool cur = k == p->cursor && p->focus == FOCUS_LIST;
		attr_t a = cur ? A_REVERSE : A_NORMAL;
		char date[16];
		date_of((long)e->cert.not_after, date, sizeof date);
		const char *box = !selectable(e) ? "[-]" : p->sel[i] ? "[x]" : "[ ]";
		char line[512];
		snprintf(line, sizeof line, "%s %-38.38s %s  ", box, e->certname, date);
		int x = tui_puts(w, y + row, in.x, in.w, a, line);
		enum tui_style st = e->state == INV_REVOKED ? TUI_WARN
				  : e->state == INV_EXPIRED || e->state == INV_UNREADABLE ? TUI_FAIL
				  : e->state == INV_EXPIRING ? TUI_WARN
							     : TUI_DIM;
		char what[64];
		if (e->state == INV_REVOKED)
			snprintf(what, sizeof what, "revoked");
		else if (e->state == INV_UNREADABLE)
			snprintf(what, sizeof what, "unreadable");
		else if (e->days_left < 0)
			snprintf(what, sizeof what, "expired");
		else
			snprintf(what, sizeof what, "in %ld days", e->days_left);
		tui_puts(w, y + row, in.x + x, in.w - x, cur ? a : term_style(st), what);
	}
}

static void toggle_all_shown(struct agent_picker *p)
{
	bool all = true;
	for (size_t k = 0; k < p->nshown; k++)
		if (selectable(&p->inv.entries[p->shown[k]]) && !p->sel[p->shown[k]])
			all = false;
	for (size_t k = 0; k < p->nshown; k++)
		if (selectable(&p->inv.entries[p->shown[k]]))
			p->sel[p->shown[k]] = !all;
}

int picker_key(struct agent_picker *p, int key)
{
	if (key == TUI_KEY_ESC && p->focus != FOCUS_LIST) {
		p->focus = FOCUS_LIST;
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (key == TUI_KEY_ESC)
		return TUI_HANDLED | TUI_REDRAW | TUI_BACK;
	if (key == '\t') {
		p->focus = (p->focus + 1) % 3;
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (key == KEY_BTAB) {
		p->focus = (p->focus + 2) % 3;
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (p->focus != FOCUS_LIST) {
		if (key == '\n' || key == KEY_DOWN) { /* back to the list with what was typed */
			p->focus = FOCUS_LIST;
			return TUI_HANDLED | TUI_REDRAW;
		}
		struct tui_field *f = p->focus == FOCUS_FILTER ? &p->filter : &p->days;
		int r = tui_field_key(f, key);
		if (tui_field_valid(&p->days))
			refilter(p);
		return r | TUI_HANDLED | TUI_REDRAW;
	}
	switch (key) {
	case KEY_UP:
	case 'k':
		if (p->cursor > 0)
			p->cursor--;
		break;
	case KEY_DOWN:
	case 'j':
		if (p->cursor + 1 < p->nshown)
			p->cursor++;
		break;
	case KEY_PPAGE:
		p->cursor = p->cursor > (size_t)p->page ? p->cursor - (size_t)p->page : 0;
		break;
	case KEY_NPAGE:
		p->cursor = p->cursor + (size_t)p->page < p->nshown ? p->cursor + (size_t)p->page
								     : p->nshown ? p->nshown - 1 : 0;
		break;
	case KEY_HOME:
		p->cursor = 0;
		break;
	case KEY_END:
		p->cursor = p->nshown ? p->nshown - 1 : 0;
		break;
	case ' ':
		if (p->nshown && selectable(&p->inv.entries[p->shown[p->cursor]]))
			p->sel[p->shown[p->cursor]] = !p->sel[p->shown[p->cursor]];
		if (p->cursor + 1 < p->nshown)
			p->cursor++;
		break;
	case 'a':
		toggle_all_shown(p);
		break;
	case '/':
		p->focus = FOCUS_FILTER;
		break;
	case 'e':
		p->focus = FOCUS_DAYS;
		break;
	case '\n':
		return p->error ? TUI_HANDLED | TUI_REDRAW | TUI_BACK : TUI_HANDLED | TUI_REDRAW | TUI_SELECT;
	default:
		return TUI_HANDLED;
	}
	return TUI_HANDLED | TUI_REDRAW;
}
