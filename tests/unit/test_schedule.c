/* test_schedule.c: the order of the pipelined scheduler, with a fake runner. Only what a real
 * sandbox cannot cause on demand is tested here: a straggler that holds one agent for a known
 * time, which agents share one CA call, how many jobs run at once. The real runs are in the
 * integration suite (scenario agents, faults). */
#include "testutil.h"

#include <pthread.h>
#include <time.h>

#include "schedule.h"
#include "util.h"

/* A plan by hand: host 0 is the CA, hosts 1..na agents. Templates in plan order; each
 * template is one step (no target: a barrier on the CA) or one per agent. */
struct tmpl {
	const char *id;
	bool each;     /* one step per agent */
	bool on_ca;    /* runs on the CA (a per-agent step the CA does for the agent) */
	bool batch;
};

struct fake {
	struct plan p;
	pthread_mutex_t mu;
	int running, max_running;
	int *host_running;     /* per host */
	bool host_overlap;     /* two jobs on one host at once */
	long t0;
	long *start_ms, *end_ms; /* per step */
	int *delay_ms;           /* per step */
	cw_status *result;       /* per step */
	size_t **calls; size_t *call_n; size_t ncalls; /* batch calls: the steps of each */
	char **order;            /* step ids as they started */
	const char *first_tmpl, *last_tmpl; /* an agent is in flight from the one's start to the other's end */
	int in_flight, max_in_flight;
	/* hooks */
	size_t stop_after;       /* after() returns false for this step */
	size_t nafter;
	size_t *after_order;
};

static long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fake_init(struct fake *f, size_t na, const struct tmpl *t, size_t nt)
{
	memset(f, 0, sizeof *f);
	struct plan *p = &f->p;
	p->nhosts = na + 1;
	p->hosts = xcalloc(p->nhosts, sizeof *p->hosts);
	p->hosts[0].name = xstrdup("ca.test");
	for (size_t h = 1; h <= na; h++)
		p->hosts[h].name = xasprintf("a%zu.test", h);
	for (size_t k = 0; k < nt; k++)
		for (size_t h = t[k].each ? 1 : 0; h <= (t[k].each ? na : 0); h++) {
			p->steps = xrealloc(p->steps, (p->nsteps + 1) * sizeof *p->steps);
			struct plan_step *s = &p->steps[p->nsteps];
			memset(s, 0, sizeof *s);
			s->index = p->nsteps++;
			s->tmpl_id = xstrdup(t[k].id);
			s->id = t[k].each ? xasprintf("%s@%s", t[k].id, p->hosts[h].name) : xstrdup(t[k].id);
			s->title = xstrdup(s->id);
			s->target = t[k].each ? xstrdup(p->hosts[h].name) : NULL;
			s->host = t[k].each && !t[k].on_ca ? h : 0;
			s->kind = STEP_RUN;
			s->batch = t[k].batch;
		}
	pthread_mutex_init(&f->mu, NULL);
	f->host_running = xcalloc(p->nhosts, sizeof *f->host_running);
	f->start_ms = xcalloc(p->nsteps, sizeof *f->start_ms);
	f->end_ms = xcalloc(p->nsteps, sizeof *f->end_ms);
	f->delay_ms = xcalloc(p->nsteps, sizeof *f->delay_ms);
	f->result = xcalloc(p->nsteps, sizeof *f->result);
	f->after_order = xcalloc(p->nsteps, sizeof *f->after_order);
	for (size_t i = 0; i < p->nsteps; i++)
		f->delay_ms[i] = 10;
	f->stop_after = SIZE_MAX;
	f->t0 = ms_now();
}

static void fake_done(struct fake *f)
{
	for (size_t h = 0; h < f->p.nhosts; h++)
		free(f->p.hosts[h].name);
	free(f->p.hosts);
	for (size_t i = 0; i < f->p.nsteps; i++) {
		free(f->p.steps[i].id);
		free(f->p.steps[i].tmpl_id);
		free(f->p.steps[i].title);
		free(f->p.steps[i].target);
	}
	free(f->p.steps);
	free(f->host_running);
	free(f->start_ms);
	free(f->end_ms);
	free(f->delay_ms);
	free(f->result);
	free(f->after_order);
	for (size_t c = 0; c < f->ncalls; c++)
		free(f->calls[c]);
	free(f->calls);
	free(f->call_n);
	strv_free(f->order);
	pthread_mutex_destroy(&f->mu);
}

