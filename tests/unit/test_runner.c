/* test_runner.c: unit tests for core/runner and the local transport: real processes, real
 * pipes, real signals. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "runner.h"
#include "transport.h"
#include "util.h"

/* ---- helpers ---- */

struct collect {
	struct strbuf sb[2];
};

static void collect_out(void *ctx, int stream, const char *data, size_t len)
{
	struct collect *c = ctx;
	assert_true(stream == 1 || stream == 2);
	strbuf_add(&c->sb[stream - 1], data, len);
}

static void collect_init(struct collect *c)
{
	strbuf_init(&c->sb[0]);
	strbuf_init(&c->sb[1]);
}

static void collect_done(struct collect *c)
{
	strbuf_done(&c->sb[0]);
	strbuf_done(&c->sb[1]);
}

static const char *text(const struct collect *c, int stream)
{
	return c->sb[stream - 1].buf ? c->sb[stream - 1].buf : "";
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Parse /proc/PID/stat: state and process group. False when the process does not exist. */
static bool proc_stat(long pid, char *state, long *pgrp)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	if (!rp)
		return false;
	long ppid = 0;
	if (sscanf(rp + 1, " %c %ld %ld", state, &ppid, pgrp) != 3)
		return false;
	return true;
}

/* Gone, or a zombie nobody reaped yet: either way it runs no more. */
static bool proc_alive(long pid)
{
	char st = 0;
	long pg = 0;
	return proc_stat(pid, &st, &pg) && st != 'Z' && st != 'X';
}

/* Number of live processes in process group pgid. */
static int group_members(long pgid)
{
	int n = 0;
	DIR *d = opendir("/proc");
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char st = 0;
		long pg = 0;
		if (proc_stat(pid, &st, &pg) && pg == pgid && st != 'Z' && st != 'X')
			n++;
	}
	closedir(d);
	return n;
}

/* Wait up to ms for a condition on a pid/group to become false. */
static bool wait_group_gone(long pgid, long ms)
{
	long end = now_ms() + ms;
	while (group_members(pgid) > 0) {
		if (now_ms() > end)
			return false;
		nap_ms(20);
	}
	return true;
}

static struct transport *local(void)
{
	struct transport *t = transport_local_new("localhost");
	assert_non_null(t);
	assert_true(t->is_local);
	assert_string_equal(t->ops->name, "local");
	return t;
}

/* Run argv to its end, collecting its output. */
static cw_status run(char *const *argv, int timeout_s, struct collect *c, struct proc_result *res,
		     struct cw_error *err)
{
	struct transport *t = local();
	struct runner_opts o = { .timeout_s = timeout_s, .out = collect_out, .ctx = c };
	cw_status s = runner_run(t, argv, &o, res, err);
	transport_free(t);
	return s;
}

/* ---- tests ---- */

static void test_streams_separate(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "echo out1; echo err1 >&2; echo out2; printf err2 >&2", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
	assert_string_equal(text(&c, 1), "out1\nout2\n");
	assert_string_equal(text(&c, 2), "err1\nerr2");
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.term_signal, 0);
	assert_string_equal(res.signal_name, "");
	assert_false(res.timed_out);
	assert_false(res.cancelled);
	collect_done(&c);
}

static void test_exit_codes(void **state)
{
	(void)state;
	static const char *codes[] = { "0", "3", "255" };
	for (size_t i = 0; i < 3; i++) {
		char *argv[] = { "sh", "-c", "exit \"$1\"", "sh", (char *)codes[i], NULL };
		struct collect c;
		collect_init(&c);
		struct proc_result res;
		struct cw_error err;
		/* A non-zero exit is the command's result, not a runner failure. */
		assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
		assert_int_equal(res.exit_code, atoi(codes[i]));
		assert_int_equal(res.term_signal, 0);
		collect_done(&c);
	}
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	struct {
		const char *sig;
		int num;
	} cases[] = { { "KILL", SIGKILL }, { "TERM", SIGTERM }, { "SEGV", SIGSEGV } };
	for (size_t i = 0; i < 3; i++) {
		char *argv[] = { "sh", "-c", "kill -s \"$1\" $$", "sh", (char *)cases[i].sig, NULL };
		struct collect c;
		collect_init(&c);
		struct proc_result res;
		struct cw_error err;
		assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
		assert_int_equal(res.exit_code, -1);
		assert_int_equal(res.term_signal, cases[i].num);
		assert_string_equal(res.signal_name, cases[i].sig);
		assert_false(res.timed_out);
		collect_done(&c);
	}
}

