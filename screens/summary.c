/* summary.c: screen 8: how the run ended and what changed (old and new fingerprints, as the
 * journal recorded them, and the new expiries), what was skipped and why, every sign-off,
 * where the report and the backups are, and what to do next. The run is closed here
 * (exec_close writes report.md and report.json). */
#include "screens.h"

#include <stdlib.h>
#include <string.h>

#include "facts.h"
#include "journal.h"
#include "util.h"

struct summary {
	struct tui_viewer v;
	bool built;
	bool closing;
	bool close_tried;   /* once: a failure is reported, quitting tries again */
};

static const struct tui_help_entry help[] = {
	{NULL, "Summary"},
	{"Up/Down", "scroll; PgUp/PgDn a page"},
	{"Enter", "leave certwiz (the run is closed and its report written)"},
	{NULL, NULL},
};

static const char *step_title(const struct plan *p, const char *id)
{
	for (size_t i = 0; id && i < p->nsteps; i++)
		if (strcmp(p->steps[i].id, id) == 0)
			return p->steps[i].title;
	return id ? id : "?";
}

/* A SHA-256 fingerprint (95 characters) in two halves, so it does not wrap mid-byte. */
static void fingerprint(struct strbuf *sb, const char *label, const char *fp, const char *note)
{
	size_t n = strlen(fp);
	if (n > 48 && fp[47] == ':')
		strbuf_addf(sb, "    %-6s  %.47s\n            %s%s%s\n", label, fp, fp + 48, *note ? "  " : "", note);
	else
		strbuf_addf(sb, "    %-6s  %s%s%s\n", label, fp, *note ? "  " : "", note);
}

/* old:/new: facts of the journal, paired. */
static void what_changed(struct app *a, struct strbuf *sb, const struct facts *now)
{
	char *jpath = xasprintf("%s/journal.jsonl", exec_run_dir(a->ex));
	struct journal_log log = {0};
	struct cw_error err = {0};
	if (journal_load(jpath, &log, &err) != CW_OK) {
		strbuf_addf(sb, "The journal could not be read: %s\n", err.msg);
		free(jpath);
		return;
	}
	free(jpath);
	bool any = false;
	/* the CA first, then each certificate as the journal met it */
	for (int pass = 0; pass < 2; pass++)
	for (size_t i = 0; i < log.n; i++) {
		const struct journal_entry *e = &log.entries[i];
		if (e->event != JE_FACT || !e->key || strncmp(e->key, "old:", 4) != 0)
			continue;
		if ((strcmp(e->key, "old:ca") == 0) != (pass == 0))
			continue;
		const char *what = e->key + 4;
		const char *after = NULL;
		for (size_t k = i + 1; k < log.n; k++) {
			const struct journal_entry *n = &log.entries[k];
			if (n->event == JE_FACT && n->key && strncmp(n->key, "new:", 4) == 0 && strcmp(n->key + 4, what) == 0)
				after = n->value;
		}
		any = true;
		const char *colon = strchr(what, ':');
		if (strcmp(what, "ca") == 0)
			strbuf_adds(sb, "- the CA certificate\n");
		else if (colon)
			strbuf_addf(sb, "- %.*s: %s\n", (int)(colon - what), what, colon + 1);
		else
			strbuf_addf(sb, "- %s\n", what);
		bool changed = after && e->value && strcmp(after, e->value) != 0;
		fingerprint(sb, "before", e->value ? e->value : "(none)", "");
		fingerprint(sb, "after", after ? after : "(not read)", after && !changed ? "UNCHANGED" : "");
		const struct x509_info *c = NULL;
		if (now && after && strcmp(after, now->cacert.fingerprint) == 0)
			c = &now->cacert;
		else if (now && after && now->has_hostcert && strcmp(after, now->hostcert.fingerprint) == 0)
			c = &now->hostcert;
		if (c) {
			char exp[64];
			app_expiry((long)c->not_after, exp, sizeof exp);
			strbuf_addf(sb, "    expires %s\n", exp);
		}
	}
	if (!any)
		strbuf_adds(sb, "No certificate fingerprint was recorded before the run.\n");
	journal_log_done(&log);
}

static const char *next_steps(const char *procedure)
{
	if (strcmp(procedure, "agent") == 0)
		return "- Each agent has its new certificate and runs again on its normal schedule (runinterval, "
		       "30 minutes by default).\n"
		       "- On the CA, puppetserver ca list --all shows the new certificates.\n"
		       "- Keep the backups until every agent has run cleanly, then delete them: they hold private keys.\n";
	if (strcmp(procedure, "primary") == 0)
		return "- The agents keep their certificates: the server's new one is signed by the same CA.\n"
		       "- Run puppet agent --test on one agent to see it connect without SSL errors.\n"
		       "- Keep the backup until then, then delete it: it holds the old private key.\n";
	return "- Every agent that was not in this run still has a certificate from the old CA and cannot "
	       "connect. Regenerate them: certwiz --procedure agent --agents NAME,... (or on each agent delete "
	       "its ssldir and run puppet agent --test, then on the CA: puppetserver ca list and puppetserver "
	       "ca sign --certname NAME).\n"
	       "- Agents that were in this run pick up changes at their next run (runinterval, 30 minutes by "
	       "default).\n"
	       "- Keep the backups safe, then delete them: they hold the old CA's private key.\n";
}

