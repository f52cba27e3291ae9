/* widgets.c: the widget kit: text helpers, frame, list, form field, log view, service
 * panel, progress bar, checklist, dialogs, help overlay, text viewer. Draws only; never
 * refreshes (term_flush does). */
#include "widgets.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* ====================================================================== memory */

static void *w_realloc(void *p, size_t n)
{
	void *r = realloc(p, n ? n : 1);
	if (!r)
		abort(); /* out of memory: the one failure that aborts */
	return r;
}

static char *w_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *r = w_realloc(NULL, n);
	memcpy(r, s, n);
	return r;
}

static void w_replace(char **dst, const char *s)
{
	char *n = w_strdup(s);
	free(*dst);
	*dst = n;
}

#define GROW(arr, n, cap)                                                              \
	do {                                                                           \
		if ((n) == (cap)) {                                                    \
			(cap) = (cap) ? (cap) * 2 : 8;                                 \
			(arr) = w_realloc((arr), (cap) * sizeof *(arr));               \
		}                                                                      \
	} while (0)

/* ====================================================================== text */

static int wc_width(wchar_t c)
{
	int w = wcwidth(c);
	return w < 0 ? 1 : w;
}

static bool wc_printable(wchar_t c)
{
	return c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0) && wcwidth(c) >= 0;
}

/* UTF-8 (locale multibyte) to wide characters. '\n' is kept when keep_nl, else a space;
 * tabs become spaces, other control characters and invalid bytes become '?' (or are
 * dropped: '\r'). The result is NUL-terminated; *outn is its length. */
static wchar_t *to_wcs(const char *s, size_t n, size_t *outn, bool keep_nl)
{
	wchar_t *out = w_realloc(NULL, (n * 4 + 1) * sizeof *out);
	size_t o = 0, col = 0;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	for (size_t i = 0; i < n;) {
		wchar_t c;
		size_t r = mbrtowc(&c, s + i, n - i, &st);
		if (r == (size_t)-1 || r == (size_t)-2) {
			memset(&st, 0, sizeof st);
			out[o++] = L'?';
			col++;
			i++;
			continue;
		}
		if (r == 0) /* an embedded NUL ends the string */
			break;
		i += r;
		if (c == L'\n') {
			out[o++] = keep_nl ? L'\n' : L' ';
			col = 0;
		} else if (c == L'\t') {
			do
				out[o++] = L' ';
			while (++col % 4);
		} else if (c == L'\r') {
			continue;
		} else if (!wc_printable(c)) {
			out[o++] = L'?';
			col++;
		} else {
			out[o++] = c;
			col++;
		}
	}
	out[o] = 0;
	*outn = o;
	return out;
}

static int wcs_width(const wchar_t *s, size_t n)
{
	int w = 0;
	for (size_t i = 0; i < n; i++)
		w += wc_width(s[i]);
	return w;
}

/* Draw n wide characters at (y, x) in at most width columns. Zero-width characters are
 * combined with the one before. Returns the columns used. */
static int put_wcs(WINDOW *w, int y, int x, int width, attr_t attr, const wchar_t *s, size_t n)
{
	if (!w || y < 0 || x < 0 || y >= getmaxy(w) || x >= getmaxx(w))
		return 0;
	if (width > getmaxx(w) - x)
		width = getmaxx(w) - x;
	short pair = (short)PAIR_NUMBER(attr);
	attr_t a = attr & ~A_COLOR;
	int col = 0;
	for (size_t i = 0; i < n && col < width;) {
		wchar_t buf[CCHARW_MAX + 1];
		int k = 0;
		wchar_t c = s[i++];
		int cw = wcwidth(c);
		if (cw < 0 || !wc_printable(c)) {
			c = L'?';
			cw = 1;
		}
		if (cw == 0)
			continue; /* a combining character with nothing to combine with */
		if (col + cw > width)
			break;
		buf[k++] = c;
		while (i < n && k < CCHARW_MAX && s[i] >= 0x20 && wcwidth(s[i]) == 0)
			buf[k++] = s[i++];
		buf[k] = 0;
		cchar_t cc;
		setcchar(&cc, buf, a, pair, NULL);
		mvwadd_wch(w, y, x + col, &cc);
		col += cw;
	}
	return col;
}

static const struct {
	const char *u, *a;
} glyphs[TUI_G_COUNT] = {
	[TUI_G_CHECK] = {"✓", "x"},     [TUI_G_CROSS] = {"✗", "!"},
	[TUI_G_BULLET] = {"●", "*"},    [TUI_G_CIRCLE] = {"○", "-"},
	[TUI_G_HALF] = {"◐", "~"},      [TUI_G_ELLIPSIS] = {"…", "..."},
	[TUI_G_UP] = {"▲", "^"},        [TUI_G_DOWN] = {"▼", "v"},
	[TUI_G_CURSOR] = {"▸", ">"},    [TUI_G_BAR_FULL] = {"█", "#"},
	[TUI_G_BAR_EMPTY] = {"░", "."}, [TUI_G_DOT] = {"·", "-"},
	[TUI_G_ARROW] = {"→", "->"},
};

const char *tui_glyph(enum tui_glyph g)
{
	if ((unsigned)g >= TUI_G_COUNT)
		return "?";
	return term_utf8() ? glyphs[g].u : glyphs[g].a;
}

int tui_text_width(const char *s)
{
	if (!s)
		return 0;
	size_t n;
	wchar_t *w = to_wcs(s, strlen(s), &n, false);
	int r = wcs_width(w, n);
	free(w);
	return r;
}

int tui_puts(WINDOW *w, int y, int x, int width, attr_t attr, const char *s)
{
	if (!s || width <= 0)
		return 0;
	size_t n;
	wchar_t *ws = to_wcs(s, strlen(s), &n, false);
	int used;
	if (wcs_width(ws, n) <= width) {
		used = put_wcs(w, y, x, width, attr, ws, n);
	} else {
		size_t en;
		wchar_t *ell = to_wcs(tui_glyph(TUI_G_ELLIPSIS), strlen(tui_glyph(TUI_G_ELLIPSIS)), &en, false);
		int ew = wcs_width(ell, en);
		if (ew >= width) {
			used = put_wcs(w, y, x, width, attr, ws, n);
		} else {
			used = put_wcs(w, y, x, width - ew, attr, ws, n);
			used += put_wcs(w, y, x + used, ew, attr, ell, en);
		}
		free(ell);
	}
	free(ws);
	return used;
}

int tui_printf(WINDOW *w, int y, int x, int width, attr_t attr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return tui_puts(w, y, x, width, attr, buf);
}

int tui_puts_right(WINDOW *w, int y, int x_end, int width, attr_t attr, const char *s)
{
	int tw = tui_text_width(s);
	if (tw > width)
		tw = width;
	return tui_puts(w, y, x_end - tw, tw, attr, s);
}

void tui_fill(WINDOW *w, struct tui_rect r, attr_t attr)
{
	if (r.w <= 0)
		return;
	wattrset(w, attr);
	for (int y = r.y; y < r.y + r.h; y++)
		mvwhline(w, y, r.x, ' ', r.w);
	wattrset(w, A_NORMAL);
}

/* Line drawing. In a UTF-8 locale the Unicode box characters are written as text: the
 * alternate character set is where UTF-8 terminals go wrong (PuTTY, tmux capture-pane and
 * others show "lqqqk"). Elsewhere curses' ACS, which every terminal description maps. */
enum line_part { L_H, L_V, L_UL, L_UR, L_LL, L_LR };

static void line_cell(cchar_t *cc, enum line_part p, attr_t attr)
{
	static const wchar_t uni[] = {0x2500, 0x2502, 0x250c, 0x2510, 0x2514, 0x2518};
	wchar_t s[2] = {uni[p], 0};
	setcchar(cc, s, attr & ~A_COLOR, (short)PAIR_NUMBER(attr), NULL);
}

static chtype line_acs(enum line_part p)
{
	switch (p) {
	case L_H: return ACS_HLINE;
	case L_V: return ACS_VLINE;
	case L_UL: return ACS_ULCORNER;
	case L_UR: return ACS_URCORNER;
	case L_LL: return ACS_LLCORNER;
	case L_LR: break;
	}
	return ACS_LRCORNER;
}

static void line_run(WINDOW *w, int y, int x, int n, enum line_part p, attr_t attr)
{
	if (n <= 0)
		return;
	if (term_utf8()) {
		cchar_t cc;
		line_cell(&cc, p, attr);
		if (p == L_V)
			mvwvline_set(w, y, x, &cc, n);
		else if (p == L_H)
			mvwhline_set(w, y, x, &cc, n);
		else
			mvwadd_wch(w, y, x, &cc);
		return;
	}
	wattrset(w, attr);
	if (p == L_V)
		mvwvline(w, y, x, line_acs(p), n);
	else if (p == L_H)
		mvwhline(w, y, x, line_acs(p), n);
	else
		mvwaddch(w, y, x, line_acs(p));
	wattrset(w, A_NORMAL);
}

