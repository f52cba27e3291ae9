/* schedule.h: the order in which the executor runs many agents' steps. Agents do not wait for
 * each other: an agent's step runs as soon as its own previous step is settled; a step that is
 * no agent's (the CA's backup, a service of the server) waits for every step before it and
 * holds every step after it. The CA's per-agent batch steps of one template (puppetserver ca
 * clean/sign) gather the agents that are ready into shared commands: a short collection
 * window, a cap per command. At most `parallel` jobs run at once, never two on one host;
 * when more steps are ready than there are free places, the agent furthest along goes first
 * (then plan order), so agents on their way are finished before new ones are begun.
 *
 * The driver (batch mode, the wizard's fleet row) decides what each step means for the run
 * through two hooks called on the thread of sched_run; the work itself runs on worker threads
 * through exec_run_step and exec_run_batch, which keep every gate, the journal and the
 * verification. Progress is reported through the observer (host_changed, per agent). */
#ifndef CW_SCHEDULE_H
#define CW_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "observer.h"
#include "plan.h"

struct exec;

enum sched_verdict {
	SCHED_RUN,      /* run the step */
	SCHED_SETTLED,  /* nothing to run: done before a resume, skipped, marked done by hand */
	SCHED_STOP,     /* stop the run: nothing more is started, what runs finishes */
};

/* How a job runs: exec's by default; unit tests give their own (the order is what they test). */
struct sched_ops {
	void *ctx;
	cw_status (*run_one)(void *ctx, size_t step, bool confirmed, struct cw_error *err);
	/* steps[0..n) are one batch template's siblings on one host; sts/errs per step */
	void (*run_batch)(void *ctx, const size_t *steps, size_t n, bool confirmed, cw_status *sts,
			  struct cw_error *errs);
};

struct sched_opts {
	int parallel;          /* jobs at once, each on its own host (< 1: one) */
	int window_ms;         /* how long ready batch steps wait for more agents (< 0: default) */
	size_t batch_cap;      /* agents per shared command (0: default) */
	bool confirmed;        /* the operator confirmed the destructive steps among these */
	void *ctx;             /* for the hooks */
	/* Both on sched_run's thread. before: when step i's predecessors are settled (NULL: run).
	 * after: when it ran, with what exec_run_step returned; false stops the run. */
	enum sched_verdict (*before)(void *ctx, size_t step);
	bool (*after)(void *ctx, size_t step, cw_status st, const struct cw_error *err);
	/* Asked before anything more starts (may be NULL): true stops the run (an operator's
	 * cancel); steps that are ready are then not started. */
	bool (*stopped)(void *ctx);
	const struct observer *obs;  /* host_changed per agent; may be NULL */
	const struct sched_ops *ops; /* NULL: exec's */
};

#define SCHED_WINDOW_MS 1500
#define SCHED_BATCH_CAP 100

/* Run steps[0..n) of p (indices in plan order) on ex. Returns CW_OK when every step was
 * settled, CW_ECANCEL when a hook stopped the run (what was running has finished and
 * been passed to after). ex may be NULL when ops is given. */
cw_status sched_run(struct exec *ex, const struct plan *p, const size_t *steps, size_t n,
		    const struct sched_opts *o, struct cw_error *err);

#endif
