/* transport_local.c: the local transport: fork/exec of an argv, output on non-blocking pipes,
 * the child in its own process group so that a kill reaches everything it started. */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* After the leader has ended, output still in the pipes is read; a grandchild (a daemon) that
 * keeps the pipe open and keeps writing is not waited for beyond this much. */
#define POST_EXIT_DRAIN_MAX (4u << 20)
/* Per pump call and stream, so a chatty command cannot starve timeout checks. */
#define PUMP_BUDGET (1u << 20)

struct tproc {
	pid_t pid;          /* also the process group id */
	int fd[2];          /* [0] stdout, [1] stderr (parent ends); -1 once closed */
	int pidfd;          /* readable when the child ends; -1 where the kernel lacks pidfd_open */
	bool reaped;
	int wstatus;
	char *exec_msg;     /* "certwiz: cannot run X: why\n" when exec failed; owned */
	size_t post_exit_read[2];
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Keep our descriptors clear of 0..2, so the child's dup2 onto 0..2 cannot clobber one of them
 * when the caller runs with a standard descriptor closed. */
static int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int pipe_cloexec(int p[2])
{
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		close_fd(&p[0]);
		close_fd(&p[1]);
		return -1;
	}
	return 0;
}

static const char *signal_abbrev(int sig)
{
	switch (sig) {
	case SIGHUP: return "HUP";
	case SIGINT: return "INT";
	case SIGQUIT: return "QUIT";
	case SIGILL: return "ILL";
	case SIGTRAP: return "TRAP";
	case SIGABRT: return "ABRT";
	case SIGBUS: return "BUS";
	case SIGFPE: return "FPE";
	case SIGKILL: return "KILL";
	case SIGUSR1: return "USR1";
	case SIGSEGV: return "SEGV";
	case SIGUSR2: return "USR2";
	case SIGPIPE: return "PIPE";
	case SIGALRM: return "ALRM";
	case SIGTERM: return "TERM";
	case SIGXCPU: return "XCPU";
	case SIGXFSZ: return "XFSZ";
	case SIGSYS: return "SYS";
	default: return NULL;
	}
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void child_exec(char *const *argv, int devnull, int out_w, int err_w, int status_w)
{
	int e = 0;
	setpgid(0, 0);
	/* Dispositions set to "ignore" and the signal mask survive exec; the command should
	 * start with the defaults whatever the caller (the TUI) has set up. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	static const int reset[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD,
				     SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM };
	for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
		sigaction(reset[i], &dfl, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) {
		e = errno;
	} else {
		execvp(argv[0], argv);
		e = errno;
	}
	ssize_t w = write(status_w, &e, sizeof e);
	(void)w;
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

static cw_status local_start(struct transport *t, char *const *argv, struct tproc **out,
			     struct cw_error *err)
{
	(void)t;
	if (!argv || !argv[0] || !argv[0][0])
		return cw_error_set(err, CW_EINVAL, "no command to run");

	int devnull = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (devnull < 0)
		return cw_error_set(err, CW_EIO, "cannot open /dev/null: %s", strerror(errno));
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, ps[2] = { -1, -1 };
	if (pipe_cloexec(po) != 0 || pipe_cloexec(pe) != 0 || pipe_cloexec(ps) != 0) {
		int e = errno;
		close(devnull);
		close_fd(&po[0]); close_fd(&po[1]);
		close_fd(&pe[0]); close_fd(&pe[1]);
		close_fd(&ps[0]); close_fd(&ps[1]);
		return cw_error_set(err, CW_EIO, "cannot create pipes: %s", strerror(e));
	}

	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(devnull);
		close_fd(&po[0]); close_fd(&po[1]);
		close_fd(&pe[0]); close_fd(&pe[1]);
		close_fd(&ps[0]); close_fd(&ps[1]);
		return cw_error_set(err, CW_EIO, "cannot start %s: fork: %s", argv[0], strerror(e));
	}
	if (pid == 0)
		child_exec(argv, devnull, po[1], pe[1], ps[1]); /* does not return */

	/* Both sides set the group, so a kill right after start cannot miss it. EACCES once the
	 * child has exec'd is harmless: it has done it itself by then. */
	setpgid(pid, pid);
	close(devnull);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	close_fd(&ps[1]);

	struct tproc *p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->fd[0] = po[0];
	p->fd[1] = pe[0];
	p->pidfd = -1;

	/* The status pipe closes on a successful exec (O_CLOEXEC) or carries errno. */
	int e = 0;
	ssize_t n;
	do
		n = read(ps[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close_fd(&ps[0]);
	if (n == (ssize_t)sizeof e) {
		/* The child has ended with 127 (not found) or 126 (not runnable). */
		p->exec_msg = xasprintf("certwiz: cannot run %s: %s\n", argv[0], strerror(e));
	}

	for (int i = 0; i < 2; i++) {
		int fl = fcntl(p->fd[i], F_GETFL);
		fcntl(p->fd[i], F_SETFL, fl | O_NONBLOCK);
	}
#ifdef SYS_pidfd_open
	{
		long fd = syscall(SYS_pidfd_open, (long)pid, 0L); /* O_CLOEXEC by default */
		p->pidfd = fd >= 0 ? fd_above_stdio((int)fd) : -1;
	}
#endif
	*out = p;
	return CW_OK;
}

static int local_pollfds(struct transport *t, struct tproc *p, struct pollfd *fds, int max)
{
	(void)t;
	int n = 0;
	for (int i = 0; i < 2 && n < max; i++) {
		if (p->fd[i] < 0)
			continue;
		fds[n].fd = p->fd[i];
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	if (!p->reaped && p->pidfd >= 0 && n < max) {
		fds[n].fd = p->pidfd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

/* Read what is there on stream i (without blocking). Returns false on a read error. */
static bool read_stream(struct tproc *p, int i, output_fn out, void *ctx, int *read_errno)
{
	char buf[65536];
	size_t budget = PUMP_BUDGET;
	while (p->fd[i] >= 0 && budget > 0) {
		if (p->reaped && p->post_exit_read[i] >= POST_EXIT_DRAIN_MAX) {
			close_fd(&p->fd[i]); /* a daemon holds the pipe and keeps talking */
			break;
		}
		ssize_t n = read(p->fd[i], buf, sizeof buf);
		if (n > 0) {
			if (out)
				out(ctx, i + 1, buf, (size_t)n);
			budget -= (size_t)n < budget ? (size_t)n : budget;
			if (p->reaped)
				p->post_exit_read[i] += (size_t)n;
			continue;
		}
		if (n == 0) {
			close_fd(&p->fd[i]);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* Once the command has ended, everything it wrote is in the pipe already;
			 * what remains open belongs to something it left running. */
			if (p->reaped)
				close_fd(&p->fd[i]);
			break;
		}
		*read_errno = errno;
		close_fd(&p->fd[i]);
		return false;
	}
	return true;
}

static cw_status local_pump(struct transport *t, struct tproc *p, output_fn out, void *ctx,
			    bool *done, struct proc_result *res, struct cw_error *err)
{
	(void)t;
	*done = false;
	if (p->exec_msg) {
		if (out)
			out(ctx, 2, p->exec_msg, strlen(p->exec_msg));
		free(p->exec_msg);
		p->exec_msg = NULL;
	}
	int rerr = 0;
	for (int i = 0; i < 2; i++)
		if (!read_stream(p, i, out, ctx, &rerr))
			return cw_error_set(err, CW_EIO, "cannot read the output of process %ld: %s",
					    (long)p->pid, strerror(rerr));
	if (!p->reaped) {
		int ws;
		pid_t r;
		do
			r = waitpid(p->pid, &ws, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == p->pid) {
			p->reaped = true;
			p->wstatus = ws;
			close_fd(&p->pidfd);
			/* Drain what it wrote before it ended. */
			for (int i = 0; i < 2; i++)
				if (!read_stream(p, i, out, ctx, &rerr))
					return cw_error_set(err, CW_EIO,
							    "cannot read the output of process %ld: %s",
							    (long)p->pid, strerror(rerr));
		} else if (r < 0) {
			/* Someone else reaped it (a SIGCHLD handler with waitpid(-1)?). */
			int e = errno;
			p->reaped = true;
			p->wstatus = -1;
			close_fd(&p->pidfd);
			close_fd(&p->fd[0]);
			close_fd(&p->fd[1]);
			return cw_error_set(err, CW_EIO, "lost track of process %ld: %s", (long)p->pid,
					    strerror(e));
		}
	}
	if (!p->reaped || p->fd[0] >= 0 || p->fd[1] >= 0)
		return CW_OK;

	memset(res, 0, sizeof *res);
	if (WIFEXITED(p->wstatus)) {
		res->exit_code = WEXITSTATUS(p->wstatus);
	} else if (WIFSIGNALED(p->wstatus)) {
		int sig = WTERMSIG(p->wstatus);
		const char *abbr = signal_abbrev(sig);
		res->exit_code = -1;
		res->term_signal = sig;
		if (abbr)
			snprintf(res->signal_name, sizeof res->signal_name, "%s", abbr);
		else
			snprintf(res->signal_name, sizeof res->signal_name, "%d", sig);
	} else {
		res->exit_code = -1;
	}
	*done = true;
	return CW_OK;
}

static void local_kill(struct transport *t, struct tproc *p, bool hard)
{
	(void)t;
	int sig = hard ? SIGKILL : SIGTERM;
	if (p->pid <= 0)
		return;
	/* The group outlives its leader while members remain; its id is not reused meanwhile. */
	if (kill(-p->pid, sig) != 0 && !p->reaped)
		kill(p->pid, sig);
}

static void local_proc_free(struct transport *t, struct tproc *p)
{
	(void)t;
	if (!p)
		return;
	close_fd(&p->fd[0]);
	close_fd(&p->fd[1]);
	close_fd(&p->pidfd);
	if (!p->reaped && p->pid > 0) {
		/* Freed before it ended: do not leave it running or a zombie behind. */
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(p->exec_msg);
	free(p);
}

static void local_free(struct transport *t)
{
	free(t->label);
	free(t);
}

static long local_proc_group(struct transport *t, struct tproc *p)
{
	(void)t;
	return (long)p->pid; /* the child leads its own process group */
}

static const struct transport_ops local_ops = {
	.name = "local",
	.start = local_start,
	.pollfds = local_pollfds,
	.pump = local_pump,
	.kill = local_kill,
	.proc_free = local_proc_free,
	.free = local_free,
	.proc_group = local_proc_group,
};

struct transport *transport_local_new(const char *label)
{
	struct transport *t = xcalloc(1, sizeof *t);
	t->ops = &local_ops;
	t->label = xstrdup(label ? label : "localhost");
	t->is_local = true;
	t->impl = NULL;
	return t;
}

void transport_free(struct transport *t)
{
	if (t && t->ops && t->ops->free)
		t->ops->free(t);
}