void tui_hline(WINDOW *w, int y, int x, int width, attr_t attr)
{
	line_run(w, y, x, width, L_H, attr);
}

void tui_box(WINDOW *w, struct tui_rect r, attr_t attr)
{
	if (r.h < 2 || r.w < 2)
		return;
	line_run(w, r.y, r.x + 1, r.w - 2, L_H, attr);
	line_run(w, r.y + r.h - 1, r.x + 1, r.w - 2, L_H, attr);
	line_run(w, r.y + 1, r.x, r.h - 2, L_V, attr);
	line_run(w, r.y + 1, r.x + r.w - 1, r.h - 2, L_V, attr);
	line_run(w, r.y, r.x, 1, L_UL, attr);
	line_run(w, r.y, r.x + r.w - 1, 1, L_UR, attr);
	line_run(w, r.y + r.h - 1, r.x, 1, L_LL, attr);
	/* the bottom-right cell of the screen: curses reports an error it has handled */
	line_run(w, r.y + r.h - 1, r.x + r.w - 1, 1, L_LR, attr);
}

struct tui_rect tui_rect_of(WINDOW *w)
{
	struct tui_rect r = {0, 0, getmaxy(w), getmaxx(w)};
	return r;
}

struct tui_rect tui_rect_center(struct tui_rect o, int h, int w)
{
	if (h > o.h)
		h = o.h;
	if (w > o.w)
		w = o.w;
	struct tui_rect r = {o.y + (o.h - h) / 2, o.x + (o.w - w) / 2, h, w};
	return r;
}

/* ---- word wrapping ---- */
struct wseg {
	size_t off, n; /* into the wide text */
	int indent;    /* columns before it */
	int style;     /* enum tui_style (viewer markup) */
};
struct wrapped {
	struct wseg *seg;
	size_t n, cap;
};

static void wrap_push(struct wrapped *wr, size_t off, size_t n, int indent, int style)
{
	GROW(wr->seg, wr->n, wr->cap);
	wr->seg[wr->n++] = (struct wseg){off, n, indent, style};
}

/* Wrap wide text t (len chars, '\n' = hard break) to width columns. Continuation rows are
 * indented like the line, and past a "- " or "* " bullet. */
static void wrap_wcs(struct wrapped *wr, const wchar_t *t, size_t len, int width, bool markup)
{
	if (width < 1)
		width = 1;
	size_t a = 0;
	while (a <= len) {
		size_t b = a;
		while (b < len && t[b] != L'\n')
			b++;
		int style = TUI_NORMAL;
		if (markup && b - a >= 2 && t[a] == L'#' && t[a + 1] == L' ') {
			style = TUI_TITLE;
			a += 2;
		} else if (markup && b - a >= 2 && t[a] == L'$' && t[a + 1] == L' ') {
			style = TUI_KEY;
		}
		int hang = 0;
		while (a + (size_t)hang < b && t[a + hang] == L' ')
			hang++;
		if (a + hang + 1 < b && (t[a + hang] == L'-' || t[a + hang] == L'*' || t[a + hang] == 0x2022) &&
		    t[a + hang + 1] == L' ')
			hang += 2;
		if (style == TUI_KEY && hang < 2)
			hang = 2; /* a command's continuation rows stand out from the "$ " */
		if (hang > width / 2)
			hang = width / 2;
		if (a == b)
			wrap_push(wr, a, 0, 0, style);
		size_t pos = a;
		bool first = true;
		while (pos < b) {
			int indent = first ? 0 : hang;
			int avail = width - indent;
			if (!first)
				while (pos < b && t[pos] == L' ')
					pos++;
			if (pos == b)
				break;
			int col = 0;
			size_t i = pos, space = SIZE_MAX;
			while (i < b) {
				int cw = wc_width(t[i]);
				if (t[i] == L' ')
					space = i;
				if (col + cw > avail)
					break;
				col += cw;
				i++;
			}
			if (i == b) {
				wrap_push(wr, pos, b - pos, indent, style);
				pos = b;
			} else if (space != SIZE_MAX && space > pos) {
				size_t e = space;
				while (e > pos && t[e - 1] == L' ')
					e--;
				wrap_push(wr, pos, e - pos, indent, style);
				pos = space + 1;
			} else {
				if (i == pos)
					i++; /* wider than the row: show it anyway */
				wrap_push(wr, pos, i - pos, indent, style);
				pos = i;
			}
			first = false;
		}
		if (b == len)
			break;
		a = b + 1;
	}
}

int tui_wrap_rows(const char *s, int width)
{
	if (!s)
		return 0;
	size_t n;
	wchar_t *t = to_wcs(s, strlen(s), &n, true);
	struct wrapped wr = {0};
	wrap_wcs(&wr, t, n, width, false);
	int rows = (int)wr.n;
	free(wr.seg);
	free(t);
	return rows;
}

static void draw_segs(WINDOW *w, struct tui_rect r, attr_t attr, const wchar_t *t,
		      const struct wseg *seg, size_t nseg, size_t first, bool ellipsis_at_cut)
{
	for (int row = 0; row < r.h && first + (size_t)row < nseg; row++) {
		const struct wseg *s = &seg[first + row];
		attr_t a = s->style != TUI_NORMAL ? term_style(s->style) : attr;
		int used = put_wcs(w, r.y + row, r.x + s->indent, r.w - s->indent, a, t + s->off, s->n);
		if (ellipsis_at_cut && row == r.h - 1 && first + (size_t)row + 1 < nseg) {
			const char *e = tui_glyph(TUI_G_ELLIPSIS);
			int ew = tui_text_width(e);
			int x = s->indent + used + 1;
			if (x + ew > r.w)
				x = r.w - ew;
			tui_puts(w, r.y + row, r.x + x, ew, attr, e);
		}
	}
}

int tui_wrap_draw(WINDOW *w, struct tui_rect r, attr_t attr, const char *s)
{
	if (!s || r.w <= 0)
		return 0;
	size_t n;
	wchar_t *t = to_wcs(s, strlen(s), &n, true);
	struct wrapped wr = {0};
	wrap_wcs(&wr, t, n, r.w, false);
	draw_segs(w, r, attr, t, wr.seg, wr.n, 0, true);
	int rows = (int)wr.n;
	free(wr.seg);
	free(t);
	return rows;
}

/* ====================================================================== badges */

const char *tui_state_badge(enum tui_state s)
{
	switch (s) {
	case TUI_ST_OK: return "[ OK ]";
	case TUI_ST_WARN: return "[WARN]";
	case TUI_ST_FAIL: return "[FAIL]";
	case TUI_ST_RUNNING: return "[ .. ]";
	case TUI_ST_SKIP: return "[SKIP]";
	case TUI_ST_UNKNOWN: return "[ ?? ]";
	case TUI_ST_NONE: break;
	}
	return "[    ]";
}

enum tui_style tui_state_style(enum tui_state s)
{
	switch (s) {
	case TUI_ST_OK: return TUI_OK;
	case TUI_ST_WARN: return TUI_WARN;
	case TUI_ST_FAIL: return TUI_FAIL;
	case TUI_ST_RUNNING: return TUI_RUNNING;
	case TUI_ST_SKIP: return TUI_DIM;
	case TUI_ST_UNKNOWN: return TUI_WARN;
	case TUI_ST_NONE: break;
	}
	return TUI_NORMAL;
}

int tui_badge(WINDOW *w, int y, int x, enum tui_state s)
{
	tui_puts(w, y, x, TUI_BADGE_WIDTH, term_style(tui_state_style(s)), tui_state_badge(s));
	return TUI_BADGE_WIDTH;
}

bool tui_too_small(WINDOW *w, int min_w, int min_h)
{
	int h = getmaxy(w), wd = getmaxx(w);
	if (wd >= min_w && h >= min_h)
		return false;
	werase(w);
	char a[96], b[96];
	snprintf(a, sizeof a, "The terminal is %dx%d.", wd, h);
	snprintf(b, sizeof b, "certwiz needs at least %dx%d: make it larger.", min_w, min_h);
	int y = h / 2 - 1 < 0 ? 0 : h / 2 - 1;
	int aw = tui_text_width(a), bw = tui_text_width(b);
	tui_puts(w, y, aw < wd ? (wd - aw) / 2 : 0, wd, term_style(TUI_WARN), a);
	tui_puts(w, y + 1, bw < wd ? (wd - bw) / 2 : 0, wd, A_NORMAL, b);
	return true;
}

/* ====================================================================== frame */

void tui_hints_draw(WINDOW *w, int y, int x, int width, const struct tui_hint *hints)
{
	int col = 1;
	for (const struct tui_hint *h = hints; h && h->key; h++) {
		int need = tui_text_width(h->key) + (h->label ? 1 + tui_text_width(h->label) : 0);
		if (col + need > width)
			break;
		col += tui_puts(w, y, x + col, width - col, term_style(TUI_KEY), h->key);
		if (h->label) {
			col += 1;
			col += tui_puts(w, y, x + col, width - col, A_NORMAL, h->label);
		}
		col += 2;
	}
}

