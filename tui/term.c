/* term.c: owns the terminal: curses set-up and tear-down, colours, signals, resize,
 * stderr redirection, and the test hooks (headless screen, key script, screen dump). */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

/* ---- state shared with the signal handlers (async-signal-safe data only) ---- */
static volatile sig_atomic_t g_winch;     /* SIGWINCH seen, not yet handled */
static volatile sig_atomic_t g_in_curses; /* the terminal needs restoring */
static int g_sigpipe[2] = {-1, -1};        /* self-pipe: wakes poll() on SIGWINCH */
static int g_tty_fd = -1;                  /* the real terminal (-1 headless) */
static struct termios g_tios;              /* its modes before curses */
static int g_have_tios;
static char g_reset[512];                  /* escape sequence that undoes curses */
static size_t g_reset_len;
static int g_saved_stderr = -1;            /* the original stderr while redirected */
static char g_crash_note[256];

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				    SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])

/* ---- key script ---- */
enum ev_kind { EV_KEY, EV_DUMP, EV_WAIT, EV_RESIZE, EV_UNTIL, EV_QUIT };
struct script_ev {
	enum ev_kind kind;
	int key;    /* EV_KEY */
	int a, b;   /* EV_RESIZE cols, rows; EV_WAIT count; EV_UNTIL timeout ms */
	char *arg;  /* EV_DUMP path, EV_UNTIL text (owned) */
	int line;
};

/* ---- everything else: the UI thread's state ---- */
#define KEYQ 64
static struct {
	bool open;
	bool headless, mono, utf8;
	SCREEN *sp;
	FILE *out, *in;       /* what curses writes to / reads from */
	WINDOW *inwin;        /* 1x1, never drawn: wget_wch on it never refreshes stdscr */
	bool input_eof;
	int q[KEYQ];
	int qhead, qlen;
	attr_t style[TUI_STYLE_COUNT];
	/* cursor wanted after the next flush */
	bool want_cursor;
	int cur_y, cur_x;
	/* stderr log */
	int log_fd;
	char *log_path;
	off_t log_start;
	/* signals */
	struct sigaction old_fatal[NFATAL];
	struct sigaction old_winch;
	bool handlers;
	/* script */
	char *script_path;
	struct script_ev *ev;
	size_t nev, pos;
	int wait_left;          /* remaining idles of the current :wait */
	bool until_started;
	struct timespec until_deadline;
	char *script_error;
} T = {.log_fd = -1};

static bool g_atexit_done;

/* ====================================================================== helpers */

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
	if (!err || !n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

static void *term_xrealloc(void *p, size_t n)
{
	void *r = realloc(p, n ? n : 1);
	if (!r)
		abort(); /* out of memory: the one failure that aborts */
	return r;
}

static char *term_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = term_xrealloc(NULL, n);
	memcpy(r, s, n);
	return r;
}

static long ms_until(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
		  (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

static void deadline_in(struct timespec *d, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (ms % 1000) * 1000000L;
	if (d->tv_nsec >= 1000000000L) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000L;
	}
}

static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = '\0';
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ====================================================================== keys */

static const struct {
	const char *name;
	int key;
} key_names[] = {
	{"Enter", '\n'},         {"Return", '\n'},       {"Esc", 27},
	{"Escape", 27},          {"Tab", '\t'},          {"BTab", KEY_BTAB},
	{"S-Tab", KEY_BTAB},     {"Up", KEY_UP},         {"Down", KEY_DOWN},
	{"Left", KEY_LEFT},      {"Right", KEY_RIGHT},   {"PgUp", KEY_PPAGE},
	{"PageUp", KEY_PPAGE},   {"PgDn", KEY_NPAGE},    {"PageDown", KEY_NPAGE},
	{"Home", KEY_HOME},      {"End", KEY_END},       {"Backspace", KEY_BACKSPACE},
	{"BS", KEY_BACKSPACE},   {"Del", KEY_DC},        {"Delete", KEY_DC},
	{"Ins", KEY_IC},         {"Insert", KEY_IC},     {"Space", ' '},
	{"Lt", '<'},             {"Hash", '#'},          {"Colon", ':'},
};

/* The same normalisation for real and scripted keys: Enter is '\n', Backspace is one key. */
static int normalize_char(unsigned cp)
{
	if (cp == '\r')
		return '\n';
	if (cp == 127 || cp == 8)
		return KEY_BACKSPACE;
	return TUI_KEY_CHAR(cp);
}

static int normalize_fkey(int k)
{
	if (k == KEY_ENTER)
		return '\n';
	return k;
}

int tui_key_char(int key)
{
	if (key >= 0 && key < 0x80)
		return key;
	if (key & TUI_KEY_CHAR_FLAG)
		return key & 0x1fffff;
	return -1;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode one UTF-8 character from s (n bytes); returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	if (!n)
		return 0;
	unsigned c = s[0];
	size_t len;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2;
		c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c > 0x10ffff || (len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && c < 0x10000))
		return 0;
	*cp = c;
	return len;
}

