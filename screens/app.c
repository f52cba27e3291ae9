/* app.c: the wizard's main loop: screens, overlays (help, quit, messages), the worker thread
 * that runs blocking core calls, and the event queue that brings their progress back. */
#include "screens.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schedule.h"
#include "service.h"
#include "transport.h"
#include "util.h"

/* ====================================================================== events */

enum ev_kind { EV_STARTED, EV_OUTPUT, EV_FINISHED, EV_SERVICE, EV_HOST, EV_MESSAGE, EV_PROGRESS, EV_DONE };

struct app_event {
	enum ev_kind kind;
	size_t step;
	int stream;
	int level;                 /* enum msg_level */
	enum step_state state;     /* FINISHED */
	enum host_state hstate;    /* HOST */
	char *text;                /* STARTED: what runs; OUTPUT: data; MESSAGE, PROGRESS */
	size_t len;                /* OUTPUT */
	char *host, *service, *detail;
	char **lines;              /* FINISHED: the checks */
	struct service_status st;  /* SERVICE */
	struct app_event *next;
};

static void ev_free(struct app_event *e)
{
	free(e->text);
	free(e->host);
	free(e->service);
	free(e->detail);
	strv_free(e->lines);
	free(e);
}

/* Any thread: queue e and wake the UI. */
static void post(struct app *a, struct app_event *e)
{
	pthread_mutex_lock(&a->lock);
	if (a->ev_tail)
		a->ev_tail->next = e;
	else
		a->ev_head = e;
	a->ev_tail = e;
	pthread_mutex_unlock(&a->lock);
	char b = 1;
	ssize_t r = write(a->wake[1], &b, 1); /* a full pipe is readable already */
	(void)r;
}

static struct app_event *ev_new(enum ev_kind k)
{
	struct app_event *e = xcalloc(1, sizeof *e);
	e->kind = k;
	return e;
}

static void post_progress(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void post_progress(struct app *a, const char *fmt, ...)
{
	struct app_event *e = ev_new(EV_PROGRESS);
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&e->text, fmt, ap) < 0)
		e->text = NULL;
	va_end(ap);
	post(a, e);
}

/* ---- the observer: called by core, on the worker thread ---- */

static char *step_action_text(const struct plan_step *s, char *const *argv)
{
	if (argv)
		return argv_display(argv);
	if (s->kind == STEP_SERVICE) {
		char *svc = strv_join(s->services, ", ");
		char *t = xasprintf("%s services, in this order: %s", s->service_action, svc);
		free(svc);
		return t;
	}
	if (s->kind == STEP_BACKUP) {
		char *paths = strv_join(s->backup_paths, ", ");
		char *t = xasprintf("back up, with owners and modes: %s", paths);
		free(paths);
		return t;
	}
	return NULL;
}

static void on_started(void *ctx, const struct plan_step *s, char *const *argv)
{
	struct app_event *e = ev_new(EV_STARTED);
	e->step = s->index;
	e->text = step_action_text(s, argv);
	e->stream = argv != NULL;
	post(ctx, e);
}

static void on_output(void *ctx, const struct plan_step *s, int stream, const char *data, size_t len)
{
	struct app_event *e = ev_new(EV_OUTPUT);
	e->step = s->index;
	e->stream = stream;
	e->text = xstrndup(data, len);
	e->len = len;
	post(ctx, e);
}

static void on_finished(void *ctx, const struct plan_step *s, const struct step_result *r)
{
	struct app_event *e = ev_new(EV_FINISHED);
	e->step = s->index;
	e->state = r->state;
	e->detail = xstrdup(r->detail);
	e->lines = strv_copy(r->checks);
	post(ctx, e);
}

static void on_service(void *ctx, const char *host, const char *service, const struct service_status *st)
{
	struct app_event *e = ev_new(EV_SERVICE);
	e->host = xstrdup(host ? host : "");
	e->service = xstrdup(service);
	e->st = *st;
	post(ctx, e);
}

static void on_host(void *ctx, const char *host, enum host_state state, const char *detail)
{
	struct app_event *e = ev_new(EV_HOST);
	e->host = xstrdup(host);
	e->hstate = state;
	e->detail = xstrdup(detail);
	post(ctx, e);
}

static void on_message(void *ctx, enum msg_level level, const char *text)
{
	struct app_event *e = ev_new(EV_MESSAGE);
	e->level = (int)level;
	e->text = xstrdup(text);
	post(ctx, e);
}

static const struct observer app_observer = {
	.step_started = on_started,
	.step_output = on_output,
	.step_finished = on_finished,
	.service_changed = on_service,
	.host_changed = on_host,
	.message = on_message,
};

/* ====================================================================== the worker */

static void job_local_services(struct app *a, struct app_job *j)
{
	struct wizard *w = a->w;
	struct transport *t = transport_local_new("this host");
	const char *certname = vars_get(&w->facts.vars, "certname");
	const struct host_cfg *self = certname ? site_host(&w->site, certname) : NULL;
	struct service_ctx c = {
		.t = t,
		.backend = site_backend(&w->site, w->profile),
		.address = self && self->address ? self->address : "127.0.0.1",
		.ca_bundle_path = j->ca_bundle,
		.timeout_s = 10,
	};
	for (size_t i = 0; j->services && j->services[i]; i++) {
		const struct service_def *def = profile_service(w->profile, j->services[i]);
		struct service_status st = {.state = SERVICE_UNKNOWN, .port_open = -1, .cert_current = -1};
		struct cw_error e = {0};
		if (!def || service_query(&c, def, &st, &e) != CW_OK)
			snprintf(st.detail, sizeof st.detail, "%.200s", e.msg[0] ? e.msg : "not in the profile");
		on_service(a, "", j->services[i], &st);
	}
	transport_free(t);
}

static void add_check(struct check_report *r, const char *name, enum check_level level, char *found, char *fix)
{
	r->items = xrealloc(r->items, (r->n + 1) * sizeof *r->items);
	r->items[r->n++] = (struct check_item){xstrdup(name), level, found, fix};
	if (level > r->worst)
		r->worst = level;
}

void hostkey_offers_free(struct hostkey_offer *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].host);
		free(o[i].known_hosts);
		free(o[i].key);
	}
	free(o);
}

/* The host key was refused: if it is merely unknown (not changed, not revoked), keep what the
 * host offers so that the operator can compare its fingerprint and accept it. */