struct tui_rect tui_frame_draw(const struct tui_frame *f, WINDOW *w, struct tui_rect r)
{
	struct tui_rect inner = {r.y + 1, r.x + 2, r.h - 3, r.w - 4};
	if (r.h < 4 || r.w < 8) {
		inner.h = inner.w = 0;
		return inner;
	}
	struct tui_rect box = {r.y, r.x, r.h - 1, r.w};
	tui_fill(w, r, A_NORMAL);
	tui_box(w, box, A_NORMAL);
	int right = 0;
	if (f->status && *f->status) {
		int sw = tui_text_width(f->status);
		if (sw > r.w / 2)
			sw = r.w / 2;
		int sx = r.x + r.w - 3 - sw;
		mvwaddch(w, r.y, sx - 1, ' ');
		tui_puts(w, r.y, sx, sw, A_NORMAL, f->status);
		mvwaddch(w, r.y, sx + sw, ' ');
		right = sw + 3;
	}
	if (f->title && *f->title) {
		int avail = r.w - 6 - right;
		mvwaddch(w, r.y, r.x + 2, ' ');
		int tw = tui_puts(w, r.y, r.x + 3, avail,
				  term_style(f->destructive ? TUI_DESTRUCTIVE : TUI_TITLE), f->title);
		mvwaddch(w, r.y, r.x + 3 + tw, ' ');
	}
	if (f->hints)
		tui_hints_draw(w, r.y + r.h - 1, r.x, r.w, f->hints);
	return inner;
}

/* ====================================================================== list */

void tui_list_init(struct tui_list *l)
{
	memset(l, 0, sizeof *l);
}

void tui_list_clear(struct tui_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].label);
		free(l->items[i].detail);
		free(l->items[i].desc);
	}
	l->n = l->sel = l->top = 0;
}

void tui_list_done(struct tui_list *l)
{
	tui_list_clear(l);
	free(l->items);
	memset(l, 0, sizeof *l);
}

size_t tui_list_add(struct tui_list *l, const char *label, const char *detail, const char *desc)
{
	GROW(l->items, l->n, l->cap);
	struct tui_list_item *it = &l->items[l->n];
	memset(it, 0, sizeof *it);
	it->label = w_strdup(label ? label : "");
	it->detail = w_strdup(detail);
	it->desc = w_strdup(desc);
	return l->n++;
}

struct tui_list_item *tui_list_selected(struct tui_list *l)
{
	return l->n ? &l->items[l->sel] : NULL;
}

void tui_list_select(struct tui_list *l, size_t i)
{
	if (i < l->n)
		l->sel = i;
}

static bool list_has_desc(const struct tui_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].desc && *l->items[i].desc)
			return true;
	return false;
}

static void scroll_into_view(size_t sel, size_t *top, int page, size_t n)
{
	if (page < 1)
		page = 1;
	if (sel < *top)
		*top = sel;
	else if (sel >= *top + (size_t)page)
		*top = sel - (size_t)page + 1;
	if (n <= (size_t)page)
		*top = 0;
	else if (*top > n - (size_t)page)
		*top = n - (size_t)page;
}

static void scroll_marks(WINDOW *w, struct tui_rect r, size_t top, size_t n, int page)
{
	if (n <= (size_t)page || r.h < 1)
		return;
	attr_t dim = term_style(TUI_DIM);
	if (top > 0)
		tui_puts(w, r.y, r.x + r.w - 1, 1, dim, tui_glyph(TUI_G_UP));
	if (top + (size_t)page < n)
		tui_puts(w, r.y + r.h - 1, r.x + r.w - 1, 1, dim, tui_glyph(TUI_G_DOWN));
}

void tui_list_draw(struct tui_list *l, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 4)
		return;
	bool desc = list_has_desc(l) && r.h >= 8;
	int list_h = r.h;
	if (desc) {
		int dh = l->desc_rows > 0 ? l->desc_rows : r.h - (int)l->n - 1;
		if (dh < 4)
			dh = 4;
		list_h = r.h - dh - 1;
		if (list_h < 3)
			list_h = 3;
	}
	l->page = list_h;
	if (l->sel >= l->n && l->n)
		l->sel = l->n - 1;
	scroll_into_view(l->sel, &l->top, list_h, l->n);
	bool marks = l->n > (size_t)list_h;
	int width = r.w - (marks ? 2 : 0);
	for (int row = 0; row < list_h && l->top + (size_t)row < l->n; row++) {
		size_t i = l->top + (size_t)row;
		const struct tui_list_item *it = &l->items[i];
		bool sel = i == l->sel;
		int y = r.y + row;
		attr_t base = sel ? term_style(TUI_SELECTED) : it->disabled ? term_style(TUI_DIM) : A_NORMAL;
		struct tui_rect line = {y, r.x, 1, width};
		tui_fill(w, line, base);
		int x = 0;
		tui_puts(w, y, r.x, 2, base, sel ? tui_glyph(TUI_G_CURSOR) : " ");
		x = 2;
		if (it->state != TUI_ST_NONE) {
			attr_t ba = sel ? base : term_style(tui_state_style(it->state));
			x += tui_puts(w, y, r.x + x, TUI_BADGE_WIDTH, ba, tui_state_badge(it->state)) + 1;
		}
		int dw = it->detail ? tui_text_width(it->detail) : 0;
		if (dw > width / 3)
			dw = width / 3;
		int lw = width - x - (dw ? dw + 2 : 0);
		tui_puts(w, y, r.x + x, lw, base, it->label);
		if (dw)
			tui_puts_right(w, y, r.x + width - 1, dw, sel ? base : term_style(TUI_DIM), it->detail);
	}
	scroll_marks(w, (struct tui_rect){r.y, r.x, list_h, r.w}, l->top, l->n, list_h);
	if (desc) {
		int sy = r.y + list_h;
		tui_hline(w, sy, r.x, r.w, term_style(TUI_DIM));
		const struct tui_list_item *it = tui_list_selected(l);
		if (it && it->desc) {
			struct tui_rect d = {sy + 1, r.x, r.h - list_h - 1, r.w};
			tui_wrap_draw(w, d, A_NORMAL, it->desc);
		}
	}
}

static size_t list_step(const struct tui_list *l, size_t from, int dir, size_t count)
{
	size_t best = from, i = from;
	while (count) {
		if (dir < 0 && i == 0)
			break;
		if (dir > 0 && i + 1 >= l->n)
			break;
		i = dir < 0 ? i - 1 : i + 1;
		if (!l->items[i].disabled) {
			best = i;
			count--;
		}
	}
	return best;
}

int tui_list_key(struct tui_list *l, int key)
{
	if (!l->n)
		return TUI_UNHANDLED;
	size_t old = l->sel, page = l->page > 1 ? (size_t)l->page - 1 : 1;
	switch (key) {
	case KEY_UP:
	case 'k':
		l->sel = list_step(l, l->sel, -1, 1);
		break;
	case KEY_DOWN:
	case 'j':
		l->sel = list_step(l, l->sel, +1, 1);
		break;
	case KEY_PPAGE:
		l->sel = list_step(l, l->sel, -1, page);
		break;
	case KEY_NPAGE:
		l->sel = list_step(l, l->sel, +1, page);
		break;
	case KEY_HOME:
		l->sel = l->items[0].disabled ? list_step(l, 0, +1, 1) : 0;
		break;
	case KEY_END:
		l->sel = l->items[l->n - 1].disabled ? list_step(l, l->n - 1, -1, 1) : l->n - 1;
		break;
	case '\n':
		return l->items[l->sel].disabled ? TUI_HANDLED : TUI_HANDLED | TUI_SELECT;
	default:
		return TUI_UNHANDLED;
	}
	return l->sel != old ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED;
}

/* ====================================================================== form field */

static void field_sync(struct tui_field *f)
{
	free(f->value);
	size_t cap = f->len * MB_CUR_MAX + 1, o = 0;
	f->value = w_realloc(NULL, cap);
	mbstate_t st;
	memset(&st, 0, sizeof st);
	for (size_t i = 0; i < f->len; i++) {
		size_t r = wcrtomb(f->value + o, f->text[i], &st);
		if (r == (size_t)-1) {
			f->value[o++] = '?';
			memset(&st, 0, sizeof st);
		} else {
			o += r;
		}
	}
	f->value[o] = '\0';
	free(f->error);
	f->error = NULL;
	if (f->validate) {
		const char *e = f->validate(f->value, f->vctx);
		f->error = w_strdup(e);
	}
}

void tui_field_init(struct tui_field *f, const char *label, size_t max)
{
	memset(f, 0, sizeof *f);
	f->label = w_strdup(label ? label : "");
	f->max = max ? max : 255;
	field_sync(f);
}