static void test_command_not_found(void **state)
{
	(void)state;
	char *argv[] = { "certwiz-no-such-command-4711", "--help", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
	assert_int_equal(res.exit_code, 127);
	assert_string_equal(text(&c, 2),
			    "certwiz: cannot run certwiz-no-such-command-4711: No such file or directory\n");
	assert_string_equal(text(&c, 1), "");
	collect_done(&c);

	/* Found but not executable: 126, and the reason. */
	char *dir = test_tmpdir();
	char *path = path_join(dir, "not-executable");
	test_write(path, "#!/bin/sh\necho hi\n");
	chmod(path, 0644);
	char *argv2[] = { path, NULL };
	collect_init(&c);
	assert_int_equal(run(argv2, 10, &c, &res, &err), CW_OK);
	/* Without any x bit even root cannot exec it. */
	assert_int_equal(res.exit_code, 126);
	assert_non_null(strstr(text(&c, 2), "Permission denied"));
	assert_non_null(strstr(text(&c, 2), path));
	collect_done(&c);
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_signal_dispositions_reset(void **state)
{
	(void)state;
	/* main() ignores SIGPIPE, as a TUI may. Inherited, `yes` would complain about a broken
	 * pipe instead of dying quietly of SIGPIPE when head is done. */
	char *argv[] = { "sh", "-c", "yes | head -n 2", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(text(&c, 1), "y\ny\n");
	assert_string_equal(text(&c, 2), "");
	collect_done(&c);
}

static void test_start_rejects_empty_argv(void **state)
{
	(void)state;
	struct transport *t = local();
	struct runner_job *job = NULL;
	struct cw_error err;
	char *empty[] = { NULL };
	char *blank[] = { "", NULL };
	assert_int_equal(runner_start(t, empty, NULL, &job, &err), CW_EINVAL);
	assert_int_equal(runner_start(t, blank, NULL, &job, &err), CW_EINVAL);
	assert_int_equal(runner_start(t, NULL, NULL, &job, &err), CW_EINVAL);
	assert_null(job);
	transport_free(t);
}

static void test_stdin_is_devnull(void **state)
{
	(void)state;
	/* cat on an inherited terminal or pipe would wait; on /dev/null it ends at once. */
	char *argv[] = { "cat", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	long t0 = now_ms();
	assert_int_equal(run(argv, 5, &c, &res, &err), CW_OK);
	assert_true(now_ms() - t0 < 4500); /* not the 5 s time-out */
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(text(&c, 1), "");
	collect_done(&c);
}

static void test_own_process_group(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
	long pid = 0, pgid = 0;
	assert_int_equal(sscanf(text(&c, 1), "%ld %ld", &pid, &pgid), 2);
	assert_int_equal(pgid, pid);
	assert_int_not_equal(pgid, (long)getpgrp());
	collect_done(&c);
}

static void test_timeout_kills_whole_group(void **state)
{
	(void)state;
	/* The shell and a background sleep share the group; both must go. */
	char *argv[] = { "sh", "-c", "echo $$; sleep 30 & echo $!; sleep 30", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	long t0 = now_ms();
	assert_int_equal(run(argv, 1, &c, &res, &err), CW_ETIMEOUT);
	long took = now_ms() - t0;
	assert_true(took >= 900);
	assert_true(took < 15000); /* the time-out, not the command's own 30 s */
	assert_true(res.timed_out);
	assert_false(res.cancelled);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_non_null(strstr(err.msg, "timed out after 1 s"));
	assert_non_null(strstr(err.msg, "sh"));

	long shpid = 0, bgpid = 0;
	assert_int_equal(sscanf(text(&c, 1), "%ld %ld", &shpid, &bgpid), 2);
	assert_true(wait_group_gone(shpid, 2000));
	assert_false(proc_alive(bgpid));
	assert_false(proc_alive(shpid));
	collect_done(&c);
}

static void test_timeout_takes_stragglers_along(void **state)
{
	(void)state;
	/* The shell dies of SIGTERM at once; a member of its group that ignores SIGTERM must not
	 * survive it (nor hold the run up for the grace period). */
	char *argv[] = { "sh", "-c", "echo $$; (trap '' TERM; sleep 30) & sleep 30", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	long t0 = now_ms();
	assert_int_equal(run(argv, 1, &c, &res, &err), CW_ETIMEOUT);
	assert_true(now_ms() - t0 < 15000); /* not the command's own 30 s */
	assert_int_equal(res.term_signal, SIGTERM);
	long shpid = atol(text(&c, 1));
	assert_true(shpid > 0);
	assert_true(wait_group_gone(shpid, 2000));
	collect_done(&c);
}

static void test_timeout_escalates_to_sigkill(void **state)
{
	(void)state;
	/* Ignores SIGTERM (and its sleep inherits that): only SIGKILL after the grace ends it. */
	char *argv[] = { "sh", "-c", "trap '' TERM; echo $$; sleep 30", NULL };
	struct transport *t = local();
	struct collect c;
	collect_init(&c);
	struct runner_opts o = { .timeout_s = 1, .out = collect_out, .ctx = &c, .kill_grace_ms = 300 };
	struct proc_result res;
	struct cw_error err;
	long t0 = now_ms();
	assert_int_equal(runner_run(t, argv, &o, &res, &err), CW_ETIMEOUT);
	long took = now_ms() - t0;
	assert_true(took >= 1250);
	assert_true(took < 15000); /* not the command's own 30 s */
	assert_int_equal(res.term_signal, SIGKILL);
	assert_string_equal(res.signal_name, "KILL");
	assert_true(res.timed_out);
	assert_non_null(strstr(err.msg, "SIGKILL"));
	long shpid = atol(text(&c, 1));
	assert_true(shpid > 0);
	assert_true(wait_group_gone(shpid, 2000));
	collect_done(&c);
	transport_free(t);
}

struct canceller {
	struct runner_job *job;
	long delay_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	nap_ms(k->delay_ms);
	runner_cancel(k->job);
	return NULL;
}

static void test_cancel_from_other_thread(void **state)
{
	(void)state;
	struct transport *t = local();
	char *argv[] = { "sleep", "30", NULL };
	struct runner_job *job = NULL;
	struct cw_error err;
	struct runner_opts o = { .timeout_s = 60 };
	assert_int_equal(runner_start(t, argv, &o, &job, &err), CW_OK);
	struct canceller k = { job, 200 };
	pthread_t th;
	long t0 = now_ms();
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &k), 0);
	/* Blocks in poll; the cancel must wake it, not a poll time-out. */
	size_t ended = 0;
	while (ended == 0)
		ended = runner_poll_many(&job, 1, 20000);
	long took = now_ms() - t0;
	pthread_join(th, NULL);
	struct proc_result res;
	assert_int_equal(runner_finish(job, &res, &err), CW_ECANCEL);
	assert_true(took >= 180);
	assert_true(took < 10000); /* woken by the cancel, not the 20 s poll time-out */
	assert_true(res.cancelled);
	assert_false(res.timed_out);
	assert_int_equal(res.term_signal, SIGTERM);
	assert_non_null(strstr(err.msg, "cancelled"));
	transport_free(t);
}

static void test_large_output_both_streams(void **state)
{
	(void)state;
	/* About 6.9 MB on each stream at once: a runner that drains one stream to its end
	 * before the other deadlocks here; one that drops data fails the comparison. */
	char *argv[] = { "sh", "-c", "seq 1 1000000 & seq 1000001 2000000 >&2; wait", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 60, &c, &res, &err), CW_OK);
	assert_int_equal(res.exit_code, 0);

	struct strbuf want[2];
	strbuf_init(&want[0]);
	strbuf_init(&want[1]);
	for (long i = 1; i <= 1000000; i++) {
		strbuf_addf(&want[0], "%ld\n", i);
		strbuf_addf(&want[1], "%ld\n", i + 1000000);
	}
	assert_true(want[0].len > 6 * 1000 * 1000);
	assert_int_equal(c.sb[0].len, want[0].len);
	assert_int_equal(c.sb[1].len, want[1].len);
	assert_memory_equal(c.sb[0].buf, want[0].buf, want[0].len);
	assert_memory_equal(c.sb[1].buf, want[1].buf, want[1].len);
	strbuf_done(&want[0]);
	strbuf_done(&want[1]);
	collect_done(&c);
}

static void test_capture_truncates_and_drains(void **state)
{
	(void)state;
	struct transport *t = local();
	/* 1.3 MB per stream, far beyond a pipe's buffer: the child only ends if it is read. */
	char *argv[] = { "sh", "-c", "seq 1 200000; seq 1 200000 >&2; echo done >&2", NULL };
	char *out = NULL, *errout = NULL;
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(runner_capture(t, argv, 20, 100, &out, &errout, &res, &err), CW_OK);
	assert_int_equal(res.exit_code, 0);
	struct strbuf want;
	strbuf_init(&want);
	for (int i = 1; want.len < 100; i++)
		strbuf_addf(&want, "%d\n", i);
	assert_int_equal(strlen(out), 100);
	assert_int_equal(strlen(errout), 100);
	assert_memory_equal(out, want.buf, 100);
	assert_memory_equal(errout, want.buf, 100);
	free(out);
	free(errout);

	/* Under the limit: everything; NULL outputs are allowed. */
	char *argv2[] = { "sh", "-c", "echo hello; echo world >&2; exit 4", NULL };
	assert_int_equal(runner_capture(t, argv2, 20, 100, &out, NULL, &res, &err), CW_OK);
	assert_string_equal(out, "hello\n");
	assert_int_equal(res.exit_code, 4);
	free(out);
	assert_int_equal(runner_capture(t, argv2, 20, 100, NULL, &errout, &res, &err), CW_OK);
	assert_string_equal(errout, "world\n");
	free(errout);

	/* On a time-out the strings are still set (to what came), and owned by the caller. */
	char *argv3[] = { "sh", "-c", "echo partial; sleep 30", NULL };
	assert_int_equal(runner_capture(t, argv3, 1, 100, &out, &errout, &res, &err), CW_ETIMEOUT);
	assert_string_equal(out, "partial\n");
	assert_string_equal(errout, "");
	free(out);
	free(errout);
	strbuf_done(&want);
	transport_free(t);
}

static void test_poll_many_twenty_jobs(void **state)
{
	(void)state;
	enum { N = 20 };
	struct transport *t = local();
	struct runner_job *jobs[N];
	struct collect c[N];
	char num[N][8];
	long t0 = now_ms();
	for (int i = 0; i < N; i++) {
		collect_init(&c[i]);
		snprintf(num[i], sizeof num[i], "%d", i);
		char *argv[] = { "sh", "-c", "sleep 0.5; echo job $1; echo e$1 >&2; exit $1", "sh",
				 num[i], NULL };
		struct runner_opts o = { .timeout_s = 30, .out = collect_out, .ctx = &c[i] };
		struct cw_error err;
		assert_int_equal(runner_start(t, argv, &o, &jobs[i], &err), CW_OK);
	}
	/* Starting is fork+exec each (slow under ASan, with a big heap); what is measured is the
	 * waiting that follows. */
	long t1 = now_ms();
	size_t ended = 0;
	int rounds = 0;
	while ((ended = runner_poll_many(jobs, N, -1)) < N) {
		assert_true(ended <= N);
		rounds++;
	}
	long took = now_ms() - t1;
	/* Run one after the other, the waiting would be 10 s. */
	assert_true(took < 8000);
	assert_true(now_ms() - t0 >= 500);
	for (int i = 0; i < N; i++) {
		struct proc_result res;
		struct cw_error err;
		assert_int_equal(runner_finish(jobs[i], &res, &err), CW_OK);
		assert_int_equal(res.exit_code, i);
		char want[32];
		snprintf(want, sizeof want, "job %d\n", i);
		assert_string_equal(text(&c[i], 1), want);
		snprintf(want, sizeof want, "e%d\n", i);
		assert_string_equal(text(&c[i], 2), want);
		collect_done(&c[i]);
	}
	(void)rounds;
	transport_free(t);
}

static void test_argv_verbatim_no_shell(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *canary = path_join(dir, "pwned");
	char *subst = xasprintf("$(touch %s)", canary);
	char *backtick = xasprintf("`touch %s`", canary);
	char *semi = xasprintf("; touch %s", canary);
	char *args[] = { "a b", "it's", "\"dq\"", subst, backtick, semi, "line1\nline2", "*", "",
			 "${HOME}", "\\n", "-n", "--", "|&>", NULL };
	char **argv = NULL;
	strv_push(&argv, "printf");
	strv_push(&argv, "%s\\0"); /* printf's own escape: each argument then a NUL */
	for (size_t i = 0; args[i]; i++)
		strv_push(&argv, args[i]);
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(run(argv, 10, &c, &res, &err), CW_OK);
	assert_int_equal(res.exit_code, 0);
	struct strbuf want;
	strbuf_init(&want);
	for (size_t i = 0; args[i]; i++)
		strbuf_add(&want, args[i], strlen(args[i]) + 1);
	assert_int_equal(c.sb[0].len, want.len);
	assert_memory_equal(c.sb[0].buf, want.buf, want.len);
	assert_false(path_exists(canary));
	strbuf_done(&want);
	collect_done(&c);
	strv_free(argv);
	free(subst);
	free(backtick);
	free(semi);
	free(canary);
	test_rmrf(dir);
	free(dir);
}

static void test_daemon_holding_pipe_does_not_hang(void **state)
{
	(void)state;
	/* A start script leaves a daemon behind that still holds stdout: the run ends when the
	 * script does, not when the daemon does. */
	char *argv[] = { "sh", "-c", "sleep 20 & echo $!", NULL };
	struct collect c;
	collect_init(&c);
	struct proc_result res;
	struct cw_error err;
	long t0 = now_ms();
	assert_int_equal(run(argv, 30, &c, &res, &err), CW_OK);
	/* The daemon lives 20 s; the run is over long before. */
	assert_true(now_ms() - t0 < 15000);
	assert_int_equal(res.exit_code, 0);
	long pid = atol(text(&c, 1));
	assert_true(pid > 0);
	assert_true(proc_alive(pid));
	kill((pid_t)pid, SIGKILL); /* ours: started by this test */
	collect_done(&c);
}

/* The remote code paths (cat / test through the transport) exercised on this host. */
static struct transport *pseudo_remote(void)
{
	struct transport *t = local();
	t->is_local = false;
	return t;
}

static void test_read_file(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = path_join(dir, "data");
	static const char content[] = "line one\n\0binary\xff\n-- end";
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(content, 1, sizeof content - 1, f);
	fclose(f);
	char *missing = path_join(dir, "missing");
	char *dashy = path_join(dir, "-n"); /* cat -- keeps it from being an option */
	test_write(dashy, "dash\n");

	struct transport *ts[2] = { local(), pseudo_remote() };
	for (int k = 0; k < 2; k++) {
		struct transport *t = ts[k];
		char *data = NULL;
		size_t len = 0;
		struct cw_error err;
		assert_int_equal(transport_read_file(t, path, 4096, &data, &len, &err), CW_OK);
		assert_int_equal(len, sizeof content - 1);
		assert_memory_equal(data, content, len);
		assert_int_equal(data[len], '\0');
		free(data);

		assert_int_equal(transport_read_file(t, path, 5, &data, &len, &err), CW_EIO);
		assert_non_null(strstr(err.msg, "larger than 5 bytes"));
		assert_int_equal(transport_read_file(t, missing, 4096, &data, &len, &err),
				 CW_ENOTFOUND);
		assert_non_null(strstr(err.msg, "missing"));
		assert_int_equal(transport_read_file(t, dir, 4096, &data, &len, &err), CW_EIO);

		char *rel = xasprintf("%s/./-n", dir);
		assert_int_equal(transport_read_file(t, rel, 4096, &data, &len, &err), CW_OK);
		assert_string_equal(data, "dash\n");
		free(data);
		free(rel);
	}
	/* Exactly "-n" as a path: only the remote form could mistake it for an option. */
	char *cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(dir), 0);
	char *data = NULL;
	size_t len = 0;
	struct cw_error err;
	assert_int_equal(transport_read_file(ts[1], "-n", 4096, &data, &len, &err), CW_OK);
	assert_string_equal(data, "dash\n");
	free(data);
	assert_int_equal(chdir(cwd), 0);
	free(cwd);

	transport_free(ts[0]);
	transport_free(ts[1]);
	free(path);
	free(missing);
	free(dashy);
	test_rmrf(dir);
	free(dir);
}

static void test_path_exists(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *file = path_join(dir, "file");
	test_write(file, "x");
	char *missing = path_join(dir, "missing");
	char *under = path_join(file, "sub"); /* ENOTDIR: does not exist either */
	char *link = path_join(dir, "dangling");
	assert_int_equal(symlink("/nonexistent/certwiz", link), 0);

	struct transport *ts[2] = { local(), pseudo_remote() };
	for (int k = 0; k < 2; k++) {
		bool ex = false;
		struct cw_error err;
		assert_int_equal(transport_path_exists(ts[k], file, &ex, &err), CW_OK);
		assert_true(ex);
		assert_int_equal(transport_path_exists(ts[k], dir, &ex, &err), CW_OK);
		assert_true(ex);
		assert_int_equal(transport_path_exists(ts[k], missing, &ex, &err), CW_OK);
		assert_false(ex);
		assert_int_equal(transport_path_exists(ts[k], under, &ex, &err), CW_OK);
		assert_false(ex);
		assert_int_equal(transport_path_exists(ts[k], "", &ex, &err), CW_EINVAL);
	}
	/* lstat: a dangling symlink is there (it would be overwritten or archived). */
	bool ex = false;
	struct cw_error err;
	assert_int_equal(transport_path_exists(ts[0], link, &ex, &err), CW_OK);
	assert_true(ex);

	transport_free(ts[0]);
	transport_free(ts[1]);
	free(file);
	free(missing);
	free(under);
	free(link);
	test_rmrf(dir);
	free(dir);
}

/* A server run until it says it serves (the seed's `puppet master --no-daemonize`, stopped at
 * "Starting Puppet master"): the text may come split across writes; once seen, the command is
 * stopped at once (well before its own end or the timeout) and until_seen says so. */
static void test_until_stops_a_server(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "printf 'Notice: Starting Pup'; sleep 0.3; printf 'pet master 5.5.22\\n'; exec sleep 600",
			 NULL };
	struct transport *t = transport_local_new("local");
	struct collect c;
	collect_init(&c);
	struct runner_opts o = { .timeout_s = 120, .out = collect_out, .ctx = &c, .until = "Starting Puppet master" };
	struct proc_result res;
	struct cw_error err;
	assert_int_equal(runner_run(t, argv, &o, &res, &err), CW_OK);
	assert_true(res.until_seen);
	assert_false(res.timed_out);
	assert_int_equal(res.term_signal, SIGTERM); /* stopped by the runner, not by its own end */
	assert_non_null(strstr(text(&c, 1), "Starting Puppet master 5.5.22"));
	collect_done(&c);

	/* A command that ends without the text: not seen, its own exit code stands. */
	char *quiet[] = { "sh", "-c", "echo Starting Puppet; exit 3", NULL };
	collect_init(&c);
	assert_int_equal(runner_run(t, quiet, &o, &res, &err), CW_OK);
	assert_false(res.until_seen);
	assert_int_equal(res.exit_code, 3);
	collect_done(&c);
	transport_free(t);
}

int main(void)
{
	/* The test binary may run with SIGPIPE ignored; children must not inherit that. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_separate),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_command_not_found),
		cmocka_unit_test(test_signal_dispositions_reset),
		cmocka_unit_test(test_start_rejects_empty_argv),
		cmocka_unit_test(test_stdin_is_devnull),
		cmocka_unit_test(test_own_process_group),
		cmocka_unit_test(test_timeout_kills_whole_group),
		cmocka_unit_test(test_timeout_takes_stragglers_along),
		cmocka_unit_test(test_timeout_escalates_to_sigkill),
		cmocka_unit_test(test_cancel_from_other_thread),
		cmocka_unit_test(test_large_output_both_streams),
		cmocka_unit_test(test_capture_truncates_and_drains),
		cmocka_unit_test(test_poll_many_twenty_jobs),
		cmocka_unit_test(test_argv_verbatim_no_shell),
		cmocka_unit_test(test_daemon_holding_pipe_does_not_hang),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_path_exists),
		cmocka_unit_test(test_until_stops_a_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
