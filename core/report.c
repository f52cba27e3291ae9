/* report.c: the change record of a run (Markdown and JSON) from its journal: what ran where,
 * how it ended, who signed it off, the certificates before and after, the backups. */
#include "report.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model: everything borrowed from the journal_log, which outlives it ---- */

struct rstep {
	const char *id, *host, *title, *command;
	bool started, finished;
	int exit_code;
	const char *verify_outcome, *verify_detail;
	const char *fail_reason;   /* why the step failed (the step-finish note), NULL when it did not */
	const char *sign_who, *sign_note;
	long sign_time;
	const char *status;
};

struct rpair {
	const char *name, *host; /* the key without "old." / "new." */
	const char *old_value, *new_value;
};

struct rbackup {
	const char *host, *path, *outcome, *note;
	long time;
};

struct model {
	const char *procedure, *profile, *operator;
	char **hosts; /* strv */
	long start, end;
	const char *outcome;
	size_t sessions;
	struct rstep *steps;
	size_t nsteps;
	struct rpair *pairs;
	size_t npairs;
	const struct journal_entry **facts; /* not old./new. */
	size_t nfacts;
	const struct journal_entry **skips, **manuals, **rollbacks;
	size_t nskips, nmanuals, nrollbacks;
	struct rbackup *backups;
	size_t nbackups;
};

#define PUSH(arr, n, item)                                                                         \
	do {                                                                                       \
		(arr) = xrealloc((arr), ((n) + 1) * sizeof *(arr));                                \
		(arr)[(n)++] = (item);                                                             \
	} while (0)

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void model_done(struct model *m)
{
	strv_free(m->hosts);
	free(m->steps);
	free(m->pairs);
	free(m->facts);
	free(m->skips);
	free(m->manuals);
	free(m->rollbacks);
	free(m->backups);
	memset(m, 0, sizeof *m);
}

static struct rstep *step_get(struct model *m, const struct journal_entry *e)
{
	for (size_t i = 0; i < m->nsteps; i++)
		if (same(m->steps[i].id, e->step) && (same(m->steps[i].host, e->host) || !e->host))
			return &m->steps[i];
	struct rstep s = { .id = e->step, .host = e->host, .status = "not run" };
	PUSH(m->steps, m->nsteps, s);
	return &m->steps[m->nsteps - 1];
}

static void add_host(struct model *m, const char *h)
{
	if (h && *h && !strv_contains(m->hosts, h))
		strv_push(&m->hosts, h);
}

/* The one place private key material is stopped: a report is refused outright. */
static cw_status check_keys(const struct journal_log *log, struct cw_error *err)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct journal_entry *e = &log->entries[i];
		const struct {
			const char *name, *value;
		} fields[] = {
			{ "step", e->step },       { "host", e->host },       { "outcome", e->outcome },
			{ "who", e->who },         { "note", e->note },       { "title", e->title },
			{ "command", e->command }, { "key", e->key },         { "value", e->value },
			{ "procedure", e->procedure }, { "profile", e->profile }, { "hosts", e->hosts },
			{ "path", e->path },
		};
		for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
			if (fields[k].value &&
			    journal_text_has_private_key(fields[k].value, strlen(fields[k].value)))
				return cw_error_set(err, CW_EINVAL,
						    "journal entry %zu (%s) holds a PEM private key in its "
						    "%s: refusing to write a report",
						    i + 1, journal_event_str(e->event), fields[k].name);
	}
	return CW_OK;
}

static void add_fact(struct model *m, const struct journal_entry *e)
{
	if (!e->key)
		return;
	bool is_old = strncmp(e->key, "old.", 4) == 0, is_new = strncmp(e->key, "new.", 4) == 0;
	if (!is_old && !is_new) {
		PUSH(m->facts, m->nfacts, e);
		return;
	}
	const char *name = e->key + 4;
	struct rpair *p = NULL;
	for (size_t i = 0; i < m->npairs; i++)
		if (strcmp(m->pairs[i].name, name) == 0 && same(m->pairs[i].host, e->host))
			p = &m->pairs[i];
	if (!p) {
		struct rpair np = { .name = name, .host = e->host };
		PUSH(m->pairs, m->npairs, np);
		p = &m->pairs[m->npairs - 1];
	}
	if (is_old)
		p->old_value = e->value;
	else
		p->new_value = e->value;
}

