/* test_report.c: unit tests for core/report: the Markdown and JSON change record of a run. */
#include "testutil.h"

#include <json-c/json.h>

#include "journal.h"
#include "report.h"
#include "util.h"

#define T0 1795424400L /* 2026-11-23T09:00:00Z */
#define E(ev, dt, ...) ((struct journal_entry){ .event = (ev), .time = T0 + (dt), __VA_ARGS__ })

static const struct journal_entry RUN[] = {
	E(JE_RUN_START, 0, .procedure = "oss-ca", .profile = "oss-debian", .who = "alice",
	  .hosts = "ca.example.com,agent1.example.com"),
	E(JE_FACT, 1, .host = "ca.example.com", .key = "old.ca.fingerprint",
	  .value = "AA:11:22:33"),
	E(JE_FACT, 1, .host = "ca.example.com", .key = "old.ca.not_after",
	  .value = "2027-01-01T00:00:00Z"),
	E(JE_FACT, 1, .host = "ca.example.com", .key = "dialect", .value = "puppet6"),
	E(JE_BACKUP, 5, .host = "ca.example.com", .path = "/var/backups/certwiz/20261123-ca.tar.gz",
	  .outcome = "created"),
	E(JE_BACKUP, 6, .host = "ca.example.com", .path = "/var/backups/certwiz/20261123-ca.tar.gz",
	  .outcome = "verified", .note = "12 files"),
	E(JE_STEP_START, 10, .step = "stop-server", .host = "ca.example.com",
	  .title = "Stop the Puppet server", .command = "systemctl stop puppetserver"),
	E(JE_STEP_FINISH, 12, .step = "stop-server", .host = "ca.example.com", .exit_code = 0),
	E(JE_STEP_VERIFY, 13, .step = "stop-server", .host = "ca.example.com", .outcome = "ok",
	  .note = "port 8140 closed"),
	E(JE_SIGNOFF, 14, .step = "stop-server", .host = "ca.example.com", .who = "alice",
	  .note = "checked | twice\nsecond line"),
	E(JE_SKIP, 20, .step = "clean-agents", .host = "ca.example.com", .who = "alice",
	  .note = "no agents yet", .title = "Clean agent certificates"),
	E(JE_STEP_START, 30, .step = "regen-ca", .host = "ca.example.com", .title = "Make a new CA",
	  .command = "puppetserver ca setup | tee /tmp/log"),
	E(JE_STEP_FINISH, 40, .step = "regen-ca", .host = "ca.example.com", .exit_code = 0),
	E(JE_STEP_VERIFY, 41, .step = "regen-ca", .host = "ca.example.com", .outcome = "ok"),
	E(JE_SIGNOFF, 42, .step = "regen-ca", .host = "ca.example.com", .who = "batch:answers.cfg"),
	E(JE_FACT, 43, .host = "ca.example.com", .key = "new.ca.fingerprint",
	  .value = "BB:44:55:66"),
	E(JE_FACT, 43, .host = "ca.example.com", .key = "new.ca.not_after",
	  .value = "2041-11-23T09:00:00Z"),
	E(JE_MANUAL_DONE, 50, .step = "windows-agent", .host = "win1", .who = "alice",
	  .note = "done on the console by Bob"),
	E(JE_STEP_START, 60, .step = "agent-run", .host = "agent1.example.com",
	  .title = "Run the agent", .command = "puppet agent -t"),
	E(JE_STEP_FINISH, 70, .step = "agent-run", .host = "agent1.example.com", .exit_code = 2),
	E(JE_RUN_END, 80, .outcome = "ok"),
};

static struct journal_log make_log(const struct journal_entry *e, size_t n)
{
	struct journal_log log = { .entries = (struct journal_entry *)e, .n = n };
	return log;
}

