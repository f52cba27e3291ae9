/* schedule.c: the pipelined schedule of many agents' steps (see schedule.h). */
#include "schedule.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "util.h"

enum st { S_WAIT, S_READY, S_RUNNING, S_SETTLED };

#define NO_STEP SIZE_MAX

/* A ready position and its agent's progress, as dispatch sorts them. */
struct ready_pos {
	size_t progress;        /* settled positions of its agent; SIZE_MAX for a barrier */
	size_t k;
};

struct job {
	struct sched *S;
	size_t *ks;             /* positions in the schedule (not plan indices) */
	size_t n;
	bool batch;
	cw_status *sts;
	struct cw_error *errs;
	struct job *next;       /* on the finished list */
};

struct sched {
	const struct plan *p;
	const size_t *steps;    /* plan indices, in plan order */
	size_t n;
	const struct sched_opts *o;
	struct sched_ops ops;
	size_t *unit;           /* per position: the agent's host, or NO_STEP for a barrier */
	size_t *prev;           /* per position: the previous position of the same agent */
	size_t *bar;            /* per position: the last barrier before it */
	enum st *state;
	struct ready_pos *ready; /* dispatch's scratch: the ready positions in the order they go */
	long *ready_at;         /* ms, when it became ready */
	bool *host_busy;        /* per host */
	bool *unit_failed;      /* per host: one of its steps failed here */
	size_t *last_of_unit;   /* per host: its last position in the schedule */
	size_t *progress;       /* per host: how many of its positions are settled */
	size_t first_open;      /* every position before it is settled */
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *finished;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- exec's way of running a job ---------- */

static cw_status exec_one(void *ctx, size_t step, bool confirmed, struct cw_error *err)
{
	return exec_run_step(ctx, step, confirmed, err);
}

static void exec_many(void *ctx, const size_t *steps, size_t n, bool confirmed, cw_status *sts, struct cw_error *errs)
{
	exec_run_batch(ctx, steps, n, confirmed, sts, errs);
}

/* ---------- the agents' order ---------- */

struct name_ix {
	const char *name;
	size_t host;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ix *)a)->name, ((const struct name_ix *)b)->name);
}

/* Per position: whose step it is, the agent's previous one, the barrier before it. */
static void link_steps(struct sched *S)
{
	const struct plan *p = S->p;
	struct name_ix *names = xcalloc(p->nhosts ? p->nhosts : 1, sizeof *names);
	for (size_t h = 0; h < p->nhosts; h++)
		names[h] = (struct name_ix){p->hosts[h].name, h};
	qsort(names, p->nhosts, sizeof *names, name_cmp);
	size_t *last = xcalloc(p->nhosts ? p->nhosts : 1, sizeof *last);
	for (size_t h = 0; h < p->nhosts; h++)
		last[h] = NO_STEP;
	size_t barrier = NO_STEP;
	for (size_t k = 0; k < S->n; k++) {
		const struct plan_step *s = &p->steps[S->steps[k]];
		size_t u = NO_STEP;
		if (s->target) {
			struct name_ix key = {s->target, 0};
			struct name_ix *f = bsearch(&key, names, p->nhosts, sizeof *names, name_cmp);
			u = f ? f->host : s->host;
		}
		S->unit[k] = u;
		S->bar[k] = barrier;
		S->prev[k] = u == NO_STEP ? NO_STEP : last[u];
		if (u == NO_STEP)
			barrier = k;
		else
			last[u] = k;
	}
	memcpy(S->last_of_unit, last, p->nhosts * sizeof *last);
	free(last);
	free(names);
}

static bool settled(const struct sched *S, size_t k)
{
	return k == NO_STEP || S->state[k] == S_SETTLED;
}

static void settle(struct sched *S, size_t k)
{
	S->state[k] = S_SETTLED;
	if (S->unit[k] != NO_STEP)
		S->progress[S->unit[k]]++;
}