static void add_backup(struct model *m, const struct journal_entry *e)
{
	add_host(m, e->host);
	for (size_t i = 0; i < m->nbackups; i++)
		if (same(m->backups[i].host, e->host) && same(m->backups[i].path, e->path)) {
			/* created, then verified: the latest word counts */
			if (e->outcome)
				m->backups[i].outcome = e->outcome;
			if (e->note)
				m->backups[i].note = e->note;
			m->backups[i].time = e->time;
			return;
		}
	struct rbackup b = { .host = e->host, .path = e->path, .outcome = e->outcome,
			     .note = e->note, .time = e->time };
	PUSH(m->backups, m->nbackups, b);
}

static cw_status model_build(const struct journal_log *log, struct model *m, struct cw_error *err)
{
	memset(m, 0, sizeof *m);
	cw_status st = check_keys(log, err);
	if (st != CW_OK)
		return st;
	if (log->n == 0)
		return cw_error_set(err, CW_EINVAL, "the journal is empty: nothing to report");
	m->start = log->entries[0].time;
	m->end = 0;
	bool have_start = false;
	for (size_t i = 0; i < log->n; i++) {
		const struct journal_entry *e = &log->entries[i];
		switch (e->event) {
		case JE_RUN_START:
			m->sessions++;
			if (!have_start) {
				m->start = e->time;
				have_start = true;
			}
			if (!m->procedure)
				m->procedure = e->procedure;
			if (!m->profile)
				m->profile = e->profile;
			if (!m->operator)
				m->operator = e->who;
			if (e->hosts) {
				char **hs = strv_split(e->hosts, ',');
				for (size_t k = 0; hs && hs[k]; k++)
					add_host(m, hs[k]);
				strv_free(hs);
			}
			if (e->key)
				add_fact(m, e);
			break;
		case JE_RUN_END:
			m->end = e->time;
			m->outcome = e->outcome;
			break;
		case JE_BACKUP:
			add_backup(m, e);
			break;
		case JE_FACT:
			add_host(m, e->host);
			add_fact(m, e);
			break;
		case JE_ROLLBACK:
			PUSH(m->rollbacks, m->nrollbacks, e);
			if (e->step) {
				struct rstep *s = step_get(m, e);
				s->status = "rolled back";
			}
			break;
		case JE_STEP_START:
		case JE_STEP_FINISH:
		case JE_STEP_VERIFY:
		case JE_SIGNOFF:
		case JE_SKIP:
		case JE_MANUAL_DONE: {
			if (!e->step)
				break;
			add_host(m, e->host);
			struct rstep *s = step_get(m, e);
			if (!s->host)
				s->host = e->host;
			if (e->event == JE_STEP_START) {
				/* a new attempt (after a resume): what the earlier one said is void */
				s->started = true;
				s->finished = false;
				s->verify_outcome = s->verify_detail = NULL;
				s->fail_reason = NULL;
				s->sign_who = s->sign_note = NULL;
				s->sign_time = 0;
				if (e->title)
					s->title = e->title;
				if (e->command)
					s->command = e->command;
				s->status = "interrupted";
			} else if (e->event == JE_STEP_FINISH) {
				s->finished = true;
				s->exit_code = e->exit_code;
				bool failed = e->exit_code != 0 || (e->outcome && strcmp(e->outcome, "fail") == 0);
				s->fail_reason = failed && e->note && *e->note ? e->note : NULL;
				s->status = failed ? "failed" : "not signed off";
			} else if (e->event == JE_STEP_VERIFY) {
				s->verify_outcome = e->outcome;
				s->verify_detail = e->note;
			} else {
				s->sign_who = e->who;
				s->sign_note = e->note;
				s->sign_time = e->time;
				if (e->title && !s->title)
					s->title = e->title;
				if (e->event == JE_SIGNOFF)
					s->status = "signed off";
				else if (e->event == JE_SKIP) {
					s->status = "skipped";
					PUSH(m->skips, m->nskips, e);
				} else {
					s->status = "done by hand";
					PUSH(m->manuals, m->nmanuals, e);
				}
			}
			break;
		}
		default:
			break;
		}
	}
	return CW_OK;
}

