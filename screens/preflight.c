/* preflight.c: screen 4: the pre-flight checks (ok / warn / fail, and the fix for each one
 * that is not ok; the plan's blockers count as failures), then the backup of the CA host:
 * the run is opened (exec_open), the plan's backup steps run and are read back against their
 * manifests, and the operator signs them off. Nothing destructive can run before that (core
 * refuses it too: CW_EBACKUP). */
#include "screens.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

enum { PROMPT_NOTE = 1 };

struct preflight {
	struct tui_list list;
	unsigned gen;           /* plan_gen the list shows, 0: none */
	bool have_list;
	size_t nok, nwarn, nfail;
	bool blocked;
	size_t *backup;         /* the CA host's backup steps */
	size_t finished_base;   /* a->steps_finished when the backup started */
	size_t nbackup;
	bool confirm_open;
	struct tui_confirm confirm;
	size_t nblockers;       /* list items before the checks */
	bool trust_open;        /* the host key question is up */
	size_t trust;           /* which a->offers it is about */
	struct tui_confirm trust_confirm;
	char **accepted;        /* "HOST FINGERPRINT" the operator accepted, for the journal once it opens */
	struct app_prompt prompt;
};

static const struct tui_help_entry help[] = {
	{NULL, "Pre-flight and backup"},
	{"Up/Down", "select a check; the pane under the list says what was found and, when it is not ok, "
		    "exactly what fixes it"},
	{"Enter", "back up the CA host now (only the backup directory is written), then sign the "
		  "verified backup off and go on to the plan review"},
	{"n", "sign the backup off with a note"},
	{"r", "retry a backup that failed"},
	{"c", "run the checks again (after fixing something in another terminal)"},
	{"t", "on an ssh check whose host key is unknown: show the key's fingerprint and, if you "
	      "accept it, add it to known_hosts (a changed key is never offered)"},
	{NULL, NULL},
};

enum bstate { B_NOT_STARTED, B_RUNNING, B_FAILED, B_TO_SIGN, B_SIGNED };

static enum bstate backup_state(const struct app *a, const struct preflight *s)
{
	if (app_busy(a) && a->job.kind == JOB_OPEN_BACKUP)
		return B_RUNNING;
	if (!a->ex)
		return B_NOT_STARTED;
	bool all_signed = true, all_done = true;
	for (size_t i = 0; i < s->nbackup; i++) {
		enum step_state st = exec_result(a->ex, s->backup[i])->state;
		if (st == STEP_FAILED)
			return B_FAILED;
		all_signed = all_signed && (st == STEP_SIGNED || st == STEP_SKIPPED || st == STEP_MANUAL_DONE);
		all_done = all_done && (st == STEP_DONE || st == STEP_SIGNED);
	}
	if (all_signed)
		return B_SIGNED;
	return all_done ? B_TO_SIGN : B_NOT_STARTED;
}

static void build_list(struct app *a, struct preflight *s)
{
	tui_list_clear(&s->list);
	s->nok = s->nwarn = s->nfail = 0;
	s->blocked = false;
	const struct plan *p = a->w->plan;
	for (size_t i = 0; p && p->blockers && p->blockers[i]; i++) {
		char *desc = xasprintf("The plan cannot run: %s", p->blockers[i]);
		char *label = xasprintf("plan blocked: %s", p->blockers[i]);
		size_t k = tui_list_add(&s->list, label, NULL, desc);
		free(desc);
		free(label);
		s->list.items[k].state = TUI_ST_FAIL;
		s->nfail++;
		s->blocked = true;
	}
	s->nblockers = s->list.n;
	const struct check_report *r = &a->checks;
	for (size_t i = 0; a->have_checks && i < r->n; i++) {
		const struct check_item *it = &r->items[i];
		char *label = xasprintf("%s: %s", it->name, it->found ? it->found : "");
		char *desc = it->fix ? xasprintf("Found: %s\nFix: %s", it->found, it->fix) : xasprintf("Found: %s", it->found);
		size_t k = tui_list_add(&s->list, label, NULL, desc);
		free(label);
		free(desc);
		s->list.items[k].state = it->level == LEVEL_OK ? TUI_ST_OK : it->level == LEVEL_WARN ? TUI_ST_WARN : TUI_ST_FAIL;
		if (it->level == LEVEL_OK)
			s->nok++;
		else if (it->level == LEVEL_WARN)
			s->nwarn++;
		else
			s->nfail++;
	}
	/* The plan's own warnings, unless a check already said the same. */
	for (size_t i = 0; p && p->warnings && p->warnings[i]; i++) {
		bool dup = false;
		for (size_t k = 0; a->have_checks && k < r->n && !dup; k++)
			dup = r->items[k].found && strcmp(r->items[k].found, p->warnings[i]) == 0;
		if (dup)
			continue;
		char *label = xasprintf("plan: %s", p->warnings[i]);
		char *desc = xasprintf("Found: %s", p->warnings[i]);
		size_t k = tui_list_add(&s->list, label, NULL, desc);
		free(label);
		free(desc);
		s->list.items[k].state = TUI_ST_WARN;
		s->nwarn++;
	}
	size_t sel = 0;
	bool found = false;
	for (size_t i = 0; i < s->list.n && !found; i++)
		if (s->list.items[i].state == TUI_ST_FAIL) {
			sel = i;
			found = true;
		}
	for (size_t i = 0; i < s->list.n && !found; i++)
		if (s->list.items[i].state == TUI_ST_WARN) {
			sel = i;
			found = true;
		}
	s->list.top = 0;
	tui_list_select(&s->list, sel);
	s->have_list = a->have_checks;
	s->gen = a->plan_gen;
}