static size_t step_of(const struct fake *f, const char *id)
{
	for (size_t i = 0; i < f->p.nsteps; i++)
		if (strcmp(f->p.steps[i].id, id) == 0)
			return i;
	fail_msg("no step %s", id);
	return 0;
}

/* One job: count what runs at once, sleep for the longest of its steps' delays. */
static void job(struct fake *f, const size_t *steps, size_t n, cw_status *sts)
{
	size_t host = f->p.steps[steps[0]].host;
	int delay = 0;
	pthread_mutex_lock(&f->mu);
	if (++f->host_running[host] > 1)
		f->host_overlap = true;
	if (++f->running > f->max_running)
		f->max_running = f->running;
	for (size_t k = 0; k < n; k++) {
		if (f->first_tmpl && strcmp(f->p.steps[steps[k]].tmpl_id, f->first_tmpl) == 0 &&
		    ++f->in_flight > f->max_in_flight)
			f->max_in_flight = f->in_flight;
		f->start_ms[steps[k]] = ms_now() - f->t0;
		strv_push(&f->order, f->p.steps[steps[k]].id);
		if (f->delay_ms[steps[k]] > delay)
			delay = f->delay_ms[steps[k]];
	}
	pthread_mutex_unlock(&f->mu);
	usleep((useconds_t)delay * 1000);
	pthread_mutex_lock(&f->mu);
	f->running--;
	f->host_running[host]--;
	for (size_t k = 0; k < n; k++) {
		if (f->last_tmpl && strcmp(f->p.steps[steps[k]].tmpl_id, f->last_tmpl) == 0)
			f->in_flight--;
		f->end_ms[steps[k]] = ms_now() - f->t0;
		sts[k] = f->result[steps[k]];
	}
	pthread_mutex_unlock(&f->mu);
}

static cw_status fake_one(void *ctx, size_t step, bool confirmed, struct cw_error *err)
{
	cw_status st;
	job(ctx, &step, 1, &st);
	if (st)
		cw_error_set(err, st, "step %zu failed", step);
	return st;
}

static void fake_batch(void *ctx, const size_t *steps, size_t n, bool confirmed, cw_status *sts,
		       struct cw_error *errs)
{
	struct fake *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->calls = xrealloc(f->calls, (f->ncalls + 1) * sizeof *f->calls);
	f->call_n = xrealloc(f->call_n, (f->ncalls + 1) * sizeof *f->call_n);
	f->calls[f->ncalls] = xmalloc(n * sizeof **f->calls);
	memcpy(f->calls[f->ncalls], steps, n * sizeof *steps);
	f->call_n[f->ncalls++] = n;
	pthread_mutex_unlock(&f->mu);
	job(f, steps, n, sts);
	for (size_t k = 0; k < n; k++)
		if (sts[k])
			cw_error_set(&errs[k], sts[k], "step %zu failed", steps[k]);
}

static bool fake_after(void *ctx, size_t step, cw_status st, const struct cw_error *err)
{
	struct fake *f = ctx;
	f->after_order[f->nafter++] = step;
	return step != f->stop_after;
}

static cw_status run(struct fake *f, int parallel, int window_ms, size_t cap)
{
	struct sched_ops ops = {.ctx = f, .run_one = fake_one, .run_batch = fake_batch};
	struct sched_opts o = {.parallel = parallel, .window_ms = window_ms, .batch_cap = cap, .confirmed = true,
			       .ctx = f, .after = fake_after, .ops = &ops};
	size_t *all = xcalloc(f->p.nsteps, sizeof *all);
	for (size_t i = 0; i < f->p.nsteps; i++)
		all[i] = i;
	struct cw_error err = {0};
	cw_status st = sched_run(NULL, &f->p, all, f->p.nsteps, &o, &err);
	free(all);
	return st;
}

/* The shared calls of one template: how many, and each one's size. */
static size_t calls_of(const struct fake *f, const char *tmpl, size_t *sizes, size_t max)
{
	size_t n = 0;
	for (size_t c = 0; c < f->ncalls; c++)
		if (strcmp(f->p.steps[f->calls[c][0]].tmpl_id, tmpl) == 0) {
			if (n < max)
				sizes[n] = f->call_n[c];
			n++;
		}
	return n;
}