static void test_markdown(void **state)
{
	(void)state;
	struct journal_log log = make_log(RUN, sizeof RUN / sizeof RUN[0]);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err;
	assert_int_equal(report_markdown(&log, &sb, &err), CW_OK);
	const char *md = sb.buf;
	const char *want[] = {
		"# certwiz change record",
		"| Procedure | oss-ca |",
		"| Profile | oss-debian |",
		"| Operator | alice |",
		"| Hosts | ca.example.com, agent1.example.com, win1 |",
		"| Started | 2026-11-23T09:00:00Z |",
		"| Ended | 2026-11-23T09:01:20Z |",
		"| Outcome | ok |",
		"| # | Step | Title | Host | Command | Exit | Verification | Status | Signed off by | When | Note |",
		"| 1 | stop-server | Stop the Puppet server | ca.example.com | systemctl stop puppetserver "
		"| 0 | ok: port 8140 closed | signed off | alice | 2026-11-23T09:00:14Z | checked \\| "
		"twice<br>second line |\n",
		"| 2 | clean-agents | Clean agent certificates | ca.example.com | — | — | — | skipped | "
		"alice | 2026-11-23T09:00:20Z | no agents yet |\n",
		"| 3 | regen-ca | Make a new CA | ca.example.com | puppetserver ca setup \\| tee /tmp/log | 0 "
		"| ok | signed off | batch:answers.cfg |",
		"| 4 | windows-agent | — | win1 | — | — | — | done by hand | alice |",
		"| 5 | agent-run | Run the agent | agent1.example.com | puppet agent -t | 2 | — | failed | — |",
		"## Skipped steps",
		"| clean-agents | ca.example.com | alice | 2026-11-23T09:00:20Z | no agents yet |",
		"## Manual steps",
		"| windows-agent | win1 | alice | 2026-11-23T09:00:50Z | done on the console by Bob |",
		"## Certificates and CA: before → after",
		"| ca.fingerprint | ca.example.com | AA:11:22:33 | BB:44:55:66 |",
		"| ca.not\\_after | ca.example.com | 2027-01-01T00:00:00Z | 2041-11-23T09:00:00Z |",
		"| dialect | ca.example.com | puppet6 |",
		"## Backups",
		"| ca.example.com | /var/backups/certwiz/20261123-ca.tar.gz | yes | 2026-11-23T09:00:06Z | "
		"12 files |",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(md, want[i]))
			fail_msg("missing from the report: %s\n---\n%s", want[i], md);
	/* no raw pipe or newline got into a cell: every table line has as many cells as its header */
	const char *steps = strstr(md, "| # | Step");
	const char *end = strstr(steps, "\n\n");
	for (const char *l = steps; l && l < end; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t bars = 0;
		for (const char *c = l; *c && *c != '\n'; c++)
			if (*c == '|' && (c == l || c[-1] != '\\'))
				bars++;
		assert_int_equal(bars, 12);
	}
	assert_null(strstr(md, "Sessions"));
	strbuf_done(&sb);
}