void tui_field_done(struct tui_field *f)
{
	free(f->label);
	free(f->text);
	free(f->value);
	free(f->error);
	free(f->hint);
	memset(f, 0, sizeof *f);
}

static void field_reserve(struct tui_field *f, size_t n)
{
	if (n + 1 > f->cap) {
		f->cap = (n + 1) * 2;
		f->text = w_realloc(f->text, f->cap * sizeof *f->text);
	}
}

void tui_field_set(struct tui_field *f, const char *value)
{
	size_t n;
	wchar_t *t = to_wcs(value ? value : "", value ? strlen(value) : 0, &n, false);
	if (n > f->max)
		n = f->max;
	field_reserve(f, n);
	memcpy(f->text, t, n * sizeof *t);
	free(t);
	f->len = f->cur = n;
	f->scroll = 0;
	field_sync(f);
}

const char *tui_field_value(const struct tui_field *f)
{
	return f->value ? f->value : "";
}

void tui_field_set_validator(struct tui_field *f, tui_validate_fn fn, void *ctx)
{
	f->validate = fn;
	f->vctx = ctx;
	field_sync(f);
}

void tui_field_set_hint(struct tui_field *f, const char *hint)
{
	w_replace(&f->hint, hint);
}

void tui_field_set_error(struct tui_field *f, const char *error)
{
	w_replace(&f->error, error);
}

bool tui_field_valid(const struct tui_field *f)
{
	return !f->error;
}

void tui_field_draw(struct tui_field *f, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 4)
		return;
	int lw = f->label_w > 0 ? f->label_w : (*f->label ? tui_text_width(f->label) + 2 : 0);
	if (lw > r.w / 2)
		lw = r.w / 2;
	tui_fill(w, (struct tui_rect){r.y, r.x, r.h < 2 ? r.h : 2, r.w}, A_NORMAL);
	tui_puts(w, r.y, r.x, lw - 1, f->focused ? term_style(TUI_TITLE) : A_NORMAL, f->label);
	int ix = r.x + lw, iw = r.w - lw;
	if (iw < 2)
		return;
	/* Keep the cursor in view. An ellipsis on the left says text is scrolled out there,
	 * one on the right that more follows; the cursor never sits on either. */
	if (f->cur < f->scroll)
		f->scroll = f->cur;
	for (;;) {
		int room = iw - 1 - (f->scroll > 0) - (f->cur < f->len);
		if (f->scroll >= f->cur || wcs_width(f->text + f->scroll, f->cur - f->scroll) <= room)
			break;
		f->scroll++;
	}
	attr_t ia = f->focused ? A_UNDERLINE : A_NORMAL;
	wattrset(w, ia);
	mvwhline(w, r.y, ix, ' ', iw);
	wattrset(w, A_NORMAL);
	const char *ell = term_utf8() ? "…" : "<";
	int left = 0;
	if (f->scroll > 0)
		left = tui_puts(w, r.y, ix, 1, ia | term_style(TUI_DIM), ell);
	int room = iw - left;
	const wchar_t *vis = f->text + f->scroll;
	size_t nvis = f->len - f->scroll;
	if (wcs_width(vis, nvis) > room) {
		put_wcs(w, r.y, ix + left, room - 1, ia, vis, nvis);
		tui_puts(w, r.y, ix + iw - 1, 1, ia | term_style(TUI_DIM), term_utf8() ? "…" : ">");
	} else {
		put_wcs(w, r.y, ix + left, room, ia, vis, nvis);
	}
	if (f->focused)
		term_want_cursor(w, r.y, ix + left + wcs_width(vis, f->cur - f->scroll));
	if (r.h < 2)
		return;
	if (f->error) {
		int gx = tui_puts(w, r.y + 1, ix, iw, term_style(TUI_FAIL), tui_glyph(TUI_G_CROSS));
		tui_puts(w, r.y + 1, ix + gx + 1, iw - gx - 1, term_style(TUI_FAIL), f->error);
	} else if (f->hint) {
		tui_puts(w, r.y + 1, ix, iw, term_style(TUI_DIM), f->hint);
	}
}

static void field_delete(struct tui_field *f, size_t from, size_t to)
{
	if (from >= to || to > f->len)
		return;
	memmove(f->text + from, f->text + to, (f->len - to) * sizeof *f->text);
	f->len -= to - from;
	if (f->cur > to)
		f->cur -= to - from;
	else if (f->cur > from)
		f->cur = from;
}

int tui_field_key(struct tui_field *f, int key)
{
	size_t old_cur = f->cur, old_len = f->len;
	bool edited = false;
	int c = tui_key_char(key);
	switch (key) {
	case '\n':
		field_sync(f);
		return f->error ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED | TUI_REDRAW | TUI_SELECT;
	case KEY_LEFT:
	case TUI_KEY_CTRL('b'):
		if (f->cur)
			f->cur--;
		break;
	case KEY_RIGHT:
	case TUI_KEY_CTRL('f'):
		if (f->cur < f->len)
			f->cur++;
		break;
	case KEY_HOME:
	case TUI_KEY_CTRL('a'):
		f->cur = 0;
		break;
	case KEY_END:
	case TUI_KEY_CTRL('e'):
		f->cur = f->len;
		break;
	case KEY_BACKSPACE:
		if (f->cur)
			field_delete(f, f->cur - 1, f->cur);
		edited = true;
		break;
	case KEY_DC:
	case TUI_KEY_CTRL('d'):
		field_delete(f, f->cur, f->cur + 1);
		edited = true;
		break;
	case TUI_KEY_CTRL('u'):
		field_delete(f, 0, f->cur);
		edited = true;
		break;
	case TUI_KEY_CTRL('k'):
		field_delete(f, f->cur, f->len);
		edited = true;
		break;
	case TUI_KEY_CTRL('w'): {
		size_t i = f->cur;
		while (i && f->text[i - 1] == L' ')
			i--;
		while (i && f->text[i - 1] != L' ')
			i--;
		field_delete(f, i, f->cur);
		edited = true;
		break;
	}
	default:
		if (c < 0x20 || c == 0x7f || !wc_printable((wchar_t)c))
			return TUI_UNHANDLED;
		if (f->len >= f->max)
			return TUI_HANDLED; /* full: the key is used, nothing changes */
		field_reserve(f, f->len + 1);
		memmove(f->text + f->cur + 1, f->text + f->cur, (f->len - f->cur) * sizeof *f->text);
		f->text[f->cur++] = (wchar_t)c;
		f->len++;
		edited = true;
		break;
	}
	if (edited && f->len != old_len)
		field_sync(f);
	return f->cur != old_cur || f->len != old_len ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED;
}

/* ====================================================================== log view */

void tui_log_init(struct tui_log *l, size_t max_lines)
{
	memset(l, 0, sizeof *l);
	l->max = max_lines ? max_lines : 1000;
	l->lines = w_realloc(NULL, l->max * sizeof *l->lines);
	l->cur = w_realloc(NULL, TUI_LOG_LINE_MAX * sizeof *l->cur);
}

void tui_log_clear(struct tui_log *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->lines[(l->head + i) % l->max].s);
	l->head = l->count = l->dropped = 0;
	l->cur_len = l->cur_col = 0;
	l->esc = 0;
	l->scroll = 0;
	memset(&l->mbs, 0, sizeof l->mbs);
}

void tui_log_done(struct tui_log *l)
{
	tui_log_clear(l);
	free(l->lines);
	free(l->cur);
	memset(l, 0, sizeof *l);
}

/* Rows a line takes at width (hard-wrapped: output is shown as it is). */
static int log_rows(const wchar_t *s, size_t n, int width)
{
	if (width < 1)
		return 1;
	int rows = 1, col = 0;
	for (size_t i = 0; i < n; i++) {
		int cw = wc_width(s[i]);
		if (col > 0 && col + cw > width) {
			rows++;
			col = 0;
		}
		col += cw;
	}
	return rows;
}

static int line_rows(struct tui_log_line *ln, int width)
{
	if (ln->rows_w != width) {
		ln->rows = log_rows(ln->s, ln->n, width);
		ln->rows_w = width;
	}
	return ln->rows;
}

static void log_commit(struct tui_log *l)
{
	struct tui_log_line ln = {0};
	ln.n = l->cur_len;
	ln.s = w_realloc(NULL, (ln.n + 1) * sizeof *ln.s);
	memcpy(ln.s, l->cur, ln.n * sizeof *ln.s);
	ln.s[ln.n] = 0;
	ln.style = l->cur_style;
	if (l->count == l->max) {
		free(l->lines[l->head].s);
		l->head = (l->head + 1) % l->max;
		l->count--;
		l->dropped++;
	}
	struct tui_log_line *slot = &l->lines[(l->head + l->count) % l->max];
	*slot = ln;
	l->count++;
	/* A reader who scrolled up keeps seeing the same lines (tui_log_write takes the
	 * partial line's rows out before and puts them back after). */
	if (l->scroll && l->width > 0)
		l->scroll += (size_t)line_rows(slot, l->width);
	l->cur_len = l->cur_col = 0;
}