/* Whether position k may start: its agent's previous step and the barrier before it are
 * settled; a barrier waits for everything before it. */
static bool deps_met(const struct sched *S, size_t k)
{
	if (S->unit[k] == NO_STEP)
		return S->first_open >= k;
	return settled(S, S->prev[k]) && settled(S, S->bar[k]);
}

static bool batchable(const struct plan_step *s)
{
	return s->batch && s->kind == STEP_RUN && s->target;
}

static const char *who(const struct sched *S, size_t k)
{
	const struct plan_step *s = &S->p->steps[S->steps[k]];
	return s->target ? s->target : S->p->hosts[s->host].name;
}

static void tell(const struct sched *S, size_t k, enum host_state hs, const char *detail)
{
	const struct observer *obs = S->o->obs;
	if (obs && obs->host_changed)
		obs->host_changed(obs->ctx, who(S, k), hs, detail);
}

/* ---------- jobs ---------- */

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct sched *S = j->S;
	if (j->batch) {
		size_t *idx = xcalloc(j->n, sizeof *idx);
		for (size_t i = 0; i < j->n; i++)
			idx[i] = S->steps[j->ks[i]];
		S->ops.run_batch(S->ops.ctx, idx, j->n, S->o->confirmed, j->sts, j->errs);
		free(idx);
	} else {
		j->sts[0] = S->ops.run_one(S->ops.ctx, S->steps[j->ks[0]], S->o->confirmed, &j->errs[0]);
	}
	pthread_mutex_lock(&S->mu);
	j->next = S->finished;
	S->finished = j;
	pthread_cond_signal(&S->cv);
	pthread_mutex_unlock(&S->mu);
	return NULL;
}

static void start_job(struct sched *S, const size_t *ks, size_t n, bool batch)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->S = S;
	j->ks = xmalloc(n * sizeof *j->ks);
	memcpy(j->ks, ks, n * sizeof *ks);
	j->n = n;
	j->batch = batch;
	j->sts = xcalloc(n, sizeof *j->sts);
	j->errs = xcalloc(n, sizeof *j->errs);
	for (size_t i = 0; i < n; i++) {
		S->state[ks[i]] = S_RUNNING;
		tell(S, ks[i], HOST_RUNNING, S->p->steps[S->steps[ks[i]]].title);
	}
	S->host_busy[S->p->steps[S->steps[ks[0]]].host] = true;
	S->running++;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, job_main, j) != 0)
		job_main(j); /* no thread to be had: run it here, it lands on the finished list */
	pthread_attr_destroy(&attr);
}

/* A step no agent still on its way can join: every sibling of k's template is ready, running,
 * settled, or its agent failed here (its step will only be journaled as not run). */
static bool nobody_coming(const struct sched *S, size_t k)
{
	const struct plan_step *s = &S->p->steps[S->steps[k]];
	for (size_t m = S->first_open; m < S->n; m++) {
		const struct plan_step *t = &S->p->steps[S->steps[m]];
		if (S->state[m] == S_WAIT && t->host == s->host && strcmp(t->tmpl_id, s->tmpl_id) == 0 &&
		    !(S->unit[m] != NO_STEP && S->unit_failed[S->unit[m]]))
			return false;
	}
	return true;
}

/* The order in which ready steps get a free slot: a barrier first (it is ready only when
 * everything before it is settled), then the agent furthest along, then plan order. An agent
 * on its way thus finishes before agents that have not started take its slot: a fleet's
 * agents come back one after another instead of all together at the end, so fewer are
 * without a certificate at any time (and when a run stops, fewer are left half done), and a
 * slow agent delays only itself. */