static bool offer_hostkey(struct app_job *j, const struct plan_host *ph)
{
	struct ssh_opts o = plan_host_ssh_opts(ph);
	char *key = NULL, fp[SSH_FINGERPRINT_MAX] = "";
	size_t keylen = 0;
	int type = 0;
	struct cw_error e = {0};
	if (ssh_hostkey_fetch(&o, &key, &keylen, &type, fp, sizeof fp, &e) != CW_OK)
		return false;
	const char *home = getenv("HOME");
	char *kh = ph->known_hosts ? xstrdup(ph->known_hosts) : xasprintf("%s/.ssh/known_hosts", home ? home : "");
	if (ssh_hostkey_check(kh, ph->name, ph->port, key, keylen, type, NULL, 0, &e) != SSH_HOSTKEY_UNKNOWN) {
		free(key);
		free(kh);
		return false;
	}
	j->offers = xrealloc(j->offers, (j->noffers + 1) * sizeof *j->offers);
	struct hostkey_offer *of = &j->offers[j->noffers++];
	*of = (struct hostkey_offer){.host = xstrdup(ph->name), .port = ph->port, .known_hosts = kh, .key = key,
				     .keylen = keylen};
	snprintf(of->fp, sizeof of->fp, "%s", fp);
	return true;
}

/* Reach every other host of the plan over SSH now: host key and login, as exec_open will. */
static void job_ssh_checks(struct app *a, struct app_job *j)
{
	const struct plan *p = a->w->plan;
	size_t n = 0;
	for (size_t h = 1; p && h < p->nhosts; h++)
		n += !p->hosts[h].local;
	size_t k = 0;
	for (size_t h = 1; p && h < p->nhosts; h++) {
		const struct plan_host *ph = &p->hosts[h];
		if (ph->local)
			continue;
		char *name = xasprintf("ssh %s", ph->name);
		if (strcmp(ph->os, "windows") == 0) {
			add_check(&j->checks, name, LEVEL_FAIL,
				  xstrdup("a Windows host: certwiz can print its steps but cannot run a plan with it "
					  "(the CA's steps for it must read its files)"),
				  xstrdup("leave it out of the agents and regenerate it by hand following the plan "
					  "review (certwiz plan prints it too)"));
			free(name);
			continue;
		}
		post_progress(a, "Connecting to %s over SSH (%zu of %zu)", ph->name, ++k, n);
		struct ssh_opts o = plan_host_ssh_opts(ph);
		struct transport *t = NULL;
		struct cw_error e = {0};
		cw_status st = transport_ssh_new(&o, &t, &e);
		if (!st)
			st = transport_ssh_connect(t, &e);
		if (t)
			transport_free(t);
		if (!st) {
			add_check(&j->checks, name, LEVEL_OK,
				  xasprintf("answers on %s:%d, host key known, login works (as %s)", ph->address, ph->port,
					    ph->user),
				  NULL);
		} else {
			bool offered = st == CW_EHOSTKEY && offer_hostkey(j, ph);
			const char *fix = offered ? "press t: certwiz shows the key's fingerprint; compare it with the "
						    "host's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it) "
						    "and accept it only if they match"
				: st == CW_EHOSTKEY ? "compare the host key's fingerprint with the host's own "
						      "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), then "
						      "add it to known_hosts; a changed key is a hard stop"
				: st == CW_EAUTH ? "check the ssh user and identity in certwiz.cfg (ssh = { user; identity; }) "
						   "and that the key is in the host's authorized_keys"
				: "check the host's address and port (hosts = ( { name; address; port; } ) in certwiz.cfg) "
				  "and that sshd runs there";
			/* the message may start with the host's name: the check's name says it already */
			const char *m = e.msg;
			size_t hl = strlen(ph->name);
			while (strncmp(m, ph->name, hl) == 0 && m[hl] == ':' && m[hl + 1] == ' ')
				m += hl + 2;
			add_check(&j->checks, name, LEVEL_FAIL, xstrdup(m), xstrdup(fix));
		}
		free(name);
	}
}

static void job_open_backup(struct app *a, struct app_job *j)
{
	struct exec *ex = a->ex;
	if (!ex) {
		post_progress(a, "Opening the run: lock, journal, connecting to %zu host%s", a->w->plan->nhosts,
			      a->w->plan->nhosts == 1 ? "" : "s");
		/* exec_open keeps a copy of the observer */
		struct observer obs = app_observer;
		obs.ctx = a;
		struct exec_opts eo = {.operator_name = a->operator_name, .obs = &obs, .answers_path = j->answers,
				       .config_path = a->opts->config_path};
		j->status = exec_open(a->w, &eo, &j->opened, &j->err);
		if (j->status)
			return;
		ex = j->opened;
	}
	for (size_t i = 0; i < j->nbackup; i++) {
		size_t s = j->backup_steps[i];
		const struct step_result *r = exec_result(ex, s);
		if (r->state != STEP_PENDING && r->state != STEP_FAILED)
			continue;
		const struct plan_step *st = &a->w->plan->steps[s];
		post_progress(a, "Backing up %s and reading the archive back (%zu of %zu)", a->w->plan->hosts[st->host].name,
			      i + 1, j->nbackup);
		j->status = exec_run_step(ex, s, false, &j->err);
		if (j->status)
			return;
	}
}

static void job_services(struct app *a, struct app_job *j)
{
	const char *host = a->w->plan->hosts[j->host].name;
	for (size_t i = 0; j->services && j->services[i]; i++) {
		struct service_status st = {.state = SERVICE_UNKNOWN, .port_open = -1, .cert_current = -1};
		struct cw_error e = {0};
		if (exec_service_status(a->ex, j->host, j->services[i], &st, &e) != CW_OK)
			snprintf(st.detail, sizeof st.detail, "%.200s", e.msg);
		on_service(a, host, j->services[i], &st);
	}
}

/* A fleet step: only the steps still to run (pending, or failed: a retry) are run. */
static enum sched_verdict fleet_before(void *ctx, size_t step)
{
	struct app *a = ctx;
	if (atomic_load(&a->fleet_stop))
		return SCHED_STOP; /* cancelled: what runs is stopped, nothing more starts */
	enum step_state st = exec_result(a->ex, step)->state;
	return st == STEP_PENDING || st == STEP_FAILED ? SCHED_RUN : SCHED_SETTLED;
}

static bool fleet_stopped(void *ctx)
{
	struct app *a = ctx;
	return atomic_load(&a->fleet_stop);
}