static void log_put(struct tui_log *l, wchar_t c)
{
	if (l->cur_col >= TUI_LOG_LINE_MAX) {
		l->cur_len = TUI_LOG_LINE_MAX;
		log_commit(l); /* a line without end: split it, memory stays bounded */
	}
	if (l->cur_col < l->cur_len) {
		l->cur[l->cur_col++] = c;
	} else {
		while (l->cur_len < l->cur_col)
			l->cur[l->cur_len++] = L' ';
		l->cur[l->cur_len++] = c;
		l->cur_col = l->cur_len;
	}
}

enum { ESC_NONE, ESC_START, ESC_CSI, ESC_OSC, ESC_OSC_ESC };

static void log_feed(struct tui_log *l, enum tui_style style, const char *data, size_t len);

void tui_log_write(struct tui_log *l, enum tui_style style, const char *data, size_t len)
{
	bool anchored = l->scroll && l->width > 0;
	long long before = anchored && l->cur_len ? log_rows(l->cur, l->cur_len, l->width) : 0;
	log_feed(l, style, data, len);
	if (anchored && l->scroll) {
		long long after = l->cur_len ? log_rows(l->cur, l->cur_len, l->width) : 0;
		long long s = (long long)l->scroll + after - before;
		l->scroll = s > 0 ? (size_t)s : 0;
	}
}

static void log_feed(struct tui_log *l, enum tui_style style, const char *data, size_t len)
{
	if (!l->cur_len)
		l->cur_style = style;
	for (size_t i = 0; i < len;) {
		unsigned char b = (unsigned char)data[i];
		switch (l->esc) {
		case ESC_START:
			i++;
			l->esc = b == '[' ? ESC_CSI : b == ']' ? ESC_OSC : ESC_NONE;
			continue;
		case ESC_CSI:
			i++;
			if (b >= 0x40 && b <= 0x7e)
				l->esc = ESC_NONE;
			continue;
		case ESC_OSC:
			i++;
			if (b == 7)
				l->esc = ESC_NONE;
			else if (b == 27)
				l->esc = ESC_OSC_ESC;
			continue;
		case ESC_OSC_ESC:
			i++;
			l->esc = b == '\\' ? ESC_NONE : ESC_OSC;
			continue;
		default:
			break;
		}
		if (b == 27) {
			memset(&l->mbs, 0, sizeof l->mbs);
			l->esc = ESC_START;
			i++;
			continue;
		}
		wchar_t c;
		size_t r = mbrtowc(&c, data + i, len - i, &l->mbs);
		if (r == (size_t)-2) /* the rest of the character comes with the next write */
			break;
		if (r == (size_t)-1) {
			memset(&l->mbs, 0, sizeof l->mbs);
			log_put(l, L'?');
			i++;
			continue;
		}
		i += r ? r : 1;
		if (c == L'\n') {
			log_commit(l);
			l->cur_style = style;
		} else if (c == L'\r') {
			l->cur_col = 0;
		} else if (c == L'\b') {
			if (l->cur_col)
				l->cur_col--;
		} else if (c == L'\t') {
			do
				log_put(l, L' ');
			while (l->cur_col % 8);
		} else if (wc_printable(c)) {
			log_put(l, c);
		}
	}
}

void tui_log_printf(struct tui_log *l, enum tui_style style, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
	/* a whole line: its own text only, no terminal controls */
	l->esc = ESC_NONE;
	memset(&l->mbs, 0, sizeof l->mbs);
	if (l->cur_len)
		tui_log_write(l, style, "\n", 1);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == 27)
			buf[i] = ' ';
	tui_log_write(l, style, buf, len);
	tui_log_write(l, style, "\n", 1);
}

bool tui_log_following(const struct tui_log *l)
{
	return l->scroll == 0;
}

static struct tui_log_line *log_line(struct tui_log *l, size_t i)
{
	return &l->lines[(l->head + i) % l->max];
}

void tui_log_draw(struct tui_log *l, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 2)
		return;
	tui_fill(w, r, A_NORMAL);
	int width = r.w;
	/* rows of everything, the partial line last */
	struct tui_log_line partial = {l->cur, l->cur_len, l->cur_style, 0, 0};
	size_t nl = l->count + (l->cur_len ? 1 : 0);
	size_t total = 0;
	for (size_t i = 0; i < l->count; i++)
		total += (size_t)line_rows(log_line(l, i), width);
	if (l->cur_len)
		total += (size_t)line_rows(&partial, width);
	l->width = width;
	int h = r.h;
	bool status = false;
	if (l->scroll && h > 1) {
		status = true;
		h--;
	}
	l->page = h;
	size_t max_scroll = total > (size_t)h ? total - (size_t)h : 0;
	if (l->scroll > max_scroll)
		l->scroll = max_scroll;
	if (!l->scroll && status) {
		status = false;
		h++;
		l->page = h;
		max_scroll = total > (size_t)h ? total - (size_t)h : 0;
	}
	size_t bottom = total - l->scroll;                 /* first row below the view */
	size_t first = bottom > (size_t)h ? bottom - (size_t)h : 0; /* first row in view */
	size_t row = 0;
	int y = 0;
	for (size_t i = 0; i < nl && y < h; i++) {
		struct tui_log_line *ln = i < l->count ? log_line(l, i) : &partial;
		int lr = line_rows(ln, width);
		if (row + (size_t)lr <= first) {
			row += (size_t)lr;
			continue;
		}
		/* the rows of this line that are in view, split as log_rows splits them */
		attr_t a = term_style(ln->style);
		size_t k = 0;
		for (int sub = 0; sub < lr && y < h; sub++, row++) {
			size_t start = k;
			int col = 0;
			while (k < ln->n && col + wc_width(ln->s[k]) <= width) {
				col += wc_width(ln->s[k]);
				k++;
			}
			if (k == start && k < ln->n)
				k++;
			if (row >= first)
				put_wcs(w, r.y + y++, r.x, width, a, ln->s + start, k - start);
		}
	}
	if (status) {
		char buf[200];
		int n = snprintf(buf, sizeof buf, " %s %zu more row%s below %s End follows the output",
				 tui_glyph(TUI_G_DOWN), l->scroll, l->scroll == 1 ? "" : "s", tui_glyph(TUI_G_DOT));
		if (first == 0 && l->dropped && n > 0 && (size_t)n < sizeof buf)
			snprintf(buf + n, sizeof buf - (size_t)n, " %s %zu earlier line%s not kept",
				 tui_glyph(TUI_G_DOT), l->dropped, l->dropped == 1 ? "" : "s");
		attr_t sa = term_style(TUI_SELECTED);
		tui_fill(w, (struct tui_rect){r.y + r.h - 1, r.x, 1, r.w}, sa);
		tui_puts(w, r.y + r.h - 1, r.x, r.w, sa, buf);
	}
}

int tui_log_key(struct tui_log *l, int key)
{
	size_t old = l->scroll, page = l->page > 1 ? (size_t)l->page - 1 : 1;
	switch (key) {
	case KEY_UP:
	case 'k':
		l->scroll++;
		break;
	case KEY_DOWN:
	case 'j':
		if (l->scroll)
			l->scroll--;
		break;
	case KEY_PPAGE:
		l->scroll += page;
		break;
	case KEY_NPAGE:
		l->scroll = l->scroll > page ? l->scroll - page : 0;
		break;
	case KEY_HOME:
		l->scroll = SIZE_MAX / 2; /* clamped at the next draw */
		break;
	case KEY_END:
		l->scroll = 0;
		break;
	default:
		return TUI_UNHANDLED;
	}
	return l->scroll != old ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED;
}

/* ====================================================================== services */

void tui_services_init(struct tui_services *p, const char *title)
{
	memset(p, 0, sizeof *p);
	p->title = w_strdup(title);
}

void tui_services_done(struct tui_services *p)
{
	free(p->title);
	free(p->rows);
	memset(p, 0, sizeof *p);
}

struct tui_service_row *tui_services_row(struct tui_services *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->rows[i].name, name))
			return &p->rows[i];
	GROW(p->rows, p->n, p->cap);
	struct tui_service_row *r = &p->rows[p->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->port_open = r->cert_current = -1;
	return r;
}

const char *tui_svc_state_word(enum tui_svc_state s)
{
	switch (s) {
	case TUI_SVC_STOPPED: return "stopped";
	case TUI_SVC_STARTING: return "starting";
	case TUI_SVC_RUNNING: return "running";
	case TUI_SVC_STOPPING: return "stopping";
	case TUI_SVC_FAILED: return "failed";
	case TUI_SVC_UNKNOWN: break;
	}
	return "unknown";
}