/* backup-ca, then per agent: backup, clean (CA, batched), request, sign (CA, batched), fetch,
 * run; then a last step on the CA. The agent procedure's shape. */
static const struct tmpl agent_proc[] = {
	{"backup-ca", false, false, false}, {"backup", true, false, false}, {"clean", true, true, true},
	{"request", true, false, false},    {"sign", true, true, true},      {"fetch", true, false, false},
	{"run", true, false, false},        {"report", false, false, false},
};
#define NT (sizeof agent_proc / sizeof agent_proc[0])

/* A straggler at its request does not hold the others: they fetch and run before it has
 * finished asking, and the CA signs them without it. */
static void test_straggler_does_not_hold_others(void **state)
{
	struct fake f;
	fake_init(&f, 4, agent_proc, NT);
	f.delay_ms[step_of(&f, "request@a2.test")] = 600;
	assert_int_equal(run(&f, 10, 100, 0), CW_OK);
	long slow_end = f.end_ms[step_of(&f, "request@a2.test")];
	for (size_t a = 1; a <= 4; a++) {
		if (a == 2)
			continue;
		char *id = xasprintf("run@a%zu.test", a);
		assert_true(f.end_ms[step_of(&f, id)] < slow_end);
		free(id);
	}
	/* and a2 still went through every step after it, signed in a call of its own */
	assert_true(f.start_ms[step_of(&f, "sign@a2.test")] >= slow_end);
	assert_true(f.start_ms[step_of(&f, "run@a2.test")] >= f.end_ms[step_of(&f, "fetch@a2.test")]);
	/* the last step on the CA waited for everyone */
	for (size_t i = 0; i + 1 < f.p.nsteps; i++)
		assert_true(f.start_ms[f.p.nsteps - 1] >= f.end_ms[i]);
	fake_done(&f);
}

/* Two stragglers at different steps cost about one delay, not two (waves pay each in turn). */
static void test_two_stragglers_cost_one_delay(void **state)
{
	struct fake f;
	fake_init(&f, 4, agent_proc, NT);
	f.delay_ms[step_of(&f, "request@a1.test")] = 500;
	f.delay_ms[step_of(&f, "run@a3.test")] = 500;
	long t = ms_now();
	assert_int_equal(run(&f, 10, 50, 0), CW_OK);
	long took = ms_now() - t;
	print_message("two 500 ms stragglers at different steps: %ld ms\n", took);
	assert_true(took < 950);
	fake_done(&f);
}

/* The CA's per-agent steps: agents that are ready together share one call; one that comes
 * after the window has its own. */
static void test_batch_gathers_ready_agents(void **state)
{
	struct fake f;
	fake_init(&f, 4, agent_proc, NT);
	f.delay_ms[step_of(&f, "request@a3.test")] = 500;
	assert_int_equal(run(&f, 10, 100, 0), CW_OK);
	size_t sizes[8];
	assert_int_equal(calls_of(&f, "clean", sizes, 8), 1);
	assert_int_equal(sizes[0], 4); /* all four were ready together */
	assert_int_equal(calls_of(&f, "sign", sizes, 8), 2);
	assert_int_equal(sizes[0], 3);
	assert_int_equal(sizes[1], 1);
	fake_done(&f);
}

/* A longer window waits for the straggler: one call for all. */
static void test_window_waits_for_late_agent(void **state)
{
	struct fake f;
	fake_init(&f, 3, agent_proc, NT);
	f.delay_ms[step_of(&f, "request@a2.test")] = 200;
	assert_int_equal(run(&f, 10, 2000, 0), CW_OK);
	size_t sizes[8];
	assert_int_equal(calls_of(&f, "sign", sizes, 8), 1);
	assert_int_equal(sizes[0], 3);
	fake_done(&f);
}