/* Every agent's step of one fleet row, up to ssh.parallel at once; the CA's share calls. A
 * failed agent does not stop the others: the operator decides once they are all settled. */
static void job_run_fleet(struct app *a, struct app_job *j)
{
	atomic_store(&a->fleet_stop, false);
	struct sched_opts so = {.parallel = a->w->site.parallel, .window_ms = -1, .confirmed = j->confirmed,
				.ctx = a, .before = fleet_before, .stopped = fleet_stopped};
	sched_run(a->ex, a->w->plan, j->steps, j->nsteps, &so, &j->err);
	for (size_t k = 0; k < j->nsteps; k++)
		if (exec_result(a->ex, j->steps[k])->state == STEP_FAILED && !j->status)
			j->status = cw_error_set(&j->err, CW_EEXEC, "%s", exec_result(a->ex, j->steps[k])->detail
									     ? exec_result(a->ex, j->steps[k])->detail
									     : "a step failed");
}

static void *worker_main(void *arg)
{
	struct app *a = arg;
	struct app_job *j = &a->job;
	switch (j->kind) {
	case JOB_LOCAL_SERVICES:
		job_local_services(a, j);
		break;
	case JOB_CHECKS:
		post_progress(a, "Running the pre-flight checks");
		j->status = checks_run(a->w, 30, 0, &j->checks, &j->err);
		if (!j->status)
			job_ssh_checks(a, j);
		break;
	case JOB_OPEN_BACKUP:
		job_open_backup(a, j);
		break;
	case JOB_RUN_STEP:
		j->status = exec_run_step(a->ex, j->step, j->confirmed, &j->err);
		if (j->services)
			job_services(a, j);
		break;
	case JOB_RUN_FLEET:
		job_run_fleet(a, j);
		break;
	case JOB_MANUAL_DONE:
		j->status = exec_manual_done(a->ex, j->step, j->note, &j->err);
		break;
	case JOB_ROLLBACK:
		j->status = exec_rollback(a->ex, &j->err);
		break;
	case JOB_SERVICES:
		job_services(a, j);
		break;
	case JOB_CLOSE:
		j->status = exec_close(a->ex, j->outcome, &j->err);
		break;
	}
	post(a, ev_new(EV_DONE));
	return NULL;
}

static void job_free(struct app_job *j)
{
	free(j->answers);
	free(j->note);
	strv_free(j->services);
	free(j->ca_bundle);
	free(j->outcome);
	free(j->backup_steps);
	free(j->steps);
	check_report_done(&j->checks);
	hostkey_offers_free(j->offers, j->noffers);
	j->offers = NULL;
	j->noffers = 0;
	if (j->opened)
		exec_free(j->opened);
	memset(j, 0, sizeof *j);
}

bool app_busy(const struct app *a)
{
	return a->busy;
}

bool app_job_start(struct app *a, struct app_job *j)
{
	if (a->busy) {
		job_free(j);
		return false;
	}
	a->job = *j;
	memset(j, 0, sizeof *j);
	a->job.status = CW_OK;
	memset(&a->job.err, 0, sizeof a->job.err);
	a->busy = true;
	if (pthread_create(&a->thread, NULL, worker_main, a) != 0) {
		a->busy = false;
		cw_error_set(&a->job.err, CW_EIO, "cannot start a thread: %s", strerror(errno));
		app_error(a, "certwiz", &a->job.err);
		job_free(&a->job);
		return false;
	}
	return true;
}

/* Wait for the worker (quitting): cancel what it runs first. */
static void job_join(struct app *a)
{
	if (!a->busy)
		return;
	if (a->ex)
		exec_cancel(a->ex);
	pthread_join(a->thread, NULL);
	a->busy = false;
	if (a->job.kind == JOB_OPEN_BACKUP && a->job.opened) {
		a->ex = a->job.opened;
		a->job.opened = NULL;
	}
	job_free(&a->job);
}

/* ====================================================================== draining events */

static size_t host_index(const struct app *a, const char *name)
{
	const struct plan *p = a->w->plan;
	for (size_t h = 0; p && h < p->nhosts; h++)
		if (strcmp(p->hosts[h].name, name) == 0)
			return h;
	return SIZE_MAX;
}

static void log_checks(struct app *a, char *const *lines)
{
	for (size_t i = 0; lines && lines[i]; i++) {
		bool ok = strncmp(lines[i], "ok", 2) == 0;
		const char *text = lines[i] + (ok ? 3 : strncmp(lines[i], "FAIL ", 5) == 0 ? 5 : 0);
		app_log(a, ok ? TUI_OK : TUI_FAIL, "%s %s", tui_glyph(ok ? TUI_G_CHECK : TUI_G_CROSS), text);
	}
}

/* The agent a step is about (or where it runs). */
static const char *who_of(const struct app *a, size_t step)
{
	const struct plan_step *s = &a->w->plan->steps[step];
	return s->target ? s->target : a->w->plan->hosts[s->host].name;
}

/* The last non-empty line of a chunk of output becomes the step's last line. */
static void set_last_line(struct app *a, size_t step, const char *text, size_t len)
{
	size_t end = len;
	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' '))
		end--;
	if (!end)
		return;
	size_t start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	free(a->last_line[step]);
	a->last_line[step] = xstrndup(text + start, end - start);
}

static void log_fleet_output(struct app *a, size_t step, const char *text, size_t len)
{
	char *copy = xstrndup(text, len);
	char **lines = strv_split(copy, '\n');
	const char *name = who_of(a, step);
	for (size_t k = 0; lines && lines[k]; k++)
		if (*lines[k])
			app_log(a, TUI_NORMAL, "%s| %s", name, lines[k]);
	strv_free(lines);
	free(copy);
}