static enum tui_glyph svc_glyph(enum tui_svc_state s)
{
	switch (s) {
	case TUI_SVC_STOPPED: return TUI_G_CIRCLE;
	case TUI_SVC_STARTING:
	case TUI_SVC_STOPPING: return TUI_G_HALF;
	case TUI_SVC_RUNNING: return TUI_G_BULLET;
	case TUI_SVC_FAILED: return TUI_G_CROSS;
	case TUI_SVC_UNKNOWN: break;
	}
	return TUI_G_COUNT;
}

static enum tui_style svc_style(enum tui_svc_state s)
{
	switch (s) {
	case TUI_SVC_RUNNING: return TUI_OK;
	case TUI_SVC_STARTING:
	case TUI_SVC_STOPPING: return TUI_RUNNING;
	case TUI_SVC_FAILED: return TUI_FAIL;
	case TUI_SVC_UNKNOWN: return TUI_WARN;
	case TUI_SVC_STOPPED: break;
	}
	return TUI_NORMAL;
}

void tui_services_draw(const struct tui_services *p, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 20)
		return;
	tui_fill(w, r, A_NORMAL);
	enum { ST_W = 10, PID_W = 7, PORT_W = 9 };
	/* widest first: "CURRENT CA" and the pid when there is room, "CA" and no pid else */
	int name_need = 7; /* "SERVICE" */
	for (size_t i = 0; i < p->n; i++) {
		int nw = tui_text_width(p->rows[i].name);
		if (nw > name_need)
			name_need = nw;
	}
	int ca_w = 10;
	bool pid = true;
	if (r.w - (ST_W + PID_W + PORT_W + ca_w + 4) < 14) {
		ca_w = 3;
		if (r.w - (ST_W + PID_W + PORT_W + ca_w + 4) < 14)
			pid = false;
	}
	int name_w = r.w - (ST_W + PORT_W + ca_w + 3) - (pid ? PID_W + 1 : 0);
	if (name_w > name_need + 1)
		name_w = name_need + 1;
	const int CA_W = ca_w;
	int y = r.y, end = r.y + r.h;
	if (p->title && y < end) {
		tui_puts(w, y++, r.x, r.w, term_style(TUI_TITLE), p->title);
	}
	int xs = r.x + name_w + 1, xp = xs + ST_W + 1, xo = xp + (pid ? PID_W + 1 : 0), xc = xo + PORT_W + 1;
	if (y < end) {
		attr_t h = term_style(TUI_DIM);
		tui_puts(w, y, r.x, name_w, h, "SERVICE");
		tui_puts(w, y, xs, ST_W, h, "STATE");
		if (pid)
			tui_puts_right(w, y, xp + PID_W, PID_W, h, "PID");
		tui_puts(w, y, xo, PORT_W, h, "PORT");
		tui_puts(w, y, xc, CA_W, h, CA_W >= 10 ? "CURRENT CA" : "CA");
		y++;
	}
	if (!p->n && y < end)
		tui_puts(w, y, r.x, r.w, term_style(TUI_DIM), "(no services)");
	for (size_t i = 0; i < p->n && y < end; i++, y++) {
		const struct tui_service_row *s = &p->rows[i];
		tui_puts(w, y, r.x, name_w, A_NORMAL, s->name);
		char buf[64];
		enum tui_glyph g = svc_glyph(s->state);
		snprintf(buf, sizeof buf, "%s %s", g == TUI_G_COUNT ? "?" : tui_glyph(g),
			 tui_svc_state_word(s->state));
		tui_puts(w, y, xs, ST_W, term_style(svc_style(s->state)), buf);
		if (pid) {
			if (s->pid > 0)
				snprintf(buf, sizeof buf, "%ld", s->pid);
			else
				snprintf(buf, sizeof buf, "-");
			tui_puts_right(w, y, xp + PID_W, PID_W, A_NORMAL, buf);
		}
		if (s->port > 0) {
			const char *ws = s->port_open > 0 ? "up" : s->port_open == 0 ? "down" : "?";
			int x = tui_printf(w, y, xo, PORT_W, A_NORMAL, "%d ", s->port);
			tui_puts(w, y, xo + x, PORT_W - x,
				 term_style(s->port_open > 0 ? TUI_OK : s->port_open == 0 ? TUI_FAIL : TUI_WARN), ws);
			const char *cs = s->cert_current > 0 ? "yes" : s->cert_current == 0 ? "no" : "?";
			tui_puts(w, y, xc, CA_W,
				 term_style(s->cert_current > 0 ? TUI_OK : s->cert_current == 0 ? TUI_FAIL : TUI_WARN), cs);
		} else {
			tui_puts(w, y, xo, PORT_W, term_style(TUI_DIM), "-");
			tui_puts(w, y, xc, CA_W, term_style(TUI_DIM), "-");
		}
	}
}

/* ====================================================================== progress */

void tui_progress_draw(const struct tui_progress *p, WINDOW *w, int y, int x, int width)
{
	if (width < 10)
		return;
	tui_fill(w, (struct tui_rect){y, x, 1, width}, A_NORMAL);
	int col = 0;
	if (p->label && *p->label) {
		int lw = tui_text_width(p->label);
		if (lw > width / 3)
			lw = width / 3;
		col = tui_puts(w, y, x, lw, A_NORMAL, p->label) + 1;
	}
	char tail[64];
	if (p->total)
		snprintf(tail, sizeof tail, " %zu/%zu %3d%%", p->done, p->total,
			 (int)(p->done >= p->total ? 100 : p->done * 100 / p->total));
	else
		snprintf(tail, sizeof tail, " %zu/? ---%%", p->done);
	int tw = (int)strlen(tail);
	int bw = width - col - tw - 2;
	if (bw < 3) {
		tui_puts(w, y, x + col, width - col, A_NORMAL, tail + 1);
		return;
	}
	int fill = 0;
	if (p->total)
		fill = (int)((p->done >= p->total ? (size_t)bw : p->done * (size_t)bw / p->total));
	tui_puts(w, y, x + col, 1, A_NORMAL, "[");
	attr_t full = term_style(p->total && p->done >= p->total ? TUI_OK : TUI_RUNNING);
	for (int i = 0; i < bw; i++)
		tui_puts(w, y, x + col + 1 + i, 1, i < fill ? full : term_style(TUI_DIM),
			 tui_glyph(i < fill ? TUI_G_BAR_FULL : TUI_G_BAR_EMPTY));
	tui_puts(w, y, x + col + 1 + bw, 1, A_NORMAL, "]");
	tui_puts(w, y, x + col + 2 + bw, tw, A_NORMAL, tail);
}

/* ====================================================================== checklist */

void tui_checklist_init(struct tui_checklist *c)
{
	memset(c, 0, sizeof *c);
}

void tui_checklist_clear(struct tui_checklist *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i].label);
	c->n = c->sel = c->top = 0;
}

void tui_checklist_done(struct tui_checklist *c)
{
	tui_checklist_clear(c);
	free(c->items);
	memset(c, 0, sizeof *c);
}

size_t tui_checklist_add(struct tui_checklist *c, const char *label, bool destructive)
{
	GROW(c->items, c->n, c->cap);
	struct tui_check_item *it = &c->items[c->n];
	memset(it, 0, sizeof *it);
	it->label = w_strdup(label ? label : "");
	it->destructive = destructive;
	return c->n++;
}

void tui_checklist_set(struct tui_checklist *c, size_t i, enum tui_step_state st)
{
	if (i < c->n)
		c->items[i].state = st;
}

void tui_checklist_select(struct tui_checklist *c, size_t i)
{
	if (i < c->n)
		c->sel = i;
}

const char *tui_step_box(enum tui_step_state s)
{
	bool u = term_utf8();
	switch (s) {
	case TUI_STEP_RUNNING: return "[>]";
	case TUI_STEP_DONE: return u ? "[✓]" : "[x]";
	case TUI_STEP_FAILED: return u ? "[✗]" : "[!]";
	case TUI_STEP_SKIPPED: return "[-]";
	case TUI_STEP_MANUAL: return u ? "[✓]" : "[x]";
	case TUI_STEP_PENDING: break;
	}
	return "[ ]";
}

const char *tui_step_word(enum tui_step_state s)
{
	switch (s) {
	case TUI_STEP_RUNNING: return "running";
	case TUI_STEP_DONE: return "done";
	case TUI_STEP_FAILED: return "FAILED";
	case TUI_STEP_SKIPPED: return "skipped";
	case TUI_STEP_MANUAL: return "done by hand";
	case TUI_STEP_PENDING: break;
	}
	return "";
}

static enum tui_style step_style(enum tui_step_state s)
{
	switch (s) {
	case TUI_STEP_RUNNING: return TUI_RUNNING;
	case TUI_STEP_DONE:
	case TUI_STEP_MANUAL: return TUI_OK;
	case TUI_STEP_FAILED: return TUI_FAIL;
	case TUI_STEP_SKIPPED: return TUI_DIM;
	case TUI_STEP_PENDING: break;
	}
	return TUI_NORMAL;
}

