/* journal.h: the append-only, fsync'd record of a run. One JSON object per line. Rebuilds
 * where a run stood after a crash. */
#ifndef CW_JOURNAL_H
#define CW_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define JOURNAL_EVENTS(X)                                                    \
	X(JE_RUN_START, "run-start")       /* procedure, profile, operator, hosts */ \
	X(JE_BACKUP, "backup")             /* host, path, verified */              \
	X(JE_STEP_START, "step-start")                                             \
	X(JE_STEP_FINISH, "step-finish")   /* exit, output digest */                 \
	X(JE_STEP_VERIFY, "step-verify")   /* outcome ok|fail, detail */            \
	X(JE_SIGNOFF, "signoff")           /* who, note */                          \
	X(JE_SKIP, "skip")                 /* who, reason */                        \
	X(JE_MANUAL_DONE, "manual-done")   /* who, note */                          \
	X(JE_ROLLBACK, "rollback")                                                 \
	X(JE_FACT, "fact")                 /* key, value: e.g. old/new fingerprints */ \
	X(JE_RUN_END, "run-end")           /* outcome */

enum journal_event {
#define JE_X(id, name) id,
	JOURNAL_EVENTS(JE_X)
#undef JE_X
	JE_COUNT
};
const char *journal_event_str(enum journal_event e);

/* One record. Strings are borrowed when appending, owned by the journal after loading. */
struct journal_entry {
	enum journal_event event;
	long time;           /* seconds since the epoch (set by journal_append when 0) */
	const char *step;    /* step id, or NULL */
	const char *host;    /* host label, or NULL */
	int exit_code;       /* JE_STEP_FINISH */
	const char *outcome; /* "ok", "fail", ... */
	const char *who;     /* operator, or "batch:NAME" */
	const char *note;    /* note, reason, detail */
	const char *title;   /* JE_STEP_START: the step's title */
	const char *command; /* JE_STEP_START: the command as shown to the operator */
	const char *key;     /* JE_FACT / JE_RUN_START extra: a key */
	const char *value;   /*   and its value */
	/* Additions (journal.c): */
	const char *procedure; /* JE_RUN_START: procedure id */
	const char *profile;   /* JE_RUN_START: profile id */
	const char *hosts;     /* JE_RUN_START: the plan's hosts, comma-separated */
	const char *path;      /* JE_BACKUP: the archive (outcome "verified" once verified) */
};

struct journal;

/* Create or open for appending (directories are created mode 0700). */
cw_status journal_open(const char *path, struct journal **out, struct cw_error *err);
/* Append one line and fsync before returning. Refuses text with private key markers. */
cw_status journal_append(struct journal *j, const struct journal_entry *e, struct cw_error *err);
void journal_close(struct journal *j);

/* Read every entry of a journal file (a torn last line from a crash is ignored). */
struct journal_log {
	struct journal_entry *entries;
	size_t n;
	void *storage; /* owned */
};
/* An invalid line before the last is an error naming the file and line (err->file, err->line).
 * Blank lines are ignored; entries[i] keeps no line number. */
cw_status journal_load(const char *path, struct journal_log *log, struct cw_error *err);
void journal_log_done(struct journal_log *log);

/* --- Additions --- */

/* True when text holds a PEM private key marker ("PRIVATE KEY-----", as in
 * "-----BEGIN RSA PRIVATE KEY-----" or "-----END ENCRYPTED PRIVATE KEY-----").
 * The same test as x509_text_has_private_key, kept here so the journal needs no OpenSSL. */
bool journal_text_has_private_key(const char *text, size_t len);

/* One certwiz run per deployment: take an exclusive flock(2) on lock_path (created mode 0600,
 * its directory 0700) without waiting, and write "PID WHO STARTED-AT" into it. The lock lives
 * as long as *fd_out is open (a crash or kill -9 releases it). When another process holds it:
 * CW_ELOCKED, the message naming that run (pid, who, since when) as read from the file. */
cw_status journal_lock(const char *lock_path, const char *who, int *fd_out, struct cw_error *err);
/* Empty the lock file and close fd (which releases the lock). fd < 0 is ignored. */
void journal_unlock(int fd);

/* Where a run stood, rebuilt from its journal (for resume). All strings heap-owned.
 * Steps are identified by their step id (unique within a plan).
 * - run-start opens a run: procedure/profile/operator come from the first run-start; a
 *   run-start after a run-end begins a new run (the position starts again).
 * - signoff, skip, manual-done mark a step done.
 * - step-start makes it the running step until one of those follows; a step that started (and
 *   maybe finished) but was never signed off must be re-checked by its verification.
 * - rollback with a step undoes that step; rollback without a step undoes every step (the
 *   backup was restored: the run starts over from its first step). */
struct journal_position {
	char **done_steps;   /* strv, in the order they were done (NULL when none) */
	char *running_step;  /* started but never signed off / skipped / done, or NULL */
	char *procedure, *profile, *operator;
	bool ended;          /* a run-end closed the run */
	/* Additions: */
	char *running_host;     /* host of the running step, or NULL */
	bool running_finished;  /* the running step's command finished (step-finish seen) */
	int running_exit_code;  /*   with this exit code */
	char *end_outcome;      /* outcome of the run-end, or NULL */
	size_t entries;         /* entries of the run the position describes */
};
/* CW_EINVAL when the log holds no run-start or a step event without a step id. */
cw_status journal_position(const struct journal_log *log, struct journal_position *pos,
			   struct cw_error *err);
void journal_position_done(struct journal_position *pos);
bool journal_position_is_done(const struct journal_position *pos, const char *step);

#endif