static const char *time_str(long t, char buf[32])
{
	if (t <= 0)
		return "";
	return time_iso8601(t, buf);
}

/* ---- Markdown ---- */

/* A table cell: escape what would end the cell or the row, or turn text into markup. */
static void md_cell(struct strbuf *sb, const char *s)
{
	strbuf_adds(sb, " ");
	if (!s || !*s) {
		strbuf_adds(sb, "—");
	} else {
		for (; *s; s++) {
			switch (*s) {
			case '|':
				strbuf_adds(sb, "\\|");
				break;
			case '\\':
				strbuf_adds(sb, "\\\\");
				break;
			case '*':
			case '_':
			case '`':
				strbuf_addf(sb, "\\%c", *s);
				break;
			case '<':
				strbuf_adds(sb, "&lt;");
				break;
			case '\r':
				if (s[1] != '\n')
					strbuf_adds(sb, "<br>");
				break;
			case '\n':
				strbuf_adds(sb, "<br>");
				break;
			default:
				strbuf_add(sb, s, 1);
			}
		}
	}
	strbuf_adds(sb, " |");
}

static void md_row_start(struct strbuf *sb)
{
	strbuf_adds(sb, "|");
}

static void md_header(struct strbuf *sb, const char *const *cols)
{
	strbuf_adds(sb, "|");
	size_t n = 0;
	for (; cols[n]; n++)
		strbuf_addf(sb, " %s |", cols[n]);
	strbuf_adds(sb, "\n|");
	for (size_t i = 0; i < n; i++)
		strbuf_adds(sb, " --- |");
	strbuf_adds(sb, "\n");
}

static void md_kv(struct strbuf *sb, const char *k, const char *v)
{
	strbuf_addf(sb, "| %s |", k);
	md_cell(sb, v);
	strbuf_adds(sb, "\n");
}

/* A section of journal entries: step, host, who, when, and their note. */
static void entry_table(struct strbuf *out, const char *title, const char *who_col, const char *note_col,
			const struct journal_entry *const *entries, size_t n)
{
	if (!n)
		return;
	char t1[32];
	strbuf_addf(out, "\n## %s\n\n", title);
	const char *const cols[] = {"Step", "Host", who_col, "When", note_col, NULL};
	md_header(out, cols);
	for (size_t i = 0; i < n; i++) {
		const struct journal_entry *e = entries[i];
		md_row_start(out);
		md_cell(out, e->step);
		md_cell(out, e->host);
		md_cell(out, e->who);
		md_cell(out, time_str(e->time, t1));
		md_cell(out, e->note);
		strbuf_adds(out, "\n");
	}
}

static bool backup_verified(const struct rbackup *b)
{
	return b->outcome && (strcmp(b->outcome, "verified") == 0 || strcmp(b->outcome, "ok") == 0);
}

/* ---- each agent's outcome: its steps are those whose id ends in @AGENT ---- */

struct ragent {
	const char *name;
	char *outcome;    /* heap */
	const char *backup;
};

static const char *left_out_note(const struct model *m, const char *agent)
{
	const char *v = NULL;
	for (size_t i = 0; i < m->nfacts; i++)
		if (m->facts[i]->key && strcmp(m->facts[i]->key, "left-out") == 0 && same(m->facts[i]->host, agent))
			v = m->facts[i]->value;
	return v;
}