void tui_checklist_draw(struct tui_checklist *c, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 12)
		return;
	tui_fill(w, r, A_NORMAL);
	c->page = r.h;
	if (c->sel >= c->n && c->n)
		c->sel = c->n - 1;
	scroll_into_view(c->sel, &c->top, r.h, c->n);
	bool marks = c->n > (size_t)r.h;
	int width = r.w - (marks ? 2 : 0);
	int word_w = 12; /* "done by hand" */
	for (int row = 0; row < r.h && c->top + (size_t)row < c->n; row++) {
		size_t i = c->top + (size_t)row;
		const struct tui_check_item *it = &c->items[i];
		bool sel = c->cursor && i == c->sel;
		int y = r.y + row;
		attr_t base = sel ? term_style(TUI_SELECTED) : A_NORMAL;
		tui_fill(w, (struct tui_rect){y, r.x, 1, width}, base);
		tui_puts(w, y, r.x, 2, base, sel ? tui_glyph(TUI_G_CURSOR) : " ");
		attr_t sa = sel ? base : term_style(step_style(it->state));
		tui_puts(w, y, r.x + 2, 3, sa, tui_step_box(it->state));
		if (it->destructive)
			tui_puts(w, y, r.x + 6, 1, sel ? base : term_style(TUI_DESTRUCTIVE), "!");
		int ww = width - 8 > word_w * 2 ? word_w : 0;
		tui_puts(w, y, r.x + 8, width - 8 - (ww ? ww + 1 : 0),
			 it->state == TUI_STEP_SKIPPED && !sel ? term_style(TUI_DIM) : base, it->label);
		if (ww)
			tui_puts_right(w, y, r.x + width, ww, sa, tui_step_word(it->state));
	}
	scroll_marks(w, r, c->top, c->n, r.h);
}

int tui_checklist_key(struct tui_checklist *c, int key)
{
	if (!c->n)
		return TUI_UNHANDLED;
	size_t old = c->sel, page = c->page > 1 ? (size_t)c->page - 1 : 1;
	switch (key) {
	case KEY_UP:
	case 'k':
		if (c->sel)
			c->sel--;
		break;
	case KEY_DOWN:
	case 'j':
		if (c->sel + 1 < c->n)
			c->sel++;
		break;
	case KEY_PPAGE:
		c->sel = c->sel > page ? c->sel - page : 0;
		break;
	case KEY_NPAGE:
		c->sel = c->sel + page < c->n ? c->sel + page : c->n - 1;
		break;
	case KEY_HOME:
		c->sel = 0;
		break;
	case KEY_END:
		c->sel = c->n - 1;
		break;
	case '\n':
		return TUI_HANDLED | TUI_SELECT;
	default:
		return TUI_UNHANDLED;
	}
	return c->sel != old ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED;
}

/* ====================================================================== dialogs */

/* (widgets.h) */
struct tui_rect tui_dialog_box(WINDOW *w, struct tui_rect r, int width, int body_rows, const char *title,
			       const char *hint, bool destructive)
{
	if (width > r.w - 2)
		width = r.w - 2;
	struct tui_rect b = tui_rect_center(r, body_rows + 4, width);
	tui_fill(w, b, A_NORMAL);
	attr_t border = destructive ? term_style(TUI_FAIL) : A_NORMAL;
	tui_box(w, b, border);
	if (title) {
		mvwaddch(w, b.y, b.x + 2, ' ');
		int tw = tui_puts(w, b.y, b.x + 3, b.w - 6,
				  term_style(destructive ? TUI_DESTRUCTIVE : TUI_TITLE), title);
		mvwaddch(w, b.y, b.x + 3 + tw, ' ');
	}
	if (hint) {
		int hw = tui_text_width(hint);
		if (hw > b.w - 6)
			hw = b.w - 6;
		int hx = b.x + b.w - 3 - hw;
		mvwaddch(w, b.y + b.h - 1, hx - 1, ' ');
		tui_puts(w, b.y + b.h - 1, hx, hw, term_style(TUI_DIM), hint);
		mvwaddch(w, b.y + b.h - 1, hx + hw, ' ');
	}
	struct tui_rect in = {b.y + 2, b.x + 2, b.h - 4, b.w - 4};
	return in;
}

static int dialog_width(struct tui_rect r)
{
	int w = r.w - 8;
	return w > 64 ? 64 : w < 30 ? 30 : w;
}

void tui_confirm_init(struct tui_confirm *c, const char *title, const char *text, bool destructive)
{
	memset(c, 0, sizeof *c);
	c->title = w_strdup(title);
	c->text = w_strdup(text ? text : "");
	c->destructive = destructive;
	c->answer = -1;
}

void tui_confirm_done(struct tui_confirm *c)
{
	free(c->title);
	free(c->text);
	memset(c, 0, sizeof *c);
}

static void draw_button(WINDOW *w, int y, int x, const char *label, bool on)
{
	char buf[32];
	snprintf(buf, sizeof buf, on ? "[ %s ]" : "  %s  ", label);
	tui_puts(w, y, x, (int)strlen(buf), on ? term_style(TUI_SELECTED) : A_NORMAL, buf);
}

void tui_confirm_draw(struct tui_confirm *c, WINDOW *w, struct tui_rect r)
{
	int width = dialog_width(r);
	int rows = tui_wrap_rows(c->text, width - 4);
	int max_rows = r.h - 6;
	if (rows > max_rows)
		rows = max_rows;
	if (rows < 0)
		rows = 0;
	char hint[64];
	snprintf(hint, sizeof hint, "y yes %s n no %s Esc cancel", tui_glyph(TUI_G_DOT), tui_glyph(TUI_G_DOT));
	struct tui_rect in = tui_dialog_box(w, r, width, rows + 2, c->title, hint, c->destructive);
	tui_wrap_draw(w, (struct tui_rect){in.y, in.x, rows, in.w}, A_NORMAL, c->text);
	int by = in.y + in.h - 1;
	int bx = in.x + (in.w - 7 - 3 - 6) / 2;
	draw_button(w, by, bx, "Yes", c->on_yes);
	draw_button(w, by, bx + 10, "No", !c->on_yes);
}

/* Not keys but events for the main loop: a modal widget must let them through. */
static bool is_event(int key)
{
	return key == TUI_KEY_IDLE || key == TUI_KEY_WAKE || key == TUI_KEY_EOF || key == KEY_RESIZE;
}

int tui_confirm_key(struct tui_confirm *c, int key)
{
	if (is_event(key))
		return TUI_UNHANDLED;
	switch (key) {
	case 'y':
	case 'Y':
		c->answer = 1;
		return TUI_HANDLED | TUI_REDRAW | TUI_SELECT;
	case 'n':
	case 'N':
	case TUI_KEY_ESC:
		c->answer = 0;
		return TUI_HANDLED | TUI_REDRAW | TUI_BACK;
	case '\n':
		c->answer = c->on_yes ? 1 : 0;
		return TUI_HANDLED | TUI_REDRAW | (c->on_yes ? TUI_SELECT : TUI_BACK);
	case KEY_LEFT:
	case KEY_RIGHT:
	case '\t':
	case KEY_BTAB:
	case 'h':
	case 'l':
		c->on_yes = !c->on_yes;
		return TUI_HANDLED | TUI_REDRAW;
	default:
		return TUI_HANDLED;
	}
}

static const char *typed_validate(const char *value, void *ctx)
{
	struct tui_typed_confirm *t = ctx;
	size_t n = strlen(value);
	if (n <= strlen(t->word) && !strncmp(value, t->word, n))
		return NULL;
	return "that is not it: type the text above exactly";
}

void tui_typed_confirm_init(struct tui_typed_confirm *t, const char *title, const char *text,
			    const char *word)
{
	memset(t, 0, sizeof *t);
	t->title = w_strdup(title);
	t->text = w_strdup(text ? text : "");
	t->word = w_strdup(word ? word : "");
	t->answer = -1;
	tui_field_init(&t->field, ">", strlen(t->word) + 64);
	t->field.label_w = 2;
	tui_field_set_validator(&t->field, typed_validate, t);
	t->field.focused = true;
}

void tui_typed_confirm_done(struct tui_typed_confirm *t)
{
	tui_field_done(&t->field);
	free(t->title);
	free(t->text);
	free(t->word);
	memset(t, 0, sizeof *t);
}