/* A cap per call, at most `parallel` jobs at once, never two on one host. */
static void test_cap_parallel_and_hosts(void **state)
{
	struct fake f;
	fake_init(&f, 7, agent_proc, NT);
	assert_int_equal(run(&f, 3, 100, 2), CW_OK);
	for (size_t c = 0; c < f.ncalls; c++)
		assert_true(f.call_n[c] <= 2);
	assert_true(f.max_running <= 3);
	assert_true(f.max_running >= 2);
	assert_false(f.host_overlap);
	/* every step ran once, each after its agent's previous one ended */
	assert_int_equal(strv_len(f.order), f.p.nsteps);
	assert_int_equal(f.nafter, f.p.nsteps);
	for (size_t i = 1; i < f.p.nsteps; i++)
		for (size_t j = 0; j < i; j++)
			if (f.p.steps[i].target && f.p.steps[j].target &&
			    strcmp(f.p.steps[i].target, f.p.steps[j].target) == 0)
				assert_true(f.start_ms[i] >= f.end_ms[j]);
	fake_done(&f);
}

/* One job at a time: the agent on its way goes first, so the plan runs agent after agent
 * (each agent's steps in plan order, every barrier where the plan has it), not step by step
 * over every agent as waves would. */
static void test_parallel_one_runs_agent_after_agent(void **state)
{
	struct fake f;
	fake_init(&f, 3, agent_proc, NT);
	assert_int_equal(run(&f, 1, 0, 0), CW_OK);
	assert_int_equal(f.max_running, 1);
	const char *want[] = {"backup-ca",
			      "backup@a1.test", "clean@a1.test", "request@a1.test", "sign@a1.test", "fetch@a1.test", "run@a1.test",
			      "backup@a2.test", "clean@a2.test", "request@a2.test", "sign@a2.test", "fetch@a2.test", "run@a2.test",
			      "backup@a3.test", "clean@a3.test", "request@a3.test", "sign@a3.test", "fetch@a3.test", "run@a3.test",
			      "report"};
	assert_int_equal(strv_len(f.order), sizeof want / sizeof want[0]);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_string_equal(f.order[i], want[i]);
	fake_done(&f);
}

/* More agents than slots: a free slot goes to the agent furthest along, so an agent is begun
 * only when one on its way has finished: never more agents between their first step and
 * their last than there are slots (waves, or plan order, would have begun all nine before any
 * had its second step). Agent steps only, so no CA call decides the order by its timing. */
static void test_agents_on_their_way_finish_first(void **state)
{
	static const struct tmpl agent_side[] = {
		{"backup-ca", false, false, false}, {"stop", true, false, false}, {"request", true, false, false},
		{"run", true, false, false},        {"report", false, false, false},
	};
	struct fake f;
	fake_init(&f, 9, agent_side, sizeof agent_side / sizeof agent_side[0]);
	f.first_tmpl = "stop";
	f.last_tmpl = "run";
	assert_int_equal(run(&f, 3, 0, 0), CW_OK);
	assert_int_equal(f.nafter, f.p.nsteps);
	assert_int_equal(f.max_in_flight, 3);
	assert_false(f.host_overlap);
	assert_true(f.start_ms[step_of(&f, "stop@a9.test")] >= f.end_ms[step_of(&f, "run@a1.test")]);
	fake_done(&f);
}

/* A hook that stops the run: nothing more starts, what ran was reported. */
static void test_stop_starts_nothing_more(void **state)
{
	struct fake f;
	fake_init(&f, 3, agent_proc, NT);
	f.stop_after = step_of(&f, "request@a1.test");
	f.delay_ms[step_of(&f, "request@a2.test")] = 200; /* still running when a1 stops the run */
	struct cw_error err = {0};
	(void)err;
	assert_int_equal(run(&f, 10, 50, 0), CW_ECANCEL);
	long stop_at = f.end_ms[f.stop_after];
	for (size_t i = 0; i < f.p.nsteps; i++)
		if (f.start_ms[i] && strv_contains(f.order, f.p.steps[i].id))
			assert_true(f.start_ms[i] <= stop_at);
	assert_false(strv_contains(f.order, "report"));
	/* a2's request was under way: it finished and was passed to after */
	bool seen = false;
	for (size_t k = 0; k < f.nafter; k++)
		seen = seen || f.after_order[k] == step_of(&f, "request@a2.test");
	assert_true(seen);
	fake_done(&f);
}

/* An operator's cancel: the agents that are ready but not started are not started. */
static bool stop_when_two_ran(void *ctx)
{
	struct fake *f = ctx;
	pthread_mutex_lock(&f->mu);
	bool stop = strv_len(f->order) >= 2;
	pthread_mutex_unlock(&f->mu);
	return stop;
}