/* Heap array of the agents in step order; *n their count. */
static struct ragent *agents_of(const struct model *m, size_t *n)
{
	struct ragent *v = NULL;
	*n = 0;
	for (size_t i = 0; i < m->nsteps; i++) {
		const char *at = m->steps[i].id ? strchr(m->steps[i].id, '@') : NULL;
		bool seen = false;
		for (size_t k = 0; at && k < *n; k++)
			seen = seen || strcmp(v[k].name, at + 1) == 0;
		if (at && !seen) {
			struct ragent a = {.name = at + 1};
			PUSH(v, *n, a);
		}
	}
	for (size_t k = 0; k < *n; k++) {
		struct ragent *a = &v[k];
		size_t total = 0, fine = 0, skipped = 0;
		const struct rstep *failed = NULL, *open = NULL;
		size_t failed_no = 0;
		for (size_t i = 0; i < m->nsteps; i++) {
			const struct rstep *s = &m->steps[i];
			const char *at = s->id ? strchr(s->id, '@') : NULL;
			if (!at || strcmp(at + 1, a->name) != 0)
				continue;
			total++;
			if (same(s->status, "signed off") || same(s->status, "done by hand"))
				fine++;
			else if (same(s->status, "skipped") && !same(s->sign_who, "certwiz"))
				skipped++;
			else if (same(s->status, "failed") && !failed) {
				failed = s;
				failed_no = i + 1;
			} else if (!open && !same(s->status, "skipped"))
				open = s;
		}
		for (size_t b = 0; b < m->nbackups; b++)
			if (same(m->backups[b].host, a->name))
				a->backup = m->backups[b].path;
		const char *left = left_out_note(m, a->name);
		if (left)
			a->outcome = xasprintf("left out: %s", left);
		else if (failed)
			a->outcome = xasprintf("FAILED at step %zu (%s): %s", failed_no, failed->id,
					       failed->fail_reason ? failed->fail_reason : "see the step");
		else if (fine + skipped == total)
			a->outcome = skipped ? xasprintf("done (%zu of %zu steps skipped)", skipped, total) : xstrdup("done");
		else
			a->outcome = xasprintf("not finished (%zu of %zu steps done; next: %s)", fine, total,
					       open ? open->id : "?");
	}
	return v;
}

static void agents_free(struct ragent *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k].outcome);
	free(v);
}

