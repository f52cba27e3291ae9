/* runner.h: run one command on a transport with a timeout, streaming its output, cancellable;
 * blocking helpers on top for code that just wants the result. */
#ifndef CW_RUNNER_H
#define CW_RUNNER_H

#include "transport.h"

struct runner_opts {
	int timeout_s;   /* 0: no timeout */
	output_fn out;   /* may be NULL */
	void *ctx;
	/* Added: how long a command has between SIGTERM and SIGKILL once it timed out or was
	 * cancelled (0: 5000 ms). Zero-initialised options keep the documented 5 s grace. */
	int kill_grace_ms;
	/* Added: a command that serves until stopped (`puppet master --no-daemonize`): once its
	 * output shows this text it is stopped (SIGTERM) and res.until_seen is set. NULL: none. */
	const char *until;
};

struct runner_job;

cw_status runner_start(struct transport *t, char *const *argv, const struct runner_opts *o,
		       struct runner_job **out, struct cw_error *err);
/* Added: a pollfd array of this size always holds all of one job's descriptors. */
#define RUNNER_POLLFDS_MAX 8
/* The process group of the job's command on its host (0 when the transport cannot say). */
long runner_proc_group(struct runner_job *job);
/* pollfds to wait on for this job (at most max); returns how many. */
int runner_pollfds(struct runner_job *job, struct pollfd *fds, int max);
/* Non-blocking: pump output, enforce the timeout. Returns true once the job has ended. */
bool runner_step(struct runner_job *job);
/* Request the job to end (SIGTERM, then SIGKILL after a grace period). Safe to call from another
 * thread than the one stepping the job (the job must not be finished meanwhile); it also wakes a
 * poll on the job's pollfds. */
void runner_cancel(struct runner_job *job);
/* Collect the result and free the job. CW_OK when the command ran to its end (whatever its
 * exit code); CW_ETIMEOUT / CW_ECANCEL / CW_EIO otherwise. */
cw_status runner_finish(struct runner_job *job, struct proc_result *res, struct cw_error *err);

/* Wait on several jobs at once (one poll for all); steps each. timeout_ms as for poll(2).
 * Returns the number of jobs that have ended. */
size_t runner_poll_many(struct runner_job **jobs, size_t n, int timeout_ms);

/* Blocking: run to the end. */
cw_status runner_run(struct transport *t, char *const *argv, const struct runner_opts *o,
		     struct proc_result *res, struct cw_error *err);
/* Blocking: run and capture stdout and stderr (each at most max bytes, the rest dropped).
 * out/errout may be NULL; strings are heap-owned by the caller. The command is still read to its
 * end, so it never blocks on a full pipe.
 * (Clarified:) *out and *errout are set on every return, failures included (to what was
 * captured, possibly ""), so the caller always frees them. */
cw_status runner_capture(struct transport *t, char *const *argv, int timeout_s, size_t max,
			 char **out, char **errout, struct proc_result *res, struct cw_error *err);

/* Files on the transport's host: local reads directly, remote runs `cat -- PATH`. */
cw_status transport_read_file(struct transport *t, const char *path, size_t max, char **data,
			      size_t *len, struct cw_error *err);
/* local: lstat; remote: `test -e PATH`. */
cw_status transport_path_exists(struct transport *t, const char *path, bool *exists,
				struct cw_error *err);

#endif