const char *term_key_name(int key, char *buf, size_t size)
{
	if (!buf || !size)
		return "";
	const char *name = NULL;
	switch (key) {
	case '\n': name = "Enter"; break;
	case 27: name = "Esc"; break;
	case '\t': name = "Tab"; break;
	case ' ': name = "Space"; break;
	case TUI_KEY_IDLE: name = "(idle)"; break;
	case TUI_KEY_EOF: name = "(eof)"; break;
	case TUI_KEY_WAKE: name = "(wake)"; break;
	case KEY_RESIZE: name = "(resize)"; break;
	default: break;
	}
	if (!name) {
		for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++) {
			if (key_names[i].key == key && key > 0x7f) {
				name = key_names[i].name;
				break;
			}
		}
	}
	if (name) {
		snprintf(buf, size, "%s", name);
		return buf;
	}
	if (key >= KEY_F(1) && key <= KEY_F(63)) {
		snprintf(buf, size, "F%d", key - KEY_F(0));
		return buf;
	}
	if (key >= 1 && key <= 26) {
		snprintf(buf, size, "C-%c", 'a' + key - 1);
		return buf;
	}
	int cp = tui_key_char(key);
	if (cp >= 0) {
		char u[5];
		size_t n = utf8_encode((unsigned)cp, u);
		u[n] = '\0';
		snprintf(buf, size, "%s", u);
		return buf;
	}
	const char *kn = keyname(key);
	snprintf(buf, size, "%s", kn ? kn : "?");
	return buf;
}

/* name without the angle brackets; -1 if unknown */
static int key_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++) {
		if (strlen(key_names[i].name) == len && !strncasecmp(key_names[i].name, name, len))
			return key_names[i].key;
	}
	if (len >= 2 && len <= 3 && (name[0] == 'F' || name[0] == 'f')) {
		int n = 0;
		for (size_t i = 1; i < len; i++) {
			if (name[i] < '0' || name[i] > '9')
				return -1;
			n = n * 10 + (name[i] - '0');
		}
		if (n >= 1 && n <= 12)
			return KEY_F(n);
		return -1;
	}
	if (len == 3 && (name[0] == 'C' || name[0] == 'c') && name[1] == '-') {
		char c = name[2];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c >= 'a' && c <= 'z')
			return normalize_char((unsigned)TUI_KEY_CTRL(c));
	}
	return -1;
}

int term_key_parse(const char *name)
{
	if (!name || !*name)
		return -1;
	size_t len = strlen(name);
	if (name[0] == '<' && len > 2 && name[len - 1] == '>')
		return key_from_name(name + 1, len - 2);
	unsigned cp;
	size_t n = utf8_decode((const unsigned char *)name, len, &cp);
	if (n && n == len)
		return normalize_char(cp);
	return key_from_name(name, len);
}

/* ====================================================================== script */

static void script_free(void)
{
	for (size_t i = 0; i < T.nev; i++)
		free(T.ev[i].arg);
	free(T.ev);
	T.ev = NULL;
	T.nev = T.pos = 0;
	free(T.script_path);
	T.script_path = NULL;
}

static struct script_ev *script_push(enum ev_kind kind, int line)
{
	T.ev = term_xrealloc(T.ev, (T.nev + 1) * sizeof *T.ev);
	struct script_ev *e = &T.ev[T.nev++];
	memset(e, 0, sizeof *e);
	e->kind = kind;
	e->line = line;
	return e;
}