static void checks_done(struct app *a, struct app_job *j)
{
	check_report_done(&a->checks);
	a->checks = j->checks;
	memset(&j->checks, 0, sizeof j->checks);
	hostkey_offers_free(a->offers, a->noffers);
	a->offers = j->offers;
	a->noffers = j->noffers;
	j->offers = NULL;
	j->noffers = 0;
	a->have_checks = j->status == CW_OK;
	a->checks_gen = j->gen;
	if (j->status)
		app_error(a, "The checks could not run", &j->err);
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	if (s)
		build_list(a, s);
}

static void start_checks(struct app *a)
{
	struct app_job j = {.kind = JOB_CHECKS, .gen = a->plan_gen, .done = checks_done};
	app_job_start(a, &j);
}

/* The offer behind the selected list item (an "ssh HOST" check whose key is unknown), or SIZE_MAX. */
static size_t selected_offer(const struct app *a, const struct preflight *s)
{
	size_t sel = s->list.sel;
	if (!a->have_checks || sel < s->nblockers || sel - s->nblockers >= a->checks.n)
		return SIZE_MAX;
	const char *name = a->checks.items[sel - s->nblockers].name;
	for (size_t i = 0; name && strncmp(name, "ssh ", 4) == 0 && i < a->noffers; i++)
		if (strcmp(a->offers[i].host, name + 4) == 0)
			return i;
	return SIZE_MAX;
}

static void ask_trust(struct app *a, struct preflight *s, size_t i)
{
	const struct hostkey_offer *o = &a->offers[i];
	char text[1024];
	snprintf(text, sizeof text,
		 "%s offers a host key that is not in %s:\n\n  %s\n\nCompare it with the host's own, read on the "
		 "host itself or from its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). Accept it "
		 "only if they are the same: certwiz then adds it to %s and trusts it from now on.",
		 o->host, o->known_hosts, o->fp, o->known_hosts);
	tui_confirm_done(&s->trust_confirm);
	tui_confirm_init(&s->trust_confirm, "Trust this host key?", text, false);
	s->trust = i;
	s->trust_open = true;
}

static void trust(struct app *a, struct preflight *s)
{
	const struct hostkey_offer *o = &a->offers[s->trust];
	struct cw_error err = {0};
	if (ssh_known_hosts_add(o->known_hosts, o->host, o->port, o->key, o->keylen, &err) != CW_OK) {
		app_error(a, "The host key was not added", &err);
		return;
	}
	app_log(a, TUI_OK, "host key of %s (%s) accepted by %s, added to %s", o->host, o->fp, a->operator_name,
		o->known_hosts);
	strv_push_owned(&s->accepted, xasprintf("%s\t%s added to %s", o->host, o->fp, o->known_hosts));
	a->have_checks = false;
	start_checks(a);
}

static void find_backups(struct app *a, struct preflight *s)
{
	free(s->backup);
	s->backup = NULL;
	s->nbackup = 0;
	const struct plan *p = a->w->plan;
	for (size_t i = 0; p && i < p->nsteps; i++)
		if (p->steps[i].kind == STEP_BACKUP && p->steps[i].host == 0) {
			s->backup = xrealloc(s->backup, (s->nbackup + 1) * sizeof *s->backup);
			s->backup[s->nbackup++] = i;
		}
}

