/* tui_demo.c: draws every tui widget, one page each, on an 80x24 screen; driven by hand
 * or by a key script (CERTWIZ_SCRIPT) in headless mode for the golden screen tests.
 *
 *   tui_demo [--page N] [--stderr-log FILE] [--mono] [--ctrl-c-key]
 *
 * Keys: C-n / C-p next / previous page, F1 (or ? outside text fields) help, q quit (with
 * confirmation) outside text fields, e writes a line to stderr (it must not reach the
 * screen), F12 aborts (the terminal must be restored). Page keys are in each hint line. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "term.h"
#include "widgets.h"

enum page { P_LIST, P_CHECKS, P_FORM, P_LOG, P_SERVICES, P_CHECKLIST, P_CONFIRM, P_TYPED, P_HELP, P_VIEWER, P_COUNT };
static const char *const page_names[P_COUNT] = {
	"Deployment type (list)", "Pre-flight (badges)", "Discovery (form)", "Output (log view)",
	"Services and progress", "Phase steps (checklist)", "Confirm dialog", "Typed confirmation",
	"Help overlay", "Text viewer",
};

static struct demo {
	enum page page;
	char msg[256];
	struct tui_list list, checks;
	struct tui_field fields[2];
	int focus;
	struct tui_log log;
	int worker_fd; /* read end of the worker's output pipe; the wake fd */
	pthread_t worker;
	bool worker_running;
	int posted;    /* messages posted, drained only on an idle iteration */
	int appended;
	struct tui_services svc, svc2;
	struct tui_progress prog[3];
	struct tui_checklist steps;
	struct tui_confirm confirm;
	bool confirm_open;
	struct tui_typed_confirm typed;
	bool typed_open;
	struct tui_help help;
	bool help_open;
	struct tui_confirm quit;
	bool quit_open;
	struct tui_viewer viewer;
} D = {.worker_fd = -1};

static const struct tui_help_entry help_entries[] = {
	{NULL, "Moving around"},
	{"Up/Down", "move the selection; PgUp/PgDn move a page"},
	{"Enter", "choose the selected item or accept the form"},
	{"Esc", "go back one screen; nothing is changed by going back"},
	{"C-n / C-p", "next or previous demo page"},
	{NULL, "Everywhere"},
	{"?  F1", "this help; any other key closes it"},
	{"q", "quit (asks first); a run can be resumed later with --resume, because every step "
	      "is written to the journal before and after it runs"},
	{"C-l", "repaint the screen"},
	{NULL, "Log view"},
	{"End", "follow the output again after scrolling up"},
	{NULL, NULL},
};

static const char viewer_text[] =
	"# Regenerating the certificate authority\n"
	"\n"
	"This procedure replaces the CA of an open-source Puppet installation. Every agent "
	"certificate signed by the old CA stops working, so every agent gets a new one "
	"afterwards.\n"
	"\n"
	"# What happens\n"
	"- The puppetserver service is stopped, so nothing signs with the old CA while it is "
	"replaced.\n"
	"- The ssl and ca directories are moved aside (they are in the verified backup).\n"
	"- A new CA is generated and the server gets a new certificate with its dns_alt_names.\n"
	"\n"
	"# Commands\n"
	"$ puppet resource service puppetserver ensure=stopped\n"
	"$ puppetserver ca setup --certname puppet.example.com --subject-alt-names puppet,puppet.example.com\n"
	"\n"
	"If something goes wrong, the backup is restored with certwiz --restore, which puts "
	"back the directories with their owners and modes and checks the SHA-256 manifest.\n"
	"\n"
	"Line 1 of the filler\nLine 2 of the filler\nLine 3 of the filler\nLine 4 of the filler\n"
	"Line 5 of the filler\nLine 6 of the filler\nLine 7 of the filler\nLine 8 of the filler\n"
	"Line 9 of the filler\nLine 10 of the filler\nLine 11 of the filler\nLine 12 of the filler\n"
	"Line 13 of the filler\nLine 14 of the filler\nLine 15 of the filler\nLine 16 of the filler\n"
	"The last line.";

/* ---------------------------------------------------------------- validators */

static bool dns_ok(const char *s, char *bad)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) {
			*bad = *p;
			return false;
		}
	}
	return true;
}

