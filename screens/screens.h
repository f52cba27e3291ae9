/* screens.h: the wizard's screens and the state they share (struct app).
 *
 * One file per screen (screens/<name>.c), each exporting a `const struct screen`; screens.c
 * lists them in order. app.c owns the main loop, the worker thread and the overlays every
 * screen has (help, quit confirmation, messages). A screen draws only with tui/ widgets and
 * changes the session only through core calls (wizard_*, exec_*, checks_run).
 *
 * Threads: the UI thread owns everything here. Blocking core calls (checks, exec_open, a
 * step, a rollback, service queries) run as a job on the worker thread (app_job_start); the
 * observer callbacks and the job's end reach the UI as events through a mutex-protected
 * queue and a pipe whose read end is term_getkey_fd's wake fd. While a job runs, the UI does
 * not touch the wizard or the exec except exec_cancel and exec_result of other steps. */
#ifndef CW_SCREENS_H
#define CW_SCREENS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "check.h"
#include "exec.h"
#include "term.h"
#include "widgets.h"
#include "wizard.h"

enum screen_id {
	SCR_WELCOME,
	SCR_DEPLOYMENT,
	SCR_DISCOVERY,
	SCR_PREFLIGHT,
	SCR_REVIEW,
	SCR_EXECUTE,
	SCR_AGENTS,
	SCR_SUMMARY,
	SCR_COUNT
};

/* A key handler returns the widget flags (TUI_HANDLED, TUI_REDRAW, TUI_NEXT, TUI_BACK,
 * TUI_QUIT: the main loop asks first) and SCR_GOTO: go to a->goto_screen. */
#define SCR_GOTO (1 << 8)

struct app;

struct screen {
	const char *name;                   /* "welcome" */
	const char *title;                  /* in the frame's top border */
	const struct tui_help_entry *help;  /* this screen's keys, for the help overlay */
	/* Each time the screen becomes the current one (forward or back); creates the screen's
	 * state (a->priv[id]) the first time. */
	void (*init)(struct app *a);
	/* The key-hint line under the frame, for the screen's state now. */
	const struct tui_hint *(*hints)(struct app *a);
	/* Draw inside r (the frame is drawn by the main loop). */
	void (*draw)(struct app *a, WINDOW *w, struct tui_rect r);
	/* Keys first go to the screen; what it leaves (0) goes to the main loop (?, q, Esc).
	 * Events come too: TUI_KEY_WAKE after events were drained, TUI_KEY_IDLE. */
	int (*key)(struct app *a, int key);
	/* At the end: free the screen's state. */
	void (*done)(struct app *a);
};

extern const struct screen screen_welcome, screen_deployment, screen_discovery, screen_preflight,
	screen_review, screen_execute, screen_agents, screen_summary;
extern const struct screen *const screens[SCR_COUNT];

/* ---- work on the worker thread ---- */
enum job_kind {
	JOB_LOCAL_SERVICES, /* discovery: query this host's services (no exec yet) */
	JOB_CHECKS,         /* pre-flight: checks_run, then an SSH connect to each remote host */
	JOB_OPEN_BACKUP,    /* pre-flight: exec_open (if not open), then the CA host's backups */
	JOB_RUN_STEP,       /* exec_run_step(step, confirmed), then the host's services */
	JOB_RUN_FLEET,      /* one step for many agents: steps[] through the scheduler (core/schedule.h) */
	JOB_MANUAL_DONE,    /* exec_manual_done(step, note): it runs the step's verification */
	JOB_ROLLBACK,       /* exec_rollback */
	JOB_SERVICES,       /* exec_service_status of services on host */
	JOB_CLOSE,          /* exec_close(outcome): writes report.md / report.json */
};

struct app_job {
	enum job_kind kind;
	size_t step;          /* RUN_STEP, MANUAL_DONE */
	bool confirmed;       /* RUN_STEP: the operator typed the word */
	char *note;           /* MANUAL_DONE; owned */
	size_t host;          /* SERVICES */
	char **services;      /* SERVICES, LOCAL_SERVICES: names (strv, owned) */
	char *ca_bundle;      /* LOCAL_SERVICES: to judge the served certificate (owned) */
	char *outcome;        /* CLOSE (owned) */
	size_t *backup_steps; /* OPEN_BACKUP: steps to run (owned) */
	size_t *steps;        /* RUN_FLEET: the steps, one per agent, in plan order (owned) */
	size_t nsteps;
	char *answers;        /* OPEN_BACKUP: the operator's choices as an answers file, for resume (owned) */
	size_t nbackup;
	unsigned gen;         /* the facts/plan generation it was started for */
	/* Called on the UI thread once the job has ended (may be NULL). */
	void (*done)(struct app *a, struct app_job *j);
	/* results, read on the UI thread after the end */
	cw_status status;
	struct cw_error err;
	struct check_report checks;   /* CHECKS (moved to a->checks by its done) */
	struct hostkey_offer *offers; /* CHECKS: unknown host keys (moved to a->offers) */
	size_t noffers;
	struct exec *opened;          /* OPEN_BACKUP: the exec it opened (moved to a->ex) */
};

/* A host whose SSH key is not in known_hosts (not a changed key: that is a hard stop), as the
 * pre-flight checks found it: the operator may compare the fingerprint and accept it. */
struct hostkey_offer {
	char *host;                     /* the name known_hosts will hold */
	int port;
	char *known_hosts;              /* the file to add it to */
	char *key;                      /* the raw key blob the host offered */
	size_t keylen;
	char fp[SSH_FINGERPRINT_MAX];   /* SHA256:... */
};
void hostkey_offers_free(struct hostkey_offer *o, size_t n);