static void handle_event(struct app *a, struct app_event *e)
{
	switch (e->kind) {
	case EV_STARTED: {
		a->running_step = e->step;
		if (a->live)
			a->live[e->step] = true;
		tui_log_key(&a->log, KEY_END); /* a new command: follow its output again */
		const struct plan_step *s = &a->w->plan->steps[e->step];
		if (e->text)
			app_log(a, e->stream ? TUI_KEY : TUI_NORMAL, "%s%s", e->stream ? "$ " : "", e->text);
		if (s->kind == STEP_SERVICE) {
			bool stop = strcmp(s->service_action, "stop") == 0;
			struct tui_services *p = app_host_services(a, s->host);
			for (size_t i = 0; p && s->services && s->services[i]; i++)
				tui_services_row(p, s->services[i])->state = stop ? TUI_SVC_STOPPING : TUI_SVC_STARTING;
		}
		break;
	}
	case EV_OUTPUT:
		if (a->out && a->out[e->step].len < (256u << 10))
			strbuf_add(&a->out[e->step], e->text, e->len);
		if (a->last_line)
			set_last_line(a, e->step, e->text, e->len);
		if (a->job.kind == JOB_RUN_FLEET) /* many hosts at once: each line says whose it is */
			log_fleet_output(a, e->step, e->text, e->len);
		else
			tui_log_write(&a->log, TUI_NORMAL, e->text, e->len);
		break;
	case EV_FINISHED:
		if (a->live)
			a->live[e->step] = false;
		if (a->last_line) {
			free(a->last_line[e->step]);
			a->last_line[e->step] = e->state == STEP_DONE ? xstrdup("done and verified")
								      : xasprintf("FAILED: %s", e->detail ? e->detail : "?");
		}
		if (a->job.kind == JOB_RUN_FLEET) { /* the verdicts are in the host table; failures here */
			if (e->state != STEP_DONE)
				app_log(a, TUI_FAIL, "%s %s: step %zu FAILED: %s", tui_glyph(TUI_G_CROSS),
					who_of(a, e->step), e->step + 1, e->detail ? e->detail : "?");
			a->steps_finished++;
			break;
		}
		log_checks(a, e->lines);
		if (e->state == STEP_DONE)
			app_log(a, TUI_OK, "%s step %zu done and verified", tui_glyph(TUI_G_ARROW), e->step + 1);
		else
			app_log(a, TUI_FAIL, "%s step %zu FAILED: %s", tui_glyph(TUI_G_ARROW), e->step + 1,
				e->detail ? e->detail : "?");
		a->steps_finished++;
		break;
	case EV_SERVICE: {
		struct tui_services *p = NULL;
		if (!*e->host) {
			p = &a->local_svc;
		} else {
			size_t h = host_index(a, e->host);
			p = h == SIZE_MAX ? NULL : app_host_services(a, h);
		}
		/* the panel only: a service step's own checks say what was seen, in the log */
		if (p)
			app_service_row_set(tui_services_row(p, e->service), &e->st);
		break;
	}
	case EV_HOST:
		/* exec_open reaching each host: what the worker is doing now */
		free(a->progress);
		a->progress = xasprintf("Opening the run: %s %s", e->detail ? e->detail : host_state_str(e->hstate), e->host);
		break;
	case EV_MESSAGE:
		app_log(a, e->level == MSG_ERROR ? TUI_FAIL : e->level == MSG_WARN ? TUI_WARN : TUI_NORMAL, "%s", e->text);
		break;
	case EV_PROGRESS:
		free(a->progress);
		a->progress = e->text;
		e->text = NULL;
		break;
	case EV_DONE: {
		pthread_join(a->thread, NULL);
		/* done may start the next job: hand it this one's copy */
		struct app_job j = a->job;
		memset(&a->job, 0, sizeof a->job);
		a->busy = false;
		a->running_step = SIZE_MAX;
		free(a->progress);
		a->progress = NULL;
		if (j.done)
			j.done(a, &j);
		job_free(&j);
		break;
	}
	}
}

static void drain(struct app *a)
{
	char buf[256];
	while (read(a->wake[0], buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&a->lock);
	struct app_event *e = a->ev_head;
	a->ev_head = a->ev_tail = NULL;
	pthread_mutex_unlock(&a->lock);
	while (e) {
		struct app_event *next = e->next;
		handle_event(a, e);
		ev_free(e);
		e = next;
	}
}

/* ====================================================================== dialogs */

static int dialog_width(struct tui_rect r)
{
	int w = r.w - 8;
	return w > 68 ? 68 : w < 30 ? 30 : w;
}

void app_prompt_open(struct app_prompt *p, int purpose, const char *title, const char *text, const char *label,
		     bool required)
{
	app_prompt_close(p);
	p->open = true;
	p->purpose = purpose;
	p->title = xstrdup(title);
	p->text = xstrdup(text ? text : "");
	p->required = required;
	tui_field_init(&p->field, label, 300);
	p->field.label_w = tui_text_width(label) + 2;
	p->field.focused = true;
	tui_field_set_hint(&p->field, required ? "required: it goes into the journal and the report"
					       : "optional: it goes into the journal and the report");
}

void app_prompt_close(struct app_prompt *p)
{
	if (p->title || p->text)
		tui_field_done(&p->field);
	free(p->title);
	free(p->text);
	p->title = p->text = NULL;
	p->open = false;
}

void app_prompt_draw(struct app_prompt *p, WINDOW *w, struct tui_rect r)
{
	if (!p->open)
		return;
	int width = dialog_width(r);
	int rows = tui_wrap_rows(p->text, width - 4);
	if (rows > r.h - 10)
		rows = r.h - 10;
	if (rows < 0)
		rows = 0;
	char hint[64];
	snprintf(hint, sizeof hint, "Enter accept %s Esc cancel", tui_glyph(TUI_G_DOT));
	struct tui_rect in = tui_dialog_box(w, r, width, rows + 3, p->title, hint, false);
	tui_wrap_draw(w, (struct tui_rect){in.y, in.x, rows, in.w}, A_NORMAL, p->text);
	tui_field_draw(&p->field, w, (struct tui_rect){in.y + rows + 1, in.x, 2, in.w});
}

int app_prompt_key(struct app_prompt *p, int key)
{
	if (key == TUI_KEY_IDLE || key == TUI_KEY_WAKE || key == TUI_KEY_EOF || key == KEY_RESIZE)
		return TUI_UNHANDLED;
	if (key == TUI_KEY_ESC)
		return TUI_HANDLED | TUI_REDRAW | TUI_BACK;
	if (key == '\n') {
		const char *v = tui_field_value(&p->field);
		bool blank = true;
		for (const char *c = v; *c; c++)
			blank = blank && (*c == ' ' || *c == '\t');
		if (p->required && blank) {
			tui_field_set_error(&p->field, "an answer is needed (Esc cancels)");
			return TUI_HANDLED | TUI_REDRAW;
		}
		return TUI_HANDLED | TUI_REDRAW | TUI_SELECT;
	}
	int r = tui_field_key(&p->field, key);
	return r ? r | TUI_REDRAW : TUI_HANDLED;
}

/* ====================================================================== helpers */

void app_message(struct app *a, const char *title, const char *fmt, ...)
{
	free(a->msg_title);
	free(a->msg_text);
	a->msg_title = xstrdup(title);
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&a->msg_text, fmt, ap) < 0)
		a->msg_text = xstrdup("?");
	va_end(ap);
	a->msg_open = true;
	a->msg_destructive = false;
}