static char *skip_blanks(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static void trim_right(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int parse_command(char *cmd, const char *path, int lineno, char *err, size_t errsize)
{
	char *p = cmd + 1;
	size_t wl = strcspn(p, " \t");
	char *arg = skip_blanks(p + wl);
	trim_right(arg);
	if (wl == 4 && !strncmp(p, "dump", 4)) {
		if (!*arg) {
			set_err(err, errsize, "%s:%d: :dump needs a file name", path, lineno);
			return -1;
		}
		script_push(EV_DUMP, lineno)->arg = term_xstrdup(arg);
	} else if (wl == 4 && !strncmp(p, "wait", 4)) {
		int n = 1;
		if (*arg) {
			char *end;
			long v = strtol(arg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				set_err(err, errsize, "%s:%d: :wait takes a count from 1 to 100000, found '%s'",
					path, lineno, arg);
				return -1;
			}
			n = (int)v;
		}
		script_push(EV_WAIT, lineno)->a = n;
	} else if (wl == 6 && !strncmp(p, "resize", 6)) {
		int c, r;
		char extra;
		if (sscanf(arg, "%d %d %c", &c, &r, &extra) != 2 || c < 1 || r < 1 || c > 1000 ||
		    r > 1000) {
			set_err(err, errsize, "%s:%d: :resize takes COLUMNS ROWS (e.g. ':resize 100 30'), found '%s'",
				path, lineno, arg);
			return -1;
		}
		struct script_ev *e = script_push(EV_RESIZE, lineno);
		e->a = c;
		e->b = r;
	} else if (wl == 5 && !strncmp(p, "until", 5)) {
		/* A wait on a condition: it ends as soon as the text appears, so the default limit
		 * only has to be far above what a busy machine needs. */
		long ms = 60000;
		if (!strncmp(arg, "-t", 2) && (arg[2] == ' ' || arg[2] == '\t')) {
			char *end;
			double s = strtod(arg + 3, &end);
			if (end == arg + 3 || (*end != ' ' && *end != '\t') || s <= 0 || s > 3600) {
				set_err(err, errsize, "%s:%d: :until -t takes seconds (e.g. ':until -t 30 Done')",
					path, lineno);
				return -1;
			}
			ms = (long)(s * 1000);
			arg = skip_blanks(end);
		}
		if (!*arg) {
			set_err(err, errsize, "%s:%d: :until needs the text to wait for", path, lineno);
			return -1;
		}
		struct script_ev *e = script_push(EV_UNTIL, lineno);
		e->arg = term_xstrdup(arg);
		e->a = (int)ms;
	} else if (wl == 4 && !strncmp(p, "quit", 4)) {
		script_push(EV_QUIT, lineno);
	} else {
		set_err(err, errsize,
			"%s:%d: unknown script command '%.*s' (expected :dump, :wait, :resize, :until or :quit)",
			path, lineno, (int)wl, p);
		return -1;
	}
	return 0;
}

static int parse_keys(const char *s, const char *path, int lineno, char *err, size_t errsize)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		if (s[i] == '<') {
			const char *close = memchr(s + i + 1, '>', n - i - 1);
			if (close && close - (s + i) <= 16) {
				int k = key_from_name(s + i + 1, (size_t)(close - (s + i) - 1));
				if (k >= 0) {
					script_push(EV_KEY, lineno)->key = k;
					i = (size_t)(close - s) + 1;
					continue;
				}
			}
		}
		unsigned cp;
		size_t len = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (!len) {
			set_err(err, errsize, "%s:%d: invalid UTF-8 at column %zu", path, lineno, i + 1);
			return -1;
		}
		script_push(EV_KEY, lineno)->key = normalize_char(cp);
		i += len;
	}
	return 0;
}

static int script_load(const char *path, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		set_err(err, errsize, "cannot read the key script %s: %s", path, strerror(errno));
		return -1;
	}
	T.script_path = term_xstrdup(path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		if (line[0] == ':')
			rc = parse_command(line, path, lineno, err, errsize);
		else
			rc = parse_keys(line, path, lineno, err, errsize);
		if (rc)
			break;
	}
	free(line);
	fclose(f);
	if (rc)
		script_free();
	return rc;
}

static void script_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void script_fail(const char *fmt, ...)
{
	if (T.script_error)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char *screen = term_dump_text();
	size_t n = strlen(msg) + (screen ? strlen(screen) : 0) + 64;
	T.script_error = term_xrealloc(NULL, n);
	snprintf(T.script_error, n, "%s\nThe screen was:\n%s", msg, screen ? screen : "");
	free(screen);
	T.pos = T.nev; /* input ends */
}

/* ====================================================================== curses state */

static void build_reset_sequence(void)
{
	g_reset_len = 0;
	if (T.headless)
		return;
	char buf[sizeof g_reset];
	size_t n = 0;
	const char *caps[] = {"sgr0", "cnorm", "rmkx", NULL, "rmcup"};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		const char *s = NULL;
		if (caps[i]) {
			s = tigetstr(caps[i]);
		} else {
			const char *cup = tigetstr("cup");
			if (cup && cup != (char *)-1)
				s = tiparm(cup, LINES > 0 ? LINES - 1 : 0, 0);
		}
		if (!s || s == (char *)-1)
			continue;
		size_t l = strlen(s);
		if (n + l >= sizeof buf)
			break;
		memcpy(buf + n, s, l);
		n += l;
	}
	/* the handler may run at any time: publish the new length last */
	g_reset_len = 0;
	memcpy(g_reset, buf, n);
	g_reset_len = n;
}