/* Start j (copied; its owned pointers pass to the app) on the worker. false when a job is
 * still running (nothing started; j's owned pointers are freed). */
bool app_job_start(struct app *a, struct app_job *j);
bool app_busy(const struct app *a);

/* ---- a one-line text prompt in a dialog (skip reason, sign-off note) ---- */
struct app_prompt {
	bool open;
	char *title, *text;   /* owned */
	bool required;        /* an empty answer is refused */
	struct tui_field field;
	int purpose;          /* the caller's: what the answer is for */
};
void app_prompt_open(struct app_prompt *p, int purpose, const char *title, const char *text,
		     const char *label, bool required);
void app_prompt_close(struct app_prompt *p);
void app_prompt_draw(struct app_prompt *p, WINDOW *w, struct tui_rect r);
/* SELECT: accepted (the value is tui_field_value(&p->field)); BACK: cancelled. Modal. */
int app_prompt_key(struct app_prompt *p, int key);

/* ---- the shared state ---- */
struct app_event;

struct app {
	const struct wizard_opts *opts;
	struct wizard *w;
	struct exec *ex;             /* open from the backup on; NULL before */
	bool closed;                 /* exec_close was called */
	char *operator_name;         /* asked on the welcome screen */
	char *profile_note;          /* how the profile was chosen or why detection failed */
	bool read_only;              /* --root without the test hook: nothing may run */
	int exit_code;

	/* navigation */
	enum screen_id cur, goto_screen;
	bool visited[SCR_COUNT];
	void *priv[SCR_COUNT];       /* each screen's own state */
	bool quit;
	unsigned facts_gen;          /* bumped when the profile (so the facts) changes */
	unsigned plan_gen;           /* bumped when the plan is rebuilt */
	char *notice;                /* one line over the hints until the next key */

	/* overlays */
	bool help_open;
	struct tui_help help;
	struct tui_help_entry help_entries[64];
	bool quit_open;
	struct tui_confirm quit_confirm;
	bool msg_open;
	char *msg_title, *msg_text;
	bool msg_destructive;

	/* the worker */
	int wake[2];
	pthread_mutex_t lock;
	struct app_event *ev_head, *ev_tail;
	pthread_t thread;
	bool busy;
	struct app_job job;

	/* what the screens share about the run */
	struct tui_log log;          /* output of the run */
	int log_width;               /* its width at the last draw (for wrapping certwiz's own lines) */
	struct tui_services *svc;    /* per plan host */
	size_t nsvc;
	struct tui_services local_svc; /* discovery: this host, before the run */
	bool local_svc_state;        /* the query ran (or is running) for facts_gen */
	unsigned local_svc_gen;
	size_t running_step;         /* SIZE_MAX: none */
	bool *ack;                   /* per step: it failed and the operator went on */
	bool *live;                  /* per step: started and not finished (a fleet runs many at once) */
	char **last_line;            /* per step: its last line of output or its verdict (owned), or NULL */
	struct strbuf *out;          /* per step: its output, for the fleet view (capped) */
	size_t nviews;               /* how many steps live, last_line and out hold */
	atomic_bool fleet_stop;      /* the operator cancelled a fleet row: start no more of its steps */
	size_t steps_finished;       /* step_finished events seen (progress) */
	char *progress;              /* what the worker is doing (owned), or NULL */
	struct check_report checks;  /* pre-flight */
	struct hostkey_offer *offers; /* pre-flight: unknown host keys the operator may accept */
	size_t noffers;
	bool have_checks;
	unsigned checks_gen;         /* plan_gen the checks were run for */
	const char *outcome;         /* how the run ended: completed, failed, stopped, ... */
};

/* ---- helpers for the screens (app.c) ---- */
void app_go(struct app *a, enum screen_id id);
/* A modal message; any key closes it. */
void app_message(struct app *a, const char *title, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void app_error(struct app *a, const char *what, const struct cw_error *err);
void app_notice(struct app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The plan was (re)built: reset what hangs off it. */
void app_plan_changed(struct app *a);
/* The state of step i as the UI may read it (RUNNING for the step the worker runs). */
enum step_state app_step_state(const struct app *a, size_t i);
/* The host a step belongs to: the agent a per-agent step is about, else where it runs. */
size_t app_step_unit(const struct plan *p, const struct plan_step *s);
/* The step the run is at: the first pending, done-but-unsigned, or failed (and not gone
 * past) step; nsteps when every step is finished. */
size_t app_current_step(const struct app *a);
/* Services panel of plan host h. */
struct tui_services *app_host_services(struct app *a, size_t h);
void app_service_row_set(struct tui_service_row *row, const struct service_status *st);
/* Query the services of host h on the worker (no-op when busy). */
void app_refresh_services(struct app *a, size_t h);
/* Why nothing may run, for the screens to show (NULL when running is allowed). */
const char *app_read_only_reason(const struct app *a);
/* Dates for the operator: "2035-05-01 (in 3649 days)". */
void app_expiry(long not_after, char *buf, size_t size);
/* "AB:CD:…" shortened to at most n characters. */
void app_short_fp(const char *fp, char *buf, size_t size, size_t n);
/* Log a line in the run's output log. */
void app_log(struct app *a, enum tui_style style, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A help, quit or message overlay is up (screens then do not ask for the cursor). */
bool app_overlay_open(const struct app *a);

/* Entry point (tui/batch.c's batch_wizard calls it). Returns the exit code. */
int app_run(const struct wizard_opts *o);
/* `certwiz resume JOURNAL` of a wizard run, in a terminal (tui/batch.c calls it). */
int app_resume(const struct wizard_opts *o, const char *journal);

#endif
