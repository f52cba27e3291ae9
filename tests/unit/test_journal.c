/* test_journal.c: unit tests for core/journal: the line format, durability, torn and corrupt
 * lines, private keys kept out, the run lock, and the resume position. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "journal.h"
#include "util.h"

static const char PEM_KEY[] = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
			      "-----END RSA PRIVATE KEY-----\n";

__attribute__((noinline)) static char *read_all(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	struct cw_error err;
	assert_int_equal(file_read(path, 1 << 20, &data, &len, &err), CW_OK);
	return data;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void append_ok(struct journal *j, const struct journal_entry *e)
{
	struct cw_error err;
	cw_status st = journal_append(j, e, &err);
	if (st != CW_OK)
		fail_msg("journal_append: %s", err.msg);
}

static void test_roundtrip_every_event(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/a/b/run.journal", dir);
	struct journal *j;
	struct cw_error err;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);

	struct stat sb;
	char *sub = xasprintf("%s/a", dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	free(sub);
	sub = xasprintf("%s/a/b", dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	free(sub);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	for (int ev = 0; ev < JE_COUNT; ev++) {
		char step[32], note[64];
		snprintf(step, sizeof step, "step-%d", ev);
		snprintf(note, sizeof note, "note \"%d\" | with\nnewline and ünïcode", ev);
		struct journal_entry e = {
			.event = (enum journal_event)ev,
			.time = 1795000000 + ev,
			.step = step,
			.host = "ca.example.com",
			.exit_code = ev == JE_STEP_FINISH ? 3 : 0,
			.outcome = "ok",
			.who = "alice",
			.note = note,
			.title = "A title",
			.command = "puppetserver ca clean --certname 'x y'",
			.key = "old.ca.fingerprint",
			.value = "AB:CD",
			.procedure = "oss-ca",
			.profile = "oss-debian",
			.hosts = "ca.example.com,agent1",
			.path = "/var/backups/x.tar.gz",
		};
		append_ok(j, &e);
	}
	/* one with only the event: time is filled in, absent fields stay absent */
	struct journal_entry bare = { .event = JE_RUN_END };
	append_ok(j, &bare);
	journal_close(j);

	char *text = read_all(path);
	assert_int_equal(count_lines(text), JE_COUNT + 1);
	assert_non_null(strstr(text, "{\"event\":\"run-start\",\"time\":\"2026-"));
	assert_non_null(strstr(text, "\"t\":1795000000,"));
	assert_non_null(strstr(text, "\"exit_code\":3"));
	/* exit_code is written for step-finish only */
	assert_null(strstr(strstr(text, "\"event\":\"step-verify\""), "exit_code"));
	const char *last = strstr(text, "{\"event\":\"run-end\",\"time\"");
	assert_non_null(last);
	last = strstr(last + 1, "{\"event\":\"run-end\",\"time\"");
	assert_non_null(last);
	assert_null(strstr(last, "step"));
	free(text);

	struct journal_log log;
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(log.n, JE_COUNT + 1);
	for (int ev = 0; ev < JE_COUNT; ev++) {
		const struct journal_entry *e = &log.entries[ev];
		char step[32], note[64];
		snprintf(step, sizeof step, "step-%d", ev);
		snprintf(note, sizeof note, "note \"%d\" | with\nnewline and ünïcode", ev);
		assert_int_equal(e->event, ev);
		assert_int_equal(e->time, 1795000000 + ev);
		assert_string_equal(e->step, step);
		assert_string_equal(e->host, "ca.example.com");
		assert_int_equal(e->exit_code, ev == JE_STEP_FINISH ? 3 : 0);
		assert_string_equal(e->outcome, "ok");
		assert_string_equal(e->who, "alice");
		assert_string_equal(e->note, note);
		assert_string_equal(e->title, "A title");
		assert_string_equal(e->command, "puppetserver ca clean --certname 'x y'");
		assert_string_equal(e->key, "old.ca.fingerprint");
		assert_string_equal(e->value, "AB:CD");
		assert_string_equal(e->procedure, "oss-ca");
		assert_string_equal(e->profile, "oss-debian");
		assert_string_equal(e->hosts, "ca.example.com,agent1");
		assert_string_equal(e->path, "/var/backups/x.tar.gz");
	}
	const struct journal_entry *b = &log.entries[JE_COUNT];
	assert_int_equal(b->event, JE_RUN_END);
	assert_true(b->time > 1700000000);
	assert_null(b->step);
	assert_null(b->note);
	assert_null(b->who);
	journal_log_done(&log);

	assert_string_equal(journal_event_str(JE_MANUAL_DONE), "manual-done");
	assert_string_equal(journal_event_str(JE_COUNT), "unknown");
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_append_is_on_disk_before_return(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	struct journal *j;
	struct cw_error err;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	struct journal_entry e = { .event = JE_SIGNOFF, .step = "stop-server", .who = "bob" };
	append_ok(j, &e);
	/* still open: another reader sees the whole line already */
	char *text = read_all(path);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "\"step\":\"stop-server\""));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	append_ok(j, &e);
	text = read_all(path);
	assert_int_equal(count_lines(text), 2);
	free(text);
	journal_close(j);

	/* reopening appends (never truncates) */
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	append_ok(j, &e);
	journal_close(j);
	struct journal_log log;
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(log.n, 3);
	journal_log_done(&log);

	assert_int_equal(journal_load("/nonexistent/certwiz.journal", &log, &err), CW_ENOTFOUND);
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_torn_last_line_ignored(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	test_write(path, "{\"event\":\"run-start\",\"time\":\"2026-11-23T09:00:00Z\",\"t\":1795424400,"
			 "\"procedure\":\"oss-ca\",\"who\":\"alice\"}\n"
			 "{\"event\":\"step-start\",\"time\":\"2026-11-23T09:00:01Z\",\"t\":1795424401,"
			 "\"step\":\"stop\"}\n"
			 "{\"event\":\"step-finish\",\"time\":\"2026-11-23T09:0");
	struct journal_log log;
	struct cw_error err;
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.entries[1].event, JE_STEP_START);
	assert_string_equal(log.entries[1].step, "stop");
	journal_log_done(&log);

	/* resuming: the torn line is cut before anything is appended after it */
	struct journal *j;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	struct journal_entry e = { .event = JE_STEP_FINISH, .step = "stop", .exit_code = 0 };
	append_ok(j, &e);
	journal_close(j);
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.entries[2].event, JE_STEP_FINISH);
	journal_log_done(&log);

	/* a complete last line without its newline is kept and ended */
	test_write(path, "{\"event\":\"run-start\",\"t\":1795424400}");
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	append_ok(j, &e);
	journal_close(j);
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.entries[0].event, JE_RUN_START);
	assert_int_equal(log.entries[0].time, 1795424400);
	journal_log_done(&log);
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_corrupt_middle_line_rejected(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	const char *good = "{\"event\":\"signoff\",\"t\":1795424400,\"step\":\"a\"}\n";
	struct journal_log log;
	struct cw_error err;
	const char *bad[] = {
		"{\"event\":\"signoff\",\"t\":17954",           /* torn */
		"not json at all",                              /* garbage */
		"{\"event\":\"explode\",\"t\":1795424400}",    /* unknown event */
		"{\"t\":1795424400}",                           /* no event */
		"{\"event\":\"signoff\"}",                      /* no time */
		"{\"event\":\"signoff\",\"t\":1,\"note\":5}",   /* wrong type */
		"{\"event\":\"signoff\",\"t\":1} trailing",     /* text after */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text = xasprintf("%s%s%s\n%s", good, good, bad[i], good);
		test_write(path, text);
		free(text);
		memset(&err, 0, sizeof err);
		assert_int_equal(journal_load(path, &log, &err), CW_EINVAL);
		assert_int_equal(err.line, 3);
		assert_string_equal(err.file, path);
		assert_non_null(strstr(err.msg, "invalid journal entry"));
		assert_null(log.entries);
		char buf[1400];
		char *want = xasprintf("%s:3:", path);
		assert_non_null(strstr(cw_error_format(&err, buf, sizeof buf), want));
		free(want);
	}
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_private_key_refused(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	struct journal *j;
	struct cw_error err;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	struct journal_entry ok = { .event = JE_STEP_START, .step = "gen",
				    .note = "-----BEGIN CERTIFICATE----- is fine" };
	append_ok(j, &ok);
	struct journal_entry e1 = { .event = JE_SIGNOFF, .step = "gen", .note = PEM_KEY };
	assert_int_equal(journal_append(j, &e1, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "private key"));
	assert_non_null(strstr(err.msg, "note"));
	struct journal_entry e2 = { .event = JE_FACT, .key = "x",
				    .value = "-----BEGIN ENCRYPTED PRIVATE KEY-----" };
	assert_int_equal(journal_append(j, &e2, &err), CW_EINVAL);
	struct journal_entry e3 = { .event = JE_STEP_START, .step = "x",
				    .command = "echo '-----END EC PRIVATE KEY-----'" };
	assert_int_equal(journal_append(j, &e3, &err), CW_EINVAL);
	journal_close(j);
	char *text = read_all(path);
	assert_int_equal(count_lines(text), 1);
	assert_null(strstr(text, "PRIVATE KEY"));
	free(text);
	assert_true(journal_text_has_private_key(PEM_KEY, strlen(PEM_KEY)));
	assert_false(journal_text_has_private_key("PRIVATE KEY", 11));
	assert_false(journal_text_has_private_key(NULL, 0));
	free(path);
	test_rmrf(dir);
	free(dir);
}

static void test_lock_held_by_child(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *lock = xasprintf("%s/locks/deploy.lock", dir);
	int ready[2], go[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		int fd;
		struct cw_error cerr;
		char c = journal_lock(lock, "batch:answers.cfg", &fd, &cerr) == CW_OK ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(2);
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0); /* the lock goes with the process, as after kill -9 */
	}
	close(ready[1]);
	close(go[0]);
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');

	int fd = -1;
	struct cw_error err;
	assert_int_equal(journal_lock(lock, "alice", &fd, &err), CW_ELOCKED);
	assert_int_equal(fd, -1);
	char want[64];
	snprintf(want, sizeof want, "pid %ld,", (long)pid);
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "batch:answers.cfg"));
	assert_non_null(strstr(err.msg, "since 20"));
	assert_non_null(strstr(err.msg, lock));

	assert_int_equal(write(go[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(go[1]);

	assert_int_equal(journal_lock(lock, "alice", &fd, &err), CW_OK);
	assert_true(fd >= 0);
	char *text = read_all(lock);
	char mine[32];
	snprintf(mine, sizeof mine, "%ld alice 20", (long)getpid());
	assert_true(strncmp(text, mine, strlen(mine)) == 0);
	free(text);
	struct stat sb;
	assert_int_equal(stat(lock, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	journal_unlock(fd);
	free(lock);
	test_rmrf(dir);
	free(dir);
}

static void test_lock_released_on_unlock(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *lock = xasprintf("%s/deploy.lock", dir);
	int a = -1, b = -1;
	struct cw_error err;
	assert_int_equal(journal_lock(lock, "first run", &a, &err), CW_OK);
	/* another open file description conflicts even within one process */
	assert_int_equal(journal_lock(lock, "second", &b, &err), CW_ELOCKED);
	char want[64];
	snprintf(want, sizeof want, "pid %ld, run by first run, since", (long)getpid());
	assert_non_null(strstr(err.msg, want));
	journal_unlock(a);
	assert_int_equal(journal_lock(lock, "second", &b, &err), CW_OK);
	journal_unlock(b);
	journal_unlock(-1); /* harmless */
	free(lock);
	test_rmrf(dir);
	free(dir);
}

#define E(ev, ...) ((struct journal_entry){ .event = (ev), .time = 1795424400, __VA_ARGS__ })

static void test_position(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	struct journal *j;
	struct cw_error err;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	struct journal_entry seq[] = {
		E(JE_RUN_START, .procedure = "oss-ca", .profile = "oss-debian", .who = "alice",
		  .hosts = "ca,agent1"),
		E(JE_BACKUP, .host = "ca", .path = "/b/x.tar.gz", .outcome = "verified"),
		E(JE_STEP_START, .step = "stop-server", .host = "ca"),
		E(JE_STEP_FINISH, .step = "stop-server", .exit_code = 0),
		E(JE_STEP_VERIFY, .step = "stop-server", .outcome = "ok"),
		E(JE_SIGNOFF, .step = "stop-server", .who = "alice"),
		E(JE_SKIP, .step = "clean-agent", .who = "alice", .note = "no agents"),
		E(JE_STEP_START, .step = "move-cadir", .host = "ca"),
		E(JE_STEP_FINISH, .step = "move-cadir", .exit_code = 0),
		E(JE_STEP_VERIFY, .step = "move-cadir", .outcome = "ok"),
		E(JE_SIGNOFF, .step = "move-cadir", .who = "alice"),
		E(JE_MANUAL_DONE, .step = "windows-agent", .who = "alice", .note = "done by Bob"),
		E(JE_STEP_START, .step = "ca-setup", .host = "ca", .command = "puppetserver ca setup"),
		/* crash here: ca-setup started, never finished */
	};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
		append_ok(j, &seq[i]);

	struct journal_log log;
	struct journal_position pos;
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(journal_position(&log, &pos, &err), CW_OK);
	assert_int_equal(strv_len(pos.done_steps), 4);
	assert_string_equal(pos.done_steps[0], "stop-server");
	assert_string_equal(pos.done_steps[1], "clean-agent");
	assert_string_equal(pos.done_steps[2], "move-cadir");
	assert_string_equal(pos.done_steps[3], "windows-agent");
	assert_true(journal_position_is_done(&pos, "move-cadir"));
	assert_false(journal_position_is_done(&pos, "ca-setup"));
	assert_string_equal(pos.running_step, "ca-setup");
	assert_string_equal(pos.running_host, "ca");
	assert_false(pos.running_finished);
	assert_string_equal(pos.procedure, "oss-ca");
	assert_string_equal(pos.profile, "oss-debian");
	assert_string_equal(pos.operator, "alice");
	assert_false(pos.ended);
	journal_position_done(&pos);
	journal_log_done(&log);

	/* resumed: a second session; the command finished but was not signed off (crash again) */
	struct journal_entry more[] = {
		E(JE_RUN_START, .procedure = "oss-ca", .profile = "oss-debian", .who = "bob"),
		E(JE_STEP_START, .step = "ca-setup", .host = "ca"),
		E(JE_STEP_FINISH, .step = "ca-setup", .exit_code = 4),
	};
	for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
		append_ok(j, &more[i]);
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(journal_position(&log, &pos, &err), CW_OK);
	assert_string_equal(pos.operator, "alice"); /* the run's first operator */
	assert_string_equal(pos.running_step, "ca-setup");
	assert_true(pos.running_finished);
	assert_int_equal(pos.running_exit_code, 4);
	assert_int_equal(strv_len(pos.done_steps), 4);
	journal_position_done(&pos);
	journal_log_done(&log);

	/* signed off: nothing running; then a rollback of one step, then the end */
	struct journal_entry fin[] = {
		E(JE_SIGNOFF, .step = "ca-setup", .who = "bob"),
		E(JE_ROLLBACK, .step = "move-cadir", .who = "bob"),
		E(JE_RUN_END, .outcome = "ok"),
	};
	for (size_t i = 0; i < sizeof fin / sizeof fin[0]; i++)
		append_ok(j, &fin[i]);
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(journal_position(&log, &pos, &err), CW_OK);
	assert_null(pos.running_step);
	assert_false(journal_position_is_done(&pos, "move-cadir"));
	assert_true(journal_position_is_done(&pos, "ca-setup"));
	assert_int_equal(strv_len(pos.done_steps), 4);
	assert_true(pos.ended);
	assert_string_equal(pos.end_outcome, "ok");
	journal_position_done(&pos);
	journal_log_done(&log);

	/* a whole-run rollback undoes everything; a new run after the end starts afresh */
	struct journal_entry again[] = {
		E(JE_RUN_START, .procedure = "agent", .who = "carol"),
		E(JE_SIGNOFF, .step = "one", .who = "carol"),
		E(JE_ROLLBACK, .who = "carol"),
	};
	for (size_t i = 0; i < sizeof again / sizeof again[0]; i++)
		append_ok(j, &again[i]);
	journal_close(j);
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	assert_int_equal(journal_position(&log, &pos, &err), CW_OK);
	assert_string_equal(pos.procedure, "agent");
	assert_string_equal(pos.operator, "carol");
	assert_null(pos.profile);
	assert_null(pos.done_steps);
	assert_false(pos.ended);
	assert_int_equal(pos.entries, 3);
	journal_position_done(&pos);
	journal_log_done(&log);

	/* a signed-off step that is started again is not done until signed off again */
	struct journal_entry rerun[] = {
		E(JE_RUN_START, .who = "x"),
		E(JE_STEP_START, .step = "a"),
		E(JE_SIGNOFF, .step = "a", .who = "x"),
		E(JE_STEP_START, .step = "a"),
	};
	struct journal_log l0 = { .entries = rerun, .n = 4 };
	assert_int_equal(journal_position(&l0, &pos, &err), CW_OK);
	assert_false(journal_position_is_done(&pos, "a"));
	assert_string_equal(pos.running_step, "a");
	journal_position_done(&pos);

	/* a step certwiz did not run because its host had failed is not done: the resumed run
	 * decides again (the operator's own skip stays done) */
	struct journal_entry hostfail[] = {
		E(JE_RUN_START, .who = "x"),
		E(JE_STEP_START, .step = "req@a2"),
		E(JE_STEP_FINISH, .step = "req@a2", .exit_code = 1),
		E(JE_SKIP, .step = "sign@a2", .who = "certwiz", .note = "not run: an earlier step for a2 failed"),
		E(JE_SKIP, .step = "sign@a3", .who = "x", .note = "by hand"),
	};
	struct journal_log l3 = { .entries = hostfail, .n = 5 };
	assert_int_equal(journal_position(&l3, &pos, &err), CW_OK);
	assert_false(journal_position_is_done(&pos, "sign@a2"));
	assert_true(journal_position_is_done(&pos, "sign@a3"));
	journal_position_done(&pos);

	/* no run at all, or a step event without a step */
	struct journal_entry none[] = { E(JE_FACT, .key = "k", .value = "v") };
	struct journal_log l1 = { .entries = none, .n = 1 };
	assert_int_equal(journal_position(&l1, &pos, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "no run"));
	struct journal_entry nostep[] = { E(JE_RUN_START, .who = "x"), E(JE_SIGNOFF, .who = "x") };
	struct journal_log l2 = { .entries = nostep, .n = 2 };
	assert_int_equal(journal_position(&l2, &pos, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "entry 2"));
	free(path);
	test_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_event),
		cmocka_unit_test(test_append_is_on_disk_before_return),
		cmocka_unit_test(test_torn_last_line_ignored),
		cmocka_unit_test(test_corrupt_middle_line_rejected),
		cmocka_unit_test(test_private_key_refused),
		cmocka_unit_test(test_lock_held_by_child),
		cmocka_unit_test(test_lock_released_on_unlock),
		cmocka_unit_test(test_position),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