static void init_styles(bool color)
{
	attr_t *s = T.style;
	s[TUI_NORMAL] = A_NORMAL;
	s[TUI_OK] = A_BOLD;
	s[TUI_WARN] = A_BOLD;
	s[TUI_FAIL] = A_BOLD | A_UNDERLINE;
	s[TUI_RUNNING] = A_NORMAL;
	s[TUI_DIM] = A_DIM;
	s[TUI_TITLE] = A_BOLD;
	s[TUI_SELECTED] = A_REVERSE;
	s[TUI_DESTRUCTIVE] = A_REVERSE | A_BOLD;
	s[TUI_KEY] = A_BOLD;
	if (!color)
		return;
	if (start_color() == ERR)
		return;
	short bg = -1;
	if (use_default_colors() == ERR)
		bg = COLOR_BLACK;
	init_pair(1, COLOR_GREEN, bg);
	init_pair(2, COLOR_YELLOW, bg);
	init_pair(3, COLOR_RED, bg);
	init_pair(4, COLOR_CYAN, bg);
	init_pair(5, COLOR_BLACK, COLOR_CYAN);
	init_pair(6, COLOR_WHITE, COLOR_RED);
	s[TUI_OK] = COLOR_PAIR(1);
	s[TUI_WARN] = COLOR_PAIR(2) | A_BOLD;
	s[TUI_FAIL] = COLOR_PAIR(3) | A_BOLD;
	s[TUI_RUNNING] = COLOR_PAIR(4);
	s[TUI_SELECTED] = COLOR_PAIR(5);
	s[TUI_DESTRUCTIVE] = COLOR_PAIR(6) | A_BOLD;
}

attr_t term_style(enum tui_style s)
{
	if ((unsigned)s >= TUI_STYLE_COUNT || !T.open)
		return A_NORMAL;
	return T.style[s];
}

bool term_is_open(void) { return T.open; }
bool term_headless(void) { return T.headless; }
bool term_mono(void) { return T.mono; }
bool term_utf8(void) { return T.utf8; }

void term_size(int *cols, int *rows)
{
	if (cols)
		*cols = T.open ? COLS : 0;
	if (rows)
		*rows = T.open ? LINES : 0;
}

void term_set_crash_note(const char *note)
{
	g_crash_note[0] = '\0';
	if (note)
		snprintf(g_crash_note, sizeof g_crash_note, "%s", note);
}

/* ====================================================================== signals */

static void restore_from_handler(void)
{
	if (!g_in_curses)
		return;
	g_in_curses = 0;
	if (g_tty_fd >= 0) {
		if (g_reset_len) {
			ssize_t r = write(g_tty_fd, g_reset, g_reset_len);
			(void)r;
		}
		if (g_have_tios)
			tcsetattr(g_tty_fd, TCSANOW, &g_tios);
	}
	if (g_saved_stderr >= 0)
		dup2(g_saved_stderr, STDERR_FILENO);
}

static void fatal_handler(int sig)
{
	restore_from_handler();
	if (g_crash_note[0] && sig != SIGINT && sig != SIGTERM && sig != SIGHUP) {
		ssize_t r = write(STDERR_FILENO, g_crash_note, strnlen(g_crash_note, sizeof g_crash_note));
		r = write(STDERR_FILENO, "\n", 1);
		(void)r;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	/* Blocked until this handler returns, then the default action ends the process (a
	 * synchronous fault re-faults with the default action and dumps core as usual). */
	raise(sig);
}

static void winch_handler(int sig)
{
	(void)sig;
	int saved = errno;
	g_winch = 1;
	if (g_sigpipe[1] >= 0) {
		ssize_t r = write(g_sigpipe[1], "w", 1);
		(void)r;
	}
	errno = saved;
}

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = fatal_handler;
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &sa, &T.old_fatal[i]);
	sa.sa_handler = winch_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGWINCH, &sa, &T.old_winch);
	T.handlers = true;
}

static void remove_handlers(void)
{
	if (!T.handlers)
		return;
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &T.old_fatal[i], NULL);
	sigaction(SIGWINCH, &T.old_winch, NULL);
	T.handlers = false;
}

/* ====================================================================== stderr */

static void stderr_to_log(void)
{
	if (T.log_fd < 0)
		return;
	fflush(stderr);
	if (g_saved_stderr < 0)
		g_saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (g_saved_stderr >= 0)
		dup2(T.log_fd, STDERR_FILENO);
}

