/* exec.c: run a plan step by step, with the backup gate, real verification and the journal. */
#include "exec.h"

#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include "carenew.h"
#include "crl.h"
#include "report.h"
#include "runner.h"
#include "service.h"
#include "util.h"
#include "verify.h"

struct svc_snapshot {
	size_t host;
	char *service;
	enum service_state before;   /* state when certwiz first touched it */
};

struct cert_snapshot {
	size_t host;
	char *path;
	char *fingerprint;           /* "" when there was none */
	char pubkey[65];             /* SHA-256 of its public key, "" when there was none */
	time_t not_after;            /* of the earliest to end of the file's certificates (a CA bundle) */
};

struct exec {
	struct wizard *w;
	struct plan *plan;                    /* borrowed from the wizard */
	struct observer obs;
	char *operator_name;                  /* "alice" or "batch:alice" */
	bool batch;
	char *run_dir;
	struct journal *journal;
	int lock_fd;
	struct transport **transports;        /* per host; NULL until connected */
	struct backup_result *backups;        /* per host */
	bool *backup_ok;                      /* per host: verified */
	bool *host_failed;                    /* per host */
	struct step_result *results;
	struct svc_snapshot *svcs; size_t nsvcs;
	struct cert_snapshot *certs; size_t ncerts;
	/* exec_run_step may run on several threads at once, one per host (parallel agents):
	 * lock guards the journal, the service snapshots and the list of running jobs. */
	pthread_mutex_t lock;
	struct runner_job **jobs; size_t njobs, capjobs; /* running commands, for cancel */
	atomic_bool cancel;
};