void app_error(struct app *a, const char *what, const struct cw_error *err)
{
	char buf[1400];
	app_message(a, what, "%s", cw_error_format(err, buf, sizeof buf));
	a->msg_destructive = true;
}

void app_notice(struct app *a, const char *fmt, ...)
{
	free(a->notice);
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&a->notice, fmt, ap) < 0)
		a->notice = NULL;
	va_end(ap);
}

/* The log view breaks long lines anywhere; certwiz's own lines are broken between words,
 * continuation rows indented past the line's own indent. */
static void log_wrapped(struct app *a, enum tui_style style, const char *text)
{
	int width = a->log_width > 20 ? a->log_width : 76;
	int hang = 0;
	while (text[hang] == ' ')
		hang++;
	hang += 2;
	if (hang > width / 3)
		hang = 2;
	struct strbuf line;
	strbuf_init(&line);
	int col = 0;
	const char *p = text;
	while (*p) {
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		const char *next = e;
		while (*next == ' ')
			next++;
		char *word = xstrndup(p, (size_t)(e - p));
		int ww = tui_text_width(word);
		int sp = (int)(next - e);
		if (col > 0 && col + ww > width) {
			while (line.len && line.buf[line.len - 1] == ' ')
				line.buf[--line.len] = '\0';
			tui_log_printf(&a->log, style, "%s", line.buf ? line.buf : "");
			strbuf_reset(&line);
			strbuf_addf(&line, "%*s", hang, "");
			col = hang;
		}
		strbuf_adds(&line, word);
		col += ww;
		free(word);
		if (*next) {
			strbuf_addf(&line, "%*s", sp, "");
			col += sp;
		}
		p = next;
	}
	tui_log_printf(&a->log, style, "%s", line.buf ? line.buf : "");
	strbuf_done(&line);
}

void app_log(struct app *a, enum tui_style style, const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		log_wrapped(a, style, s);
	free(s);
}

const char *app_read_only_reason(const struct app *a)
{
	return a->read_only ? "certwiz was started with --root: the facts come from a stand-in directory, "
			      "but a run would act on this host's real files. Nothing can run here; start "
			      "certwiz without --root on the real host to run this plan."
			    : NULL;
}

void app_expiry(long not_after, char *buf, size_t size)
{
	char iso[32];
	time_iso8601(not_after, iso);
	iso[10] = '\0';
	long now = (long)time(NULL);
	long days = (not_after - now) / 86400;
	if (not_after <= now)
		snprintf(buf, size, "%s (EXPIRED %ld days ago)", iso, -days);
	else
		snprintf(buf, size, "%s (in %ld days)", iso, days);
}

void app_short_fp(const char *fp, char *buf, size_t size, size_t n)
{
	if (!fp || !*fp) {
		snprintf(buf, size, "(none)");
		return;
	}
	if (strlen(fp) <= n)
		snprintf(buf, size, "%s", fp);
	else
		snprintf(buf, size, "%.*s%s", (int)n, fp, tui_glyph(TUI_G_ELLIPSIS));
}

size_t app_step_unit(const struct plan *p, const struct plan_step *s)
{
	if (s->target)
		for (size_t h = 0; h < p->nhosts; h++)
			if (strcmp(p->hosts[h].name, s->target) == 0)
				return h;
	return s->host;
}

enum step_state app_step_state(const struct app *a, size_t i)
{
	if (a->busy && a->job.kind == JOB_RUN_FLEET && a->live && i < a->w->plan->nsteps) {
		if (a->live[i])
			return STEP_RUNNING;
		return a->ex ? exec_result(a->ex, i)->state : STEP_PENDING;
	}
	if (a->busy && a->running_step == i)
		return STEP_RUNNING;
	if (!a->ex)
		return STEP_PENDING;
	if (a->busy && (a->job.kind == JOB_RUN_STEP || a->job.kind == JOB_MANUAL_DONE) && a->job.step == i)
		return STEP_RUNNING;
	return exec_result(a->ex, i)->state;
}

size_t app_current_step(const struct app *a)
{
	const struct plan *p = a->w->plan;
	if (!p)
		return 0;
	for (size_t i = 0; i < p->nsteps; i++) {
		enum step_state st = app_step_state(a, i);
		if (st == STEP_PENDING || st == STEP_DONE || st == STEP_RUNNING)
			return i;
		if (st == STEP_FAILED && !(a->ack && a->ack[i]))
			return i;
	}
	return p->nsteps;
}

struct tui_services *app_host_services(struct app *a, size_t h)
{
	return h < a->nsvc ? &a->svc[h] : NULL;
}

void app_service_row_set(struct tui_service_row *row, const struct service_status *st)
{
	row->state = st->state == SERVICE_RUNNING ? TUI_SVC_RUNNING
		   : st->state == SERVICE_STOPPED ? TUI_SVC_STOPPED
						  : TUI_SVC_UNKNOWN;
	row->pid = st->pid;
	row->port_open = st->port_open;
	row->cert_current = st->cert_current;
}

static char **host_service_names(const struct app *a, size_t h)
{
	const struct tui_services *p = h < a->nsvc ? &a->svc[h] : NULL;
	char **names = NULL;
	for (size_t i = 0; p && i < p->n; i++)
		strv_push(&names, p->rows[i].name);
	return names;
}

void app_refresh_services(struct app *a, size_t h)
{
	if (a->busy || !a->ex || h >= a->nsvc || !a->svc[h].n)
		return;
	struct app_job j = {.kind = JOB_SERVICES, .host = h, .services = host_service_names(a, h)};
	app_job_start(a, &j);
}

static void free_step_views(struct app *a)
{
	for (size_t i = 0; i < a->nviews; i++) {
		free(a->last_line[i]);
		strbuf_done(&a->out[i]);
	}
	free(a->live);
	free(a->last_line);
	free(a->out);
	a->live = NULL;
	a->last_line = NULL;
	a->out = NULL;
	a->nviews = 0;
}