static void stderr_back(void)
{
	if (g_saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(g_saved_stderr, STDERR_FILENO);
}

static void atexit_hook(void)
{
	term_close();
}

/* ====================================================================== open / close */

static int open_headless(int cols, int rows, char *err, size_t errsize)
{
	T.out = fopen("/dev/null", "we");
	T.in = fopen("/dev/null", "re");
	if (!T.out || !T.in) {
		set_err(err, errsize, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	/* The terminal type only decides escape sequences nobody sees; the dump reads curses'
	 * own screen. Prefer one with colours so the colour code path is the one tested. */
	const char *types[] = {"xterm-256color", "xterm", "vt100", getenv("TERM")};
	for (size_t i = 0; i < sizeof types / sizeof types[0] && !T.sp; i++) {
		if (types[i] && *types[i])
			T.sp = newterm(types[i], T.out, T.in);
	}
	if (!T.sp) {
		set_err(err, errsize, "headless mode: no usable terminfo entry (tried xterm-256color, xterm, vt100)");
		return -1;
	}
	resize_term(rows, cols);
	return 0;
}

static int open_tty(char *err, size_t errsize)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		set_err(err, errsize,
			"not a terminal: the wizard needs a terminal on stdin and stdout; without one, "
			"`certwiz plan` prints the checklist and `certwiz run --answers FILE` runs it");
		return -1;
	}
	const char *term = getenv("TERM");
	if (!term || !*term) {
		set_err(err, errsize, "TERM is not set: cannot tell what the terminal understands");
		return -1;
	}
	g_tty_fd = STDOUT_FILENO;
	g_have_tios = tcgetattr(g_tty_fd, &g_tios) == 0;
	T.sp = newterm(NULL, stdout, stdin);
	if (!T.sp) {
		set_err(err, errsize, "cannot use the terminal type '%s' (no terminfo entry?)", term);
		g_tty_fd = -1;
		g_have_tios = 0;
		return -1;
	}
	return 0;
}

/* Cursor keys in both modes. The terminfo entry names the "application" sequences
 * (ESC O A) that the terminal sends once curses has switched keypad mode on; keys typed
 * before that (right after a resume from Ctrl-Z, or by terminals that ignore the switch)
 * come as ESC [ A and would otherwise arrive as Esc, '[', 'A'. */
static void define_cursor_keys(void)
{
	static const struct {
		const char *seq;
		int key;
	} seqs[] = {
		{"\033[A", KEY_UP},   {"\033[B", KEY_DOWN}, {"\033[C", KEY_RIGHT}, {"\033[D", KEY_LEFT},
		{"\033OA", KEY_UP},   {"\033OB", KEY_DOWN}, {"\033OC", KEY_RIGHT}, {"\033OD", KEY_LEFT},
		{"\033[H", KEY_HOME}, {"\033[F", KEY_END},  {"\033OH", KEY_HOME},  {"\033OF", KEY_END},
		{"\033[1~", KEY_HOME}, {"\033[4~", KEY_END}, {"\033[7~", KEY_HOME}, {"\033[8~", KEY_END},
		{"\033[5~", KEY_PPAGE}, {"\033[6~", KEY_NPAGE}, {"\033[3~", KEY_DC}, {"\033[Z", KEY_BTAB},
	};
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
		if (key_defined(seqs[i].seq) == 0)
			define_key(seqs[i].seq, seqs[i].key);
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n < 1 || n > 1000)
		return def;
	return (int)n;
}

int term_open(const struct term_opts *opts, char *err, size_t errsize)
{
	static const struct term_opts defaults;
	if (!opts)
		opts = &defaults;
	if (T.open) {
		set_err(err, errsize, "the terminal is already open");
		return -1;
	}
	free(T.script_error);
	T.script_error = NULL;
	T.input_eof = false;
	T.qlen = T.qhead = 0;
	T.wait_left = 0;
	T.until_started = false;

	/* LC_ALL from the environment so ncursesw sees UTF-8; numbers stay "C" so libconfig
	 * and printf of numbers do not change with the operator's locale. */
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");
	const char *cs = nl_langinfo(CODESET);
	T.utf8 = cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));

	const char *hl = getenv("CERTWIZ_HEADLESS");
	T.headless = opts->headless || (hl && *hl && strcmp(hl, "0") != 0);
	const char *script = opts->script;
	if (!script) {
		script = getenv("CERTWIZ_SCRIPT");
		if (script && !*script)
			script = NULL;
	}
	if (script && script_load(script, err, errsize))
		return -1;

	if (opts->stderr_log) {
		if (mkdir_parents(opts->stderr_log) < 0) {
			set_err(err, errsize, "cannot create the directory for %s: %s", opts->stderr_log,
				strerror(errno));
			goto fail;
		}
		T.log_fd = open(opts->stderr_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (T.log_fd < 0) {
			set_err(err, errsize, "cannot open %s: %s", opts->stderr_log, strerror(errno));
			goto fail;
		}
		T.log_path = term_xstrdup(opts->stderr_log);
		struct stat st;
		T.log_start = fstat(T.log_fd, &st) == 0 ? st.st_size : 0;
	}

	if (T.headless) {
		int cols = opts->cols > 0 ? opts->cols : env_int("COLUMNS", 80);
		int rows = opts->rows > 0 ? opts->rows : env_int("LINES", 24);
		if (open_headless(cols, rows, err, errsize))
			goto fail;
	} else if (open_tty(err, errsize)) {
		goto fail;
	}
	T.open = true;

	/* From here on curses owns the terminal. */
	cbreak();
	noecho();
	nonl();
	curs_set(0);
	leaveok(stdscr, TRUE);
	set_escdelay(25);
	typeahead(-1); /* finish every update: a dump must see all of it */
	if (opts->ctrl_c_key && g_tty_fd >= 0) {
		struct termios t;
		if (tcgetattr(g_tty_fd, &t) == 0) {
			t.c_cc[VINTR] = _POSIX_VDISABLE;
			tcsetattr(g_tty_fd, TCSANOW, &t);
			def_prog_mode();
		}
	}
	T.inwin = newwin(1, 1, 0, 0);
	keypad(T.inwin, TRUE);
	nodelay(T.inwin, TRUE);
	untouchwin(T.inwin);
	define_cursor_keys();

	const char *nc = getenv("NO_COLOR");
	T.mono = opts->mono || (nc && *nc) || !has_colors();
	init_styles(!T.mono);
	build_reset_sequence();

	if (pipe2(g_sigpipe, O_NONBLOCK | O_CLOEXEC) < 0)
		g_sigpipe[0] = g_sigpipe[1] = -1;
	g_winch = 0;
	g_in_curses = 1;
	install_handlers();
	if (!g_atexit_done) {
		atexit(atexit_hook);
		g_atexit_done = true;
	}
	if (T.log_fd >= 0) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
		dprintf(T.log_fd, "--- certwiz pid %ld, screen up at %s ---\n", (long)getpid(), ts);
		struct stat st;
		T.log_start = fstat(T.log_fd, &st) == 0 ? st.st_size : T.log_start;
	}
	stderr_to_log();
	werase(stdscr);
	return 0;

