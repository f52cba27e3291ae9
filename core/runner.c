/* runner.c: run one command on a transport: stream its output, enforce its timeout, cancel it
 * on request (from any thread); blocking helpers and file access on a transport on top. */
#include "runner.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_GRACE_MS 5000
/* Upper bound on one poll, a safety net for transports whose descriptors cannot signal every
 * event (the local one can: pipes, pidfd, and the job's wake-up eventfd). */
#define POLL_CAP_MS 1000
/* A job that offers no descriptor at all is looked at this often. */
#define POLL_NOFD_MS 50
/* Remote file reads and tests are small commands; they get this long. */
#define REMOTE_CMD_TIMEOUT_S 120

enum kill_stage { KILL_NONE, KILL_TERM_SENT, KILL_KILL_SENT };

struct runner_job {
	struct transport *t;
	struct tproc *p;
	output_fn out;
	void *ctx;
	char *what;            /* argv[0], for messages; owned */
	int timeout_s;
	int grace_ms;
	int64_t start_ms;
	int64_t kill_at_ms;    /* when SIGKILL follows the SIGTERM */
	atomic_bool cancel_req;
	int wake_fd;           /* eventfd written by runner_cancel; -1 if none */
	enum kill_stage kill;
	bool timed_out, cancelled, done;
	struct proc_result res;
	char *until;           /* text that ends the command (opts.until), owned; NULL: none */
	char *tail;            /* the last strlen(until) - 1 bytes of output, to find it across chunks */
	size_t ntail;
	bool until_seen;
	cw_status status;      /* CW_OK, or the transport's failure */
	struct cw_error err;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cw_status runner_start(struct transport *t, char *const *argv, const struct runner_opts *o,
		       struct runner_job **out, struct cw_error *err)
{
	if (!t || !argv || !argv[0] || !argv[0][0])
		return cw_error_set(err, CW_EINVAL, "no command to run");
	struct tproc *p = NULL;
	cw_status s = t->ops->start(t, argv, &p, err);
	if (s != CW_OK)
		return s;
	struct runner_job *job = xcalloc(1, sizeof *job);
	job->t = t;
	job->p = p;
	job->out = o ? o->out : NULL;
	job->ctx = o ? o->ctx : NULL;
	job->what = xstrdup(argv[0]);
	if (o && o->until && *o->until) {
		job->until = xstrdup(o->until);
		job->tail = xmalloc(strlen(o->until));
	}
	job->timeout_s = o && o->timeout_s > 0 ? o->timeout_s : 0;
	job->grace_ms = o && o->kill_grace_ms > 0 ? o->kill_grace_ms : DEFAULT_GRACE_MS;
	job->start_ms = now_ms();
	atomic_init(&job->cancel_req, false);
	job->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	job->kill = KILL_NONE;
	job->status = CW_OK;
	*out = job;
	return CW_OK;
}

int runner_pollfds(struct runner_job *job, struct pollfd *fds, int max)
{
	if (job->done || max <= 0)
		return 0;
	int n = 0;
	if (job->wake_fd >= 0) {
		fds[0].fd = job->wake_fd;
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		n = 1;
	}
	return n + job->t->ops->pollfds(job->t, job->p, fds + n, max - n);
}

static void send_kill(struct runner_job *job, bool hard, int64_t now)
{
	job->t->ops->kill(job->t, job->p, hard);
	if (hard) {
		job->kill = KILL_KILL_SENT;
	} else {
		job->kill = KILL_TERM_SENT;
		job->kill_at_ms = now + job->grace_ms;
	}
}

/* Output goes to the caller's function; with `until`, it is also searched for that text (which
 * may arrive split across chunks: the end of the previous chunk is kept). */
static void job_output(void *ctx, int stream, const char *data, size_t len)
{
	struct runner_job *job = ctx;
	if (job->out)
		job->out(job->ctx, stream, data, len);
	if (!job->until || job->until_seen)
		return;
	size_t ulen = strlen(job->until), keep = ulen - 1;
	char *buf = xmalloc(job->ntail + len + 1);
	memcpy(buf, job->tail, job->ntail);
	memcpy(buf + job->ntail, data, len);
	size_t n = job->ntail + len;
	buf[n] = '\0';
	if (memmem(buf, n, job->until, ulen))
		job->until_seen = true;
	size_t k = n < keep ? n : keep;
	memcpy(job->tail, buf + n - k, k);
	job->ntail = k;
	free(buf);
}

bool runner_step(struct runner_job *job)
{
	if (job->done)
		return true;
	if (job->wake_fd >= 0) {
		uint64_t v;
		ssize_t r = read(job->wake_fd, &v, sizeof v);
		(void)r;
	}
	int64_t now = now_ms();
	if (job->kill == KILL_NONE) {
		if (atomic_load(&job->cancel_req)) {
			job->cancelled = true;
			send_kill(job, false, now);
		} else if (job->timeout_s > 0 && now - job->start_ms >= (int64_t)job->timeout_s * 1000) {
			job->timed_out = true;
			send_kill(job, false, now);
		}
	} else if (job->kill == KILL_TERM_SENT && now >= job->kill_at_ms) {
		send_kill(job, true, now);
	}

	bool ended = false;
	struct proc_result res;
	memset(&res, 0, sizeof res);
	cw_status s = job->t->ops->pump(job->t, job->p, job_output, job, &ended, &res, &job->err);
	/* Seen what it was run for: stop it, as an operator would with Ctrl-C. */
	if (s == CW_OK && !ended && job->until_seen && job->kill == KILL_NONE)
		send_kill(job, false, now_ms());
	if (s != CW_OK) {
		job->status = s;
		job->done = true;
		memset(&job->res, 0, sizeof job->res);
		job->res.exit_code = -1;
		/* Do not leave it running: we can no longer follow it. (When the transport says
		 * it has ended, e.g. the SSH connection is gone, there is nothing to signal.) */
		if (!ended)
			job->t->ops->kill(job->t, job->p, true);
	} else if (ended) {
		job->done = true;
		job->res = res;
		/* A command that timed out or was cancelled takes what it left behind with it. */
		if (job->kill != KILL_NONE)
			job->t->ops->kill(job->t, job->p, true);
	}
	if (job->done) {
		job->res.timed_out = job->timed_out;
		job->res.cancelled = job->cancelled;
		job->res.until_seen = job->until_seen;
	}
	return job->done;
}

void runner_cancel(struct runner_job *job)
{
	if (!job)
		return;
	atomic_store(&job->cancel_req, true);
	if (job->wake_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(job->wake_fd, &one, sizeof one);
		(void)w;
	}
}

/* Milliseconds until the job has something to do on its own (timeout, SIGKILL), or -1. */
static int job_wait_ms(const struct runner_job *job, int64_t now)
{
	int64_t at = -1;
	if (job->kill == KILL_NONE && job->timeout_s > 0)
		at = job->start_ms + (int64_t)job->timeout_s * 1000;
	else if (job->kill == KILL_TERM_SENT)
		at = job->kill_at_ms;
	if (at < 0)
		return -1;
	if (at <= now)
		return 0;
	return at - now > INT32_MAX ? INT32_MAX : (int)(at - now);
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

size_t runner_poll_many(struct runner_job **jobs, size_t n, int timeout_ms)
{
	size_t active = 0;
	for (size_t i = 0; i < n; i++)
		if (jobs[i] && !jobs[i]->done)
			active++;
	if (active == 0)
		return n;

	struct pollfd *fds = xcalloc(active * RUNNER_POLLFDS_MAX, sizeof *fds);
	int nfds = 0;
	int wait = timeout_ms < 0 ? -1 : timeout_ms;
	int64_t now = now_ms();
	for (size_t i = 0; i < n; i++) {
		struct runner_job *job = jobs[i];
		if (!job || job->done)
			continue;
		int k = runner_pollfds(job, fds + nfds, RUNNER_POLLFDS_MAX);
		/* Only the wake-up descriptor: nothing tells us when it ends. */
		if (k <= (job->wake_fd >= 0 ? 1 : 0))
			wait = min_timeout(wait, POLL_NOFD_MS);
		nfds += k;
		wait = min_timeout(wait, job_wait_ms(job, now));
	}
	wait = min_timeout(wait, POLL_CAP_MS);
	int r = poll(fds, (nfds_t)nfds, wait);
	(void)r; /* EINTR or an error: step anyway, the next call polls again */
	free(fds);

	size_t ended = 0;
	for (size_t i = 0; i < n; i++)
		if (!jobs[i] || runner_step(jobs[i]))
			ended++;
	return ended;
}

cw_status runner_finish(struct runner_job *job, struct proc_result *res, struct cw_error *err)
{
	while (!runner_step(job))
		runner_poll_many(&job, 1, -1);

	cw_status s = job->status;
	if (s != CW_OK) {
		if (err)
			*err = job->err;
	} else if (job->timed_out) {
		s = cw_error_set(err, CW_ETIMEOUT, "%s timed out after %d s (stopped with SIG%s)",
				 job->what, job->timeout_s,
				 job->kill == KILL_KILL_SENT ? "KILL" : "TERM");
	} else if (job->cancelled) {
		s = cw_error_set(err, CW_ECANCEL, "%s was cancelled", job->what);
	}
	if (res)
		*res = job->res;
	job->t->ops->proc_free(job->t, job->p);
	if (job->wake_fd >= 0)
		close(job->wake_fd);
	free(job->what);
	free(job->until);
	free(job->tail);
	free(job);
	return s;
}

cw_status runner_run(struct transport *t, char *const *argv, const struct runner_opts *o,
		     struct proc_result *res, struct cw_error *err)
{
	struct runner_job *job;
	cw_status s = runner_start(t, argv, o, &job, err);
	if (s != CW_OK) {
		if (res) {
			memset(res, 0, sizeof *res);
			res->exit_code = -1;
		}
		return s;
	}
	return runner_finish(job, res, err);
}

/* Output kept per stream up to a limit; the rest is read and dropped. */
struct capture {
	struct strbuf sb[2];
	size_t max[2];
	bool truncated[2];
};

static void capture_out(void *ctx, int stream, const char *data, size_t len)
{
	struct capture *c = ctx;
	int i = stream == 2 ? 1 : 0;
	size_t room = c->max[i] > c->sb[i].len ? c->max[i] - c->sb[i].len : 0;
	if (len > room) {
		c->truncated[i] = true;
		len = room;
	}
	if (len)
		strbuf_add(&c->sb[i], data, len);
}

static cw_status capture_run(struct transport *t, char *const *argv, int timeout_s,
			     struct capture *c, struct proc_result *res, struct cw_error *err)
{
	struct runner_opts o = { .timeout_s = timeout_s, .out = capture_out, .ctx = c };
	return runner_run(t, argv, &o, res, err);
}

cw_status runner_capture(struct transport *t, char *const *argv, int timeout_s, size_t max,
			 char **out, char **errout, struct proc_result *res, struct cw_error *err)
{
	struct capture c;
	memset(&c, 0, sizeof c);
	strbuf_init(&c.sb[0]);
	strbuf_init(&c.sb[1]);
	c.max[0] = out ? max : 0;
	c.max[1] = errout ? max : 0;
	cw_status s = capture_run(t, argv, timeout_s, &c, res, err);
	if (out)
		*out = strbuf_detach(&c.sb[0]);
	if (errout)
		*errout = strbuf_detach(&c.sb[1]);
	strbuf_done(&c.sb[0]);
	strbuf_done(&c.sb[1]);
	return s;
}

/* The last line of a command's error output, for a message ("" if none). */
static void last_line(const struct strbuf *sb, char *buf, size_t size)
{
	const char *s = sb->buf ? sb->buf : "";
	size_t len = sb->len;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	size_t b = len;
	while (b && s[b - 1] != '\n')
		b--;
	snprintf(buf, size, "%.*s", (int)(len - b), s + b);
}

cw_status transport_read_file(struct transport *t, const char *path, size_t max, char **data,
			      size_t *len, struct cw_error *err)
{
	if (!path || !path[0])
		return cw_error_set(err, CW_EINVAL, "no file name");
	if (t->is_local)
		return file_read(path, max, data, len, err);

	char *argv[] = { "cat", "--", (char *)path, NULL };
	struct capture c;
	memset(&c, 0, sizeof c);
	strbuf_init(&c.sb[0]);
	strbuf_init(&c.sb[1]);
	c.max[0] = max == SIZE_MAX ? max : max + 1; /* one more byte tells "too large" */
	c.max[1] = 4096;
	struct proc_result res;
	cw_status s = capture_run(t, argv, REMOTE_CMD_TIMEOUT_S, &c, &res, err);
	if (s == CW_OK && res.exit_code != 0) {
		char why[512];
		last_line(&c.sb[1], why, sizeof why);
		if (!why[0])
			snprintf(why, sizeof why, "cat ended with %s %d",
				 res.exit_code >= 0 ? "exit code" : "signal",
				 res.exit_code >= 0 ? res.exit_code : res.term_signal);
		bool missing = strstr(why, "No such file") || strstr(why, "Not a directory");
		s = cw_error_set(err, missing ? CW_ENOTFOUND : CW_EIO, "cannot read %s on %s: %s",
				 path, t->label, why);
	} else if (s == CW_OK && c.truncated[0]) {
		s = cw_error_set(err, CW_EIO, "%s on %s is larger than %zu bytes", path, t->label, max);
	} else if (s != CW_OK) {
		cw_error_prefix(err, "cannot read %s on %s", path, t->label);
	}
	if (s == CW_OK) {
		if (len)
			*len = c.sb[0].len;
		*data = strbuf_detach(&c.sb[0]);
	}
	strbuf_done(&c.sb[0]);
	strbuf_done(&c.sb[1]);
	return s;
}

cw_status transport_path_exists(struct transport *t, const char *path, bool *exists,
				struct cw_error *err)
{
	if (!path || !path[0])
		return cw_error_set(err, CW_EINVAL, "no file name");
	if (t->is_local) {
		struct stat st;
		if (lstat(path, &st) == 0) {
			*exists = true;
			return CW_OK;
		}
		if (errno == ENOENT || errno == ENOTDIR) {
			*exists = false;
			return CW_OK;
		}
		return cw_error_set(err, CW_EIO, "cannot look at %s: %s", path, strerror(errno));
	}

	char *argv[] = { "test", "-e", (char *)path, NULL };
	struct capture c;
	memset(&c, 0, sizeof c);
	strbuf_init(&c.sb[0]);
	strbuf_init(&c.sb[1]);
	c.max[1] = 4096;
	struct proc_result res;
	cw_status s = capture_run(t, argv, REMOTE_CMD_TIMEOUT_S, &c, &res, err);
	if (s == CW_OK) {
		if (res.exit_code == 0 || res.exit_code == 1) {
			*exists = res.exit_code == 0;
		} else {
			char why[512];
			last_line(&c.sb[1], why, sizeof why);
			s = cw_error_set(err, CW_EIO, "cannot look at %s on %s: test ended with %s %d%s%s",
					 path, t->label,
					 res.exit_code >= 0 ? "exit code" : "signal",
					 res.exit_code >= 0 ? res.exit_code : res.term_signal,
					 why[0] ? ": " : "", why);
		}
	} else {
		cw_error_prefix(err, "cannot look at %s on %s", path, t->label);
	}
	strbuf_done(&c.sb[0]);
	strbuf_done(&c.sb[1]);
	return s;
}

long runner_proc_group(struct runner_job *job)
{
	return job->t->ops->proc_group ? job->t->ops->proc_group(job->t, job->p) : 0;
}