static void build(struct app *a, struct summary *s)
{
	struct strbuf sb;
	strbuf_init(&sb);
	if (!a->ex) {
		strbuf_adds(&sb, "# Nothing ran\nThe run was never opened: nothing changed on any host.\n");
		tui_viewer_set(&s->v, sb.buf);
		strbuf_done(&sb);
		s->built = true;
		return;
	}
	const struct plan *p = a->w->plan;
	const char *outcome = a->outcome ? a->outcome : "ended";
	size_t signed_n = 0, skipped = 0, failed = 0, open = 0;
	for (size_t i = 0; i < p->nsteps; i++) {
		enum step_state st = exec_result(a->ex, i)->state;
		signed_n += st == STEP_SIGNED || st == STEP_MANUAL_DONE;
		skipped += st == STEP_SKIPPED;
		failed += st == STEP_FAILED || st == STEP_HOST_FAILED;
		open += st == STEP_PENDING || st == STEP_DONE || st == STEP_RUNNING;
	}
	strbuf_adds(&sb, "# Outcome\n");
	if (strcmp(outcome, "completed") == 0)
		strbuf_addf(&sb, "Completed: %zu step%s verified and signed off%s.\n", signed_n, signed_n == 1 ? "" : "s",
			    skipped ? ", some skipped (below)" : "");
	else
		strbuf_addf(&sb, "The run %s: %zu step%s signed off, %zu failed or not run, %zu skipped, %zu never "
			    "reached.\n", outcome, signed_n, signed_n == 1 ? "" : "s", failed, skipped, open);
	strbuf_addf(&sb, "%s on %s; profile %s; operator %s.\n", p->procedure_title, p->hosts[0].name, p->profile,
		    a->operator_name);

	struct facts now;
	struct cw_error err = {0};
	bool have_now = facts_discover(a->w->site.root, a->w->profile, &now, &err) == CW_OK;
	strbuf_adds(&sb, "\n# What changed\n");
	what_changed(a, &sb, have_now ? &now : NULL);
	if (have_now)
		facts_done(&now);

	strbuf_adds(&sb, "\n# Skipped\n");
	if (!skipped)
		strbuf_adds(&sb, "Nothing was skipped.\n");
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct step_result *r = exec_result(a->ex, i);
		if (r->state == STEP_SKIPPED)
			strbuf_addf(&sb, "- %zu. %s: skipped by %s: %s\n", i + 1, p->steps[i].title, r->who ? r->who : "?",
				    r->note ? r->note : "");
	}
	if (failed || open) {
		strbuf_adds(&sb, "\n# Not finished\n");
		for (size_t i = 0; i < p->nsteps; i++) {
			const struct step_result *r = exec_result(a->ex, i);
			const char *what = r->state == STEP_FAILED ? "FAILED"
					 : r->state == STEP_HOST_FAILED ? "not run"
					 : r->state == STEP_DONE ? "done, not signed off"
					 : r->state == STEP_PENDING ? "not reached" : NULL;
			if (!what)
				continue;
			strbuf_addf(&sb, "- %zu. %s: %s%s%s\n", i + 1, p->steps[i].title, what, r->detail ? ": " : "",
				    r->detail ? r->detail : "");
			if (r->state == STEP_FAILED && p->steps[i].undo)
				strbuf_addf(&sb, "    undo: %s\n", p->steps[i].undo);
		}
	}
	strbuf_adds(&sb, "\n# Sign-offs\n");
	if (!signed_n)
		strbuf_adds(&sb, "No step was signed off.\n");
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct step_result *r = exec_result(a->ex, i);
		if (r->state != STEP_SIGNED && r->state != STEP_MANUAL_DONE)
			continue;
		char when[32];
		time_iso8601(r->signed_at, when);
		strbuf_addf(&sb, "- %zu. %s: %s by %s at %s%s%s\n", i + 1, step_title(p, p->steps[i].id),
			    r->state == STEP_MANUAL_DONE ? "done by hand" : "signed off", r->who ? r->who : "?", when,
			    r->note && *r->note ? ": " : "", r->note && *r->note ? r->note : "");
	}
	strbuf_adds(&sb, "\n# Backups\n");
	bool any_backup = false;
	for (size_t h = 0; h < p->nhosts; h++) {
		const struct backup_result *b = exec_backup(a->ex, h);
		if (!b->archive)
			continue;
		any_backup = true;
		strbuf_addf(&sb, "- %s: %s (%s)\n    manifest %s\n", p->hosts[h].name, b->archive,
			    exec_backup_verified(a->ex, h) ? "verified" : "NOT verified", b->manifest ? b->manifest : "?");
	}
	if (!any_backup)
		strbuf_adds(&sb, "No backup was written.\n");
	strbuf_adds(&sb, "\n# Report\n");
	if (a->closed)
		strbuf_addf(&sb, "- %s/report.md (the change record; also report.json)\n- %s/journal.jsonl (every step, "
			    "as it happened)\n", exec_run_dir(a->ex), exec_run_dir(a->ex));
	if (a->closed && a->w->site.report_dir)
		strbuf_addf(&sb, "- a copy of both in %s\n", a->w->site.report_dir);
	if (!a->closed)
		strbuf_addf(&sb, "- not written yet: the journal is %s/journal.jsonl\n", exec_run_dir(a->ex));
	strbuf_adds(&sb, "\n# What to do next\n");
	if (strcmp(outcome, "completed") != 0 && strcmp(outcome, "rolled back") != 0)
		strbuf_adds(&sb, "- The run did not finish: see Not finished above; each failed step's undo hint is "
				 "there and in the report. To put a host back as it was, stop its Puppet services and "
				 "restore its archive (above), then check it against the manifest.\n");
	if (strcmp(outcome, "rolled back") == 0)
		strbuf_adds(&sb, "- Every host with a backup is back as it was before the run. Read the report to see "
				 "which step failed, fix the cause, then run certwiz again.\n");
	else
		strbuf_adds(&sb, next_steps(p->procedure));
	tui_viewer_set(&s->v, sb.buf);
	strbuf_done(&sb);
	s->built = true;
}

