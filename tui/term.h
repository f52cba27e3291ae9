/* term.h: the one module that owns the terminal: curses set-up and tear-down, colours,
 * signals, resize, stderr redirection, and the test hooks (headless, key script, dump).
 *
 * Only tui/term.c calls newterm/endwin/doupdate. Screens draw on stdscr (or on windows
 * derived from it with derwin/subwin) through tui/widgets.h, then the main loop calls
 * term_flush() once per frame and term_getkey() for the next event:
 *
 *	for (;;) {
 *		if (redraw) { werase(stdscr); draw(); term_flush(); }
 *		int k = term_getkey_fd(1000, wake_fd);
 *		if (k == TUI_KEY_EOF) break;
 *		...
 *	}
 *
 * Test hooks, in the manner of tig:
 *   CERTWIZ_HEADLESS=1  draw into a curses screen on /dev/null, COLUMNS x LINES
 *                       (default 80x24); no terminal is needed.
 *   CERTWIZ_SCRIPT=FILE read keys from FILE instead of the keyboard (syntax below).
 *   NO_COLOR=1          no colour: state is still shown by words and symbols.
 *
 * Key script syntax (one event or a run of keys per line):
 *   text            each character is one key (UTF-8 allowed); the end of the line is
 *                   not a key. "abc" types a, b, c.
 *   <Name>          a named key, anywhere in a line: <Enter> <Esc> <Tab> <BTab> <Up>
 *                   <Down> <Left> <Right> <PgUp> <PgDn> <Home> <End> <Backspace> <Del>
 *                   <Ins> <Space> <F1>..<F12> <C-a>..<C-z> (e.g. <C-c>), <Lt> for '<',
 *                   <Hash> for '#', <Colon> for ':'. Names are case-insensitive; a '<'
 *                   that does not start a known name is typed as itself.
 *   # comment       a line starting with '#' is ignored, and so is an empty line.
 *   :dump FILE      write the screen as text to FILE (relative to the working
 *                   directory): exactly LINES rows, trailing blanks trimmed.
 *   :wait [N]       return TUI_KEY_IDLE N times (default 1): idle iterations in which
 *                   the main loop drains background work.
 *   :resize C R     resize the screen to C columns and R rows; returns KEY_RESIZE.
 *   :until [-t SECONDS] TEXT
 *                   let the main loop run (TUI_KEY_WAKE when the wake fd is readable,
 *                   else TUI_KEY_IDLE) until TEXT is on the screen; default 10 s, then
 *                   the script fails (term_script_error) and input ends.
 *   :quit           end the script here.
 * After the last line every call returns TUI_KEY_EOF. A line starting with ':' that is
 * not one of these commands is an error reported by term_open with FILE:LINE. */
#ifndef CW_TERM_H
#define CW_TERM_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- keys ----
 * term_getkey returns:
 *   0..0x7f          ASCII and control characters as typed; Enter is always '\n'
 *                    (CR, LF and the keypad Enter), Esc is 27, Tab is '\t', Ctrl-C is 3;
 *   KEY_*            curses function keys (Backspace and DEL are KEY_BACKSPACE);
 *   TUI_KEY_CHAR(c)  any other Unicode character c (use tui_key_char to decode);
 *   TUI_KEY_IDLE     the timeout passed, or a script's :wait;
 *   TUI_KEY_WAKE     the wake fd is readable (the caller drains it);
 *   TUI_KEY_EOF      no more input (script ended, input closed, terminal closed). */
#define TUI_KEY_ENTER '\n'
#define TUI_KEY_ESC 27
#define TUI_KEY_TAB '\t'
#define TUI_KEY_CTRL(c) ((c) & 0x1f)
#define TUI_KEY_BASE 0x800000 /* above every curses key code, below TUI_KEY_CHAR_FLAG */
#define TUI_KEY_IDLE (TUI_KEY_BASE + 1)
#define TUI_KEY_EOF (TUI_KEY_BASE + 2)
#define TUI_KEY_WAKE (TUI_KEY_BASE + 3)
#define TUI_KEY_CHAR_FLAG 0x1000000
#define TUI_KEY_CHAR(c) ((c) < 0x80 ? (int)(c) : (int)((c) | TUI_KEY_CHAR_FLAG))

/* The Unicode character a key stands for (printable or control), or -1 for other keys. */
int tui_key_char(int key);
/* A readable name for a key ("Enter", "C-c", "Up", "a", "é") into buf. */
const char *term_key_name(int key, char *buf, size_t size);

