/* exec.h: running a plan, one step at a time. Every call blocks until the step is done, so a
 * screen runs it on a worker thread and a batch run calls it in a loop. Each transition is
 * journaled before the next action. No destructive step runs before a verified backup of
 * the host it changes exists. */
#ifndef CW_EXEC_H
#define CW_EXEC_H

#include <stdbool.h>

#include "backup.h"
#include "journal.h"
#include "observer.h"
#include "plan.h"
#include "transport.h"
#include "wizard.h"

enum step_state {
	STEP_PENDING,      /* not run yet */
	STEP_RUNNING,
	STEP_DONE,         /* ran and verified; waits for the operator's sign-off */
	STEP_FAILED,       /* ran or was checked, and something is wrong (see detail) */
	STEP_SIGNED,       /* done and signed off */
	STEP_SKIPPED,      /* skipped by the operator, with a reason */
	STEP_MANUAL_DONE,  /* a manual step the operator says is done */
	STEP_HOST_FAILED,  /* not run: an earlier step on its host failed */
};
const char *step_state_str(enum step_state s);

struct step_result {
	enum step_state state;
	struct proc_result proc;  /* for STEP_RUN steps that ran */
	bool ran;
	char *detail;             /* one line for the operator: why it failed / what was seen */
	char **checks;            /* "ok: ..." / "FAIL: ..." lines, requires then verifies */
	char *who, *note;         /* sign-off, skip or manual-done */
	long signed_at;
};

struct exec_opts {
	const char *operator_name;   /* recorded with sign-offs; batch prefixes "batch:" */
	bool batch;
	const char *run_dir;         /* where the journal and report go (default: journal_dir/<time>-<proc>) */
	const struct observer *obs;  /* may be NULL */
	const char *answers_path;    /* recorded so `certwiz resume` can rebuild the same plan */
	const char *config_path;
	/* Continue the run of this journal (after a crash, kill -9, lost session, reboot):
	 * append to it, keep its "before" fingerprints, re-verify its backups, take its
	 * signed-off steps as done, and re-check the step that was running by its
	 * verification (done if it holds, run again otherwise). */
	const char *resume_journal;
};

struct exec;

/* Open the run: lock, journal, connect to every host (known_hosts checked), snapshot the
 * certificates that must change and the state of every service the plan touches. */
cw_status exec_open(struct wizard *w, const struct exec_opts *o, struct exec **out, struct cw_error *err);
/* Run step i (requires, command/service/backup, verifies). The step must be PENDING or
 * FAILED (a retry). Destructive steps need `confirmed` (the operator typed the word) and a
 * verified backup of their host. */
cw_status exec_run_step(struct exec *ex, size_t i, bool confirmed, struct cw_error *err);
/* Run steps (siblings of one batch template: the same command for many agents, e.g. puppetserver
 * ca sign) as few commands as possible: each step passes its own gates and requirements, those
 * that do share one command (plan_batch_argv; up to 100 agents a command), then each is verified
 * on its own. When the shared command fails, an agent whose verification holds is done and
 * every other runs its own command, so each agent gets its own verdict. Steps that cannot
 * share a command run one after the other. sts[k] and errs[k] receive what exec_run_step would
 * have returned for steps[k]; the return value is the first failure. */
cw_status exec_run_batch(struct exec *ex, const size_t *steps, size_t n, bool confirmed, cw_status *sts,
			 struct cw_error *errs);
/* Put a fact about a host into the journal (e.g. a host key the operator accepted). */
cw_status exec_record(struct exec *ex, const char *host, const char *key, const char *value, struct cw_error *err);
cw_status exec_skip_step(struct exec *ex, size_t i, const char *reason, struct cw_error *err);
cw_status exec_manual_done(struct exec *ex, size_t i, const char *note, struct cw_error *err);
cw_status exec_sign_off(struct exec *ex, size_t i, const char *note, struct cw_error *err);
/* Ask the running step to end (thread-safe). */
void exec_cancel(struct exec *ex);
/* Restore every host's backup (services stopped first, started after). */
cw_status exec_rollback(struct exec *ex, struct cw_error *err);
/* Record the end, write report.md and report.json into the run dir. */
cw_status exec_close(struct exec *ex, const char *outcome, struct cw_error *err);
void exec_free(struct exec *ex);

const struct step_result *exec_result(const struct exec *ex, size_t i);
const char *exec_run_dir(const struct exec *ex);
bool exec_backup_verified(const struct exec *ex, size_t host);
const struct backup_result *exec_backup(const struct exec *ex, size_t host);
/* The transport of a host (connected by exec_open). */
struct transport *exec_transport(struct exec *ex, size_t host);
/* Status of a service on a host, now. */
cw_status exec_service_status(struct exec *ex, size_t host, const char *service,
			      struct service_status *st, struct cw_error *err);
/* A step for this host failed: its remaining steps are not run. */
bool exec_host_failed(const struct exec *ex, size_t host);
/* Index of the first step not yet signed off, skipped or manual-done (nsteps when none). */
size_t exec_next_step(const struct exec *ex);

#endif