static void test_json(void **state)
{
	(void)state;
	struct journal_log log = make_log(RUN, sizeof RUN / sizeof RUN[0]);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err;
	assert_int_equal(report_json(&log, &sb, &err), CW_OK);
	json_object *o = json_tokener_parse(sb.buf);
	assert_non_null(o);
	json_object *v, *a, *x;
#define STR(obj, key) (json_object_object_get_ex((obj), (key), &v) ? json_object_get_string(v) : NULL)
	assert_string_equal(STR(o, "procedure"), "oss-ca");
	assert_string_equal(STR(o, "profile"), "oss-debian");
	assert_string_equal(STR(o, "operator"), "alice");
	assert_string_equal(STR(o, "started"), "2026-11-23T09:00:00Z");
	assert_string_equal(STR(o, "ended"), "2026-11-23T09:01:20Z");
	assert_string_equal(STR(o, "outcome"), "ok");
	assert_true(json_object_object_get_ex(o, "hosts", &a));
	assert_int_equal(json_object_array_length(a), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)), "ca.example.com");

	assert_true(json_object_object_get_ex(o, "steps", &a));
	assert_int_equal(json_object_array_length(a), 5);
	json_object *s0 = json_object_array_get_idx(a, 0);
	assert_true(json_object_object_get_ex(s0, "number", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_string_equal(STR(s0, "id"), "stop-server");
	assert_string_equal(STR(s0, "command"), "systemctl stop puppetserver");
	assert_true(json_object_object_get_ex(s0, "exit_code", &v));
	assert_int_equal(json_object_get_int(v), 0);
	assert_true(json_object_object_get_ex(s0, "verification", &x));
	assert_string_equal(STR(x, "outcome"), "ok");
	assert_string_equal(STR(x, "detail"), "port 8140 closed");
	assert_true(json_object_object_get_ex(s0, "signoff", &x));
	assert_string_equal(STR(x, "who"), "alice");
	assert_string_equal(STR(x, "time"), "2026-11-23T09:00:14Z");
	assert_string_equal(STR(x, "note"), "checked | twice\nsecond line");
	json_object *s4 = json_object_array_get_idx(a, 4);
	assert_string_equal(STR(s4, "status"), "failed");
	assert_true(json_object_object_get_ex(s4, "signoff", &x));
	assert_null(x);

	assert_true(json_object_object_get_ex(o, "skipped", &a));
	assert_int_equal(json_object_array_length(a), 1);
	assert_string_equal(STR(json_object_array_get_idx(a, 0), "reason"), "no agents yet");
	assert_true(json_object_object_get_ex(o, "manual", &a));
	assert_int_equal(json_object_array_length(a), 1);
	assert_string_equal(STR(json_object_array_get_idx(a, 0), "step"), "windows-agent");

	assert_true(json_object_object_get_ex(o, "certificates", &a));
	assert_int_equal(json_object_array_length(a), 2);
	x = json_object_array_get_idx(a, 0);
	assert_string_equal(STR(x, "name"), "ca.fingerprint");
	assert_string_equal(STR(x, "old"), "AA:11:22:33");
	assert_string_equal(STR(x, "new"), "BB:44:55:66");
	assert_true(json_object_object_get_ex(o, "facts", &a));
	assert_int_equal(json_object_array_length(a), 1);

	assert_true(json_object_object_get_ex(o, "backups", &a));
	assert_int_equal(json_object_array_length(a), 1);
	x = json_object_array_get_idx(a, 0);
	assert_string_equal(STR(x, "archive"), "/var/backups/certwiz/20261123-ca.tar.gz");
	assert_true(json_object_object_get_ex(x, "verified", &v));
	assert_true(json_object_get_boolean(v));
#undef STR
	json_object_put(o);
	strbuf_done(&sb);
}

static void test_private_key_refused(void **state)
{
	(void)state;
	struct journal_entry run[] = {
		E(JE_RUN_START, 0, .procedure = "agent", .who = "alice"),
		E(JE_SIGNOFF, 1, .step = "gen", .who = "alice",
		  .note = "pasted: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"),
	};
	struct journal_log log = make_log(run, 2);
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_adds(&sb, "before");
	struct cw_error err;
	assert_int_equal(report_markdown(&log, &sb, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "private key"));
	assert_non_null(strstr(err.msg, "entry 2"));
	assert_non_null(strstr(err.msg, "note"));
	assert_int_equal(report_json(&log, &sb, &err), CW_EINVAL);
	assert_string_equal(sb.buf, "before"); /* nothing was written */
	/* in a fact value as well */
	run[1] = E(JE_FACT, 1, .key = "new.key", .value = "-----BEGIN PRIVATE KEY-----");
	assert_int_equal(report_json(&log, &sb, &err), CW_EINVAL);
	assert_string_equal(sb.buf, "before");
	strbuf_done(&sb);
}

static void test_incomplete_and_resumed(void **state)
{
	(void)state;
	struct journal_entry run[] = {
		E(JE_RUN_START, 0, .procedure = "primary", .who = "alice"),
		E(JE_STEP_START, 1, .step = "stop", .host = "p", .command = "a"),
		E(JE_RUN_START, 100, .procedure = "primary", .who = "bob"), /* resumed */
		E(JE_STEP_START, 101, .step = "stop", .host = "p", .command = "a"),
		E(JE_STEP_FINISH, 102, .step = "stop", .host = "p", .exit_code = 0),
		E(JE_SIGNOFF, 103, .step = "stop", .host = "p", .who = "bob"),
		E(JE_STEP_START, 104, .step = "regen", .host = "p", .command = "b"),
		E(JE_ROLLBACK, 105, .who = "bob", .outcome = "ok", .note = "restored the backup"),
	};
	struct journal_log log = make_log(run, sizeof run / sizeof run[0]);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err;
	assert_int_equal(report_markdown(&log, &sb, &err), CW_OK);
	assert_non_null(strstr(sb.buf, "| Ended | not ended |"));
	assert_non_null(strstr(sb.buf, "| Outcome | incomplete (the run has not ended) |"));
	assert_non_null(strstr(sb.buf, "| Sessions | 2 (resumed 1 times) |"));
	assert_non_null(strstr(sb.buf, "| 1 | stop | — | p | a | 0 | — | signed off | bob |"));
	assert_non_null(strstr(sb.buf, "| 2 | regen | — | p | b | — | — | interrupted |"));
	assert_non_null(strstr(sb.buf, "## Rollbacks"));
	assert_non_null(strstr(sb.buf, "(whole run) | — | bob | ok | restored the backup |"));
	assert_non_null(strstr(sb.buf, "No backup was recorded."));
	strbuf_reset(&sb);
	assert_int_equal(report_json(&log, &sb, &err), CW_OK);
	json_object *o = json_tokener_parse(sb.buf);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "outcome", &v));
	assert_string_equal(json_object_get_string(v), "incomplete");
	assert_true(json_object_object_get_ex(o, "ended", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "sessions", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);

	struct journal_log empty = { 0 };
	assert_int_equal(report_markdown(&empty, &sb, &err), CW_EINVAL);
	strbuf_done(&sb);
}