static void close_done(struct app *a, struct app_job *j)
{
	a->closed = j->status == CW_OK; /* else quitting tries again */
	if (j->status)
		app_error(a, "The report could not be written", &j->err);
	struct summary *s = a->priv[SCR_SUMMARY];
	if (s) {
		s->closing = false;
		build(a, s);
	}
}

static void start_close(struct app *a, struct summary *s)
{
	if (!a->ex || a->closed || s->closing || s->close_tried || app_busy(a))
		return;
	s->close_tried = true;
	struct app_job j = {.kind = JOB_CLOSE, .outcome = xstrdup(a->outcome ? a->outcome : "ended"), .done = close_done};
	if (app_job_start(a, &j))
		s->closing = true;
}

static void init(struct app *a)
{
	struct summary *s = a->priv[SCR_SUMMARY];
	if (!s) {
		s = a->priv[SCR_SUMMARY] = xcalloc(1, sizeof *s);
		tui_viewer_init(&s->v);
		s->v.markup = true;
	}
	start_close(a, s);
	if (!s->closing)
		build(a, s);
}

static const struct tui_hint hints[] = {
	{"PgDn/PgUp", "scroll"}, {"Enter", "leave certwiz"}, {"?", "help"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	(void)a;
	return hints;
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct summary *s = a->priv[SCR_SUMMARY];
	const char *outcome = a->outcome ? a->outcome : "ended";
	bool good = strcmp(outcome, "completed") == 0;
	if (s->closing) {
		tui_printf(w, r.y, r.x, r.w, term_style(TUI_RUNNING), "Writing the report%s", tui_glyph(TUI_G_ELLIPSIS));
		return;
	}
	tui_printf(w, r.y, r.x, r.w, term_style(good ? TUI_OK : TUI_FAIL), "%s The run %s.",
		   tui_glyph(good ? TUI_G_CHECK : TUI_G_CROSS), a->ex ? outcome : "never started");
	tui_viewer_draw(&s->v, w, (struct tui_rect){r.y + 1, r.x, r.h - 1, r.w});
}

static int key(struct app *a, int k)
{
	struct summary *s = a->priv[SCR_SUMMARY];
	if (k == TUI_KEY_WAKE || k == TUI_KEY_IDLE) {
		start_close(a, s);
		return TUI_UNHANDLED;
	}
	if (k == '\n') {
		if (s->closing) {
			app_notice(a, "Wait: the report is being written");
			return TUI_HANDLED | TUI_REDRAW;
		}
		a->quit = true;
		return TUI_HANDLED;
	}
	return tui_viewer_key(&s->v, k);
}

static void done(struct app *a)
{
	struct summary *s = a->priv[SCR_SUMMARY];
	tui_viewer_done(&s->v);
	free(s);
	a->priv[SCR_SUMMARY] = NULL;
}

const struct screen screen_summary = {
	.name = "summary",
	.title = "Summary",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
