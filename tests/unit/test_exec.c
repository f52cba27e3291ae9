/* test_exec.c: running a plan step by step on this host: the gates (no destructive step without
 * a verified backup and a typed confirmation), verification of what a step did, the reason a
 * failed step gives (in its result and in the report), and rollback from the backup. The plan
 * is the screen tests' procedure (tests/screen/data): its commands are scripts acting on a
 * temporary directory only, its services a `command` backend over state files. */
#include "testutil.h"

#include <sys/stat.h>

#include "exec.h"
#include "report.h"
#include "util.h"
#include "wizard.h"

/* A fake host under DIR/root (the screen tests' fixture), its CA and host certificate made
 * with openssl, a new CA under DIR/newca for the "setup" step. */
static const char HOST_SCRIPT[] =
	"set -e; d=$1; src=$2; cd \"$d\"\n"
	"mkdir -p root state newca\n"
	"cp -R \"$src/tests/screen/root/.\" root/\n"
	"ca=root/etc/puppet/puppetserver/ca; ssl=root/var/lib/puppet/ssl\n"
	"mkdir -p $ca $ssl/certs $ssl/private_keys root/var/cache/puppet/client_data/catalog\n"
	"key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\"; }\n"
	"key $ca/ca_key.pem\n"
	"openssl req -x509 -new -key $ca/ca_key.pem -out $ca/ca_crt.pem -days 30 "
	"  -subj '/CN=Puppet CA: puppet.example.com' -addext basicConstraints=critical,CA:TRUE\n"
	"key $ssl/private_keys/puppet.example.com.pem\n"
	"openssl req -new -key $ssl/private_keys/puppet.example.com.pem -subj /CN=puppet.example.com "
	"  -out host.csr\n"
	"openssl x509 -req -in host.csr -CA $ca/ca_crt.pem -CAkey $ca/ca_key.pem -set_serial 2 -days 20 "
	"  -out $ssl/certs/puppet.example.com.pem\n"
	"cp $ca/ca_crt.pem $ssl/certs/ca.pem\n"
	"key newca/ca_key.pem\n"
	"openssl req -x509 -new -key newca/ca_key.pem -out newca/ca_crt.pem -days 30 "
	"  -subj '/CN=Puppet CA: puppet.example.com' -addext basicConstraints=critical,CA:TRUE\n"
	": > state/puppet.running; : > state/puppetserver.running\n";

struct fx {
	char *dir;
	struct wizard *w;
	struct exec *ex;
	char *cadir;
};

static char *P(const struct fx *f, const char *rel)
{
	return xasprintf("%s/%s", f->dir, rel);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->dir = test_tmpdir();
	char *const argv[] = { "sh", "-c", (char *)HOST_SCRIPT, "sh", f->dir, CW_TEST_SRCDIR, NULL };
	test_run_quiet(argv);
	f->cadir = P(f, "root/etc/puppet/puppetserver/ca");
	char *cfg = P(f, "site.cfg");
	char *text = xasprintf(
		"hosts = ( { name = \"puppet.example.com\"; address = \"127.0.0.99\"; } );\n"
		"services = { backend = \"command\";\n"
		"  start = [\"%1$s/tests/screen/bin/fake-service\", \"%2$s/state\", \"start\", \"${service}\"];\n"
		"  stop = [\"%1$s/tests/screen/bin/fake-service\", \"%2$s/state\", \"stop\", \"${service}\"];\n"
		"  status = [\"%1$s/tests/screen/bin/fake-service\", \"%2$s/state\", \"status\", \"${service}\"]; };\n"
		"vars = { tools = \"%1$s/tests/screen/bin\"; newca = \"%2$s/newca\";\n"
		"  confdir = \"%2$s/root/etc/puppet\"; ssldir = \"%2$s/root/var/lib/puppet/ssl\";\n"
		"  cadir = \"%2$s/root/etc/puppet/puppetserver/ca\";\n"
		"  client_datadir = \"%2$s/root/var/cache/puppet/client_data\"; };\n",
		CW_TEST_SRCDIR, f->dir);
	test_write(cfg, text);
	free(text);
	char *root = P(f, "root"), *backups = P(f, "backups"), *runs = P(f, "runs");
	struct wizard_opts o = { .datadir = CW_TEST_SRCDIR "/tests/screen/data", .config_path = cfg,
				 .root = root, .profile = "screen-test", .procedure = "screen-test",
				 .backup_dir = backups, .journal_dir = runs, .operator_name = "tester" };
	struct cw_error e = { 0 };
	if (wizard_open(&o, &f->w, &e) != CW_OK || wizard_build_plan(f->w, &e) != CW_OK)
		fail_msg("%s", e.msg);
	free(cfg);
	free(root);
	free(backups);
	free(runs);
	struct exec_opts eo = { .operator_name = "tester" };
	if (exec_open(f->w, &eo, &f->ex, &e) != CW_OK)
		fail_msg("exec_open: %s", e.msg);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	exec_free(f->ex);
	wizard_free(f->w);
	test_rmrf(f->dir);
	free(f->dir);
	free(f->cadir);
	free(f);
	return 0;
}