const char *step_state_str(enum step_state s)
{
	static const char *const names[] = {"pending", "running", "done", "failed", "signed",
					    "skipped", "manual-done", "host-failed"};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void msg(struct exec *ex, enum msg_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msg(struct exec *ex, enum msg_level level, const char *fmt, ...)
{
	if (!ex->obs.message)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ex->obs.message(ex->obs.ctx, level, buf);
}

static cw_status jlog(struct exec *ex, struct journal_entry e, struct cw_error *err)
{
	pthread_mutex_lock(&ex->lock);
	cw_status st = journal_append(ex->journal, &e, err);
	pthread_mutex_unlock(&ex->lock);
	return st;
}

/* ---------- hosts ---------- */

static const struct service_backend *backend_of(const struct exec *ex)
{
	return site_backend(&ex->w->site, ex->w->profile);
}

static cw_status connect_host(struct exec *ex, size_t h, struct cw_error *err)
{
	const struct plan_host *ph = &ex->plan->hosts[h];
	if (ex->transports[h])
		return CW_OK;
	if (ph->local) {
		ex->transports[h] = transport_local_new(ph->name);
		return CW_OK;
	}
	struct ssh_opts o = plan_host_ssh_opts(ph);
	cw_status st = transport_ssh_new(&o, &ex->transports[h], err);
	/* Connect now (handshake, host key, authentication), not at the first command: a bad
	 * host key or password must stop the run before anything has changed. */
	if (!st)
		st = transport_ssh_connect(ex->transports[h], err);
	if (st)
		cw_error_prefix(err, "%s", ph->name);
	return st;
}

static struct transport *env_transport(void *ctx, size_t host)
{
	struct exec *ex = ctx;
	/* exec_open connected every host; a missing one is a broken invariant, and running the
	 * command anywhere else would be worse than stopping. */
	if (!ex->transports[host])
		abort(); /* broken invariant: no transport for this host */
	return ex->transports[host];
}

static bool env_before_key(void *ctx, size_t host, const char *path, char pubkey[65], time_t *not_after)
{
	struct exec *ex = ctx;
	for (size_t i = 0; i < ex->ncerts; i++)
		if (ex->certs[i].host == host && strcmp(ex->certs[i].path, path) == 0 && ex->certs[i].pubkey[0]) {
			memcpy(pubkey, ex->certs[i].pubkey, 65);
			*not_after = ex->certs[i].not_after;
			return true;
		}
	return false;
}

static const char *env_before(void *ctx, size_t host, const char *path)
{
	struct exec *ex = ctx;
	for (size_t i = 0; i < ex->ncerts; i++)
		if (ex->certs[i].host == host && strcmp(ex->certs[i].path, path) == 0)
			return ex->certs[i].fingerprint;
	return NULL;
}

struct transport *exec_transport(struct exec *ex, size_t host)
{
	return env_transport(ex, host);
}

static struct service_ctx svc_ctx(struct exec *ex, size_t h, int timeout_s, output_fn out, void *out_ctx)
{
	const struct plan_host *ph = &ex->plan->hosts[h];
	struct service_ctx c = {
		.t = env_transport(ex, h),
		.backend = backend_of(ex),
		.address = ph->local ? (ph->address ? ph->address : "127.0.0.1") : ph->address,
		.ca_bundle_path = NULL,
		.timeout_s = timeout_s,
		.out = out,
		.out_ctx = out_ctx,
		.cancel = &ex->cancel,
	};
	return c;
}

cw_status exec_service_status(struct exec *ex, size_t host, const char *service, struct service_status *st,
			      struct cw_error *err)
{
	const struct service_def *def = profile_service(ex->w->profile, service);
	if (!def)
		return cw_error_set(err, CW_EINVAL, "profile %s has no service %s", ex->w->profile->name, service);
	struct service_ctx c = svc_ctx(ex, host, 10, NULL, NULL);
	char *ca = xasprintf("%s/certs/ca.pem", vars_get(&ex->plan->hosts[host].vars, "ssldir"));
	c.ca_bundle_path = ca;
	cw_status s = service_query(&c, def, st, err);
	free(ca);
	return s;
}

static struct svc_snapshot *snapshot_of(struct exec *ex, size_t host, const char *service)
{
	for (size_t i = 0; i < ex->nsvcs; i++)
		if (ex->svcs[i].host == host && strcmp(ex->svcs[i].service, service) == 0)
			return &ex->svcs[i];
	return NULL;
}

/* ---------- open ---------- */

static bool run_checks(struct exec *ex, const struct plan_check *cs, size_t n, const char *label,
		       struct step_result *r);
static void set_detail(struct step_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t step_index(const struct plan *p, const char *id)
{
	for (size_t i = 0; id && i < p->nsteps; i++)
		if (strcmp(p->steps[i].id, id) == 0)
			return i;
	return p->nsteps;
}

static size_t host_index(const struct plan *p, const char *name)
{
	for (size_t h = 0; h < p->nhosts; h++)
		if (strcmp(p->hosts[h].name, name) == 0)
			return h;
	return p->nhosts;
}

/* A step that was under way when the run stopped: wait for a command that outlived the killed
 * certwiz, then let the real state decide whether it is done or runs again. */
static void adopt_started(struct exec *ex, const struct journal_log *old, size_t i)
{
	const struct plan *p = ex->plan;
	const struct plan_step *s = &p->steps[i];
	struct step_result *r = &ex->results[i];
	/* A SIGKILLed certwiz cannot stop what it started: the command may still be running.
	 * Wait for its process group to end before judging or repeating the step. */
	long pgid = 0;
	for (size_t k = 0; k < old->n; k++)
		if (old->entries[k].event == JE_FACT && old->entries[k].key && old->entries[k].step &&
		    strcmp(old->entries[k].key, "pgid") == 0 && strcmp(old->entries[k].step, s->id) == 0)
			pgid = atol(old->entries[k].value);
	for (int waited = 0; pgid > 0 && kill((pid_t)-pgid, 0) == 0 && waited < 1800; waited++) {
		if (waited % 20 == 0)
			msg(ex, MSG_INFO, "step %zu (%s): its command (process group %ld) is still running; "
			    "waiting for it to end", i + 1, s->id, pgid);
		usleep(500000);
	}
	/* The step was under way when the run stopped: does the real state show it done? */
	bool holds = s->nverify > 0 && run_checks(ex, s->verify, s->nverify, "verify", r);
	r->state = holds ? STEP_DONE : STEP_PENDING;
	if (!holds) {
		strv_free(r->checks);
		r->checks = NULL;
		free(r->detail);
		r->detail = NULL;
	}
	msg(ex, MSG_INFO, "step %zu (%s) was running when the run stopped: %s", i + 1, s->id,
	    holds ? "its verification holds, so it is done" : "it will run again");
	jlog(ex, (struct journal_entry){.event = JE_STEP_VERIFY, .step = s->id, .host = p->hosts[s->host].name,
					.outcome = holds ? "ok" : "rerun", .note = "re-checked after resume"}, NULL);
}

/* Take over an interrupted run: its verified backups, its finished steps, its running step. */
static cw_status adopt(struct exec *ex, const struct journal_log *old, struct cw_error *err)
{
	struct plan *p = ex->plan;
	struct journal_position pos = {0};
	cw_status st = journal_position(old, &pos, err);
	if (st)
		return st;
	/* A run the operator quit (cancelled), or one that stopped for a manual step (waiting), may
	 * go on later; one that ended otherwise may not. */
	if (pos.ended && !(pos.end_outcome && (strcmp(pos.end_outcome, "cancelled") == 0 ||
					       strcmp(pos.end_outcome, "waiting") == 0))) {
		st = cw_error_set(err, CW_EINVAL, "that run has ended already (%s): there is nothing to resume",
				  pos.end_outcome ? pos.end_outcome : "ended");
		goto out;
	}
	if (!pos.procedure || strcmp(pos.procedure, p->procedure) != 0) {
		st = cw_error_set(err, CW_EINVAL, "the journal is of procedure %s, the plan is %s: resume with the "
				  "same answers", pos.procedure ? pos.procedure : "?", p->procedure);
		goto out;
	}
	for (size_t i = 0; i < old->n; i++) {
		const struct journal_entry *je = &old->entries[i];
		if (je->event != JE_BACKUP || !je->host || !je->path)
			continue;
		for (size_t h = 0; h < p->nhosts; h++) {
			if (strcmp(p->hosts[h].name, je->host) != 0)
				continue;
			struct backup_result *b = &ex->backups[h];
			backup_result_done(b);
			backup_result_for(je->path, b);
			struct cw_error e = {0};
			/* A backup is trusted again only after it is read back once more. */
			ex->backup_ok[h] = backup_verify(ex->transports[h], b, &e) == CW_OK;
			b->verified = ex->backup_ok[h];
			msg(ex, ex->backup_ok[h] ? MSG_INFO : MSG_WARN, "%s: backup %s %s%s", je->host, je->path,
			    ex->backup_ok[h] ? "verified again" : "does NOT verify: ", ex->backup_ok[h] ? "" : e.msg);
		}
	}
	/* What each service was before the first run touched it: a service certwiz stopped must be
	 * started again by the resumed run, not taken for one the operator had stopped. */
	for (size_t i = 0; i < old->n; i++) {
		const struct journal_entry *je = &old->entries[i];
		const char *name = je->key && strncmp(je->key, "service-before:", 15) == 0 ? je->key + 15 : NULL;
		size_t h = je->host ? host_index(p, je->host) : p->nhosts;
		if (je->event != JE_FACT || !name || !je->value || h >= p->nhosts || snapshot_of(ex, h, name))
			continue;
		enum service_state was = SERVICE_UNKNOWN;
		for (enum service_state k = SERVICE_UNKNOWN; k <= SERVICE_RUNNING; k++)
			if (strcmp(je->value, service_state_str(k)) == 0)
				was = k;
		ex->svcs = xrealloc(ex->svcs, (ex->nsvcs + 1) * sizeof *ex->svcs);
		ex->svcs[ex->nsvcs++] = (struct svc_snapshot){h, xstrdup(name), was};
	}
	/* An agent the operator left out of the run stays out of the resumed one. */
	for (size_t i = 0; i < old->n; i++) {
		const struct journal_entry *je = &old->entries[i];
		size_t h = je->host ? host_index(p, je->host) : p->nhosts;
		if (je->event == JE_FACT && je->key && strcmp(je->key, "left-out") == 0 && h < p->nhosts)
			ex->host_failed[h] = true;
	}
	for (size_t k = 0; pos.done_steps && pos.done_steps[k]; k++) {
		size_t i = step_index(p, pos.done_steps[k]);
		if (i >= p->nsteps)
			continue;
		/* As it was finished: signed off, skipped or done by hand, by whom, when. */
		struct step_result *r = &ex->results[i];
		r->state = STEP_SIGNED;
		for (size_t e = old->n; e-- > 0;) {
			const struct journal_entry *je = &old->entries[e];
			if (!je->step || strcmp(je->step, pos.done_steps[k]) != 0 ||
			    (je->event != JE_SIGNOFF && je->event != JE_SKIP && je->event != JE_MANUAL_DONE))
				continue;
			r->state = je->event == JE_SKIP ? STEP_SKIPPED : je->event == JE_MANUAL_DONE ? STEP_MANUAL_DONE
												 : STEP_SIGNED;
			r->who = xstrdup(je->who ? je->who : "?");
			r->note = je->note ? xstrdup(je->note) : NULL;
			r->signed_at = je->time;
			break;
		}
		if (!r->who)
			r->who = xstrdup("(before the resume)");
	}
	/* Every step that was under way (started, not signed off): several at once when a wave
	 * or a batch of agents was running. */
	char **started = NULL;
	for (size_t k = 0; k < old->n; k++) {
		const struct journal_entry *je = &old->entries[k];
		if (je->event == JE_STEP_START && je->step && !strv_contains(pos.done_steps, je->step) &&
		    !strv_contains(started, je->step))
			strv_push(&started, je->step);
	}
	for (size_t k = 0; started && started[k]; k++) {
		size_t i = step_index(p, started[k]);
		if (i < p->nsteps && ex->results[i].state == STEP_PENDING)
			adopt_started(ex, old, i);
	}
	strv_free(started);
	st = CW_OK;
out:
	journal_position_done(&pos);
	return st;
}

cw_status exec_open(struct wizard *w, const struct exec_opts *o, struct exec **out, struct cw_error *err)
{
	if (!w->plan)
		return cw_error_set(err, CW_EINVAL, "no plan: build the plan first");
	struct exec *ex = xcalloc(1, sizeof *ex);
	cw_status st;
	struct plan *p = w->plan;
	struct journal_log old = {0}; /* the interrupted run, when resuming */
	ex->w = w;
	ex->plan = p;
	ex->lock_fd = -1;
	pthread_mutex_init(&ex->lock, NULL);
	if (o->obs)
		ex->obs = *o->obs;
	ex->batch = o->batch;
	const char *op = o->operator_name && *o->operator_name ? o->operator_name : getenv("USER");
	if (!op || !*op)
		op = "operator";
	ex->operator_name = o->batch ? xasprintf("batch:%s", op) : xstrdup(op);
	ex->transports = xcalloc(p->nhosts, sizeof *ex->transports);
	ex->backups = xcalloc(p->nhosts, sizeof *ex->backups);
	ex->backup_ok = xcalloc(p->nhosts, sizeof *ex->backup_ok);
	ex->host_failed = xcalloc(p->nhosts, sizeof *ex->host_failed);
	ex->results = xcalloc(p->nsteps ? p->nsteps : 1, sizeof *ex->results);

	/* A Windows host's steps are instructions for the operator, but the CA's steps for it
	 * (comparing its request, verifying its files) need to read it, which certwiz cannot do:
	 * refuse before anything changes, rather than half-run it. */
	for (size_t h = 0; h < p->nhosts; h++)
		if (p->hosts[h].os && strcmp(p->hosts[h].os, "windows") == 0) {
			st = cw_error_set(err, CW_EINVAL,
					  "%s is a Windows host: certwiz prints its steps (certwiz plan) but cannot run "
					  "them, because the CA's steps for it must read its files. Regenerate it by hand "
					  "following the plan, and run certwiz for the other agents without it; nothing "
					  "was changed", p->hosts[h].name);
			goto fail;
		}
	/* One run at a time per deployment. */
	const char *jdir = w->site.journal_dir;
	if ((st = mkdir_p(jdir, 0700, err)))
		goto fail;
	char *lock = xasprintf("%s/certwiz.lock", jdir);
	st = journal_lock(lock, ex->operator_name, &ex->lock_fd, err);
	free(lock);
	if (st)
		goto fail;
	if (o->resume_journal) {
		if ((st = journal_load(o->resume_journal, &old, err)))
			goto fail;
		ex->run_dir = xstrdup(o->resume_journal);
		char *slash = strrchr(ex->run_dir, '/');
		if (slash)
			*slash = '\0';
		else
			strcpy(ex->run_dir, ".");
	} else if (o->run_dir) {
		ex->run_dir = xstrdup(o->run_dir);
	} else {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
		ex->run_dir = xasprintf("%s/%s-%s", jdir, ts, p->procedure);
	}
	if ((st = mkdir_p(ex->run_dir, 0700, err)))
		goto fail;
	char *jpath = xasprintf("%s/journal.jsonl", ex->run_dir);
	st = journal_open(jpath, &ex->journal, err);
	free(jpath);
	if (st)
		goto fail;
	char *hosts = NULL;
	{
		char **names = NULL;
		for (size_t i = 0; i < p->nhosts; i++)
			strv_push_owned(&names, xasprintf("%s=%s", p->hosts[i].role, p->hosts[i].name));
		hosts = strv_join(names, ",");
		strv_free(names);
	}
	if (o->resume_journal)
		st = jlog(ex, (struct journal_entry){.event = JE_FACT, .who = ex->operator_name, .key = "resumed",
						     .value = hosts}, err);
	else
		st = jlog(ex, (struct journal_entry){.event = JE_RUN_START, .who = ex->operator_name,
						     .procedure = p->procedure, .profile = p->profile, .hosts = hosts,
						     .path = o->answers_path, .value = o->config_path}, err);
	free(hosts);
	if (st)
		goto fail;

	/* Reach every host now, so a bad host key or password stops the run before any change. */
	for (size_t h = 0; h < p->nhosts; h++) {
		if (ex->obs.host_changed)
			ex->obs.host_changed(ex->obs.ctx, p->hosts[h].name, HOST_PENDING, "connecting");
		if ((st = connect_host(ex, h, err)))
			goto fail;
	}
	/* A resumed run keeps the fingerprints (and public keys, ends) it saw before it changed anything. */
	for (size_t i = 0; i < old.n; i++) {
		const struct journal_entry *je = &old.entries[i];
		if (je->event != JE_FACT || !je->key || strncmp(je->key, "old:", 4) != 0 || !je->host)
			continue;
		const char *path = strchr(je->key + 4, ':');
		for (size_t h = 0; path && h < p->nhosts; h++)
			if (strcmp(p->hosts[h].name, je->host) == 0 && !env_before(ex, h, path + 1)) {
				ex->certs = xrealloc(ex->certs, (ex->ncerts + 1) * sizeof *ex->certs);
				ex->certs[ex->ncerts++] = (struct cert_snapshot){
					h, xstrdup(path + 1), xstrdup(strcmp(je->value, "(none)") == 0 ? "" : je->value), "", 0};
			}
	}
	for (size_t i = 0; i < old.n; i++) {
		const struct journal_entry *je = &old.entries[i];
		if (je->event != JE_FACT || !je->key || strncmp(je->key, "old-key:", 8) != 0 || !je->host || !je->value)
			continue;
		const char *path = strchr(je->key + 8, ':');
		for (size_t k = 0; path && k < ex->ncerts; k++) {
			struct cert_snapshot *cs = &ex->certs[k];
			long long end = 0;
			if (strcmp(cs->path, path + 1) == 0 && strcmp(p->hosts[cs->host].name, je->host) == 0 &&
			    sscanf(je->value, "%64s %lld", cs->pubkey, &end) == 2)
				cs->not_after = (time_t)end;
		}
	}
	/* What must change, or stay: the current fingerprints of every certificate a check compares
	 * with before the run (changed, unchanged, same_key), and of the CA bundle a signed check
	 * verifies against (its end). */
	for (size_t i = 0; i < p->nsteps; i++)
		for (size_t k = 0; k < p->steps[i].nverify; k++) {
			const struct plan_check *c = &p->steps[i].verify[k];
			const char *path = c->kind == CHECK_SIGNED ? c->ca : c->path;
			if (!((c->kind == CHECK_CERT && (c->changed || c->unchanged || c->same_key)) ||
			      c->kind == CHECK_SIGNED) ||
			    env_before(ex, c->host, path))
				continue;
			char *pem = NULL;
			size_t len = 0;
			struct x509_info info = {0};
			const char *fp = "";
			if (transport_read_file(ex->transports[c->host], path, X509_PEM_MAX, &pem, &len, NULL) == CW_OK &&
			    x509_parse_cert(pem, len, &info, NULL) == CW_OK)
				fp = info.fingerprint;
			ex->certs = xrealloc(ex->certs, (ex->ncerts + 1) * sizeof *ex->certs);
			struct cert_snapshot *cs = &ex->certs[ex->ncerts++];
			*cs = (struct cert_snapshot){c->host, xstrdup(path), xstrdup(fp), "", 0};
			char *key = xasprintf("old:%s:%s", p->hosts[c->host].name, path);
			jlog(ex, (struct journal_entry){.event = JE_FACT, .host = p->hosts[c->host].name, .key = key,
							.value = *fp ? fp : "(none)"}, NULL);
			free(key);
			if (*fp) {
				memcpy(cs->pubkey, info.pubkey_sha256, 65);
				cs->not_after = ca_bundle_end(pem, len);
				key = xasprintf("old-key:%s:%s", p->hosts[c->host].name, path);
				char *value = xasprintf("%s %lld", cs->pubkey, (long long)cs->not_after);
				jlog(ex, (struct journal_entry){.event = JE_FACT, .host = p->hosts[c->host].name, .key = key,
								.value = value}, NULL);
				free(value);
				free(key);
			}
			x509_info_done(&info);
			free(pem);
		}
	if (w->facts.cacert.fingerprint[0] && !o->resume_journal)
		jlog(ex, (struct journal_entry){.event = JE_FACT, .key = "old:ca", .value = w->facts.cacert.fingerprint}, NULL);
	if (o->resume_journal && (st = adopt(ex, &old, err)))
		goto fail;
	journal_log_done(&old);
	*out = ex;
	return CW_OK;
fail:
	journal_log_done(&old);
	exec_free(ex);
	return st;
}

/* ---------- one step ---------- */

struct out_ctx {
	struct exec *ex;
	const struct plan_step *step;
	struct strbuf digest_input; /* hashed into the journal, never stored */
};

static void on_output(void *ctx, int stream, const char *data, size_t len)
{
	struct out_ctx *oc = ctx;
	if (oc->digest_input.len < (8u << 20))
		strbuf_add(&oc->digest_input, data, len);
	if (oc->ex->obs.step_output)
		oc->ex->obs.step_output(oc->ex->obs.ctx, oc->step, stream, data, len);
}

static bool ok_exit(const struct plan_step *s, int code)
{
	for (size_t i = 0; i < s->nok; i++)
		if (s->ok_exit[i] == code)
			return true;
	return false;
}

static void set_detail(struct step_result *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(r->detail);
	r->detail = s;
}

static void reset_result(struct step_result *r)
{
	free(r->detail);
	strv_free(r->checks);
	free(r->who);
	free(r->note);
	memset(r, 0, sizeof *r);
}

static bool run_checks(struct exec *ex, const struct plan_check *cs, size_t n, const char *label,
		       struct step_result *r)
{
	struct verify_env env = {.ctx = ex, .transport = env_transport, .before = env_before,
				 .before_key = env_before_key, .tls_wait_s = 60};
	bool all = true;
	for (size_t i = 0; i < n; i++) {
		char *line = NULL;
		bool ok = verify_check(ex->plan, &cs[i], &env, &line);
		strv_push_owned(&r->checks, xasprintf("%s %s: %s", ok ? "ok" : "FAIL", label, line ? line : "?"));
		if (!ok && all)
			set_detail(r, "%s check failed: %s", label, line ? line : "?");
		all = all && ok;
		free(line);
	}
	return all;
}

/* Run argv for step s (and, when it serves a batch, for the steps in peers too: each gets the
 * command's process group journaled, so that a resume can wait for it). */
static cw_status run_command(struct exec *ex, const struct plan_step *s, char *const *argv, const size_t *peers,
			     size_t npeers, struct step_result *r, struct out_ctx *oc, struct cw_error *err)
{
	struct runner_opts ro = {.timeout_s = s->timeout_s, .out = on_output, .ctx = oc, .until = s->until};
	struct runner_job *job;
	cw_status st = runner_start(ex->transports[s->host], argv, &ro, &job, err);
	if (st)
		return st;
	long pgid = runner_proc_group(job);
	if (pgid > 0 && ex->transports[s->host]->is_local) {
		char pg[32];
		snprintf(pg, sizeof pg, "%ld", pgid);
		for (size_t k = 0; k < (peers ? npeers : 1); k++)
			jlog(ex, (struct journal_entry){.event = JE_FACT, .step = peers ? ex->plan->steps[peers[k]].id : s->id,
							.host = ex->plan->hosts[s->host].name, .key = "pgid", .value = pg},
			     NULL);
	}
	pthread_mutex_lock(&ex->lock);
	if (ex->njobs == ex->capjobs) {
		ex->capjobs = ex->capjobs ? 2 * ex->capjobs : 8;
		ex->jobs = xrealloc(ex->jobs, ex->capjobs * sizeof *ex->jobs);
	}
	ex->jobs[ex->njobs++] = job;
	pthread_mutex_unlock(&ex->lock);
	if (atomic_load(&ex->cancel))
		runner_cancel(job);
	/* Asleep until output, the command's end, its own timers or a cancel (exec_cancel wakes
	 * the job): no periodic wake-ups, which cost CPU per agent in a fleet. */
	while (!runner_step(job) && runner_poll_many(&job, 1, -1) == 0)
		if (atomic_load(&ex->cancel))
			runner_cancel(job);
	pthread_mutex_lock(&ex->lock);
	for (size_t k = 0; k < ex->njobs; k++) /* forget it before runner_finish frees it */
		if (ex->jobs[k] == job) {
			ex->jobs[k] = ex->jobs[--ex->njobs];
			break;
		}
	pthread_mutex_unlock(&ex->lock);
	st = runner_finish(job, &r->proc, err);
	r->ran = true;
	return st;
}

static cw_status run_service(struct exec *ex, const struct plan_step *s, struct step_result *r,
			     struct out_ctx *oc, struct cw_error *err)
{
	bool stop = strcmp(s->service_action, "stop") == 0;
	char *ca = xasprintf("%s/certs/ca.pem", vars_get(&ex->plan->hosts[s->host].vars, "ssldir"));
	cw_status result = CW_OK;
	for (size_t i = 0; s->services && s->services[i]; i++) {
		const char *name = s->services[i];
		const struct service_def *def = profile_service(ex->w->profile, name);
		struct service_ctx c = svc_ctx(ex, s->host, stop ? 120 : 300, on_output, oc);
		c.ca_bundle_path = ca;
		struct service_status st = {0};
		struct cw_error e = {0};
		pthread_mutex_lock(&ex->lock);
		struct svc_snapshot *found = snapshot_of(ex, s->host, name);
		enum service_state before = found ? found->before : SERVICE_UNKNOWN;
		pthread_mutex_unlock(&ex->lock);
		if (!found) {
			/* The first time certwiz touches this service on this host: remember its state,
			 * so a service that was stopped before stays stopped afterwards. */
			if (service_query(&c, def, &st, &e) != CW_OK)
				st.state = SERVICE_UNKNOWN;
			before = st.state;
			pthread_mutex_lock(&ex->lock);
			ex->svcs = xrealloc(ex->svcs, (ex->nsvcs + 1) * sizeof *ex->svcs);
			ex->svcs[ex->nsvcs++] = (struct svc_snapshot){s->host, xstrdup(name), st.state};
			pthread_mutex_unlock(&ex->lock);
			char *key = xasprintf("service-before:%s", name);
			jlog(ex, (struct journal_entry){.event = JE_FACT, .host = ex->plan->hosts[s->host].name, .key = key,
							.value = service_state_str(st.state)}, NULL);
			free(key);
		}
		if (!stop && before == SERVICE_STOPPED) {
			strv_push_owned(&r->checks, xasprintf("ok service: %s left stopped: it was stopped before "
							      "certwiz started", name));
			continue;
		}
		cw_status sst = stop ? service_stop(&c, def, &st, &e) : service_start(&c, def, &st, &e);
		if (ex->obs.service_changed)
			ex->obs.service_changed(ex->obs.ctx, ex->plan->hosts[s->host].name, name, &st);
		if (sst) {
			strv_push_owned(&r->checks, xasprintf("FAIL service: %s: %s", name, e.msg));
			if (!result) {
				set_detail(r, "%s %s failed: %s", stop ? "stopping" : "starting", name, e.msg);
				result = cw_error_set(err, sst, "%s", e.msg);
			}
			break; /* the next services depend on this order */
		}
		strv_push_owned(&r->checks, xasprintf("ok service: %s is %s%s%s", name, service_state_str(st.state),
						      st.detail[0] ? " - " : "", st.detail));
	}
	free(ca);
	return result;
}

static cw_status run_backup(struct exec *ex, const struct plan_step *s, struct step_result *r,
			    struct cw_error *err)
{
	const struct plan_host *h = &ex->plan->hosts[s->host];
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	char *name = xasprintf("%s-%s-%s", ts, h->name, ex->plan->procedure);
	const char *dir = !h->local && h->tmpdir ? h->tmpdir : ex->w->site.backup_dir;
	struct backup_result *b = &ex->backups[s->host];
	backup_result_done(b);
	ex->backup_ok[s->host] = false;
	cw_status st = backup_create(ex->transports[s->host], dir, name, s->backup_paths, b, err);
	free(name);
	if (st) {
		set_detail(r, "backup failed: %s", err->msg);
		return st;
	}
	strv_push_owned(&r->checks, xasprintf("ok backup: %s written (%zu files, %llu bytes, SHA-256 %.16s...)",
					      b->archive, b->files, (unsigned long long)b->bytes, b->archive_sha256));
	st = backup_verify(ex->transports[s->host], b, err);
	if (st) {
		strv_push_owned(&r->checks, xasprintf("FAIL verify: %s", err->msg));
		set_detail(r, "the backup does not verify: %s", err->msg);
		return st;
	}
	b->verified = true;
	ex->backup_ok[s->host] = true;
	strv_push_owned(&r->checks, xasprintf("ok verify: %s read back and matches its manifest %s", b->archive,
					      b->manifest));
	return jlog(ex, (struct journal_entry){.event = JE_BACKUP, .step = s->id, .host = h->name,
					       .outcome = "verified", .path = b->archive, .note = b->manifest}, err);
}

/* The host a failure belongs to: the agent a per-agent step is about, else where it ran. */
static size_t step_unit(const struct plan *p, const struct plan_step *s)
{
	if (s->target)
		for (size_t h = 0; h < p->nhosts; h++)
			if (strcmp(p->hosts[h].name, s->target) == 0)
				return h;
	return s->host;
}

/* exec_run_step in parts, so that a batch of agents can share the command in the middle. */

/* The gates: whether step i may run now. *run false (CW_OK) when its host has failed already:
 * the step is then journaled as not run. */
static cw_status step_gate(struct exec *ex, size_t i, bool confirmed, bool *run, struct cw_error *err)
{
	*run = false;
	if (i >= ex->plan->nsteps)
		return cw_error_set(err, CW_EINVAL, "there is no step %zu", i + 1);
	const struct plan_step *s = &ex->plan->steps[i];
	struct step_result *r = &ex->results[i];
	const char *host = ex->plan->hosts[s->host].name;
	if (r->state != STEP_PENDING && r->state != STEP_FAILED)
		return cw_error_set(err, CW_EINVAL, "step %zu (%s) is already %s", i + 1, s->id, step_state_str(r->state));
	size_t unit = step_unit(ex->plan, s);
	if ((ex->host_failed[unit] || ex->host_failed[s->host]) && r->state == STEP_PENDING) {
		r->state = STEP_HOST_FAILED;
		set_detail(r, "not run: an earlier step for %s failed", ex->plan->hosts[ex->host_failed[unit] ? unit : s->host].name);
		return jlog(ex, (struct journal_entry){.event = JE_SKIP, .step = s->id, .host = host,
						       .who = "certwiz", .note = r->detail}, err);
	}
	if (s->kind == STEP_MANUAL)
		return cw_error_set(err, CW_EINVAL, "step %zu (%s) is manual: do it by hand, then mark it done", i + 1,
				    s->id);
	/* The promise of the seeds, made mechanical: nothing destructive without a verified backup. */
	if (s->destructive && !ex->backup_ok[s->host])
		return cw_error_set(err, CW_EBACKUP,
				    "step %zu (%s) changes %s irreversibly, and %s has no verified backup yet: run "
				    "its backup step first", i + 1, s->title, host, host);
	if (s->destructive && !confirmed)
		return cw_error_set(err, CW_EINVAL, "step %zu (%s) is destructive: confirm it by typing '%s'", i + 1,
				    s->title, s->confirm);
	*run = true;
	return CW_OK;
}

/* Journal the start, tell the observer, check what must hold before: *ready false when it does not. */
static cw_status step_begin(struct exec *ex, size_t i, struct out_ctx *oc, bool *ready, struct cw_error *err)
{
	const struct plan_step *s = &ex->plan->steps[i];
	struct step_result *r = &ex->results[i];
	atomic_store(&ex->cancel, false);
	reset_result(r);
	r->state = STEP_RUNNING;
	char *cmd = s->argv ? argv_display(s->argv) : NULL;
	cw_status st = jlog(ex, (struct journal_entry){.event = JE_STEP_START, .step = s->id,
						       .host = ex->plan->hosts[s->host].name, .title = s->title,
						       .command = cmd, .who = ex->operator_name}, err);
	free(cmd);
	*oc = (struct out_ctx){.ex = ex, .step = s};
	strbuf_init(&oc->digest_input);
	if (st)
		return st;
	if (ex->obs.step_started)
		ex->obs.step_started(ex->obs.ctx, s, s->argv);
	*ready = run_checks(ex, s->require, s->nrequire, "before", r);
	return CW_OK;
}

/* Judge a finished command by the step's success exit codes. */
static cw_status judge_exit(const struct plan_step *s, struct step_result *r, const char *what)
{
	if (s->until) { /* a server run until it says it serves: its exit is certwiz's doing */
		if (r->proc.until_seen) {
			strv_push_owned(&r->checks, xasprintf("ok output: %s printed \"%s\" and was stopped", what, s->until));
			return CW_OK;
		}
		set_detail(r, "%s ended (exit %d) before it printed \"%s\"", what, r->proc.exit_code, s->until);
		return CW_EEXEC;
	}
	if (ok_exit(s, r->proc.exit_code)) {
		strv_push_owned(&r->checks, xasprintf("ok exit: %s exited with %d", what, r->proc.exit_code));
		return CW_OK;
	}
	if (r->proc.exit_code < 0)
		set_detail(r, "%s was killed by signal %s%d", what, r->proc.signal_name, r->proc.term_signal);
	else
		set_detail(r, "%s exited with %d (success is %d%s)", what, r->proc.exit_code, s->ok_exit[0],
			   s->nok > 1 ? " or another listed code" : "");
	return CW_EEXEC;
}

/* Work certwiz does itself (crl-refresh, ca-renew), on this host: its report is the step's output. */
static cw_status run_action(struct exec *ex, const struct plan_step *s, struct step_result *r, struct out_ctx *oc,
			    struct cw_error *e)
{
	struct strbuf sb;
	strbuf_init(&sb);
	long days = strtol(s->argv[2], NULL, 10);
	cw_status st = strcmp(s->argv[0], "ca-renew") == 0 ? ca_renew(NULL, s->argv[1], (int)days, time(NULL), &sb, e)
							   : crl_refresh(NULL, s->argv[1], (int)days, time(NULL), &sb, e);
	if (sb.len)
		on_output(oc, 1, sb.buf, sb.len);
	strbuf_done(&sb);
	if (st)
		set_detail(r, "%s", e->msg);
	return st;
}

/* The step's own work: its command, services or backup. */
static cw_status step_body(struct exec *ex, size_t i, struct out_ctx *oc, struct cw_error *e)
{
	const struct plan_step *s = &ex->plan->steps[i];
	struct step_result *r = &ex->results[i];
	cw_status st = CW_OK;
	switch (s->kind) {
	case STEP_RUN:
		st = run_command(ex, s, s->argv, NULL, 0, r, oc, e);
		if (st)
			set_detail(r, "%s", e->msg);
		else
			st = judge_exit(s, r, "the command");
		break;
	case STEP_SERVICE:
		st = run_service(ex, s, r, oc, e);
		break;
	case STEP_BACKUP:
		st = run_backup(ex, s, r, e);
		break;
	case STEP_MANUAL:
		break;
	case STEP_ACTION:
		st = run_action(ex, s, r, oc, e);
		break;
	}
	return st;
}

/* Verify (when the work succeeded), record the outcome, journal the end, tell the observer. */
static cw_status step_end(struct exec *ex, size_t i, cw_status st, struct out_ctx *oc, const struct cw_error *e,
			  struct cw_error *err)
{
	const struct plan_step *s = &ex->plan->steps[i];
	struct step_result *r = &ex->results[i];
	const char *host = ex->plan->hosts[s->host].name;
	size_t unit = step_unit(ex->plan, s);
	if (!st && !run_checks(ex, s->verify, s->nverify, "verify", r))
		st = CW_EVERIFY;
	char digest[65];
	sha256_hex(oc->digest_input.buf ? oc->digest_input.buf : "", oc->digest_input.len, digest);
	strbuf_done(&oc->digest_input);
	r->state = st ? STEP_FAILED : STEP_DONE;
	if (st && !r->detail)
		set_detail(r, "%s", e->msg[0] ? e->msg : cw_status_str(st));
	pthread_mutex_lock(&ex->lock);
	if (st) {
		ex->host_failed[unit] = true;
	} else if (ex->host_failed[unit]) {
		/* A retry that succeeded: the host goes on unless another of its steps still failed. */
		bool other = false;
		for (size_t k = 0; k < ex->plan->nsteps; k++)
			if (k != i && ex->results[k].state == STEP_FAILED && step_unit(ex->plan, &ex->plan->steps[k]) == unit)
				other = true;
		ex->host_failed[unit] = other;
		for (size_t k = 0; !other && k < ex->plan->nsteps; k++)
			if (ex->results[k].state == STEP_HOST_FAILED && step_unit(ex->plan, &ex->plan->steps[k]) == unit)
				ex->results[k].state = STEP_PENDING;
	}
	pthread_mutex_unlock(&ex->lock);
	jlog(ex, (struct journal_entry){.event = JE_STEP_FINISH, .step = s->id, .host = host,
					.exit_code = r->ran ? r->proc.exit_code : 0, .outcome = st ? "fail" : "ok",
					.value = digest, .note = r->detail}, NULL);
	char *checks = strv_join(r->checks, "\n");
	jlog(ex, (struct journal_entry){.event = JE_STEP_VERIFY, .step = s->id, .host = host,
					.outcome = st ? "fail" : "ok", .note = checks}, NULL);
	free(checks);
	if (ex->obs.step_finished)
		ex->obs.step_finished(ex->obs.ctx, s, r);
	if (st)
		return cw_error_set(err, st, "step %zu (%s) on %s failed: %s", i + 1, s->title, host,
				    r->detail ? r->detail : cw_status_str(st));
	return CW_OK;
}

cw_status exec_run_step(struct exec *ex, size_t i, bool confirmed, struct cw_error *err)
{
	bool run, ready;
	struct out_ctx oc;
	cw_status st = step_gate(ex, i, confirmed, &run, err);
	if (st || !run)
		return st;
	if ((st = step_begin(ex, i, &oc, &ready, err))) {
		strbuf_done(&oc.digest_input);
		return st;
	}
	struct cw_error e = {0};
	st = ready ? step_body(ex, i, &oc, &e) : CW_EVERIFY;
	return step_end(ex, i, st, &oc, &e, err);
}

/* Only the step's "before" checks stay in its result (they held when it started). */
static void keep_before(struct step_result *r)
{
	char **kept = NULL;
	for (size_t k = 0; r->checks && r->checks[k]; k++)
		if (strncmp(r->checks[k], "ok before:", 10) == 0)
			strv_push(&kept, r->checks[k]);
	strv_free(r->checks);
	r->checks = kept;
}

/* At most this many agents share one command (each name costs a few dozen bytes of argv). */
#define BATCH_MAX 100

cw_status exec_run_batch(struct exec *ex, const size_t *steps, size_t n, bool confirmed, cw_status *sts,
			 struct cw_error *errs)
{
	cw_status first = CW_OK;
	size_t *ready = xcalloc(n ? n : 1, sizeof *ready), nready = 0;
	struct out_ctx *oc = xcalloc(n ? n : 1, sizeof *oc);
	struct cw_error e = {0};
	for (size_t k = 0; k < n; k++) {
		bool run, ok;
		errs[k] = (struct cw_error){0};
		cw_status st = step_gate(ex, steps[k], confirmed, &run, &errs[k]);
		if (!st && run && !(st = step_begin(ex, steps[k], &oc[k], &ok, &errs[k])) && !ok)
			st = step_end(ex, steps[k], CW_EVERIFY, &oc[k], &e, &errs[k]);
		else if (!st && run)
			ready[nready++] = k;
		sts[k] = st;
		if (st && !first)
			first = st;
	}
	for (size_t from = 0; from < nready; from += BATCH_MAX) {
		size_t m = nready - from < BATCH_MAX ? nready - from : BATCH_MAX;
		size_t *idx = xcalloc(m, sizeof *idx);
		for (size_t k = 0; k < m; k++)
			idx[k] = steps[ready[from + k]];
		char **argv = m > 1 ? plan_batch_argv(ex->plan, idx, m) : NULL;
		const struct plan_step *lead = &ex->plan->steps[idx[0]];
		struct step_result *lr = &ex->results[idx[0]];
		cw_status shared = CW_EEXEC;
		if (argv) {
			char *cmd = argv_display(argv);
			msg(ex, MSG_INFO, "steps %zu-%zu (%s) for %zu agents in one command: $ %s", idx[0] + 1,
			    idx[m - 1] + 1, lead->tmpl_id, m, cmd);
			for (size_t k = 0; k < m; k++)
				jlog(ex, (struct journal_entry){.event = JE_FACT, .step = ex->plan->steps[idx[k]].id,
								.host = ex->plan->hosts[lead->host].name, .key = "batch-command",
								.value = cmd}, NULL);
			free(cmd);
			struct cw_error ce = {0};
			shared = run_command(ex, lead, argv, idx, m, lr, &oc[ready[from]], &ce);
			if (shared)
				msg(ex, MSG_WARN, "the shared command could not run (%s): each agent on its own", ce.msg);
			else if (!ok_exit(lead, lr->proc.exit_code))
				msg(ex, MSG_WARN, "the shared command exited with %d: each agent is checked, and run on its "
				    "own where its verification does not hold", lr->proc.exit_code);
			shared = shared ? shared : ok_exit(lead, lr->proc.exit_code) ? CW_OK : CW_EEXEC;
		}
		/* What the shared command left, before the lead's own end (or a re-run) consumes it. */
		int shared_exit = lr->proc.exit_code;
		bool shared_ran = lr->ran;
		struct strbuf shared_out;
		strbuf_init(&shared_out);
		if (argv)
			strbuf_add(&shared_out, oc[ready[from]].digest_input.buf ? oc[ready[from]].digest_input.buf : "",
				   oc[ready[from]].digest_input.len);
		for (size_t k = 0; k < m; k++) {
			size_t i = idx[k];
			struct step_result *r = &ex->results[i];
			struct out_ctx *o = &oc[ready[from + k]];
			cw_status st;
			struct cw_error se = {0};
			if (k > 0 && argv) { /* the same command served it: its output is the lead's */
				r->proc = (struct proc_result){.exit_code = shared_exit};
				r->ran = shared_ran;
				strbuf_add(&o->digest_input, shared_out.buf ? shared_out.buf : "", shared_out.len);
			}
			if (argv && !shared) {
				st = judge_exit(ex->plan->steps + i, r, "the shared command");
			} else if (argv && ex->plan->steps[i].nverify > 0 &&
				   run_checks(ex, ex->plan->steps[i].verify, ex->plan->steps[i].nverify, "verify", r)) {
				st = CW_OK; /* the shared command did it for this agent after all; verified again below */
				strv_free(r->checks);
				r->checks = NULL;
				strv_push_owned(&r->checks, xasprintf("ok exit: the shared command exited with %d, and this "
								      "agent's verification holds", shared_exit));
			} else {
				/* run on its own: what the shared attempt said goes, what held before stays
				 * (the CSR's public-key match is part of the record) */
				keep_before(r);
				free(r->detail);
				r->detail = NULL;
				st = step_body(ex, i, o, &se);
			}
			st = step_end(ex, i, st, o, &se, &errs[ready[from + k]]);
			sts[ready[from + k]] = st;
			if (st && !first)
				first = st;
		}
		strbuf_done(&shared_out);
		strv_free(argv);
		free(idx);
	}
	free(ready);
	free(oc);
	return first;
}

cw_status exec_record(struct exec *ex, const char *host, const char *key, const char *value, struct cw_error *err)
{
	return jlog(ex, (struct journal_entry){.event = JE_FACT, .host = host, .key = key, .value = value,
					       .who = ex->operator_name}, err);
}

cw_status exec_skip_step(struct exec *ex, size_t i, const char *reason, struct cw_error *err)
{
	if (i >= ex->plan->nsteps)
		return cw_error_set(err, CW_EINVAL, "there is no step %zu", i + 1);
	if (!reason || !*reason)
		return cw_error_set(err, CW_EINVAL, "skipping a step needs a reason (it goes into the report)");
	struct step_result *r = &ex->results[i];
	const struct plan_step *s = &ex->plan->steps[i];
	reset_result(r);
	r->state = STEP_SKIPPED;
	r->who = xstrdup(ex->operator_name);
	r->note = xstrdup(reason);
	r->signed_at = (long)time(NULL);
	return jlog(ex, (struct journal_entry){.event = JE_SKIP, .step = s->id, .host = ex->plan->hosts[s->host].name,
					       .who = ex->operator_name, .note = reason}, err);
}

cw_status exec_manual_done(struct exec *ex, size_t i, const char *note, struct cw_error *err)
{
	if (i >= ex->plan->nsteps)
		return cw_error_set(err, CW_EINVAL, "there is no step %zu", i + 1);
	const struct plan_step *s = &ex->plan->steps[i];
	struct step_result *r = &ex->results[i];
	if (s->destructive && !ex->backup_ok[s->host])
		return cw_error_set(err, CW_EBACKUP, "step %zu is destructive and %s has no verified backup yet", i + 1,
				    ex->plan->hosts[s->host].name);
	reset_result(r);
	/* A manual step is still verified where the procedure says how. */
	bool ok = run_checks(ex, s->verify, s->nverify, "verify", r);
	cw_status st = jlog(ex, (struct journal_entry){.event = JE_MANUAL_DONE, .step = s->id,
						       .host = ex->plan->hosts[s->host].name, .who = ex->operator_name,
						       .outcome = ok ? "ok" : "fail", .note = note}, err);
	if (st)
		return st;
	if (!ok) {
		r->state = STEP_FAILED;
		return cw_error_set(err, CW_EVERIFY, "step %zu was marked done, but %s", i + 1, r->detail);
	}
	r->state = STEP_MANUAL_DONE;
	r->who = xstrdup(ex->operator_name);
	r->note = xstrdup(note ? note : "");
	r->signed_at = (long)time(NULL);
	return CW_OK;
}

cw_status exec_sign_off(struct exec *ex, size_t i, const char *note, struct cw_error *err)
{
	if (i >= ex->plan->nsteps)
		return cw_error_set(err, CW_EINVAL, "there is no step %zu", i + 1);
	struct step_result *r = &ex->results[i];
	if (r->state != STEP_DONE)
		return cw_error_set(err, CW_EINVAL, "step %zu is %s; only a done step can be signed off", i + 1,
				    step_state_str(r->state));
	r->state = STEP_SIGNED;
	free(r->who);
	free(r->note);
	r->who = xstrdup(ex->operator_name);
	r->note = xstrdup(note ? note : "");
	r->signed_at = (long)time(NULL);
	const struct plan_step *s = &ex->plan->steps[i];
	return jlog(ex, (struct journal_entry){.event = JE_SIGNOFF, .step = s->id, .host = ex->plan->hosts[s->host].name,
					       .who = ex->operator_name, .note = note}, err);
}

void exec_cancel(struct exec *ex)
{
	atomic_store(&ex->cancel, true);
	pthread_mutex_lock(&ex->lock);
	for (size_t k = 0; k < ex->njobs; k++)
		runner_cancel(ex->jobs[k]);
	pthread_mutex_unlock(&ex->lock);
}

cw_status exec_rollback(struct exec *ex, struct cw_error *err)
{
	cw_status result = CW_OK;
	for (size_t h = 0; h < ex->plan->nhosts; h++) {
		if (!ex->backup_ok[h])
			continue;
		const char *host = ex->plan->hosts[h].name;
		/* Stop what certwiz found running, restore, start it again. */
		char **running = NULL;
		for (size_t i = 0; i < ex->nsvcs; i++)
			if (ex->svcs[i].host == h && ex->svcs[i].before == SERVICE_RUNNING)
				strv_push(&running, ex->svcs[i].service);
		struct cw_error e = {0};
		for (size_t i = 0; running && running[i]; i++) {
			struct service_ctx c = svc_ctx(ex, h, 120, NULL, NULL);
			struct service_status st;
			service_stop(&c, profile_service(ex->w->profile, running[i]), &st, &e);
		}
		cw_status st = backup_restore(ex->transports[h], ex->backups[h].archive, NULL, &e);
		msg(ex, st ? MSG_ERROR : MSG_INFO, "%s: %s %s", host, st ? "restore FAILED:" : "restored from",
		    st ? e.msg : ex->backups[h].archive);
		/* Start in the reverse of the order certwiz first met them (it stops dependents first:
		 * the agent, then the server, then PuppetDB, then PostgreSQL), so what a service
		 * needs runs before it. */
		for (size_t i = strv_len(running); !st && i-- > 0;) {
			struct service_ctx c = svc_ctx(ex, h, 300, NULL, NULL);
			struct service_status ss;
			if (service_start(&c, profile_service(ex->w->profile, running[i]), &ss, &e))
				msg(ex, MSG_ERROR, "%s: %s did not start after the restore: %s", host, running[i], e.msg);
		}
		strv_free(running);
		jlog(ex, (struct journal_entry){.event = JE_ROLLBACK, .host = host, .outcome = st ? "fail" : "ok",
						.path = ex->backups[h].archive, .note = st ? e.msg : NULL}, NULL);
		if (st && !result)
			result = cw_error_set(err, st, "%s: %s", host, e.msg);
	}
	return result;
}

cw_status exec_close(struct exec *ex, const char *outcome, struct cw_error *err)
{
	/* The new CA, as it is now, for the change record. */
	struct x509_info ca = {0};
	char *path = xasprintf("%s/ca_crt.pem", vars_get(&ex->plan->hosts[0].vars, "cadir"));
	char *pem = NULL;
	size_t len = 0;
	if (transport_read_file(ex->transports[0], path, 1 << 20, &pem, &len, NULL) == CW_OK &&
	    x509_parse_cert(pem, len, &ca, NULL) == CW_OK)
		jlog(ex, (struct journal_entry){.event = JE_FACT, .key = "new:ca", .value = ca.fingerprint}, NULL);
	x509_info_done(&ca);
	free(pem);
	free(path);
	for (size_t i = 0; i < ex->ncerts; i++) {
		struct x509_info info = {0};
		pem = NULL;
		if (transport_read_file(ex->transports[ex->certs[i].host], ex->certs[i].path, 1 << 20, &pem, &len, NULL) ==
			    CW_OK &&
		    x509_parse_cert(pem, len, &info, NULL) == CW_OK) {
			char *key = xasprintf("new:%s:%s", ex->plan->hosts[ex->certs[i].host].name, ex->certs[i].path);
			jlog(ex, (struct journal_entry){.event = JE_FACT, .key = key, .value = info.fingerprint}, NULL);
			free(key);
		}
		x509_info_done(&info);
		free(pem);
	}
	cw_status st = jlog(ex, (struct journal_entry){.event = JE_RUN_END, .outcome = outcome, .who = ex->operator_name},
			    err);
	if (st)
		return st;
	char *jpath = xasprintf("%s/journal.jsonl", ex->run_dir);
	struct journal_log log = {0};
	st = journal_load(jpath, &log, err);
	free(jpath);
	if (st)
		return st;
	struct strbuf md, js;
	strbuf_init(&md);
	strbuf_init(&js);
	if (!(st = report_markdown(&log, &md, err)) && !(st = report_json(&log, &js, err))) {
		char *mdp = xasprintf("%s/report.md", ex->run_dir), *jsp = xasprintf("%s/report.json", ex->run_dir);
		if (!(st = file_write_atomic(mdp, md.buf, md.len, 0600, err)))
			st = file_write_atomic(jsp, js.buf, js.len, 0600, err);
		free(mdp);
		free(jsp);
	}
	/* report_dir: a copy of both, named after the run, where change records are collected. */
	const char *rdir = ex->w->site.report_dir;
	if (!st && rdir && !(st = mkdir_p(rdir, 0700, err))) {
		const char *run = strrchr(ex->run_dir, '/');
		run = run ? run + 1 : ex->run_dir;
		char *mdp = xasprintf("%s/%s.md", rdir, run), *jsp = xasprintf("%s/%s.json", rdir, run);
		if (!(st = file_write_atomic(mdp, md.buf, md.len, 0600, err)))
			st = file_write_atomic(jsp, js.buf, js.len, 0600, err);
		free(mdp);
		free(jsp);
	}
	strbuf_done(&md);
	strbuf_done(&js);
	journal_log_done(&log);
	return st;
}

void exec_free(struct exec *ex)
{
	if (!ex)
		return;
	for (size_t h = 0; ex->plan && h < ex->plan->nhosts; h++) {
		if (ex->transports && ex->transports[h])
			transport_free(ex->transports[h]);
		if (ex->backups)
			backup_result_done(&ex->backups[h]);
	}
	free(ex->transports);
	free(ex->backups);
	free(ex->backup_ok);
	free(ex->host_failed);
	for (size_t i = 0; ex->results && i < ex->plan->nsteps; i++)
		reset_result(&ex->results[i]);
	free(ex->results);
	for (size_t i = 0; i < ex->nsvcs; i++)
		free(ex->svcs[i].service);
	free(ex->svcs);
	for (size_t i = 0; i < ex->ncerts; i++) {
		free(ex->certs[i].path);
		free(ex->certs[i].fingerprint);
	}
	free(ex->certs);
	if (ex->journal)
		journal_close(ex->journal);
	if (ex->lock_fd >= 0)
		journal_unlock(ex->lock_fd);
	free(ex->run_dir);
	free(ex->operator_name);
	free(ex->jobs);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

const struct step_result *exec_result(const struct exec *ex, size_t i)
{
	return &ex->results[i];
}

const char *exec_run_dir(const struct exec *ex)
{
	return ex->run_dir;
}

bool exec_backup_verified(const struct exec *ex, size_t host)
{
	return ex->backup_ok[host];
}

const struct backup_result *exec_backup(const struct exec *ex, size_t host)
{
	return &ex->backups[host];
}

bool exec_host_failed(const struct exec *ex, size_t host)
{
	return ex->host_failed[host];
}

size_t exec_next_step(const struct exec *ex)
{
	for (size_t i = 0; i < ex->plan->nsteps; i++) {
		enum step_state s = ex->results[i].state;
		if (s != STEP_SIGNED && s != STEP_SKIPPED && s != STEP_MANUAL_DONE && s != STEP_HOST_FAILED)
			return i;
	}
	return ex->plan->nsteps;
}