static int by_progress(const void *a, const void *b)
{
	const struct ready_pos *x = a, *y = b;
	if (x->progress != y->progress)
		return x->progress > y->progress ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

/* Start what can start. *wake_at: the earliest time a waiting batch may go (0: none). */
static void dispatch(struct sched *S, int slots, long *wake_at)
{
	const struct plan *p = S->p;
	size_t cap = S->o->batch_cap ? S->o->batch_cap : SCHED_BATCH_CAP;
	long window = S->o->window_ms >= 0 ? S->o->window_ms : SCHED_WINDOW_MS;
	long now = now_ms();
	*wake_at = 0;
	size_t nready = 0;
	for (size_t k = S->first_open; k < S->n; k++)
		if (S->state[k] == S_READY)
			S->ready[nready++] = (struct ready_pos){
				S->unit[k] == NO_STEP ? SIZE_MAX : S->progress[S->unit[k]], k};
	qsort(S->ready, nready, sizeof *S->ready, by_progress);
	size_t *group = xcalloc(cap, sizeof *group);
	const char **seen = NULL; /* batch templates looked at in this pass */
	size_t nseen = 0;
	for (size_t r = 0; r < nready && S->running < slots; r++) {
		size_t k = S->ready[r].k;
		if (S->state[k] != S_READY)
			continue; /* went into a shared call already */
		const struct plan_step *s = &p->steps[S->steps[k]];
		if (S->host_busy[s->host])
			continue;
		if (!batchable(s)) {
			start_job(S, &k, 1, false);
			continue;
		}
		bool looked = false;
		for (size_t i = 0; i < nseen; i++)
			looked = looked || strcmp(seen[i], s->tmpl_id) == 0;
		if (looked)
			continue;
		seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
		seen[nseen++] = s->tmpl_id;
		size_t ng = 0;
		long oldest = S->ready_at[k];
		for (size_t m = S->first_open; m < S->n && ng < cap; m++) {
			const struct plan_step *t = &p->steps[S->steps[m]];
			if (S->state[m] == S_READY && t->host == s->host && strcmp(t->tmpl_id, s->tmpl_id) == 0) {
				group[ng++] = m;
				if (S->ready_at[m] < oldest)
					oldest = S->ready_at[m];
			}
		}
		if (ng >= cap || now - oldest >= window || nobody_coming(S, k)) {
			start_job(S, group, ng, true);
		} else if (!*wake_at || oldest + window < *wake_at) {
			*wake_at = oldest + window;
		}
	}
	free(seen);
	free(group);
}

/* Ask the driver about every step whose predecessors are settled. False: it said stop. */
static bool promote(struct sched *S)
{
	bool again = true;
	while (again) {
		again = false;
		while (S->first_open < S->n && S->state[S->first_open] == S_SETTLED)
			S->first_open++;
		for (size_t k = S->first_open; k < S->n; k++) {
			if (S->state[k] != S_WAIT || !deps_met(S, k))
				continue;
			enum sched_verdict v = S->o->before ? S->o->before(S->o->ctx, S->steps[k]) : SCHED_RUN;
			if (v == SCHED_STOP)
				return false;
			if (v == SCHED_SETTLED) {
				settle(S, k);
				again = true; /* its followers may be free now */
				if (S->unit[k] != NO_STEP && S->last_of_unit[S->unit[k]] == k)
					tell(S, k, HOST_DONE, "done");
				continue;
			}
			S->state[k] = S_READY;
			S->ready_at[k] = now_ms();
		}
	}
	return true;
}

/* A job ended: each of its steps goes to the driver's after hook, in plan order. */
static bool finish_job(struct sched *S, struct job *j)
{
	bool go = true;
	S->host_busy[S->p->steps[S->steps[j->ks[0]]].host] = false;
	S->running--;
	for (size_t i = 0; i < j->n; i++) {
		size_t k = j->ks[i];
		settle(S, k);
		if (j->sts[i] && S->unit[k] != NO_STEP)
			S->unit_failed[S->unit[k]] = true;
		if (S->o->after && !S->o->after(S->o->ctx, S->steps[k], j->sts[i], &j->errs[i]))
			go = false;
		if (j->sts[i])
			tell(S, k, HOST_FAILED, j->errs[i].msg);
		else if (S->unit[k] == NO_STEP || S->last_of_unit[S->unit[k]] == k)
			tell(S, k, HOST_DONE, "done");
		else
			tell(S, k, HOST_PENDING, S->p->steps[S->steps[k]].title);
	}
	free(j->ks);
	free(j->sts);
	free(j->errs);
	free(j);
	return go;
}

cw_status sched_run(struct exec *ex, const struct plan *p, const size_t *steps, size_t n,
		    const struct sched_opts *o, struct cw_error *err)
{
	struct sched S = {.p = p, .steps = steps, .n = n, .o = o};
	S.ops = o->ops ? *o->ops : (struct sched_ops){.ctx = ex, .run_one = exec_one, .run_batch = exec_many};
	size_t nn = n ? n : 1, nh = p->nhosts ? p->nhosts : 1;
	S.unit = xcalloc(nn, sizeof *S.unit);
	S.prev = xcalloc(nn, sizeof *S.prev);
	S.bar = xcalloc(nn, sizeof *S.bar);
	S.state = xcalloc(nn, sizeof *S.state);
	S.ready = xcalloc(nn, sizeof *S.ready);
	S.ready_at = xcalloc(nn, sizeof *S.ready_at);
	S.host_busy = xcalloc(nh, sizeof *S.host_busy);
	S.unit_failed = xcalloc(nh, sizeof *S.unit_failed);
	S.last_of_unit = xcalloc(nh, sizeof *S.last_of_unit);
	S.progress = xcalloc(nh, sizeof *S.progress);
	pthread_mutex_init(&S.mu, NULL);
	pthread_cond_init(&S.cv, NULL);
	link_steps(&S);
	int slots = o->parallel > 0 ? o->parallel : 1;
	bool stop = false;
	for (;;) {
		long wake_at = 0;
		if (!stop && ((o->stopped && o->stopped(o->ctx)) || !promote(&S)))
			stop = true;
		if (!stop)
			dispatch(&S, slots, &wake_at);
		if (S.running == 0 && (stop || !wake_at))
			break; /* nothing runs and nothing more can start */
		pthread_mutex_lock(&S.mu);
		while (!S.finished) {
			if (S.running == 0 || wake_at) {
				long ms = wake_at ? wake_at - now_ms() : 200;
				if (ms <= 0)
					break;
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += ms / 1000;
				ts.tv_nsec += (ms % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_cond_timedwait(&S.cv, &S.mu, &ts) != 0 && !S.finished)
					break;
			} else {
				pthread_cond_wait(&S.cv, &S.mu);
			}
		}
		struct job *done = S.finished;
		S.finished = NULL;
		pthread_mutex_unlock(&S.mu);
		/* oldest first: they were pushed on a stack */
		struct job *rev = NULL;
		while (done) {
			struct job *nx = done->next;
			done->next = rev;
			rev = done;
			done = nx;
		}
		while (rev) {
			struct job *nx = rev->next;
			if (!finish_job(&S, rev))
				stop = true;
			rev = nx;
		}
	}
	size_t open = 0;
	for (size_t k = 0; k < n; k++)
		open += S.state[k] != S_SETTLED;
	free(S.unit);
	free(S.prev);
	free(S.bar);
	free(S.state);
	free(S.ready);
	free(S.ready_at);
	free(S.host_busy);
	free(S.unit_failed);
	free(S.last_of_unit);
	free(S.progress);
	pthread_mutex_destroy(&S.mu);
	pthread_cond_destroy(&S.cv);
	if (stop)
		return cw_error_set(err, CW_ECANCEL, "the run was stopped with %zu of %zu steps not run", open, n);
	if (open) /* a broken invariant: nothing runs, nothing is ready, and steps are left */
		return cw_error_set(err, CW_EEXEC, "certwiz's scheduler found %zu of %zu steps that can never "
				    "become ready (a bug): nothing more runs; resume the journal or report it", open, n);
	return CW_OK;
}