static void markdown(const struct model *m, struct strbuf *out)
{
	char t1[32], buf[64];
	strbuf_adds(out, "# certwiz change record\n\n");
	strbuf_adds(out, "| | |\n| --- | --- |\n");
	md_kv(out, "Procedure", m->procedure);
	md_kv(out, "Profile", m->profile);
	md_kv(out, "Operator", m->operator);
	char *hosts = strv_join(m->hosts, ", ");
	md_kv(out, "Hosts", hosts);
	free(hosts);
	md_kv(out, "Started", time_str(m->start, t1));
	md_kv(out, "Ended", m->end ? time_str(m->end, t1) : "not ended");
	md_kv(out, "Outcome", m->outcome ? m->outcome : "incomplete (the run has not ended)");
	if (m->sessions > 1) {
		snprintf(buf, sizeof buf, "%zu (resumed %zu times)", m->sessions, m->sessions - 1);
		md_kv(out, "Sessions", buf);
	}

	strbuf_adds(out, "\n## Steps\n\n");
	if (!m->nsteps) {
		strbuf_adds(out, "No step was run.\n");
	} else {
		static const char *const cols[] = { "#", "Step", "Title", "Host", "Command", "Exit",
						    "Verification", "Status", "Signed off by", "When",
						    "Note", NULL };
		md_header(out, cols);
		for (size_t i = 0; i < m->nsteps; i++) {
			const struct rstep *s = &m->steps[i];
			strbuf_addf(out, "| %zu |", i + 1);
			md_cell(out, s->id);
			md_cell(out, s->title);
			md_cell(out, s->host);
			md_cell(out, s->command);
			if (s->finished)
				snprintf(buf, sizeof buf, "%d", s->exit_code);
			else
				buf[0] = '\0';
			md_cell(out, buf);
			/* A failed step says why: its reason, then what the checks saw. */
			char *ver = NULL;
			const char *detail = s->verify_detail && *s->verify_detail ? s->verify_detail : NULL;
			if (s->verify_outcome && s->fail_reason && detail)
				ver = xasprintf("%s: %s\n%s", s->verify_outcome, s->fail_reason, detail);
			else if (s->verify_outcome && (s->fail_reason || detail))
				ver = xasprintf("%s: %s", s->verify_outcome, s->fail_reason ? s->fail_reason : detail);
			md_cell(out, ver ? ver : s->verify_outcome);
			free(ver);
			md_cell(out, s->status);
			md_cell(out, s->sign_who);
			md_cell(out, time_str(s->sign_time, t1));
			md_cell(out, s->sign_note);
			strbuf_adds(out, "\n");
		}
	}

	size_t nagents;
	struct ragent *agents = agents_of(m, &nagents);
	if (nagents) {
		strbuf_adds(out, "\n## Agents\n\n");
		static const char *const cols[] = { "Agent", "Outcome", "Backup", NULL };
		md_header(out, cols);
		for (size_t k = 0; k < nagents; k++) {
			md_row_start(out);
			md_cell(out, agents[k].name);
			md_cell(out, agents[k].outcome);
			md_cell(out, agents[k].backup);
			strbuf_adds(out, "\n");
		}
	}
	agents_free(agents, nagents);
	entry_table(out, "Skipped steps", "Skipped by", "Reason", m->skips, m->nskips);
	entry_table(out, "Manual steps", "Done by", "Note", m->manuals, m->nmanuals);
	if (m->npairs) {
		strbuf_adds(out, "\n## Certificates and CA: before → after\n\n");
		static const char *const cols[] = { "What", "Host", "Before", "After", NULL };
		md_header(out, cols);
		for (size_t i = 0; i < m->npairs; i++) {
			const struct rpair *p = &m->pairs[i];
			md_row_start(out);
			md_cell(out, p->name);
			md_cell(out, p->host);
			md_cell(out, p->old_value);
			md_cell(out, p->new_value);
			strbuf_adds(out, "\n");
		}
	}
	if (m->nfacts) {
		strbuf_adds(out, "\n## Facts\n\n");
		static const char *const cols[] = { "Key", "Host", "Value", NULL };
		md_header(out, cols);
		for (size_t i = 0; i < m->nfacts; i++) {
			md_row_start(out);
			md_cell(out, m->facts[i]->key);
			md_cell(out, m->facts[i]->host);
			md_cell(out, m->facts[i]->value);
			strbuf_adds(out, "\n");
		}
	}
	strbuf_adds(out, "\n## Backups\n\n");
	if (!m->nbackups) {
		strbuf_adds(out, "No backup was recorded.\n");
	} else {
		static const char *const cols[] = { "Host", "Archive", "Verified", "When", "Note", NULL };
		md_header(out, cols);
		for (size_t i = 0; i < m->nbackups; i++) {
			const struct rbackup *b = &m->backups[i];
			md_row_start(out);
			md_cell(out, b->host);
			md_cell(out, b->path);
			md_cell(out, backup_verified(b) ? "yes" : b->outcome ? b->outcome : "no");
			md_cell(out, time_str(b->time, t1));
			md_cell(out, b->note);
			strbuf_adds(out, "\n");
		}
	}
	if (m->nrollbacks) {
		strbuf_adds(out, "\n## Rollbacks\n\n");
		static const char *const cols[] = { "When", "Step", "Host", "By", "Outcome", "Note", NULL };
		md_header(out, cols);
		for (size_t i = 0; i < m->nrollbacks; i++) {
			const struct journal_entry *e = m->rollbacks[i];
			md_row_start(out);
			md_cell(out, time_str(e->time, t1));
			md_cell(out, e->step ? e->step : "(whole run)");
			md_cell(out, e->host);
			md_cell(out, e->who);
			md_cell(out, e->outcome);
			md_cell(out, e->note);
			strbuf_adds(out, "\n");
		}
	}
}