fail:
	if (T.sp) {
		endwin();
		delscreen(T.sp);
		T.sp = NULL;
	}
	if (T.out)
		fclose(T.out);
	if (T.in)
		fclose(T.in);
	T.out = T.in = NULL;
	if (T.log_fd >= 0)
		close(T.log_fd);
	T.log_fd = -1;
	free(T.log_path);
	T.log_path = NULL;
	script_free();
	return -1;
}

void term_close(void)
{
	if (!T.open)
		return;
	T.open = false;
	if (!isendwin())
		endwin();
	g_in_curses = 0;
	stderr_back();
	remove_handlers();
	if (T.inwin)
		delwin(T.inwin);
	T.inwin = NULL;
	delscreen(T.sp);
	T.sp = NULL;
	if (T.out)
		fclose(T.out);
	if (T.in)
		fclose(T.in);
	T.out = T.in = NULL;
	g_tty_fd = -1;
	g_have_tios = 0;
	g_reset_len = 0;
	for (int i = 0; i < 2; i++) {
		if (g_sigpipe[i] >= 0)
			close(g_sigpipe[i]);
		g_sigpipe[i] = -1;
	}
	if (g_saved_stderr >= 0)
		close(g_saved_stderr);
	g_saved_stderr = -1;
	if (T.log_fd >= 0) {
		struct stat st;
		if (fstat(T.log_fd, &st) == 0 && st.st_size > T.log_start)
			fprintf(stderr, "certwiz: messages from libraries while the screen was up are in %s\n",
				T.log_path);
		close(T.log_fd);
		T.log_fd = -1;
	}
	free(T.log_path);
	T.log_path = NULL;
	if (T.script_error)
		fprintf(stderr, "certwiz: key script: %s", T.script_error);
	script_free();
}

void term_suspend(void)
{
	if (!T.open || isendwin())
		return;
	def_prog_mode();
	endwin();
	g_in_curses = 0;
	stderr_back();
}

void term_resume(void)
{
	if (!T.open || !isendwin())
		return;
	stderr_to_log();
	g_in_curses = 1;
	reset_prog_mode();
	clearok(curscr, TRUE);
	g_winch = 1; /* the size may have changed meanwhile: the next key is KEY_RESIZE */
}

/* ====================================================================== drawing */

void term_want_cursor(WINDOW *w, int y, int x)
{
	if (!w)
		w = stdscr;
	int by, bx;
	getbegyx(w, by, bx);
	T.want_cursor = true;
	T.cur_y = by + y;
	T.cur_x = bx + x;
}

void term_flush(void)
{
	if (!T.open)
		return;
	if (T.want_cursor && T.cur_y < LINES && T.cur_x < COLS) {
		leaveok(stdscr, FALSE);
		wmove(stdscr, T.cur_y, T.cur_x);
		wnoutrefresh(stdscr);
		curs_set(1);
	} else {
		leaveok(stdscr, TRUE);
		wnoutrefresh(stdscr);
		curs_set(0);
	}
	T.want_cursor = false;
	doupdate();
}