void tui_typed_confirm_draw(struct tui_typed_confirm *t, WINDOW *w, struct tui_rect r)
{
	int width = dialog_width(r);
	int rows = tui_wrap_rows(t->text, width - 4);
	int max_rows = r.h - 9;
	if (rows > max_rows)
		rows = max_rows;
	if (rows < 0)
		rows = 0;
	char hint[64];
	snprintf(hint, sizeof hint, "Enter confirm %s Esc cancel", tui_glyph(TUI_G_DOT));
	struct tui_rect in = tui_dialog_box(w, r, width, rows + 4, t->title, hint, true);
	tui_wrap_draw(w, (struct tui_rect){in.y, in.x, rows, in.w}, A_NORMAL, t->text);
	int y = in.y + rows + 1;
	int x = tui_puts(w, y, in.x, in.w, A_NORMAL, "Type ");
	x += tui_puts(w, y, in.x + x, in.w - x, term_style(TUI_KEY), t->word);
	tui_puts(w, y, in.x + x, in.w - x, A_NORMAL, " to go ahead:");
	tui_field_draw(&t->field, w, (struct tui_rect){y + 1, in.x, 2, in.w});
}

int tui_typed_confirm_key(struct tui_typed_confirm *t, int key)
{
	if (is_event(key))
		return TUI_UNHANDLED;
	if (key == TUI_KEY_ESC) {
		t->answer = 0;
		return TUI_HANDLED | TUI_REDRAW | TUI_BACK;
	}
	if (key == '\n') {
		if (!strcmp(tui_field_value(&t->field), t->word)) {
			t->answer = 1;
			return TUI_HANDLED | TUI_REDRAW | TUI_SELECT;
		}
		tui_field_set_error(&t->field, "not yet: type the text above exactly (Esc cancels)");
		return TUI_HANDLED | TUI_REDRAW;
	}
	int r = tui_field_key(&t->field, key);
	return r ? r : TUI_HANDLED;
}

/* ====================================================================== help */

void tui_help_init(struct tui_help *h, const char *title, const struct tui_help_entry *entries)
{
	memset(h, 0, sizeof *h);
	h->title = title;
	h->entries = entries;
	while (entries && (entries[h->n].key || entries[h->n].what))
		h->n++;
}

void tui_help_draw(struct tui_help *h, WINDOW *w, struct tui_rect r)
{
	int width = r.w - 4 > 72 ? 72 : r.w - 4;
	if (width < 20)
		return;
	int key_w = 0;
	for (size_t i = 0; i < h->n; i++)
		if (h->entries[i].key) {
			int kw = tui_text_width(h->entries[i].key);
			if (kw > key_w)
				key_w = kw;
		}
	if (key_w > 16)
		key_w = 16;
	int text_w = width - 4 - key_w - 2;
	/* rows of each entry at this width */
	int total = 0;
	for (size_t i = 0; i < h->n; i++)
		total += h->entries[i].key ? tui_wrap_rows(h->entries[i].what, text_w) : 1;
	int body = total;
	if (body > r.h - 6)
		body = r.h - 6;
	if (body < 1)
		body = 1;
	h->page = body;
	if (h->top + (size_t)body > (size_t)total)
		h->top = total > body ? (size_t)(total - body) : 0;
	char hint[64];
	if (total > body)
		snprintf(hint, sizeof hint, "%s%s scroll %s any other key closes", tui_glyph(TUI_G_UP),
			 tui_glyph(TUI_G_DOWN), tui_glyph(TUI_G_DOT));
	else
		snprintf(hint, sizeof hint, "any key closes");
	struct tui_rect in = tui_dialog_box(w, r, width, body, h->title ? h->title : "Help", hint, false);
	int row = 0; /* row of the whole help text */
	for (size_t i = 0; i < h->n; i++) {
		const struct tui_help_entry *e = &h->entries[i];
		if (!e->key) {
			if (row >= (int)h->top && row - (int)h->top < in.h)
				tui_puts(w, in.y + row - (int)h->top, in.x, in.w, term_style(TUI_TITLE),
					 e->what ? e->what : "");
			row++;
			continue;
		}
		int rows = tui_wrap_rows(e->what, text_w);
		int y0 = row - (int)h->top;
		if (y0 >= 0 && y0 < in.h)
			tui_puts(w, in.y + y0, in.x, key_w, term_style(TUI_KEY), e->key);
		/* draw only the visible rows of the wrapped description */
		size_t n;
		wchar_t *t = to_wcs(e->what ? e->what : "", e->what ? strlen(e->what) : 0, &n, true);
		struct wrapped wr = {0};
		wrap_wcs(&wr, t, n, text_w, false);
		for (size_t k = 0; k < wr.n; k++) {
			int y = y0 + (int)k;
			if (y >= 0 && y < in.h)
				put_wcs(w, in.y + y, in.x + key_w + 2 + wr.seg[k].indent, text_w - wr.seg[k].indent,
					A_NORMAL, t + wr.seg[k].off, wr.seg[k].n);
		}
		free(wr.seg);
		free(t);
		row += rows;
	}
	scroll_marks(w, (struct tui_rect){in.y, in.x + 1, in.h, in.w}, h->top, (size_t)total, in.h);
}

int tui_help_key(struct tui_help *h, int key)
{
	size_t page = h->page > 1 ? (size_t)h->page - 1 : 1;
	switch (key) {
	case KEY_UP:
	case 'k':
		if (h->top)
			h->top--;
		return TUI_HANDLED | TUI_REDRAW;
	case KEY_DOWN:
	case 'j':
		h->top++; /* clamped at the next draw */
		return TUI_HANDLED | TUI_REDRAW;
	case KEY_PPAGE:
		h->top = h->top > page ? h->top - page : 0;
		return TUI_HANDLED | TUI_REDRAW;
	case KEY_NPAGE:
	case ' ':
		h->top += page;
		return TUI_HANDLED | TUI_REDRAW;
	default:
		if (is_event(key))
			return TUI_UNHANDLED;
		h->top = 0;
		return TUI_HANDLED | TUI_REDRAW | TUI_BACK;
	}
}

/* ====================================================================== text viewer */

struct tui_viewer_seg {
	struct wseg s;
};

void tui_viewer_init(struct tui_viewer *v)
{
	memset(v, 0, sizeof *v);
}

void tui_viewer_done(struct tui_viewer *v)
{
	free(v->text);
	free(v->wtext);
	free(v->seg);
	memset(v, 0, sizeof *v);
}

void tui_viewer_set(struct tui_viewer *v, const char *text)
{
	w_replace(&v->text, text ? text : "");
	free(v->wtext);
	size_t n;
	v->wtext = to_wcs(v->text, strlen(v->text), &n, true);
	free(v->seg);
	v->seg = NULL;
	v->nseg = 0;
	v->wrap_w = 0;
	v->top = 0;
}

void tui_viewer_draw(struct tui_viewer *v, WINDOW *w, struct tui_rect r)
{
	if (r.h < 1 || r.w < 4)
		return;
	tui_fill(w, r, A_NORMAL);
	if (!v->wtext)
		return;
	int width = r.w - 2; /* the last columns are for the scroll marks */
	if (v->wrap_w != width) {
		/* re-wrap, keeping the text that was at the top at the top */
		size_t anchor = v->nseg && v->top < v->nseg ? v->seg[v->top].s.off : 0;
		struct wrapped wr = {0};
		wrap_wcs(&wr, v->wtext, wcslen(v->wtext), width, v->markup);
		free(v->seg);
		/* struct tui_viewer_seg is a struct wseg: keep the wrapped rows as they are */
		v->seg = (struct tui_viewer_seg *)wr.seg;
		v->nseg = wr.n;
		v->wrap_w = width;
		v->top = 0;
		while (v->top + 1 < v->nseg && v->seg[v->top + 1].s.off <= anchor)
			v->top++;
	}
	v->page = r.h;
	if (v->top + (size_t)r.h > v->nseg)
		v->top = v->nseg > (size_t)r.h ? v->nseg - (size_t)r.h : 0;
	draw_segs(w, (struct tui_rect){r.y, r.x, r.h, width}, A_NORMAL, v->wtext,
		  (const struct wseg *)v->seg, v->nseg, v->top, false);
	scroll_marks(w, r, v->top, v->nseg, r.h);
}

int tui_viewer_key(struct tui_viewer *v, int key)
{
	size_t old = v->top, page = v->page > 1 ? (size_t)v->page - 1 : 1;
	size_t max = v->nseg > (size_t)v->page ? v->nseg - (size_t)v->page : 0;
	switch (key) {
	case KEY_UP:
	case 'k':
		if (v->top)
			v->top--;
		break;
	case KEY_DOWN:
	case 'j':
		if (v->top < max)
			v->top++;
		break;
	case KEY_PPAGE:
	case 'b':
		v->top = v->top > page ? v->top - page : 0;
		break;
	case KEY_NPAGE:
	case ' ':
		v->top = v->top + page < max ? v->top + page : max;
		break;
	case KEY_HOME:
		v->top = 0;
		break;
	case KEY_END:
		v->top = max;
		break;
	default:
		return TUI_UNHANDLED;
	}
	return v->top != old ? TUI_HANDLED | TUI_REDRAW : TUI_HANDLED;
}
