/* widgets.h: the widget kit the screens draw with: text helpers, frame and key hints,
 * list/menu, form field, log view, service status panel, progress bar, checklist,
 * confirm and typed-confirm dialogs, help overlay, text viewer.
 *
 * Conventions (htop style):
 * - A widget is a small struct: X_init/X_done for embedded ones. Strings passed in are
 *   copied (the widget owns its copies) unless a comment says "not owned".
 * - X_draw(x, win, rect) draws inside rect of win (normally stdscr) and never refreshes;
 *   the main loop calls term_flush() once per frame. Layout is given at every draw, so a
 *   resize is just a redraw.
 * - X_key(x, key) returns TUI_* flags; 0 (TUI_UNHANDLED) leaves the key to the caller.
 *   Modal widgets (dialogs, help) take every key.
 * - State is never shown by colour alone: every state has a word or a symbol, and the
 *   symbols have ASCII fallbacks when the locale is not UTF-8.
 * Nothing here is thread-safe: feed widgets on the UI thread. */
#ifndef CW_WIDGETS_H
#define CW_WIDGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#include "term.h"

/* ---- key handler results ---- */
enum {
	TUI_UNHANDLED = 0,
	TUI_HANDLED = 1 << 0, /* the key was used */
	TUI_REDRAW = 1 << 1,  /* the widget changed: redraw */
	TUI_QUIT = 1 << 2,    /* leave the program (after the caller's confirmation) */
	TUI_NEXT = 1 << 3,    /* go forward: next screen or field */
	TUI_BACK = 1 << 4,    /* go back; a dialog was declined or dismissed */
	TUI_SELECT = 1 << 5,  /* chosen, accepted, confirmed */
};

/* ---- geometry ---- */
struct tui_rect {
	int y, x, h, w;
};
struct tui_rect tui_rect_of(WINDOW *w);
/* A h x w rect centred in outer, shrunk to fit. */
struct tui_rect tui_rect_center(struct tui_rect outer, int h, int w);

/* ---- text ---- */
/* Display columns of a UTF-8 string (control characters count as one '?'). */
int tui_text_width(const char *s);
/* Draw s at (y, x) in at most width columns; a cut string ends with an ellipsis.
 * Control characters and invalid UTF-8 are shown as '?'. Returns the columns used. */