static const char *validate_certname(const char *v, void *ctx)
{
	(void)ctx;
	static char msg[128];
	char bad = 0;
	if (!*v)
		return "a certname is needed";
	if (!dns_ok(v, &bad)) {
		if (bad >= 'A' && bad <= 'Z')
			return "certnames are lower case";
		snprintf(msg, sizeof msg, "only a-z 0-9 . - are allowed (found '%c')", bad);
		return msg;
	}
	return NULL;
}

static const char *validate_alt_names(const char *v, void *ctx)
{
	(void)ctx;
	static char msg[160];
	char buf[256];
	snprintf(buf, sizeof buf, "%s", v);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char bad = 0;
		if (!dns_ok(tok, &bad)) {
			snprintf(msg, sizeof msg, "'%s' is not a DNS name", tok);
			return msg;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- background work */

static void *worker_main(void *arg)
{
	int fd = (int)(long)arg;
	/* output as a command produces it: split anywhere, even inside a UTF-8 character */
	static const char *const chunks[] = {
		"Fetching the CA certif", "icate from puppet.example.com\n",
		"progress  10%\rprogress  50%\rprogress 100%\n", "fingerprint SHA256 \xc3",
		"\xa9t\xc3\xa9 ok\n", "\x1b[32mgreen text without its colour\x1b[0m\n",
		"worker done\n",
	};
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		ssize_t r = write(fd, chunks[i], strlen(chunks[i]));
		(void)r;
	}
	close(fd);
	return NULL;
}

static void worker_start(void)
{
	if (D.worker_running)
		return;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	D.worker_fd = p[0];
	tui_log_printf(&D.log, TUI_DIM, "$ demo-worker --fetch");
	if (pthread_create(&D.worker, NULL, worker_main, (void *)(long)p[1]) != 0) {
		close(p[0]);
		close(p[1]);
		D.worker_fd = -1;
		return;
	}
	D.worker_running = true;
}

/* Drain what the worker wrote; returns true if anything changed. */
static bool worker_drain(void)
{
	if (D.worker_fd < 0)
		return false;
	bool changed = false;
	char buf[256];
	for (;;) {
		ssize_t n = read(D.worker_fd, buf, sizeof buf);
		if (n > 0) {
			tui_log_write(&D.log, TUI_NORMAL, buf, (size_t)n);
			changed = true;
			continue;
		}
		if (n == 0) { /* the worker finished */
			close(D.worker_fd);
			D.worker_fd = -1;
			pthread_join(D.worker, NULL);
			D.worker_running = false;
			tui_log_printf(&D.log, TUI_OK, "exit status 0");
			changed = true;
		}
		break;
	}
	return changed;
}

static bool drain_posted(void)
{
	if (!D.posted)
		return false;
	for (; D.posted; D.posted--)
		tui_log_printf(&D.log, TUI_RUNNING, "posted message drained on an idle iteration");
	return true;
}

/* ---------------------------------------------------------------- set-up */

static void setup(void)
{
	tui_list_init(&D.list);
	tui_list_add(&D.list, "Agent certificates", NULL,
		     "Regenerate the certificate of one agent or of many. The CA stays as it is: "
		     "each agent's old certificate is revoked and cleaned on the CA, the agent "
		     "removes its own copy and asks for a new one, and the CA signs it.\n"
		     "Follows seeds 000 and 001.");
	tui_list_add(&D.list, "Primary server certificate", NULL,
		     "Regenerate the primary server's own certificate, for example to add "
		     "dns_alt_names. Agents keep their certificates.\nFollows seed 004.");
	size_t d = tui_list_add(&D.list, "Whole CA (open source)", "detected on this host",
				"Replace the certificate authority and every certificate it signed: "
				"use this when the CA key may be compromised or the CA expires soon. "
				"Every agent needs a new certificate afterwards.\nFollows seed 002.");
	tui_list_add(&D.list, "Whole CA (PE monolithic)", NULL,
		     "The same for Puppet Enterprise with the master, PuppetDB and the console on "
		     "one host.\nFollows seed 003.");
	size_t s = tui_list_add(&D.list, "Whole CA (PE split)", "needs SSH",
				"The same for PE with the master, PuppetDB and the console on separate "
				"hosts, reached over SSH.");
	D.list.items[s].disabled = true;
	tui_list_select(&D.list, d);

	tui_list_init(&D.checks);
	static const struct {
		enum tui_state st;
		const char *label, *desc;
	} checks[] = {
		{TUI_ST_OK, "Running as root", "certwiz runs as root: it can stop services and read the CA."},
		{TUI_ST_OK, "Free space for the backup: 12.4 GB in /var/backups", "The backup needs 310 MB."},
		{TUI_ST_WARN, "Clock skew against the CA: 3 s", "Under 60 s is fine; more makes new certificates look not yet valid."},
		{TUI_ST_FAIL, "allow-subject-alt-names is off",
		 "The CA refuses certificate requests with alt names.\nFix: set allow-subject-alt-names: true "
		 "in /etc/puppetlabs/puppetserver/conf.d/ca.conf, then: systemctl restart puppetserver"},
		{TUI_ST_RUNNING, "CA reachable on puppet.example.com:8140", "Checking..."},
		{TUI_ST_SKIP, "PuppetDB certificate", "Not installed on this host."},
		{TUI_ST_UNKNOWN, "CRL expiry", "The CRL could not be read: permission denied."},
	};
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		size_t k = tui_list_add(&D.checks, checks[i].label, NULL, checks[i].desc);
		D.checks.items[k].state = checks[i].st;
	}

	tui_field_init(&D.fields[0], "Certname", 253);
	tui_field_init(&D.fields[1], "DNS alt names", 1024);
	for (int i = 0; i < 2; i++)
		D.fields[i].label_w = 16;
	tui_field_set_validator(&D.fields[0], validate_certname, NULL);
	tui_field_set_validator(&D.fields[1], validate_alt_names, NULL);
	tui_field_set(&D.fields[0], "puppet.example.com");
	tui_field_set(&D.fields[1], "puppet, puppet.example.com");
	tui_field_set_hint(&D.fields[0], "the name in the server's certificate");
	tui_field_set_hint(&D.fields[1], "comma-separated; from puppet.conf and the current SAN");
	D.fields[0].focused = true;

	tui_log_init(&D.log, 200);
	static const char *const out[] = {
		"$ puppet resource service puppetserver ensure=stopped\n",
		"Notice: /Service[puppetserver]/ensure: ensure changed 'running' to 'stopped'\n",
		"service { 'puppetserver':\n\tensure => 'stopped',\n}\n",
		"a partial li", "ne joined across writes\n",
		"download  0%\rdownload 37%\rdownload 100%\n",
		"\x1b[1;31mError:\x1b[0m escape sequences are dropped, \x07" "bells too\n",
		"caf\xc3", "\xa9 split UTF-8, invalid \xff byte\n",
		"a very long line that is wider than the log pane and has to be wrapped onto the next "
		"row so nothing is lost: 0123456789 0123456789 0123456789\n",
		"no newline yet...",
	};
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		tui_log_write(&D.log, i == 6 ? TUI_WARN : TUI_NORMAL, out[i], strlen(out[i]));

	tui_services_init(&D.svc, "Services on puppet.example.com");
	struct tui_service_row *r = tui_services_row(&D.svc, "puppetserver");
	*r = (struct tui_service_row){"puppetserver", TUI_SVC_RUNNING, 1234, 8140, 1, 1};
	r = tui_services_row(&D.svc, "puppetdb");
	*r = (struct tui_service_row){"puppetdb", TUI_SVC_STOPPED, 0, 8081, 0, -1};
	r = tui_services_row(&D.svc, "pe-console-services");
	*r = (struct tui_service_row){"pe-console-services", TUI_SVC_STARTING, 4321, 4433, -1, -1};
	r = tui_services_row(&D.svc, "pe-orchestration-services");
	*r = (struct tui_service_row){"pe-orchestration-services", TUI_SVC_FAILED, 0, 8143, 0, 0};
	r = tui_services_row(&D.svc, "puppet");
	r->state = TUI_SVC_UNKNOWN;
	tui_services_init(&D.svc2, "compiler1.example.com");
	r = tui_services_row(&D.svc2, "pe-puppetserver");
	*r = (struct tui_service_row){"pe-puppetserver", TUI_SVC_STOPPING, 999, 8140, 1, 0};
	r = tui_services_row(&D.svc2, "pxp-agent");
	*r = (struct tui_service_row){"pxp-agent", TUI_SVC_RUNNING, 77, 0, -1, -1};
	D.prog[0] = (struct tui_progress){"Agents", 9, 20};
	D.prog[1] = (struct tui_progress){"Backup", 310, 310};
	D.prog[2] = (struct tui_progress){"Unknown total", 3, 0};

	tui_checklist_init(&D.steps);
	static const struct {
		const char *label;
		bool destructive;
		enum tui_step_state st;
	} steps[] = {
		{"Verify the backup", false, TUI_STEP_DONE},
		{"Stop the puppet agent service", false, TUI_STEP_DONE},
		{"Stop puppetserver", false, TUI_STEP_MANUAL},
		{"Stop PuppetDB", false, TUI_STEP_SKIPPED},
		{"Move the ssl directory aside", true, TUI_STEP_FAILED},
		{"Generate a new CA with puppetserver ca setup", true, TUI_STEP_RUNNING},
		{"Start puppetserver", false, TUI_STEP_PENDING},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		size_t k = tui_checklist_add(&D.steps, steps[i].label, steps[i].destructive);
		tui_checklist_set(&D.steps, k, steps[i].st);
	}
	for (int i = 8; i <= 24; i++) {
		char buf[64];
		snprintf(buf, sizeof buf, "Filler step number %d", i);
		tui_checklist_add(&D.steps, buf, false);
	}
	D.steps.cursor = true;
	tui_checklist_select(&D.steps, 5);

	tui_confirm_init(&D.confirm, "Stop puppetserver?",
			 "puppetserver will be stopped on puppet.example.com. Agents cannot get catalogs "
			 "until it is started again at the end of this phase.", false);
	D.confirm_open = true;
	tui_typed_confirm_init(&D.typed, "Remove the old CA",
			       "This moves /etc/puppetlabs/puppet/ssl aside and creates a new CA. Every "
			       "agent certificate stops working until it is regenerated.",
			       "puppet.example.com");
	D.typed_open = true;
	tui_help_init(&D.help, "Keys", help_entries);
	tui_confirm_init(&D.quit, "Quit certwiz?", "Nothing is running. You can come back to this run later.", false);
	tui_viewer_init(&D.viewer);
	D.viewer.markup = true;
	tui_viewer_set(&D.viewer, viewer_text);
}