/* From a journal file, as `certwiz report JOURNAL` will do. */
static void test_from_journal_file(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/run.journal", dir);
	struct journal *j;
	struct cw_error err;
	assert_int_equal(journal_open(path, &j, &err), CW_OK);
	for (size_t i = 0; i < sizeof RUN / sizeof RUN[0]; i++)
		assert_int_equal(journal_append(j, &RUN[i], &err), CW_OK);
	journal_close(j);
	struct journal_log log;
	assert_int_equal(journal_load(path, &log, &err), CW_OK);
	struct strbuf a, b;
	strbuf_init(&a);
	strbuf_init(&b);
	struct journal_log mem = make_log(RUN, sizeof RUN / sizeof RUN[0]);
	assert_int_equal(report_markdown(&log, &a, &err), CW_OK);
	assert_int_equal(report_markdown(&mem, &b, &err), CW_OK);
	assert_string_equal(a.buf, b.buf);
	strbuf_reset(&a);
	strbuf_reset(&b);
	assert_int_equal(report_json(&log, &a, &err), CW_OK);
	assert_int_equal(report_json(&mem, &b, &err), CW_OK);
	assert_string_equal(a.buf, b.buf);
	strbuf_done(&a);
	strbuf_done(&b);
	journal_log_done(&log);
	free(path);
	test_rmrf(dir);
	free(dir);
}

/* A fleet: every agent's outcome, one row each: done, failed, left out with its backup. */
static void test_agents(void **state)
{
	(void)state;
	struct journal_entry run[] = {
		E(JE_RUN_START, 0, .procedure = "agent", .who = "alice"),
		E(JE_BACKUP, 1, .host = "a1", .path = "/b/a1.tar.gz", .outcome = "verified"),
		E(JE_BACKUP, 1, .host = "a2", .path = "/b/a2.tar.gz", .outcome = "verified"),
		E(JE_BACKUP, 1, .host = "a3", .path = "/b/a3.tar.gz", .outcome = "verified"),
		E(JE_STEP_START, 2, .step = "clean@a1", .host = "ca"),
		E(JE_STEP_FINISH, 3, .step = "clean@a1", .host = "ca", .exit_code = 0),
		E(JE_SIGNOFF, 4, .step = "clean@a1", .host = "ca", .who = "alice"),
		E(JE_STEP_START, 2, .step = "clean@a2", .host = "ca"),
		E(JE_STEP_FINISH, 3, .step = "clean@a2", .host = "ca", .exit_code = 1, .outcome = "fail",
		  .note = "the CA refused"),
		E(JE_STEP_START, 2, .step = "clean@a3", .host = "ca"),
		E(JE_STEP_FINISH, 3, .step = "clean@a3", .host = "ca", .exit_code = 1, .outcome = "fail",
		  .note = "no such host"),
		E(JE_FACT, 5, .host = "a3", .key = "left-out", .value = "left out at step 3 by alice; it keeps its backup /b/a3.tar.gz"),
		E(JE_STEP_START, 6, .step = "run@a1", .host = "a1"),
		E(JE_STEP_FINISH, 7, .step = "run@a1", .host = "a1", .exit_code = 0),
		E(JE_SIGNOFF, 8, .step = "run@a1", .host = "a1", .who = "alice"),
		E(JE_SKIP, 8, .step = "run@a3", .host = "a3", .who = "certwiz", .note = "not run"),
		E(JE_RUN_END, 9, .outcome = "failed"),
	};
	struct journal_log log = make_log(run, sizeof run / sizeof run[0]);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err;
	assert_int_equal(report_markdown(&log, &sb, &err), CW_OK);
	assert_non_null(strstr(sb.buf, "## Agents"));
	assert_non_null(strstr(sb.buf, "| a1 | done | /b/a1.tar.gz |"));
	assert_non_null(strstr(sb.buf, "| a2 | FAILED at step 2 (clean@a2): the CA refused | /b/a2.tar.gz |"));
	assert_non_null(strstr(sb.buf, "| a3 | left out: left out at step 3 by alice; it keeps its backup /b/a3.tar.gz |"));
	strbuf_reset(&sb);
	assert_int_equal(report_json(&log, &sb, &err), CW_OK);
	json_object *o = json_tokener_parse(sb.buf), *agents, *v;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "agents", &agents));
	assert_int_equal(json_object_array_length(agents), 3);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(agents, 0), "outcome", &v));
	assert_string_equal(json_object_get_string(v), "done");
	json_object_put(o);
	strbuf_done(&sb);

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_private_key_refused),
		cmocka_unit_test(test_incomplete_and_resumed),
		cmocka_unit_test(test_agents),
		cmocka_unit_test(test_from_journal_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