void term_redraw(void)
{
	if (T.open)
		clearok(curscr, TRUE);
}

/* Line-drawing characters as a person sees them: Unicode in a UTF-8 locale, ASCII else. */
static const char *acs_text(wchar_t c)
{
	static const struct {
		char vt;
		const char *u, *a;
	} map[] = {
		{'q', "─", "-"}, {'x', "│", "|"}, {'l', "┌", "+"}, {'k', "┐", "+"},
		{'m', "└", "+"}, {'j', "┘", "+"}, {'t', "├", "+"}, {'u', "┤", "+"},
		{'w', "┬", "+"}, {'v', "┴", "+"}, {'n', "┼", "+"}, {'a', "▒", "#"},
		{'0', "█", "#"}, {'`', "◆", "+"}, {'~', "·", "o"}, {'f', "°", "\""},
		{'g', "±", "#"}, {',', "←", "<"}, {'+', "→", ">"}, {'.', "↓", "v"},
		{'-', "↑", "^"}, {'h', "▒", "#"}, {'y', "≤", "<"}, {'z', "≥", ">"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if ((wchar_t)map[i].vt == c)
			return T.utf8 ? map[i].u : map[i].a;
	return NULL;
}

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = term_xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void dump_row(struct sbuf *b, int y, int cols)
{
	size_t keep = b->len;
	for (int x = 0; x < cols;) {
		cchar_t cc;
		wchar_t wch[CCHARW_MAX + 1];
		attr_t attrs = 0;
		short pair = 0;
		int width = 1;
		wch[0] = L' ';
		wch[1] = 0;
		if (mvwin_wch(curscr, y, x, &cc) != ERR)
			getcchar(&cc, wch, &attrs, &pair, NULL);
		const char *acs = (attrs & A_ALTCHARSET) ? acs_text(wch[0]) : NULL;
		if (acs) {
			sb_add(b, acs, strlen(acs));
		} else {
			if (wch[0] == 0)
				wch[0] = L' ';
			int w0 = wcwidth(wch[0]);
			width = w0 > 1 ? w0 : 1;
			for (int i = 0; i < CCHARW_MAX && wch[i]; i++) {
				char mb[MB_LEN_MAX];
				mbstate_t st;
				memset(&st, 0, sizeof st);
				size_t n = wcrtomb(mb, wch[i], &st);
				if (n == (size_t)-1) {
					if (i == 0)
						sb_add(b, "?", 1);
					continue;
				}
				sb_add(b, mb, n);
			}
		}
		if (!(wch[0] == L' ' && !acs))
			keep = b->len;
		x += width;
	}
	b->len = keep;
	sb_add(b, "\n", 1);
}

char *term_dump_text(void)
{
	if (!T.open)
		return NULL;
	struct sbuf b = {0};
	int rows = getmaxy(curscr), cols = getmaxx(curscr);
	for (int y = 0; y < rows; y++)
		dump_row(&b, y, cols);
	if (!b.s)
		sb_add(&b, "", 0);
	return b.s;
}

int term_dump(const char *path)
{
	char *text = term_dump_text();
	if (!text) {
		errno = EBADF;
		return -1;
	}
	FILE *f = fopen(path, "we");
	if (!f) {
		free(text);
		return -1;
	}
	size_t n = strlen(text);
	int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	free(text);
	return rc;
}

bool term_screen_contains(const char *text)
{
	if (!T.open || !text)
		return false;
	bool found = false;
	int rows = getmaxy(curscr), cols = getmaxx(curscr);
	for (int y = 0; y < rows && !found; y++) {
		struct sbuf b = {0};
		dump_row(&b, y, cols);
		found = b.s && strstr(b.s, text);
		free(b.s);
	}
	return found;
}

/* ====================================================================== input */

static void do_resize(int cols, int rows)
{
	resize_term(rows, cols); /* not resizeterm: that would also queue a KEY_RESIZE */
	clearok(curscr, TRUE);
	if (T.inwin)
		untouchwin(T.inwin);
	build_reset_sequence();
}

bool term_check_resize(void)
{
	if (!T.open || !g_winch)
		return false;
	g_winch = 0;
	struct winsize ws;
	if (g_tty_fd >= 0 && ioctl(g_tty_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		do_resize(ws.ws_col, ws.ws_row);
	return true;
}

static void q_push(int k)
{
	if (T.qlen == KEYQ)
		return;
	T.q[(T.qhead + T.qlen) % KEYQ] = k;
	T.qlen++;
}

static int q_pop(void)
{
	int k = T.q[T.qhead];
	T.qhead = (T.qhead + 1) % KEYQ;
	T.qlen--;
	return k;
}

/* Everything curses can give without waiting (it may hold keys in its own buffer that
 * poll() no longer sees). */
static void read_keys(void)
{
	while (T.qlen < KEYQ) {
		wint_t wc;
		int r = wget_wch(T.inwin, &wc);
		if (r == ERR)
			break;
		int k = r == KEY_CODE_YES ? normalize_fkey((int)wc) : normalize_char((unsigned)wc);
		if (k == KEY_RESIZE && T.qlen && T.q[(T.qhead + T.qlen - 1) % KEYQ] == KEY_RESIZE)
			continue;
		q_push(k);
	}
}

static void drain_sigpipe(void)
{
	char buf[64];
	while (g_sigpipe[0] >= 0 && read(g_sigpipe[0], buf, sizeof buf) > 0)
		;
}

static bool fd_readable(int fd, int timeout_ms)
{
	if (fd < 0) {
		if (timeout_ms > 0)
			poll(NULL, 0, timeout_ms);
		return false;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static int script_next(int timeout_ms, int wake_fd)
{
	/* Background work that already reported is seen before the next scripted key, as a
	 * person's next key would be; scripts synchronise with it through :until. */
	if (T.pos < T.nev && T.ev[T.pos].kind != EV_UNTIL && fd_readable(wake_fd, 0))
		return TUI_KEY_WAKE;
	while (T.pos < T.nev) {
		struct script_ev *e = &T.ev[T.pos];
		switch (e->kind) {
		case EV_KEY:
			T.pos++;
			return e->key;
		case EV_DUMP:
			T.pos++;
			if (term_dump(e->arg) < 0)
				script_fail("%s:%d: cannot write the dump %s: %s", T.script_path, e->line,
					    e->arg, strerror(errno));
			continue;
		case EV_WAIT:
			if (!T.wait_left)
				T.wait_left = e->a;
			if (--T.wait_left == 0)
				T.pos++;
			return TUI_KEY_IDLE;
		case EV_RESIZE:
			T.pos++;
			do_resize(e->a, e->b);
			return KEY_RESIZE;
		case EV_QUIT:
			T.pos = T.nev;
			continue;
		case EV_UNTIL:
			if (!T.until_started) {
				T.until_started = true;
				deadline_in(&T.until_deadline, e->a);
			}
			if (term_screen_contains(e->arg)) {
				T.until_started = false;
				T.pos++;
				continue;
			}
			long left = ms_until(&T.until_deadline);
			if (!left) {
				T.until_started = false;
				script_fail("%s:%d: waited %.1f s and \"%s\" did not appear on the screen",
					    T.script_path, e->line, e->a / 1000.0, e->arg);
				return TUI_KEY_EOF;
			}
			long slice = left < 100 ? left : 100;
			if (timeout_ms >= 0 && timeout_ms < slice)
				slice = timeout_ms;
			return fd_readable(wake_fd, (int)slice) ? TUI_KEY_WAKE : TUI_KEY_IDLE;
		}
	}
	return TUI_KEY_EOF;
}

int term_getkey(int timeout_ms)
{
	return term_getkey_fd(timeout_ms, -1);
}

int term_getkey_fd(int timeout_ms, int wake_fd)
{
	if (!T.open)
		return TUI_KEY_EOF;
	if (term_check_resize())
		return KEY_RESIZE;
	if (T.qlen)
		return q_pop();
	if (T.ev || T.script_path)
		return script_next(timeout_ms, wake_fd);
	if (T.headless || T.input_eof)
		return TUI_KEY_EOF;

	struct timespec deadline;
	deadline_in(&deadline, timeout_ms > 0 ? timeout_ms : 0);
	int empty_reads = 0;
	for (;;) {
		struct pollfd p[3];
		int n = 0;
		p[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = g_sigpipe[0], .events = POLLIN};
		if (wake_fd >= 0)
			p[n++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
		int wait = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : (int)ms_until(&deadline);
		int r = poll(p, (nfds_t)n, wait);
		if (r < 0) {
			if (errno != EINTR)
				return TUI_KEY_EOF;
			if (term_check_resize())
				return KEY_RESIZE;
			continue;
		}
		if (p[1].revents) {
			drain_sigpipe();
			if (term_check_resize())
				return KEY_RESIZE;
		}
		if (p[0].revents & POLLIN) {
			read_keys();
			if (T.qlen)
				return q_pop();
			if (++empty_reads > 1000) { /* readable but never a key: input is gone */
				T.input_eof = true;
				return TUI_KEY_EOF;
			}
		} else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			T.input_eof = true;
			return TUI_KEY_EOF;
		}
		if (wake_fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			return TUI_KEY_WAKE;
		if (r == 0 || (timeout_ms >= 0 && ms_until(&deadline) == 0 && !(p[0].revents & POLLIN)))
			return TUI_KEY_IDLE;
	}
}

const char *term_script_error(void)
{
	return T.script_error;
}