static void teardown(void)
{
	if (D.worker_running) {
		pthread_join(D.worker, NULL);
		close(D.worker_fd);
	}
	tui_list_done(&D.list);
	tui_list_done(&D.checks);
	tui_field_done(&D.fields[0]);
	tui_field_done(&D.fields[1]);
	tui_log_done(&D.log);
	tui_services_done(&D.svc);
	tui_services_done(&D.svc2);
	tui_checklist_done(&D.steps);
	tui_confirm_done(&D.confirm);
	tui_typed_confirm_done(&D.typed);
	tui_confirm_done(&D.quit);
	tui_viewer_done(&D.viewer);
}

/* ---------------------------------------------------------------- drawing */

static const struct tui_hint hints_list[] = {{"Enter", "choose"}, {"C-n", "next page"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL}};
static const struct tui_hint hints_form[] = {{"Tab", "next field"}, {"Enter", "accept"}, {"C-n", "next page"}, {"F1", "help"}, {NULL, NULL}};
static const struct tui_hint hints_log[] = {{"w", "run worker"}, {"p", "post"}, {"a", "add 50"}, {"Up/Down", "scroll"}, {"End", "follow"}, {"C-n", "next"}, {"q", "quit"}, {NULL, NULL}};
static const struct tui_hint hints_svc[] = {{"s", "cycle state"}, {"+", "progress"}, {"C-n", "next page"}, {"q", "quit"}, {NULL, NULL}};
static const struct tui_hint hints_steps[] = {{"r/d/f", "running/done/failed"}, {"Enter", "choose"}, {"C-n", "next"}, {"q", "quit"}, {NULL, NULL}};
static const struct tui_hint hints_dialog[] = {{"c", "open the dialog again"}, {"C-n", "next page"}, {"q", "quit"}, {NULL, NULL}};
static const struct tui_hint hints_view[] = {{"Up/Down", "scroll"}, {"Space", "page"}, {"C-p", "previous"}, {"q", "quit"}, {NULL, NULL}};