static void init(struct app *a)
{
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	if (!s) {
		s = a->priv[SCR_PREFLIGHT] = xcalloc(1, sizeof *s);
		tui_list_init(&s->list);
		tui_confirm_init(&s->confirm, "", "", false);
		tui_confirm_init(&s->trust_confirm, "", "", false);
	}
	find_backups(a, s);
	if ((!a->have_checks || a->checks_gen != a->plan_gen) && !app_busy(a))
		start_checks(a);
	build_list(a, s);
}

static bool checks_running(const struct app *a)
{
	return app_busy(a) && a->job.kind == JOB_CHECKS;
}

static const struct tui_hint hints_start[] = {
	{"Enter", "back up now"}, {"Up/Down", "checks"}, {"c", "check again"}, {"Esc", "back"}, {"?", "help"},
	{"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_start_hostkey[] = {
	{"Enter", "back up now"}, {"t", "trust host key"}, {"c", "check again"}, {"Esc", "back"}, {"?", "help"},
	{"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_sign[] = {
	{"Enter", "sign off"}, {"n", "sign off with a note"}, {"Up/Down", "checks"}, {"?", "help"}, {"q", "quit"},
	{NULL, NULL},
};
static const struct tui_hint hints_failed[] = {
	{"r", "retry the backup"}, {"Up/Down", "checks"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_go[] = {
	{"Enter", "plan review"}, {"Up/Down", "checks"}, {"Esc", "back"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_wait[] = {
	{"Up/Down", "checks"}, {"?", "help"}, {"q", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_dialog[] = {
	{"y", "yes"}, {"n", "no"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	if (s->confirm_open || s->trust_open || s->prompt.open)
		return hints_dialog;
	if (a->read_only)
		return hints_go;
	if (checks_running(a))
		return hints_wait;
	switch (backup_state(a, s)) {
	case B_NOT_STARTED: return a->noffers ? hints_start_hostkey : hints_start;
	case B_RUNNING: return hints_wait;
	case B_FAILED: return hints_failed;
	case B_TO_SIGN: return hints_sign;
	case B_SIGNED: return hints_go;
	}
	return hints_wait;
}

static void draw_backup(struct app *a, struct preflight *s, WINDOW *w, struct tui_rect r)
{
	int y = r.y, end = r.y + r.h;
	const struct plan *p = a->w->plan;
	const char *host = p ? p->hosts[0].name : "?";
	if (a->read_only) {
		tui_puts(w, y++, r.x, r.w, term_style(TUI_TITLE), "Backup and run: not available");
		y += tui_wrap_draw(w, (struct tui_rect){y, r.x, 4, r.w}, term_style(TUI_WARN), app_read_only_reason(a));
		if (y < end)
			tui_puts(w, end - 1, r.x, r.w, A_NORMAL, "Enter goes on to the plan review (read-only).");
		return;
	}
	tui_printf(w, y++, r.x, r.w, term_style(TUI_TITLE), "Backup of %s, before anything changes", host);
	struct strbuf paths;
	strbuf_init(&paths);
	for (size_t i = 0; i < s->nbackup; i++)
		for (size_t k = 0; p->steps[s->backup[i]].backup_paths && p->steps[s->backup[i]].backup_paths[k]; k++)
			strbuf_addf(&paths, "%s%s", paths.len ? ", " : "", p->steps[s->backup[i]].backup_paths[k]);
	char *line = xasprintf("Archives %s into %s (with owners, modes and a SHA-256 manifest).",
			       paths.len ? paths.buf : "nothing (no backup step in this plan)", a->w->site.backup_dir);
	strbuf_done(&paths);
	int rows = tui_wrap_draw(w, (struct tui_rect){y, r.x, 2, r.w}, A_NORMAL, line);
	y += rows > 2 ? 2 : rows;
	free(line);
	enum bstate bs = backup_state(a, s);
	size_t done = 0;
	if (bs == B_RUNNING) /* the worker writes the results: count what it reported */
		done = a->steps_finished - s->finished_base;
	for (size_t i = 0; bs != B_RUNNING && a->ex && i < s->nbackup; i++) {
		enum step_state st = exec_result(a->ex, s->backup[i])->state;
		done += st == STEP_DONE || st == STEP_SIGNED;
	}
	struct tui_progress pr = {"Backup", done, s->nbackup ? s->nbackup : 1};
	if (!s->nbackup && a->ex)
		pr.done = 1;
	tui_progress_draw(&pr, w, y++, r.x, r.w);
	/* what the backup saw: the archive written, then read back against its manifest */
	const struct backup_result *b = a->ex && bs != B_RUNNING ? exec_backup(a->ex, 0) : NULL;
	if (b && b->archive && y < end - 1) {
		int x = tui_puts(w, y, r.x, 2, term_style(TUI_OK), tui_glyph(TUI_G_CHECK));
		x += tui_puts(w, y, r.x + x + 1, r.w - x - 1, A_NORMAL, "written ") + 1;
		tui_puts(w, y++, r.x + x, r.w - x, A_NORMAL, b->archive);
	}
	if (b && b->archive && b->verified && y < end - 1) {
		int x = tui_puts(w, y, r.x, 2, term_style(TUI_OK), tui_glyph(TUI_G_CHECK));
		tui_printf(w, y++, r.x + x + 1, r.w - x - 1, A_NORMAL,
			   "read back: %zu files, %llu bytes, every one matches the SHA-256 manifest", b->files,
			   (unsigned long long)b->bytes);
	}
	for (size_t i = 0; a->ex && bs == B_FAILED && i < s->nbackup && y < end - 1; i++) {
		const struct step_result *res = exec_result(a->ex, s->backup[i]);
		for (size_t k = 0; res->checks && res->checks[k] && y < end - 1; k++) {
			if (strncmp(res->checks[k], "FAIL ", 5) != 0)
				continue;
			int x = tui_puts(w, y, r.x, 2, term_style(TUI_FAIL), tui_glyph(TUI_G_CROSS));
			tui_puts(w, y++, r.x + x + 1, r.w - x - 1, A_NORMAL, res->checks[k] + 5);
		}
	}
	char msg[1200];
	enum tui_style style = TUI_NORMAL;
	switch (bs) {
	case B_NOT_STARTED:
		if (checks_running(a))
			snprintf(msg, sizeof msg, "Wait for the checks, then Enter backs up %s.", host);
		else if (s->blocked)
			snprintf(msg, sizeof msg, "The plan is blocked (see the checks): fix that first.");
		else
			snprintf(msg, sizeof msg, "Enter backs up %s now. Nothing else changes.", host);
		break;
	case B_RUNNING:
		snprintf(msg, sizeof msg, "%s%s", a->progress ? a->progress : "Working", tui_glyph(TUI_G_ELLIPSIS));
		style = TUI_RUNNING;
		break;
	case B_FAILED: {
		const struct step_result *res = NULL;
		for (size_t i = 0; i < s->nbackup && !res; i++)
			if (exec_result(a->ex, s->backup[i])->state == STEP_FAILED)
				res = exec_result(a->ex, s->backup[i]);
		snprintf(msg, sizeof msg, "%s The backup failed: %s  (r retries)", tui_glyph(TUI_G_CROSS),
			 res && res->detail ? res->detail : "?");
		style = TUI_FAIL;
		break;
	}
	case B_TO_SIGN:
		snprintf(msg, sizeof msg, "%s Verified. Enter signs the backup off as %s (n: with a note).",
			 tui_glyph(TUI_G_CHECK), a->operator_name);
		style = TUI_OK;
		break;
	case B_SIGNED:
		snprintf(msg, sizeof msg, "%s Backup verified and signed off. Enter goes on to the plan review.",
			 tui_glyph(TUI_G_CHECK));
		style = TUI_OK;
		break;
	}
	tui_puts(w, end - 1, r.x, r.w, term_style(style), msg);
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	int y = r.y;
	if (checks_running(a) || !a->have_checks) {
		tui_printf(w, y, r.x, r.w, term_style(TUI_RUNNING), "%s%s",
			   a->progress ? a->progress : "Running the pre-flight checks", tui_glyph(TUI_G_ELLIPSIS));
	} else {
		int x = tui_printf(w, y, r.x, r.w, term_style(TUI_TITLE), "%zu checks: ", s->list.n);
		x += tui_printf(w, y, r.x + x, r.w - x, term_style(TUI_OK), "%zu ok", s->nok);
		x += tui_printf(w, y, r.x + x, r.w - x, s->nwarn ? term_style(TUI_WARN) : A_NORMAL, ", %zu warning%s",
				s->nwarn, s->nwarn == 1 ? "" : "s");
		x += tui_printf(w, y, r.x + x, r.w - x, s->nfail ? term_style(TUI_FAIL) : A_NORMAL, ", %zu failed", s->nfail);
		if (s->nfail || s->nwarn)
			tui_puts(w, y, r.x + x, r.w - x, A_NORMAL, "  (the pane below says how to fix)");
	}
	y++;
	int backup_h = 8;
	int list_h = r.h - 1 - backup_h - 1;
	s->list.desc_rows = 4;
	tui_list_draw(&s->list, w, (struct tui_rect){y, r.x, list_h, r.w});
	y += list_h;
	tui_hline(w, y++, r.x, r.w, term_style(TUI_DIM));
	draw_backup(a, s, w, (struct tui_rect){y, r.x, r.y + r.h - y, r.w});
	if (s->confirm_open)
		tui_confirm_draw(&s->confirm, w, r);
	if (s->trust_open)
		tui_confirm_draw(&s->trust_confirm, w, r);
	app_prompt_draw(&s->prompt, w, r);
}

static void backup_done(struct app *a, struct app_job *j)
{
	if (j->opened) {
		a->ex = j->opened;
		j->opened = NULL;
		char note[1024];
		snprintf(note, sizeof note, "certwiz stopped; the terminal was restored. The run can go on without a "
			 "screen: certwiz resume %s", exec_run_dir(a->ex));
		term_set_crash_note(note);
		/* The host keys the operator accepted go into the run's record. */
		struct preflight *s = a->priv[SCR_PREFLIGHT];
		for (size_t i = 0; s && s->accepted && s->accepted[i]; i++) {
			char *tab = strchr(s->accepted[i], '\t');
			*tab = '\0';
			struct cw_error err = {0};
			if (exec_record(a->ex, s->accepted[i], "hostkey-accepted", tab + 1, &err))
				app_error(a, "The accepted host key was not journaled", &err);
		}
		if (s) {
			strv_free(s->accepted);
			s->accepted = NULL;
		}
	}
	if (j->status)
		app_error(a, a->ex ? "The backup failed" : "The run could not start", &j->err);
}

/* What the operator chose on the screens, as an answers file beside the runs: exec_open
 * records its path, so `certwiz resume RUNDIR` rebuilds the same plan after a crash.
 * Destructive steps still need confirm_destructive = true there to run without a screen. */
static char *write_answers(struct app *a)
{
	char *path = NULL;
	if (wizard_write_answers(a->w, "wizard", a->operator_name,
				 "# The choices made in the certwiz wizard, for `certwiz resume` of its run.\n"
				 "# Destructive steps run without a screen only with: confirm_destructive = true;\n",
				 &path, NULL))
		return NULL; /* resume then needs the choices again; the run itself does not */
	return path;
}

static void start_backup(struct app *a, struct preflight *s)
{
	app_log(a, TUI_TITLE, "Backup of %s (pre-flight)", a->w->plan->hosts[0].name);
	s->finished_base = a->steps_finished;
	struct app_job j = {.kind = JOB_OPEN_BACKUP, .done = backup_done, .gen = a->plan_gen};
	if (!a->ex)
		j.answers = write_answers(a);
	if (s->nbackup) {
		j.backup_steps = xmalloc(s->nbackup * sizeof *j.backup_steps);
		memcpy(j.backup_steps, s->backup, s->nbackup * sizeof *j.backup_steps);
		j.nbackup = s->nbackup;
	}
	app_job_start(a, &j);
}

static void sign(struct app *a, struct preflight *s, const char *note)
{
	for (size_t i = 0; i < s->nbackup; i++) {
		if (exec_result(a->ex, s->backup[i])->state != STEP_DONE)
			continue;
		struct cw_error err = {0};
		if (exec_sign_off(a->ex, s->backup[i], note, &err) != CW_OK) {
			app_error(a, "The sign-off was not recorded", &err);
			return;
		}
		app_log(a, TUI_OK, "step %zu signed off by %s%s%s", s->backup[i] + 1, a->operator_name,
			note && *note ? ": " : "", note && *note ? note : "");
	}
}

static int key(struct app *a, int k)
{
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE) {
		if ((!a->have_checks || a->checks_gen != a->plan_gen) && !app_busy(a))
			start_checks(a);
		return TUI_UNHANDLED;
	}
	if (s->prompt.open) {
		int r = app_prompt_key(&s->prompt, k);
		if (r & TUI_SELECT) {
			char *note = xstrdup(tui_field_value(&s->prompt.field));
			app_prompt_close(&s->prompt);
			sign(a, s, note);
			free(note);
		} else if (r & TUI_BACK) {
			app_prompt_close(&s->prompt);
		}
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (s->trust_open) {
		int r = tui_confirm_key(&s->trust_confirm, k);
		if (r & (TUI_SELECT | TUI_BACK))
			s->trust_open = false;
		if ((r & TUI_SELECT) && s->trust < a->noffers && !app_busy(a))
			trust(a, s);
		else if (r & TUI_BACK)
			app_notice(a, "The host key was not accepted; nothing was changed");
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (s->confirm_open) {
		int r = tui_confirm_key(&s->confirm, k);
		if (r & (TUI_SELECT | TUI_BACK))
			s->confirm_open = false;
		if (r & TUI_SELECT)
			start_backup(a, s);
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (k == KEY_UP || k == KEY_DOWN || k == KEY_PPAGE || k == KEY_NPAGE || k == KEY_HOME || k == KEY_END ||
	    k == 'j' || k == 'k')
		return tui_list_key(&s->list, k) | TUI_HANDLED;
	if (k == 'c') {
		if (app_busy(a)) {
			app_notice(a, "Wait: %s", a->progress ? a->progress : "certwiz is working");
			return TUI_HANDLED | TUI_REDRAW;
		}
		a->have_checks = false;
		start_checks(a);
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (a->read_only)
		return k == '\n' ? TUI_HANDLED | TUI_NEXT : TUI_UNHANDLED;
	if (k == 't' && !checks_running(a)) {
		size_t i = selected_offer(a, s);
		if (i == SIZE_MAX)
			app_notice(a, "t: select an ssh check whose host key is unknown");
		else
			ask_trust(a, s, i);
		return TUI_HANDLED | TUI_REDRAW;
	}
	if (checks_running(a)) {
		if (k == '\n') {
			app_notice(a, "Wait: the checks are still running");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	}
	enum bstate bs = backup_state(a, s);
	switch (bs) {
	case B_NOT_STARTED:
		if (k != '\n')
			return TUI_UNHANDLED;
		if (s->blocked) {
			app_message(a, "The plan is blocked",
				    "The plan cannot run until the blocked item in the list is fixed (the pane under the "
				    "list says how). Fix it, then press c to check again; nothing has changed.");
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (s->nfail) {
			char text[512];
			snprintf(text, sizeof text,
				 "%zu check%s failed (marked FAIL; the pane under the list says how to fix each). The "
				 "run will probably fail too. Back up and go on anyway?",
				 s->nfail, s->nfail == 1 ? "" : "s");
			tui_confirm_done(&s->confirm);
			tui_confirm_init(&s->confirm, "Go on despite failed checks?", text, false);
			s->confirm_open = true;
			return TUI_HANDLED | TUI_REDRAW;
		}
		start_backup(a, s);
		return TUI_HANDLED | TUI_REDRAW;
	case B_RUNNING:
		if (k == '\n') {
			app_notice(a, "Wait: the backup is running");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case B_FAILED:
		if (k == 'r') {
			start_backup(a, s);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == '\n') {
			app_notice(a, "The backup failed: r retries it, q quits");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case B_TO_SIGN:
		if (k == '\n') {
			sign(a, s, NULL);
			return TUI_HANDLED | TUI_REDRAW;
		}
		if (k == 'n') {
			app_prompt_open(&s->prompt, PROMPT_NOTE, "Sign off the backup",
					"Your note goes into the journal and the report with your sign-off.", "Note", false);
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_UNHANDLED;
	case B_SIGNED:
		return k == '\n' ? TUI_HANDLED | TUI_NEXT : TUI_UNHANDLED;
	}
	return TUI_UNHANDLED;
}

static void done(struct app *a)
{
	struct preflight *s = a->priv[SCR_PREFLIGHT];
	tui_list_done(&s->list);
	tui_confirm_done(&s->confirm);
	tui_confirm_done(&s->trust_confirm);
	strv_free(s->accepted);
	app_prompt_close(&s->prompt);
	free(s->backup);
	free(s);
	a->priv[SCR_PREFLIGHT] = NULL;
}

const struct screen screen_preflight = {
	.name = "preflight",
	.title = "Pre-flight and backup",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
