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
cw_status journal_load(const char *path, struct journal_log *log, struct cw_error *err);
void journal_log_done(struct journal_log *log);

#endif