/* ---- styles: a small palette of semantic attributes ----
 * With colour they add colour; in monochrome (NO_COLOR, no colour support) they fall back
 * to bold/reverse/underline. Widgets never rely on them alone: every state also has a word
 * or a symbol. */
enum tui_style {
	TUI_NORMAL,
	TUI_OK,          /* green; mono: bold */
	TUI_WARN,        /* yellow bold; mono: bold */
	TUI_FAIL,        /* red bold; mono: bold + underline */
	TUI_RUNNING,     /* cyan; mono: normal */
	TUI_DIM,         /* dim */
	TUI_TITLE,       /* bold; frame titles */
	TUI_SELECTED,    /* black on cyan; mono: reverse */
	TUI_DESTRUCTIVE, /* white on red, bold; mono: reverse + bold */
	TUI_KEY,         /* key names in hint lines: bold */
	TUI_STYLE_COUNT
};
attr_t term_style(enum tui_style s);

/* ---- set-up and tear-down ---- */
struct term_opts {
	const char *stderr_log; /* stderr goes here while curses is up (parents are created,
				   mode 0600, appended); NULL leaves stderr alone */
	const char *script;     /* key script; NULL: $CERTWIZ_SCRIPT if set */
	bool headless;          /* also set by CERTWIZ_HEADLESS=1 */
	int cols, rows;         /* headless size; 0: $COLUMNS x $LINES, else 80 x 24 */
	bool mono;              /* also set by a non-empty NO_COLOR or a terminal without colour */
	bool ctrl_c_key;        /* Ctrl-C arrives as key 3 instead of raising SIGINT
				   (kill -INT still restores the terminal and dies) */
};

/* Set the locale (LC_ALL from the environment, LC_NUMERIC "C"), read the script, open the
 * stderr log, start curses, install the signal handlers and an atexit hook. Returns 0, or
 * -1 with a message in err (nothing changed on the terminal then). One terminal at a time. */
int term_open(const struct term_opts *opts, char *err, size_t errsize);
/* Restore the terminal and stderr; safe to call twice. Prints the script error if any, and
 * a note naming the stderr log if something was written to it. */
void term_close(void);
bool term_is_open(void);
bool term_headless(void);
bool term_mono(void);
bool term_utf8(void);   /* the locale's codeset is UTF-8: widgets may use ✓ ● │ … */
void term_size(int *cols, int *rows);

/* A line printed on stderr (after the terminal is restored) if certwiz dies of a signal,
 * e.g. how to resume. Copied; at most 255 bytes. */
void term_set_crash_note(const char *note);

/* Leave curses to run something in the terminal (a shell, an editor), and come back.
 * stderr goes back to the terminal meanwhile. */
void term_suspend(void);
void term_resume(void);

/* ---- drawing ---- */
/* Show the cursor at (y, x) of window w after the next term_flush (a focused form field
 * asks for this while drawing); otherwise the cursor is hidden. */
void term_want_cursor(WINDOW *w, int y, int x);
/* Put stdscr on the screen (wnoutrefresh + doupdate) and place or hide the cursor. */
void term_flush(void);
/* Repaint everything at the next term_flush (Ctrl-L). */
void term_redraw(void);
/* Write the screen as text to path: every row of curses' own idea of the physical screen
 * (curscr, i.e. what a person sees after the last term_flush), trailing blanks trimmed,
 * exactly LINES rows, UTF-8 in a UTF-8 locale. Returns 0 or -1 with errno. */
int term_dump(const char *path);
/* The same into a heap string (caller frees); NULL if the terminal is not open. */
char *term_dump_text(void);
/* True when text appears on one row of the screen (after the last term_flush). */
bool term_screen_contains(const char *text);

/* ---- input ---- */
/* The next key or event. timeout_ms < 0 waits for ever, 0 polls. A pending resize is
 * handled first (curses resized, KEY_RESIZE returned): redraw everything then. */
int term_getkey(int timeout_ms);
/* The same, also waiting for wake_fd (-1: none) to become readable: then TUI_KEY_WAKE.
 * term never reads wake_fd; the caller drains it, or it stays readable. */
int term_getkey_fd(int timeout_ms, int wake_fd);
/* True once if a resize is pending (the flag the SIGWINCH handler sets); handles it. */
bool term_check_resize(void);

/* The first script failure (":until" timed out, a dump could not be written), NULL if
 * none. Stays valid until the next term_open. */
const char *term_script_error(void);
/* Parse one key name as the script does ("<Enter>", "<C-c>", "a"); -1 if unknown. */
int term_key_parse(const char *name);

#endif