static void test_cancel_starts_no_ready_step(void **state)
{
	static const struct tmpl one[] = {{"run", true, false, false}};
	struct fake f;
	fake_init(&f, 6, one, 1);
	struct sched_ops ops = {.ctx = &f, .run_one = fake_one, .run_batch = fake_batch};
	struct sched_opts o = {.parallel = 2, .window_ms = 0, .ctx = &f, .after = fake_after, .stopped = stop_when_two_ran,
			       .ops = &ops};
	size_t all[6] = {0, 1, 2, 3, 4, 5};
	struct cw_error err = {0};
	assert_int_equal(sched_run(NULL, &f.p, all, 6, &o, &err), CW_ECANCEL);
	assert_int_equal(strv_len(f.order), 2); /* all six were ready; two ran, as the cancel came */
	assert_int_equal(f.nafter, 2);
	fake_done(&f);
}

/* One agent fails: the others go on to the end (the failed one's later steps are exec's to
 * journal as not run). */
static void test_failed_agent_does_not_stop_others(void **state)
{
	struct fake f;
	fake_init(&f, 3, agent_proc, NT);
	f.result[step_of(&f, "fetch@a2.test")] = CW_EVERIFY;
	assert_int_equal(run(&f, 10, 50, 0), CW_OK);
	assert_true(strv_contains(f.order, "run@a1.test"));
	assert_true(strv_contains(f.order, "run@a3.test"));
	assert_true(strv_contains(f.order, "report"));
	fake_done(&f);
}

/* A before hook that settles steps (done before a resume): they are not run, their followers are. */
static enum sched_verdict settle_backups(void *ctx, size_t step)
{
	struct fake *f = ctx;
	return strcmp(f->p.steps[step].tmpl_id, "backup") == 0 || strcmp(f->p.steps[step].tmpl_id, "backup-ca") == 0
		       ? SCHED_SETTLED
		       : SCHED_RUN;
}

static void test_settled_steps_are_not_run(void **state)
{
	struct fake f;
	fake_init(&f, 2, agent_proc, NT);
	struct sched_ops ops = {.ctx = &f, .run_one = fake_one, .run_batch = fake_batch};
	struct sched_opts o = {.parallel = 4, .window_ms = 50, .ctx = &f, .before = settle_backups, .after = fake_after,
			       .ops = &ops};
	size_t *all = xcalloc(f.p.nsteps, sizeof *all);
	for (size_t i = 0; i < f.p.nsteps; i++)
		all[i] = i;
	assert_int_equal(sched_run(NULL, &f.p, all, f.p.nsteps, &o, NULL), CW_OK);
	free(all);
	assert_false(strv_contains(f.order, "backup-ca"));
	assert_false(strv_contains(f.order, "backup@a1.test"));
	assert_int_equal(strv_len(f.order), f.p.nsteps - 3);
	fake_done(&f);
}

/* A thousand agents: the scheduler itself stays cheap. */
static void test_thousand_agents(void **state)
{
	struct fake f;
	fake_init(&f, 1000, agent_proc, NT);
	for (size_t i = 0; i < f.p.nsteps; i++)
		f.delay_ms[i] = 0;
	clock_t c0 = clock();
	assert_int_equal(run(&f, 50, 0, 100), CW_OK);
	double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
	print_message("1000 agents, %zu steps: %.2f s of CPU\n", f.p.nsteps, cpu);
	assert_int_equal(f.nafter, f.p.nsteps);
	for (size_t c = 0; c < f.ncalls; c++)
		assert_true(f.call_n[c] <= 100);
	fake_done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_straggler_does_not_hold_others),
		cmocka_unit_test(test_two_stragglers_cost_one_delay),
		cmocka_unit_test(test_batch_gathers_ready_agents),
		cmocka_unit_test(test_window_waits_for_late_agent),
		cmocka_unit_test(test_cap_parallel_and_hosts),
		cmocka_unit_test(test_parallel_one_runs_agent_after_agent),
		cmocka_unit_test(test_agents_on_their_way_finish_first),
		cmocka_unit_test(test_stop_starts_nothing_more),
		cmocka_unit_test(test_failed_agent_does_not_stop_others),
		cmocka_unit_test(test_cancel_starts_no_ready_step),
		cmocka_unit_test(test_settled_steps_are_not_run),
		cmocka_unit_test(test_thousand_agents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