/* The index of the step with this id. */
static size_t step(const struct fx *f, const char *id)
{
	for (size_t i = 0; i < f->w->plan->nsteps; i++)
		if (strcmp(f->w->plan->steps[i].id, id) == 0)
			return i;
	fail_msg("no step %s", id);
	return 0;
}

static void run_ok(struct fx *f, const char *id, bool confirmed)
{
	struct cw_error e = { 0 };
	size_t i = step(f, id);
	if (exec_run_step(f->ex, i, confirmed, &e) != CW_OK)
		fail_msg("step %s: %s (%s)", id, e.msg, exec_result(f->ex, i)->detail ? exec_result(f->ex, i)->detail : "");
	assert_int_equal(exec_result(f->ex, i)->state, STEP_DONE);
	assert_int_equal(exec_sign_off(f->ex, i, NULL, &e), CW_OK);
}

static bool exists(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

/* A run closed with OUTCOME, then `certwiz resume` of its journal: exec_open's status. The
 * lock is the first run's until exec_free. */
static cw_status resume_after(struct fx *f, const char *outcome, struct cw_error *e)
{
	char *j = xasprintf("%s/journal.jsonl", exec_run_dir(f->ex));
	assert_int_equal(exec_close(f->ex, outcome, e), CW_OK);
	exec_free(f->ex);
	f->ex = NULL;
	struct exec_opts eo = { .operator_name = "tester", .resume_journal = j };
	cw_status st = exec_open(f->w, &eo, &f->ex, e);
	free(j);
	return st;
}

/* A batch run that stopped at a manual step not yet done ends "waiting": the operator does the
 * step, lists it in manual_done and continues that run with certwiz resume (pe-split's
 * copies to the console host: a new run would make a new CA again). */
static void test_resume_waiting_run(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	run_ok(f, "backup-ca", false);
	assert_int_equal(resume_after(f, "waiting", &e), CW_OK);
	assert_true(exec_backup_verified(f->ex, 0));
	assert_int_equal(exec_result(f->ex, step(f, "backup-ca"))->state, STEP_SIGNED);
}

/* A run that failed or completed is over: resume refuses it and says why. */
static void test_resume_refuses_failed_run(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	assert_int_equal(resume_after(f, "failed", &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "that run has ended already (failed): there is nothing to resume"));
}

/* Nothing destructive runs before its host has a verified backup, nor without the typed
 * confirmation; a refused step changes nothing. */
static void test_gates(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	size_t clear = step(f, "clear-ca");
	assert_true(f->w->plan->steps[clear].destructive);
	assert_false(exec_backup_verified(f->ex, 0));
	assert_int_equal(exec_run_step(f->ex, clear, true, &e), CW_EBACKUP);
	assert_non_null(strstr(e.msg, "has no verified backup yet: run its backup step first"));
	assert_true(exists(f->cadir, "ca_crt.pem"));
	assert_int_equal(exec_result(f->ex, clear)->state, STEP_PENDING);
	/* marking it done by hand is no way around the backup either */
	assert_int_equal(exec_manual_done(f->ex, clear, "did it", &e), CW_EBACKUP);

	run_ok(f, "backup-ca", false);
	assert_true(exec_backup_verified(f->ex, 0));
	assert_int_equal(exec_run_step(f->ex, clear, false, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "confirm it by typing 'puppet.example.com'"));
	assert_true(exists(f->cadir, "ca_crt.pem"));

	run_ok(f, "stop", false);
	run_ok(f, "clear-ca", true);
	assert_false(exists(f->cadir, "ca_crt.pem"));
	/* a manual step cannot be "run" */
	assert_int_equal(exec_run_step(f->ex, step(f, "tell"), false, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "is manual"));
	/* nor can a signed-off step run again */
	assert_int_equal(exec_run_step(f->ex, clear, true, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "already"));
}

/* A step whose verification does not hold has failed, says why in its result, and the report
 * of the run says it too. */
static void test_failed_step_reason(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	run_ok(f, "backup-ca", false);
	run_ok(f, "stop", false);
	run_ok(f, "clear-ca", true);
	run_ok(f, "drop-catalog", false);
	/* "setup" copies newca/ca_crt.pem; take it away and the step fails */
	char *newca = P(f, "newca/ca_crt.pem");
	assert_int_equal(unlink(newca), 0);
	free(newca);
	size_t setup = step(f, "setup");
	assert_int_not_equal(exec_run_step(f->ex, setup, false, &e), CW_OK);
	const struct step_result *r = exec_result(f->ex, setup);
	assert_int_equal(r->state, STEP_FAILED);
	assert_non_null(r->detail);
	assert_true(strlen(r->detail) > 0);
	char *run_dir = xstrdup(exec_run_dir(f->ex));
	assert_int_equal(exec_close(f->ex, "failed", &e), CW_OK);
	char *jpath = xasprintf("%s/journal.jsonl", run_dir);
	struct journal_log log;
	assert_int_equal(journal_load(jpath, &log, &e), CW_OK);
	struct strbuf md;
	strbuf_init(&md);
	assert_int_equal(report_markdown(&log, &md, &e), CW_OK);
	/* the report names the failed step and gives its reason */
	char *want = xasprintf("fail: %s", r->detail);
	if (!strstr(md.buf, "| setup |") || !strstr(md.buf, want))
		fail_msg("the report lacks \"%s\":\n%s", want, md.buf);
	free(want);
	strbuf_done(&md);
	/* and so does the JSON report, in the step's "reason" */
	strbuf_init(&md);
	assert_int_equal(report_json(&log, &md, &e), CW_OK);
	want = xasprintf("\"reason\": \"%s\"", r->detail);
	if (!strstr(md.buf, want))
		fail_msg("the JSON report lacks %s:\n%s", want, md.buf);
	free(want);
	strbuf_done(&md);
	journal_log_done(&log);
	free(jpath);
	free(run_dir);
}

/* Rollback puts the backed-up directories back byte for byte, and the services certwiz found
 * running are running again. */
static void test_rollback(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	char *ca = path_join(f->cadir, "ca_crt.pem");
	char *before = test_slurp(ca);
	assert_non_null(before);
	run_ok(f, "backup-ca", false);
	run_ok(f, "stop", false);
	char *running = P(f, "state/puppetserver.running");
	assert_int_not_equal(access(running, F_OK), 0); /* stopped */
	run_ok(f, "clear-ca", true);
	run_ok(f, "drop-catalog", false);
	run_ok(f, "setup", false);
	char *after = test_slurp(ca);
	assert_non_null(after);
	assert_string_not_equal(before, after); /* the new CA is in place */
	free(after);
	char *stray = path_join(f->cadir, "stray.pem");
	test_write(stray, "made after the backup\n");

	char *actions = P(f, "state/actions.log");
	unlink(actions);
	assert_int_equal(exec_rollback(f->ex, &e), CW_OK);
	/* stopped in the order certwiz met them (puppet first), started in the reverse: what a
	 * service needs (the server for the agent) runs before it */
	char *done = test_slurp(actions);
	assert_non_null(done);
	assert_string_equal(done, "stop puppet\nstop puppetserver\nstart puppetserver\nstart puppet\n");
	free(done);
	free(actions);
	after = test_slurp(ca);
	assert_non_null(after);
	assert_string_equal(before, after);
	assert_int_not_equal(access(stray, F_OK), 0); /* what was not in the backup is gone */
	assert_true(exists(f->cadir, "ca_key.pem"));
	/* the services were running before the run: running again */
	assert_int_equal(access(running, F_OK), 0);
	/* the journal records the rollback */
	char *jpath = xasprintf("%s/journal.jsonl", exec_run_dir(f->ex));
	struct journal_log log;
	assert_int_equal(journal_load(jpath, &log, &e), CW_OK);
	bool found = false;
	for (size_t i = 0; i < log.n; i++)
		if (log.entries[i].event == JE_ROLLBACK && log.entries[i].outcome &&
		    strcmp(log.entries[i].outcome, "ok") == 0)
			found = true;
	assert_true(found);
	journal_log_done(&log);
	free(jpath);
	free(stray);
	free(running);
	free(after);
	free(before);
	free(ca);
}

/* A rollback of a backup that was tampered with after it was verified is refused, and leaves
 * the files as they are. */
static void test_rollback_refuses_tampered_backup(void **state)
{
	struct fx *f = *state;
	struct cw_error e = { 0 };
	run_ok(f, "backup-ca", false);
	run_ok(f, "stop", false);
	run_ok(f, "clear-ca", true);
	const struct backup_result *b = exec_backup(f->ex, 0);
	assert_non_null(b);
	char *const again[] = { "sh", "-c", "gzip -dc -- \"$1\" | gzip -1 -n > \"$1.new\" && mv -- \"$1.new\" \"$1\"",
				"sh", b->archive, NULL };
	test_run_quiet(again);
	assert_int_not_equal(exec_rollback(f->ex, &e), CW_OK);
	assert_non_null(strstr(e.msg, "does not match its manifest"));
	assert_false(exists(f->cadir, "ca_crt.pem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_resume_waiting_run, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_resume_refuses_failed_run, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_step_reason, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_refuses_tampered_backup, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