static void draw(void)
{
	werase(stdscr);
	if (tui_too_small(stdscr, 80, 24))
		return;
	char status[64];
	snprintf(status, sizeof status, "page %d of %d", D.page + 1, P_COUNT);
	struct tui_frame f = {.title = page_names[D.page], .status = status};
	switch (D.page) {
	case P_FORM: case P_TYPED: f.hints = hints_form; break;
	case P_LOG: f.hints = hints_log; break;
	case P_SERVICES: f.hints = hints_svc; break;
	case P_CHECKLIST: f.hints = hints_steps; break;
	case P_CONFIRM: f.hints = hints_dialog; break;
	case P_VIEWER: f.hints = hints_view; break;
	default: f.hints = hints_list; break;
	}
	if (D.page == P_TYPED)
		f.destructive = true;
	struct tui_rect in = tui_frame_draw(&f, stdscr, tui_rect_of(stdscr));
	struct tui_rect body = {in.y, in.x, in.h - 2, in.w};
	if (D.msg[0])
		tui_puts(stdscr, in.y + in.h - 1, in.x, in.w, term_style(TUI_DIM), D.msg);
	switch (D.page) {
	case P_LIST:
	case P_HELP:
		tui_puts(stdscr, body.y, body.x, body.w, A_NORMAL, "What do you want to regenerate?");
		tui_list_draw(&D.list, stdscr, (struct tui_rect){body.y + 2, body.x, body.h - 2, body.w});
		if (D.page == P_HELP && D.help_open)
			tui_help_draw(&D.help, stdscr, tui_rect_of(stdscr));
		break;
	case P_CHECKS:
		tui_list_draw(&D.checks, stdscr, body);
		break;
	case P_FORM: {
		tui_wrap_draw(stdscr, (struct tui_rect){body.y, body.x, 2, body.w}, A_NORMAL,
			      "Check what was discovered. Both fields are validated as you type; "
			      "Tab moves between them.");
		for (int i = 0; i < 2; i++) {
			D.fields[i].focused = i == D.focus;
			tui_field_draw(&D.fields[i], stdscr, (struct tui_rect){body.y + 3 + 3 * i, body.x, 2, body.w});
		}
		break;
	}
	case P_LOG:
		tui_log_draw(&D.log, stdscr, body);
		break;
	case P_SERVICES:
		tui_services_draw(&D.svc, stdscr, (struct tui_rect){body.y, body.x, 7, body.w});
		tui_services_draw(&D.svc2, stdscr, (struct tui_rect){body.y + 8, body.x, 4, 38});
		for (int i = 0; i < 3; i++)
			tui_progress_draw(&D.prog[i], stdscr, body.y + 13 + i, body.x, i == 2 ? 40 : body.w);
		tui_badge(stdscr, body.y + 17, body.x, TUI_ST_OK);
		tui_badge(stdscr, body.y + 17, body.x + 7, TUI_ST_WARN);
		tui_badge(stdscr, body.y + 17, body.x + 14, TUI_ST_FAIL);
		tui_badge(stdscr, body.y + 17, body.x + 21, TUI_ST_RUNNING);
		tui_badge(stdscr, body.y + 17, body.x + 28, TUI_ST_SKIP);
		tui_badge(stdscr, body.y + 17, body.x + 35, TUI_ST_UNKNOWN);
		tui_badge(stdscr, body.y + 17, body.x + 42, TUI_ST_NONE);
		break;
	case P_CHECKLIST:
	case P_CONFIRM:
	case P_TYPED:
		tui_checklist_draw(&D.steps, stdscr, body);
		if (D.page == P_CONFIRM && D.confirm_open)
			tui_confirm_draw(&D.confirm, stdscr, tui_rect_of(stdscr));
		if (D.page == P_TYPED && D.typed_open)
			tui_typed_confirm_draw(&D.typed, stdscr, tui_rect_of(stdscr));
		break;
	case P_VIEWER:
		tui_viewer_draw(&D.viewer, stdscr, body);
		break;
	case P_COUNT:
		break;
	}
	if (D.help_open && D.page != P_HELP)
		tui_help_draw(&D.help, stdscr, tui_rect_of(stdscr));
	if (D.quit_open)
		tui_confirm_draw(&D.quit, stdscr, tui_rect_of(stdscr));
}