void app_plan_changed(struct app *a)
{
	a->plan_gen++;
	for (size_t h = 0; h < a->nsvc; h++)
		tui_services_done(&a->svc[h]);
	free(a->svc);
	free(a->ack);
	free_step_views(a);
	a->svc = NULL;
	a->ack = NULL;
	a->nsvc = 0;
	const struct plan *p = a->w->plan;
	if (!p)
		return;
	a->nsvc = p->nhosts;
	a->svc = xcalloc(p->nhosts, sizeof *a->svc);
	a->ack = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *a->ack);
	a->nviews = p->nsteps;
	a->live = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *a->live);
	a->last_line = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *a->last_line);
	a->out = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *a->out);
	const struct profile *prof = a->w->profile;
	for (size_t h = 0; h < p->nhosts; h++) {
		char *title = xasprintf("Services on %s", p->hosts[h].name);
		tui_services_init(&a->svc[h], title);
		free(title);
		/* The CA host: every service of the profile; others: those its steps touch. */
		if (h == 0) {
			for (size_t i = 0; i < prof->nservices; i++)
				tui_services_row(&a->svc[h], prof->services[i].name);
		}
		for (size_t i = 0; i < p->nsteps; i++)
			if (p->steps[i].host == h && p->steps[i].kind == STEP_SERVICE)
				for (size_t k = 0; p->steps[i].services && p->steps[i].services[k]; k++)
					tui_services_row(&a->svc[h], p->steps[i].services[k]);
		for (size_t i = 0; i < a->svc[h].n; i++) {
			const struct service_def *d = profile_service(prof, a->svc[h].rows[i].name);
			a->svc[h].rows[i].port = d ? d->port : 0;
		}
	}
}

/* ====================================================================== navigation */

static enum screen_id next_of(enum screen_id id)
{
	switch (id) {
	case SCR_EXECUTE:
	case SCR_AGENTS:
		return SCR_SUMMARY;
	case SCR_SUMMARY:
		return SCR_SUMMARY;
	default:
		return (enum screen_id)(id + 1);
	}
}

static enum screen_id prev_of(enum screen_id id)
{
	switch (id) {
	case SCR_WELCOME:
		return SCR_WELCOME;
	case SCR_AGENTS:
		return SCR_EXECUTE;
	default:
		return (enum screen_id)(id - 1);
	}
}

void app_go(struct app *a, enum screen_id id)
{
	if (id == a->cur && a->visited[id])
		return;
	bool run_pair = (a->cur == SCR_EXECUTE || a->cur == SCR_AGENTS) && (id == SCR_EXECUTE || id == SCR_AGENTS);
	if (a->busy && a->job.kind != JOB_LOCAL_SERVICES && !run_pair) {
		app_notice(a, "Wait: %s", a->progress ? a->progress : "certwiz is still working");
		return;
	}
	if (a->ex && id < SCR_PREFLIGHT) {
		app_notice(a, "The run has started: its plan cannot change now (quit and start again to change it)");
		return;
	}
	a->cur = id;
	a->visited[id] = true;
	screens[id]->init(a);
}

/* ====================================================================== drawing */

static const struct tui_help_entry global_help[] = {
	{NULL, "Everywhere"},
	{"F1  ?", "this help (in a text field, ? is typed: use F1)"},
	{"Esc", "back one screen; going back changes nothing. On the run screen Esc asks to quit"},
	{"q  C-c", "quit; certwiz asks first. Once the run has started, every step done so far stays "
		   "recorded in the journal and the report is written"},
	{"C-l", "repaint the screen"},
	{NULL, NULL},
};

static void open_help(struct app *a)
{
	size_t n = 0, max = sizeof a->help_entries / sizeof a->help_entries[0] - 1;
	const struct tui_help_entry *sh = screens[a->cur]->help;
	for (size_t i = 0; sh && (sh[i].key || sh[i].what) && n < max; i++)
		a->help_entries[n++] = sh[i];
	for (size_t i = 0; (global_help[i].key || global_help[i].what) && n < max; i++)
		a->help_entries[n++] = global_help[i];
	a->help_entries[n] = (struct tui_help_entry){NULL, NULL};
	tui_help_init(&a->help, "Keys", a->help_entries);
	a->help_open = true;
}

static void open_quit(struct app *a)
{
	const char *text;
	char buf[1024];
	if (a->busy && a->ex) {
		snprintf(buf, sizeof buf, "A command is running. Quitting stops it (the step is recorded as failed) and "
			 "ends the run here. Everything done so far stays recorded in %s.", exec_run_dir(a->ex));
		text = buf;
	} else if (a->ex && !a->closed) {
		snprintf(buf, sizeof buf, "The run is not finished. Quitting ends it here: the steps done so far stay "
			 "done and recorded, and the report is written to %s.", exec_run_dir(a->ex));
		text = buf;
	} else if (a->ex) {
		text = "The run is over and its report is written.";
	} else {
		text = "Nothing has been changed on this host.";
	}
	tui_confirm_done(&a->quit_confirm);
	tui_confirm_init(&a->quit_confirm, "Quit certwiz?", text, a->ex && !a->closed);
	a->quit_open = true;
}

bool app_overlay_open(const struct app *a)
{
	return a->help_open || a->quit_open || a->msg_open;
}

static void draw(struct app *a)
{
	if (tui_too_small(stdscr, 80, 24))
		return;
	const struct screen *s = screens[a->cur];
	char title[128], status[32];
	snprintf(title, sizeof title, "certwiz %s %s", tui_glyph(TUI_G_DOT), s->title);
	snprintf(status, sizeof status, "%d of %d", (int)a->cur + 1, (int)SCR_COUNT);
	struct tui_frame f = {.title = title, .status = status, .hints = s->hints(a)};
	struct tui_rect full = tui_rect_of(stdscr);
	struct tui_rect in = tui_frame_draw(&f, stdscr, full);
	s->draw(a, stdscr, in);
	if (a->notice) {
		struct tui_rect line = {full.y + full.h - 1, 0, 1, full.w};
		tui_fill(stdscr, line, A_NORMAL);
		tui_puts(stdscr, line.y, 1, full.w - 2, term_style(TUI_WARN), a->notice);
	}
	if (a->msg_open) {
		int width = dialog_width(full);
		int rows = tui_wrap_rows(a->msg_text, width - 4);
		if (rows > full.h - 8)
			rows = full.h - 8;
		struct tui_rect mi = tui_dialog_box(stdscr, full, width, rows, a->msg_title, "any key closes",
						    a->msg_destructive);
		tui_wrap_draw(stdscr, (struct tui_rect){mi.y, mi.x, rows, mi.w}, A_NORMAL, a->msg_text);
	}
	if (a->help_open)
		tui_help_draw(&a->help, stdscr, full);
	if (a->quit_open)
		tui_confirm_draw(&a->quit_confirm, stdscr, full);
}