int tui_puts(WINDOW *w, int y, int x, int width, attr_t attr, const char *s);
int tui_printf(WINDOW *w, int y, int x, int width, attr_t attr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Draw s right-aligned so that it ends at column x_end (exclusive). */
int tui_puts_right(WINDOW *w, int y, int x_end, int width, attr_t attr, const char *s);
/* Draw s word-wrapped in r; '\n' breaks lines. Returns the rows the whole text needs
 * (which may be more than r.h: the rest is cut, the last row ending in an ellipsis). */
int tui_wrap_draw(WINDOW *w, struct tui_rect r, attr_t attr, const char *s);
/* Rows s needs when wrapped to width columns. */
int tui_wrap_rows(const char *s, int width);
/* Blank r (spaces in attr). */
void tui_fill(WINDOW *w, struct tui_rect r, attr_t attr);
/* A line-drawing border around the inside of r. */
void tui_box(WINDOW *w, struct tui_rect r, attr_t attr);
void tui_hline(WINDOW *w, int y, int x, int width, attr_t attr);

/* Symbols with an ASCII fallback when the locale is not UTF-8. */
enum tui_glyph {
	TUI_G_CHECK,    /* ✓  x */
	TUI_G_CROSS,    /* ✗  ! */
	TUI_G_BULLET,   /* ●  * */
	TUI_G_CIRCLE,   /* ○  - */
	TUI_G_HALF,     /* ◐  ~ */
	TUI_G_ELLIPSIS, /* …  ... */
	TUI_G_UP,       /* ▲  ^ */
	TUI_G_DOWN,     /* ▼  v */
	TUI_G_CURSOR,   /* ▸  > */
	TUI_G_BAR_FULL, /* █  # */
	TUI_G_BAR_EMPTY,/* ░  . */
	TUI_G_DOT,      /* ·  - */
	TUI_G_ARROW,    /* →  -> */
	TUI_G_COUNT
};
const char *tui_glyph(enum tui_glyph g);

/* ---- state badges: "[ OK ]" "[WARN]" "[FAIL]" "[ .. ]" "[SKIP]" "[ ?? ]" "[    ]" ---- */
enum tui_state { TUI_ST_NONE, TUI_ST_OK, TUI_ST_WARN, TUI_ST_FAIL, TUI_ST_RUNNING, TUI_ST_SKIP, TUI_ST_UNKNOWN };
#define TUI_BADGE_WIDTH 6
const char *tui_state_badge(enum tui_state s);
enum tui_style tui_state_style(enum tui_state s);
int tui_badge(WINDOW *w, int y, int x, enum tui_state s); /* returns 6 */

/* If w is smaller than min_w x min_h, say so on it and return true (draw nothing else). */
bool tui_too_small(WINDOW *w, int min_w, int min_h);

/* ---- frame: a border with a title and a status, and a key-hint line under it ---- */
struct tui_hint {
	const char *key, *label; /* {"Enter", "continue"}; a list ends with {NULL, NULL} */
};
struct tui_frame {
	const char *title;             /* in the top border, left; not owned */
	const char *status;            /* in the top border, right (e.g. "step 3 of 8"); not owned, may be NULL */
	const struct tui_hint *hints;  /* the bottom line; not owned, may be NULL */
	bool destructive;              /* title in the destructive style */
};
/* Draws in r (border on rows 0..h-2, hints on row h-1) and returns the area inside,
 * with one column of margin left and right. */
struct tui_rect tui_frame_draw(const struct tui_frame *f, WINDOW *w, struct tui_rect r);
/* Key hints on one row: whole hints that do not fit are left out. */
void tui_hints_draw(WINDOW *w, int y, int x, int width, const struct tui_hint *hints);

/* ---- list / menu with a description pane for the selected item ---- */
struct tui_list_item {
	char *label;          /* owned */
	char *detail;         /* right-aligned, dim (e.g. "detected"); owned, may be NULL */
	char *desc;           /* shown under the list while selected; owned, may be NULL */
	enum tui_state state; /* a badge before the label unless TUI_ST_NONE */
	bool disabled;        /* dim, skipped by the cursor */
	void *data;           /* the caller's; not owned */
};
struct tui_list {
	struct tui_list_item *items; /* owned */
	size_t n, cap;
	size_t sel, top;
	int page;      /* list rows at the last draw */
	int desc_rows; /* rows for the description pane; 0: what the list leaves (at least 4) */
};
void tui_list_init(struct tui_list *l);
void tui_list_done(struct tui_list *l);
void tui_list_clear(struct tui_list *l);
/* Returns the new item's index; detail and desc may be NULL. */
size_t tui_list_add(struct tui_list *l, const char *label, const char *detail, const char *desc);
struct tui_list_item *tui_list_selected(struct tui_list *l); /* NULL when empty */
void tui_list_select(struct tui_list *l, size_t i);
void tui_list_draw(struct tui_list *l, WINDOW *w, struct tui_rect r);
/* Up/Down/k/j, PgUp/PgDn, Home/End move (HANDLED|REDRAW); Enter: SELECT. */
int tui_list_key(struct tui_list *l, int key);

/* ---- one-line form field with a validator ---- */
/* Returns NULL when value is acceptable, else a message for the operator (copied). */
typedef const char *(*tui_validate_fn)(const char *value, void *ctx);
struct tui_field {
	char *label;             /* owned */
	int label_w;             /* label column width (0: the label's own + 2), to line fields up */
	wchar_t *text;           /* the value being edited; owned */
	size_t len, cap, cur, scroll;
	size_t max;              /* most characters accepted */
	char *value;             /* UTF-8 of text; owned; see tui_field_value */
	tui_validate_fn validate;
	void *vctx;              /* not owned */
	char *error;             /* the validator's last message; owned, NULL when valid */
	char *hint;              /* dim line under the field when there is no error; owned */
	bool focused;            /* draws the cursor */
};
void tui_field_init(struct tui_field *f, const char *label, size_t max);
void tui_field_done(struct tui_field *f);
void tui_field_set(struct tui_field *f, const char *value); /* validates */
const char *tui_field_value(const struct tui_field *f);     /* owned by f */
void tui_field_set_validator(struct tui_field *f, tui_validate_fn fn, void *ctx); /* validates */
void tui_field_set_hint(struct tui_field *f, const char *hint);
void tui_field_set_error(struct tui_field *f, const char *error); /* NULL clears */
bool tui_field_valid(const struct tui_field *f);
/* Two rows: label and value; then the error (red/bold, "✗ ...") or the hint. */
void tui_field_draw(struct tui_field *f, WINDOW *w, struct tui_rect r);
/* Editing keys (characters, Backspace, Del, Left/Right, Home/End, C-a C-e C-u C-k C-w)
 * return HANDLED|REDRAW and re-validate; Enter returns SELECT when valid. Tab, Esc,
 * Up/Down are left to the caller. */
int tui_field_key(struct tui_field *f, int key);

/* ---- scrolling log view: bounded ring of lines ---- */
struct tui_log_line {
	wchar_t *s; /* owned */
	size_t n;
	int style;  /* enum tui_style */
	int rows;   /* rows at width rows_w */
	int rows_w;
};
struct tui_log {
	struct tui_log_line *lines; /* ring of max entries; owned */
	size_t max, head, count;
	size_t dropped;             /* lines that fell off the top */
	wchar_t *cur;               /* the line being written (no newline yet); owned */
	size_t cur_len, cur_col;
	int cur_style;
	mbstate_t mbs;              /* a UTF-8 character split between writes */
	int esc;                    /* escape-sequence parser state */
	size_t scroll;              /* rows above the bottom; 0 follows the tail */
	int width, page;            /* at the last draw */
};
#define TUI_LOG_LINE_MAX 1024 /* longer lines are split: at most max_lines x this */
void tui_log_init(struct tui_log *l, size_t max_lines);
void tui_log_done(struct tui_log *l);
void tui_log_clear(struct tui_log *l);
/* Raw output of a command: partial lines are kept until their newline, '\r' returns to
 * the start of the line (progress counters overwrite themselves), '\b' steps back, tabs
 * expand, escape sequences and other control characters are dropped. */
void tui_log_write(struct tui_log *l, enum tui_style style, const char *data, size_t len);
/* One whole line (ends a partial line first). */
void tui_log_printf(struct tui_log *l, enum tui_style style, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool tui_log_following(const struct tui_log *l);
void tui_log_draw(struct tui_log *l, WINDOW *w, struct tui_rect r);
/* Up/Down/k/j, PgUp/PgDn, Home scroll; End follows the tail again. */
int tui_log_key(struct tui_log *l, int key);

/* ---- per-service status panel ---- */
enum tui_svc_state { TUI_SVC_UNKNOWN, TUI_SVC_STOPPED, TUI_SVC_STARTING, TUI_SVC_RUNNING, TUI_SVC_STOPPING, TUI_SVC_FAILED };
struct tui_service_row {
	char name[64];
	enum tui_svc_state state;
	long pid;         /* 0 unknown */
	int port;         /* 0: none */
	int port_open;    /* -1 unknown, 0 no, 1 yes */
	int cert_current; /* -1 unknown, 0 no, 1 yes (its certificate chains to the current CA) */
};
struct tui_services {
	char *title; /* e.g. the host; owned, may be NULL */
	struct tui_service_row *rows; /* owned */
	size_t n, cap;
};
void tui_services_init(struct tui_services *p, const char *title);
void tui_services_done(struct tui_services *p);
/* The row for name, added (state unknown) if new. */
struct tui_service_row *tui_services_row(struct tui_services *p, const char *name);
/* Title row (if any), header row, one row per service:
 * "puppetserver      ● running   1234  8140 up   yes". Narrow panels drop the pid. */
void tui_services_draw(const struct tui_services *p, WINDOW *w, struct tui_rect r);
const char *tui_svc_state_word(enum tui_svc_state s);

/* ---- progress bar ---- */
struct tui_progress {
	const char *label; /* not owned, may be NULL */
	size_t done, total;
};
/* One row: "label [████░░░░]  9/20  45%". */
void tui_progress_draw(const struct tui_progress *p, WINDOW *w, int y, int x, int width);

/* ---- checklist of steps ---- */
enum tui_step_state { TUI_STEP_PENDING, TUI_STEP_RUNNING, TUI_STEP_DONE, TUI_STEP_FAILED, TUI_STEP_SKIPPED, TUI_STEP_MANUAL };
struct tui_check_item {
	char *label; /* owned */
	enum tui_step_state state;
	bool destructive; /* marked with '!' */
	void *data;       /* not owned */
};
struct tui_checklist {
	struct tui_check_item *items; /* owned */
	size_t n, cap;
	size_t sel, top;
	int page;
	bool cursor; /* show the selection (the cursor row is marked ▸ and highlighted) */
};
void tui_checklist_init(struct tui_checklist *c);
void tui_checklist_done(struct tui_checklist *c);
void tui_checklist_clear(struct tui_checklist *c);
size_t tui_checklist_add(struct tui_checklist *c, const char *label, bool destructive);
void tui_checklist_set(struct tui_checklist *c, size_t i, enum tui_step_state st);
void tui_checklist_select(struct tui_checklist *c, size_t i);
/* "[✓] ! Stop puppetserver        done": box [ ] [>] [✓] [✗] [-] [m] (ASCII [x] for done,
 * [!] for failed), then the state word on the right. */
void tui_checklist_draw(struct tui_checklist *c, WINDOW *w, struct tui_rect r);
int tui_checklist_key(struct tui_checklist *c, int key);
const char *tui_step_box(enum tui_step_state s);
const char *tui_step_word(enum tui_step_state s);

/* ---- dialogs ---- */
/* A bordered box centred in r with the title in its top border and a hint in its bottom
 * border (red when destructive); returns the area inside (one column of margin). body_rows
 * is what the body needs; the box is that plus four rows, at most r.h. */
struct tui_rect tui_dialog_box(WINDOW *w, struct tui_rect r, int width, int body_rows, const char *title,
			       const char *hint, bool destructive);

/* ---- confirm dialog (y/n) ---- */
struct tui_confirm {
	char *title, *text; /* owned */
	bool destructive;
	bool on_yes;        /* the highlighted button; starts on No */
	int answer;         /* -1 open, 0 no, 1 yes */
};
void tui_confirm_init(struct tui_confirm *c, const char *title, const char *text, bool destructive);
void tui_confirm_done(struct tui_confirm *c);
/* Centred over r. */
void tui_confirm_draw(struct tui_confirm *c, WINDOW *w, struct tui_rect r);
/* y: answer 1, SELECT; n or Esc: answer 0, BACK; Left/Right/Tab move; Enter takes the
 * highlighted button. Every other key is swallowed (HANDLED); events (TUI_KEY_IDLE,
 * TUI_KEY_WAKE, TUI_KEY_EOF, KEY_RESIZE) are not, in this and every modal widget. */
int tui_confirm_key(struct tui_confirm *c, int key);

/* ---- typed confirmation: the operator must type an exact word (e.g. the certname) ---- */
struct tui_typed_confirm {
	char *title, *text, *word; /* owned */
	struct tui_field field;
	int answer; /* -1 open, 0 cancelled, 1 confirmed */
};
void tui_typed_confirm_init(struct tui_typed_confirm *t, const char *title, const char *text,
			    const char *word);
void tui_typed_confirm_done(struct tui_typed_confirm *t);
void tui_typed_confirm_draw(struct tui_typed_confirm *t, WINDOW *w, struct tui_rect r);
/* Enter with the exact word: answer 1, SELECT; Enter otherwise: an error; Esc: answer 0,
 * BACK; editing keys go to the field. */
int tui_typed_confirm_key(struct tui_typed_confirm *t, int key);

/* ---- help overlay ---- */
struct tui_help_entry {
	const char *key, *what; /* key NULL: what is a section heading; {NULL, NULL} ends */
};
struct tui_help {
	const char *title;                   /* not owned */
	const struct tui_help_entry *entries; /* not owned */
	size_t n, top;
	int page;
};
void tui_help_init(struct tui_help *h, const char *title, const struct tui_help_entry *entries);
void tui_help_draw(struct tui_help *h, WINDOW *w, struct tui_rect r);
/* Up/Down/PgUp/PgDn scroll; any other key closes it (BACK). */
int tui_help_key(struct tui_help *h, int key);

/* ---- text viewer: wrapped paragraphs, scrollable ---- */
struct tui_viewer_seg; /* a wrapped row; private */
struct tui_viewer {
	char *text;                  /* owned */
	bool markup;                 /* lines "# Title" are headings, "$ cmd" lines are bold */
	wchar_t *wtext;              /* private: text as wide characters */
	struct tui_viewer_seg *seg;  /* private: rows wrapped for wrap_w */
	size_t nseg;
	int wrap_w;
	size_t top;
	int page;
};
void tui_viewer_init(struct tui_viewer *v);
void tui_viewer_done(struct tui_viewer *v);
void tui_viewer_set(struct tui_viewer *v, const char *text); /* back to the top */
void tui_viewer_draw(struct tui_viewer *v, WINDOW *w, struct tui_rect r);
/* Up/Down/k/j, PgUp/PgDn/Space/b, Home/End scroll. */
int tui_viewer_key(struct tui_viewer *v, int key);

#endif