/* ---- JSON ---- */

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL; /* NULL is JSON null */
}

static json_object *jtime(long t)
{
	char buf[32];
	return t > 0 ? json_object_new_string(time_iso8601(t, buf)) : NULL;
}

static json_object *json_model(const struct model *m)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_string("certwiz-report-1"));
	json_object_object_add(o, "procedure", jstr(m->procedure));
	json_object_object_add(o, "profile", jstr(m->profile));
	json_object_object_add(o, "operator", jstr(m->operator));
	json_object *hosts = json_object_new_array();
	for (size_t i = 0; m->hosts && m->hosts[i]; i++)
		json_object_array_add(hosts, json_object_new_string(m->hosts[i]));
	json_object_object_add(o, "hosts", hosts);
	json_object_object_add(o, "started", jtime(m->start));
	json_object_object_add(o, "ended", jtime(m->end));
	json_object_object_add(o, "outcome", jstr(m->outcome ? m->outcome : "incomplete"));
	json_object_object_add(o, "sessions", json_object_new_int((int)m->sessions));

	json_object *steps = json_object_new_array();
	for (size_t i = 0; i < m->nsteps; i++) {
		const struct rstep *s = &m->steps[i];
		json_object *js = json_object_new_object();
		json_object_object_add(js, "number", json_object_new_int((int)(i + 1)));
		json_object_object_add(js, "id", jstr(s->id));
		json_object_object_add(js, "title", jstr(s->title));
		json_object_object_add(js, "host", jstr(s->host));
		json_object_object_add(js, "command", jstr(s->command));
		json_object_object_add(js, "exit_code",
				       s->finished ? json_object_new_int(s->exit_code) : NULL);
		json_object_object_add(js, "status", jstr(s->status));
		json_object_object_add(js, "reason", jstr(s->fail_reason));
		json_object *v = NULL;
		if (s->verify_outcome || s->verify_detail) {
			v = json_object_new_object();
			json_object_object_add(v, "outcome", jstr(s->verify_outcome));
			json_object_object_add(v, "detail", jstr(s->verify_detail));
		}
		json_object_object_add(js, "verification", v);
		json_object *so = NULL;
		if (s->sign_who || s->sign_time) {
			so = json_object_new_object();
			json_object_object_add(so, "who", jstr(s->sign_who));
			json_object_object_add(so, "time", jtime(s->sign_time));
			json_object_object_add(so, "note", jstr(s->sign_note));
			json_object_object_add(so, "kind", jstr(s->status));
		}
		json_object_object_add(js, "signoff", so);
		json_object_array_add(steps, js);
	}
	json_object_object_add(o, "steps", steps);
	size_t nagents;
	struct ragent *agents = agents_of(m, &nagents);
	json_object *ja = json_object_new_array();
	for (size_t k = 0; k < nagents; k++) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "name", jstr(agents[k].name));
		json_object_object_add(a, "outcome", jstr(agents[k].outcome));
		json_object_object_add(a, "backup", jstr(agents[k].backup));
		json_object_array_add(ja, a);
	}
	json_object_object_add(o, "agents", ja);
	agents_free(agents, nagents);

	const struct {
		const char *name, *note_key;
		const struct journal_entry *const *v;
		size_t n;
	} lists[] = {
		{ "skipped", "reason", m->skips, m->nskips },
		{ "manual", "note", m->manuals, m->nmanuals },
	};
	for (size_t l = 0; l < 2; l++) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < lists[l].n; i++) {
			const struct journal_entry *e = lists[l].v[i];
			json_object *je = json_object_new_object();
			json_object_object_add(je, "step", jstr(e->step));
			json_object_object_add(je, "host", jstr(e->host));
			json_object_object_add(je, "who", jstr(e->who));
			json_object_object_add(je, "time", jtime(e->time));
			json_object_object_add(je, lists[l].note_key, jstr(e->note));
			json_object_array_add(a, je);
		}
		json_object_object_add(o, lists[l].name, a);
	}

	json_object *certs = json_object_new_array();
	for (size_t i = 0; i < m->npairs; i++) {
		json_object *jc = json_object_new_object();
		json_object_object_add(jc, "name", jstr(m->pairs[i].name));
		json_object_object_add(jc, "host", jstr(m->pairs[i].host));
		json_object_object_add(jc, "old", jstr(m->pairs[i].old_value));
		json_object_object_add(jc, "new", jstr(m->pairs[i].new_value));
		json_object_array_add(certs, jc);
	}
	json_object_object_add(o, "certificates", certs);

	json_object *facts = json_object_new_array();
	for (size_t i = 0; i < m->nfacts; i++) {
		json_object *jf = json_object_new_object();
		json_object_object_add(jf, "key", jstr(m->facts[i]->key));
		json_object_object_add(jf, "host", jstr(m->facts[i]->host));
		json_object_object_add(jf, "value", jstr(m->facts[i]->value));
		json_object_array_add(facts, jf);
	}
	json_object_object_add(o, "facts", facts);

	json_object *backups = json_object_new_array();
	for (size_t i = 0; i < m->nbackups; i++) {
		const struct rbackup *b = &m->backups[i];
		json_object *jb = json_object_new_object();
		json_object_object_add(jb, "host", jstr(b->host));
		json_object_object_add(jb, "archive", jstr(b->path));
		json_object_object_add(jb, "verified", json_object_new_boolean(backup_verified(b)));
		json_object_object_add(jb, "outcome", jstr(b->outcome));
		json_object_object_add(jb, "time", jtime(b->time));
		json_object_object_add(jb, "note", jstr(b->note));
		json_object_array_add(backups, jb);
	}
	json_object_object_add(o, "backups", backups);

	json_object *rb = json_object_new_array();
	for (size_t i = 0; i < m->nrollbacks; i++) {
		const struct journal_entry *e = m->rollbacks[i];
		json_object *jr = json_object_new_object();
		json_object_object_add(jr, "time", jtime(e->time));
		json_object_object_add(jr, "step", jstr(e->step));
		json_object_object_add(jr, "host", jstr(e->host));
		json_object_object_add(jr, "who", jstr(e->who));
		json_object_object_add(jr, "outcome", jstr(e->outcome));
		json_object_object_add(jr, "note", jstr(e->note));
		json_object_array_add(rb, jr);
	}
	json_object_object_add(o, "rollbacks", rb);
	return o;
}

/* ---- public ---- */

/* Belt and braces: whatever was built must not hold a key either. */
static cw_status finish(struct strbuf *out, size_t from, struct cw_error *err)
{
	if (out->len > from && journal_text_has_private_key(out->buf + from, out->len - from)) {
		out->len = from;
		if (out->buf)
			out->buf[from] = '\0';
		return cw_error_set(err, CW_EINVAL, "the report would hold a PEM private key: refused");
	}
	return CW_OK;
}

cw_status report_markdown(const struct journal_log *log, struct strbuf *out, struct cw_error *err)
{
	struct model m;
	cw_status st = model_build(log, &m, err);
	if (st != CW_OK)
		return st;
	size_t from = out->len;
	markdown(&m, out);
	model_done(&m);
	return finish(out, from, err);
}

cw_status report_json(const struct journal_log *log, struct strbuf *out, struct cw_error *err)
{
	struct model m;
	cw_status st = model_build(log, &m, err);
	if (st != CW_OK)
		return st;
	json_object *o = json_model(&m);
	model_done(&m);
	size_t from = out->len;
	strbuf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	strbuf_adds(out, "\n");
	json_object_put(o);
	return finish(out, from, err);
}