/* ====================================================================== keys */

static void act(struct app *a, int r)
{
	if (r & TUI_QUIT)
		open_quit(a);
	else if (r & SCR_GOTO)
		app_go(a, a->goto_screen);
	else if (r & TUI_NEXT)
		app_go(a, next_of(a->cur));
	else if (r & TUI_BACK)
		app_go(a, prev_of(a->cur));
}

static bool handle_key(struct app *a, int k)
{
	const struct screen *s = screens[a->cur];
	if (k == KEY_RESIZE)
		return true;
	if (k == TUI_KEY_WAKE) {
		drain(a);
		act(a, screens[a->cur]->key(a, k));
		return true;
	}
	if (k == TUI_KEY_IDLE) {
		act(a, s->key(a, k));
		return true;
	}
	free(a->notice);
	a->notice = NULL;
	if (a->quit_open) {
		int r = tui_confirm_key(&a->quit_confirm, k);
		if (r & TUI_SELECT) {
			a->quit_open = false;
			a->quit = true;
			if (a->busy) {
				app_notice(a, "Stopping the running command, then quitting%s", tui_glyph(TUI_G_ELLIPSIS));
				draw(a);
				term_flush();
			}
		} else if (r & TUI_BACK) {
			a->quit_open = false;
		}
		return true;
	}
	if (a->msg_open) {
		a->msg_open = false;
		return true;
	}
	if (a->help_open) {
		if (tui_help_key(&a->help, k) & TUI_BACK)
			a->help_open = false;
		return true;
	}
	if (k == TUI_KEY_CTRL('c')) {
		open_quit(a);
		return true;
	}
	if (k == TUI_KEY_CTRL('l')) {
		term_redraw();
		return true;
	}
	if (k == KEY_F(1)) {
		open_help(a);
		return true;
	}
	int r = s->key(a, k);
	if (r & TUI_HANDLED) {
		act(a, r);
		return true;
	}
	if (k == '?') {
		open_help(a);
	} else if (k == 'q' || k == 'Q') {
		open_quit(a);
	} else if (k == TUI_KEY_ESC) {
		if (a->cur == SCR_WELCOME || a->cur == SCR_EXECUTE || a->cur == SCR_SUMMARY)
			open_quit(a);
		else
			app_go(a, prev_of(a->cur));
	}
	return true;
}

/* ====================================================================== set-up and tear-down */

static char *first_profile(const char *datadir)
{
	char **names = config_list(datadir, "profiles");
	char *p = names && names[0] ? xstrdup(strv_contains(names, "oss-debian") ? "oss-debian" : names[0]) : NULL;
	strv_free(names);
	return p;
}

static void open_wizard_failed(const struct cw_error *err)
{
	char buf[1400];
	fprintf(stderr, "certwiz: %s\n", cw_error_format(err, buf, sizeof buf));
}

static int open_terminal(struct app *a)
{
	char err[512];
	struct term_opts to = {.ctrl_c_key = true};
	char *logs[3] = {NULL, NULL, NULL};
	logs[0] = path_join(a->w->site.journal_dir, "stderr.log");
	const char *home = getenv("HOME");
	if (home && *home)
		logs[1] = xasprintf("%s/.cache/certwiz/stderr.log", home);
	int rc = -1;
	for (int i = 0; i < 3 && rc < 0; i++) {
		if (i < 2 && !logs[i])
			continue;
		to.stderr_log = logs[i];
		rc = term_open(&to, err, sizeof err);
		if (rc < 0 && i < 2 && !strstr(err, logs[i]))
			break; /* not the log's fault: trying another log will not help */
	}
	free(logs[0]);
	free(logs[1]);
	if (rc < 0)
		fprintf(stderr, "certwiz: %s\n", err);
	return rc;
}

static void shutdown_app(struct app *a)
{
	job_join(a);
	pthread_mutex_lock(&a->lock);
	struct app_event *e = a->ev_head;
	a->ev_head = a->ev_tail = NULL;
	pthread_mutex_unlock(&a->lock);
	while (e) {
		struct app_event *next = e->next;
		ev_free(e);
		e = next;
	}
	char closed_note[1400] = "";
	if (a->ex && !a->closed) {
		struct cw_error err = {0};
		const char *outcome = a->outcome ? a->outcome : "cancelled";
		if (exec_close(a->ex, outcome, &err))
			snprintf(closed_note, sizeof closed_note, "certwiz: could not write the report: %s\n", err.msg);
		a->closed = true;
		if (!a->outcome)
			a->outcome = "cancelled";
	}
	for (int i = 0; i < SCR_COUNT; i++)
		if (a->priv[i])
			screens[i]->done(a);
	term_close();
	if (a->ex) {
		fputs(closed_note, stderr);
		fprintf(stderr, "certwiz: run %s; journal and report in %s\n", a->outcome ? a->outcome : "ended",
			exec_run_dir(a->ex));
		if (a->outcome && strcmp(a->outcome, "cancelled") == 0)
			fprintf(stderr, "certwiz: to go on without a screen: certwiz resume %s\n", exec_run_dir(a->ex));
		a->exit_code = a->outcome && strcmp(a->outcome, "completed") == 0 ? 0
			     : a->outcome && strcmp(a->outcome, "cancelled") == 0 ? 6
										 : 5;
	}
}

/* A resumed wizard run: what was finished before, and by whom, in the run's log. */
static void log_resumed(struct app *a, const char *journal)
{
	const struct plan *p = a->w->plan;
	size_t done = 0;
	for (size_t i = 0; i < p->nsteps; i++) {
		enum step_state st = exec_result(a->ex, i)->state;
		done += st == STEP_SIGNED || st == STEP_SKIPPED || st == STEP_MANUAL_DONE;
	}
	app_log(a, TUI_TITLE, "Resumed %s: %zu of %zu steps were finished before", journal, done, p->nsteps);
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct step_result *r = exec_result(a->ex, i);
		if (r->state != STEP_SIGNED && r->state != STEP_SKIPPED && r->state != STEP_MANUAL_DONE)
			continue;
		char when[32] = "";
		time_t t = (time_t)r->signed_at;
		struct tm tm;
		if (t && gmtime_r(&t, &tm))
			strftime(when, sizeof when, " at %Y-%m-%dT%H:%M:%SZ", &tm);
		app_log(a, TUI_OK, "%s step %zu (%s): %s by %s%s", tui_glyph(TUI_G_CHECK), i + 1, p->steps[i].title,
			r->state == STEP_SKIPPED ? "skipped" : r->state == STEP_MANUAL_DONE ? "done by hand" : "signed off",
			r->who ? r->who : "?", when);
	}
}