/* ---------------------------------------------------------------- keys */

static bool typing(void)
{
	return D.page == P_FORM || (D.page == P_TYPED && D.typed_open);
}

static void say(const char *fmt, const char *arg)
{
	snprintf(D.msg, sizeof D.msg, fmt, arg);
}

/* Returns TUI_* flags. */
static int page_key(int k)
{
	int r;
	switch (D.page) {
	case P_LIST:
	case P_HELP:
		if (D.page == P_HELP && D.help_open)
			return tui_help_key(&D.help, k) & TUI_BACK ? (D.help_open = false, TUI_REDRAW) : TUI_REDRAW;
		r = tui_list_key(&D.list, k);
		if (r & TUI_SELECT)
			say("chosen: %s", tui_list_selected(&D.list)->label), r |= TUI_REDRAW;
		return r;
	case P_CHECKS:
		return tui_list_key(&D.checks, k);
	case P_FORM:
		if (k == '\t' || k == KEY_DOWN || k == KEY_BTAB || k == KEY_UP) {
			D.focus = !D.focus;
			return TUI_HANDLED | TUI_REDRAW;
		}
		r = tui_field_key(&D.fields[D.focus], k);
		if (r & TUI_SELECT) {
			if (tui_field_valid(&D.fields[0]) && tui_field_valid(&D.fields[1])) {
				snprintf(D.msg, sizeof D.msg, "accepted: %s [%s]", tui_field_value(&D.fields[0]),
					 tui_field_value(&D.fields[1]));
			} else {
				D.focus = tui_field_valid(&D.fields[0]) ? 1 : 0;
				say("%s", "fix the field marked in red first");
			}
		}
		return r;
	case P_LOG:
		if (k == 'w') {
			worker_start();
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'p') {
			D.posted++;
			snprintf(D.msg, sizeof D.msg, "%d message(s) posted; drained on the next idle iteration", D.posted);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'a') {
			for (int i = 0; i < 50; i++) {
				D.appended++;
				tui_log_printf(&D.log, TUI_NORMAL, "appended line %d", D.appended);
			}
			return TUI_HANDLED | TUI_REDRAW;
		}
		return tui_log_key(&D.log, k);
	case P_SERVICES:
		if (k == 's') {
			struct tui_service_row *s = &D.svc.rows[0];
			s->state = (enum tui_svc_state)((s->state + 1) % (TUI_SVC_FAILED + 1));
			s->port_open = s->state == TUI_SVC_RUNNING ? 1 : s->state == TUI_SVC_STOPPED ? 0 : -1;
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == '+') {
			for (int i = 0; i < 3; i++)
				if (!D.prog[i].total || D.prog[i].done < D.prog[i].total)
					D.prog[i].done++;
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case P_CHECKLIST:
	case P_CONFIRM:
	case P_TYPED:
		if (D.page == P_CONFIRM && D.confirm_open) {
			r = tui_confirm_key(&D.confirm, k);
			if (r & (TUI_SELECT | TUI_BACK)) {
				D.confirm_open = false;
				say("confirm answered: %s", D.confirm.answer == 1 ? "yes" : "no");
			}
			return r;
		}
		if (D.page == P_TYPED && D.typed_open) {
			r = tui_typed_confirm_key(&D.typed, k);
			if (r & (TUI_SELECT | TUI_BACK)) {
				D.typed_open = false;
				say("typed confirmation: %s", D.typed.answer == 1 ? "confirmed" : "cancelled");
			}
			return r;
		}
		if (k == 'c' && D.page != P_CHECKLIST) {
			if (D.page == P_CONFIRM) {
				D.confirm.answer = -1;
				D.confirm.on_yes = false;
				D.confirm_open = true;
			} else {
				D.typed.answer = -1;
				tui_field_set(&D.typed.field, "");
				D.typed_open = true;
			}
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (D.page == P_CHECKLIST && (k == 'r' || k == 'd' || k == 'f')) {
			tui_checklist_set(&D.steps, D.steps.sel,
					  k == 'r' ? TUI_STEP_RUNNING : k == 'd' ? TUI_STEP_DONE : TUI_STEP_FAILED);
			return TUI_HANDLED | TUI_REDRAW;
		}
		r = tui_checklist_key(&D.steps, k);
		if (r & TUI_SELECT)
			say("step: %s", D.steps.items[D.steps.sel].label), r |= TUI_REDRAW;
		return r;
	case P_VIEWER:
		return tui_viewer_key(&D.viewer, k);
	case P_COUNT:
		break;
	}
	return TUI_UNHANDLED;
}

/* Returns false to quit. */
static bool handle_key(int k, bool *redraw)
{
	if (k == KEY_RESIZE) {
		*redraw = true;
		return true;
	}
	if (k == TUI_KEY_IDLE || k == TUI_KEY_WAKE) {
		/* the main loop's idle work: drain the worker's output and posted messages */
		bool a = worker_drain(), b = k == TUI_KEY_IDLE && drain_posted();
		*redraw |= a || b;
		return true;
	}
	if (D.quit_open) {
		int r = tui_confirm_key(&D.quit, k);
		if (r & TUI_SELECT)
			return false;
		if (r & TUI_BACK)
			D.quit_open = false;
		*redraw = true;
		return true;
	}
	if (D.help_open && D.page != P_HELP) {
		if (tui_help_key(&D.help, k) & TUI_BACK)
			D.help_open = false;
		*redraw = true;
		return true;
	}
	if (k == TUI_KEY_CTRL('n') || k == TUI_KEY_CTRL('p')) {
		D.page = (enum page)((D.page + (k == TUI_KEY_CTRL('n') ? 1 : P_COUNT - 1)) % P_COUNT);
		D.msg[0] = '\0';
		D.help_open = D.page == P_HELP;
		*redraw = true;
		return true;
	}
	if (k == TUI_KEY_CTRL('l')) {
		term_redraw();
		*redraw = true;
		return true;
	}
	if (k == KEY_F(12))
		abort();
	int r = page_key(k);
	if (r) {
		*redraw |= (r & TUI_REDRAW) != 0;
		return true;
	}
	if (k == KEY_F(1) || (k == '?' && !typing())) {
		D.help_open = true;
		*redraw = true;
	} else if (k == 'q' && !typing()) {
		D.quit.answer = -1;
		D.quit.on_yes = false;
		D.quit_open = true;
		*redraw = true;
	} else if (k == 'e' && !typing()) {
		fprintf(stderr, "tui_demo: library noise on stderr must not reach the screen\n");
		say("%s", "wrote a line to stderr");
		*redraw = true;
	} else if (k == TUI_KEY_CTRL('c')) {
		say("%s", "Ctrl-C arrived as a key (press q to quit)");
		*redraw = true;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct term_opts opts = {0};
	int page = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--page") && i + 1 < argc)
			page = atoi(argv[++i]) - 1;
		else if (!strcmp(argv[i], "--stderr-log") && i + 1 < argc)
			opts.stderr_log = argv[++i];
		else if (!strcmp(argv[i], "--mono"))
			opts.mono = true;
		else if (!strcmp(argv[i], "--ctrl-c-key"))
			opts.ctrl_c_key = true;
		else {
			fprintf(stderr, "usage: %s [--page N] [--stderr-log FILE] [--mono] [--ctrl-c-key]\n", argv[0]);
			return 2;
		}
	}
	if (page < 0 || page >= P_COUNT)
		page = 0;
	char err[512];
	if (term_open(&opts, err, sizeof err) < 0) {
		fprintf(stderr, "tui_demo: %s\n", err);
		return 2;
	}
	term_set_crash_note("tui_demo crashed; the terminal was restored.");
	setup();
	D.page = (enum page)page;
	D.help_open = D.page == P_HELP;
	bool redraw = true;
	for (;;) {
		if (redraw) {
			draw();
			term_flush();
			redraw = false;
		}
		int k = term_getkey_fd(-1, D.worker_fd);
		if (k == TUI_KEY_EOF)
			break;
		if (!handle_key(k, &redraw))
			break;
	}
	term_close();
	teardown();
	return term_script_error() ? 1 : 0;
}