static int app_main(const struct wizard_opts *o, const char *resume);

int app_run(const struct wizard_opts *o)
{
	return app_main(o, NULL);
}

/* `certwiz resume JOURNAL` of a wizard run, in a terminal: the run screen, the finished steps
 * with who signed them off, the interrupted one re-checked (exec_open does it). */
int app_resume(const struct wizard_opts *o, const char *journal)
{
	return app_main(o, journal);
}

static int app_main(const struct wizard_opts *o, const char *resume)
{
	struct app *a = xcalloc(1, sizeof *a);
	a->opts = o;
	a->running_step = SIZE_MAX;
	a->wake[0] = a->wake[1] = -1;
	struct cw_error err = {0};
	cw_status st = wizard_open(o, &a->w, &err);
	bool auto_profile = !o->profile || strcmp(o->profile, "auto") == 0;
	if (st == CW_ECONFIG && auto_profile && strstr(err.msg, "no profile matches")) {
		/* Detection failed: open with a profile the operator can change on screen 2. */
		char why[1024];
		snprintf(why, sizeof why, "%s", err.msg);
		char *cut = strstr(why, ". Choose one");
		if (cut)
			*cut = '\0';
		struct wizard_opts o2 = *o;
		char *fallback = first_profile(o->datadir);
		o2.profile = fallback;
		if (fallback && wizard_open(&o2, &a->w, &err) == CW_OK) {
			st = CW_OK;
			a->profile_note = xasprintf("NOT detected: %s. Check this profile or choose another (p).", why);
		}
		free(fallback);
	}
	if (st) {
		open_wizard_failed(&err);
		free(a);
		return cw_status_exit_code(err.code);
	}
	if (!a->profile_note)
		a->profile_note = !auto_profile ? xstrdup("chosen with --profile")
				  : a->w->site.profile && strcmp(a->w->site.profile, "auto") != 0
					  ? xasprintf("chosen in %s", a->w->site.file ? a->w->site.file : "the site config")
					  : xasprintf("detected: %s", a->w->detect_note ? a->w->detect_note : "?");
	const char *hook = getenv("CERTWIZ_TEST_ALLOW_ROOT_RUN");
	a->read_only = a->w->site.root && !(hook && strcmp(hook, "1") == 0);
	const char *op = o->operator_name ? o->operator_name : a->w->site.operator_name;
	if (!op || !*op)
		op = getenv("USER");
	if (!op || !*op)
		op = getenv("LOGNAME");
	a->operator_name = xstrdup(op ? op : "");
	if (resume && !st && (st = wizard_build_plan(a->w, &err)) != CW_OK) {
		open_wizard_failed(&err);
		wizard_free(a->w);
		free(a->operator_name);
		free(a->profile_note);
		free(a);
		return cw_status_exit_code(err.code);
	}
	if (a->w->plan)
		app_plan_changed(a);

	if (open_terminal(a) < 0) {
		wizard_free(a->w);
		free(a->operator_name);
		free(a->profile_note);
		free(a);
		return 4; /* no usable terminal: an input/output error */
	}
	char note[512];
	snprintf(note, sizeof note, "certwiz stopped; the terminal was restored. A run's journal is under %s.",
		 a->w->site.journal_dir);
	term_set_crash_note(note);
	if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		term_close();
		fprintf(stderr, "certwiz: cannot make a pipe: %s\n", strerror(errno));
		return 4;
	}
	pthread_mutex_init(&a->lock, NULL);
	tui_log_init(&a->log, 5000);
	tui_services_init(&a->local_svc, "Services on this host");
	tui_confirm_init(&a->quit_confirm, "Quit certwiz?", "", false);
	a->cur = SCR_WELCOME;
	a->visited[SCR_WELCOME] = true;
	if (resume) {
		/* exec_open re-verifies the backups and re-checks the step that was under way; its
		 * messages reach the log through the observer. */
		struct observer obs = app_observer;
		obs.ctx = a;
		struct exec_opts eo = {.operator_name = a->operator_name, .obs = &obs, .resume_journal = resume,
				       .answers_path = o->answers_path, .config_path = o->config_path};
		if (exec_open(a->w, &eo, &a->ex, &err) != CW_OK) {
			term_close();
			open_wizard_failed(&err);
			a->exit_code = cw_status_exit_code(err.code);
			a->quit = true;
		} else {
			log_resumed(a, resume);
			for (int i = 0; i <= SCR_EXECUTE; i++)
				a->visited[i] = true;
			a->cur = SCR_EXECUTE;
		}
	}
	if (!a->quit)
		screens[a->cur]->init(a);

	bool redraw = true;
	while (!a->quit) {
		if (redraw) {
			draw(a);
			term_flush();
			redraw = false;
		}
		int k = term_getkey_fd(-1, a->wake[0]);
		if (k == TUI_KEY_EOF)
			break;
		redraw = handle_key(a, k) || redraw;
	}
	shutdown_app(a);
	int rc = a->exit_code;
	if (term_script_error() && !rc)
		rc = 1;
	exec_free(a->ex);
	tui_log_done(&a->log);
	tui_services_done(&a->local_svc);
	tui_confirm_done(&a->quit_confirm);
	for (size_t h = 0; h < a->nsvc; h++)
		tui_services_done(&a->svc[h]);
	free(a->svc);
	free(a->ack);
	free_step_views(a);
	check_report_done(&a->checks);
	hostkey_offers_free(a->offers, a->noffers);
	free(a->progress);
	free(a->notice);
	free(a->msg_title);
	free(a->msg_text);
	free(a->operator_name);
	free(a->profile_note);
	close(a->wake[0]);
	close(a->wake[1]);
	pthread_mutex_destroy(&a->lock);
	wizard_free(a->w);
	free(a);
	return rc;
}
