/* test_wizard.c: a session set up from a fake host, and the pre-flight/expiry checks on it. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "util.h"
#include "wizard.h"

static char *root, *work;

static char *put(const char *rel, const char *text)
{
	char *p = path_join(root, rel);
	char *d = xstrdup(p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755, NULL), CW_OK);
	if (text)
		test_write(p, text);
	free(d);
	return p;
}

static int setup(void **state)
{
	(void)state;
	root = test_tmpdir();
	work = test_tmpdir();
	free(put("usr/lib/ruby/vendor_ruby/puppet/version.rb", "PUPPETVERSION = '7.23.0'\n"));
	free(put("etc/puppet/puppet.conf", "[server]\ncertname = primary.example.com\ndns_alt_names = puppet\n"));
	free(put("etc/puppet/puppetserver/conf.d/ca.conf", "certificate-authority: {\n}\n"));
	/* A CA valid for 10 more days, and a host certificate from it with an extra alt name. */
	char *ca = put("etc/puppet/puppetserver/ca/ca_crt.pem", NULL);
	char *cakey = xasprintf("%s/ca_key.pem", work);
	char *const mkca[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", ca,
			      "-days", "10", "-subj", "/CN=Puppet CA: primary.example.com", NULL};
	test_run_quiet(mkca);
	char *key = xasprintf("%s/host_key.pem", work), *csr = xasprintf("%s/host.csr", work);
	char *const mkcsr[] = {"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
			       "-subj", "/CN=primary.example.com", NULL};
	test_run_quiet(mkcsr);
	char *cert = put("var/lib/puppet/ssl/certs/primary.example.com.pem", NULL);
	char *ext = xasprintf("%s/ext.cnf", work);
	test_write(ext, "subjectAltName=DNS:primary.example.com,DNS:puppet,DNS:puppet.example.com\n");
	char *const sign[] = {"openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
			      "-out", cert, "-days", "5", "-extfile", ext, NULL};
	test_run_quiet(sign);
	free(ext);
	free(ca);
	free(cakey);
	free(key);
	free(csr);
	free(cert);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmrf(root);
	test_rmrf(work);
	free(root);
	free(work);
	return 0;
}

static struct wizard *open_wizard(const char *procedure)
{
	char *backups = xasprintf("%s/backups", work), *runs = xasprintf("%s/runs", work);
	struct wizard_opts o = {.datadir = CW_TEST_SRCDIR, .root = root, .profile = "auto", .procedure = procedure,
				.backup_dir = backups, .journal_dir = runs, .config_path = "/dev/null"};
	struct wizard *w = NULL;
	struct cw_error e = {0};
	if (wizard_open(&o, &w, &e) != CW_OK)
		fail_msg("%s", e.msg);
	free(backups);
	free(runs);
	return w;
}

static void test_session(void **state)
{
	(void)state;
	struct wizard *w = open_wizard("primary");
	assert_string_equal(w->profile->name, "oss-debian"); /* detected from the fake root */
	assert_string_equal(vars_get(&w->facts.vars, "certname"), "primary.example.com");
	assert_true(w->facts.has_ca);
	struct cw_error e = {0};
	assert_int_equal(wizard_build_plan(w, &e), CW_OK);
	/* the plan keeps the alt name only the certificate had */
	assert_string_equal(vars_get(&w->plan->hosts[0].vars, "dns_alt_names"), "puppet,puppet.example.com");
	/* ca.conf lacks allow-subject-alt-names: the plan is blocked and says how to fix it */
	assert_non_null(w->plan->blockers);
	assert_non_null(strstr(w->plan->blockers[0], "allow-subject-alt-names: true"));
	assert_int_equal(wizard_set_certname(w, "Bad Name", &e), CW_EINVAL);
	assert_int_equal(wizard_set_alt_names(w, "puppet,x y", &e), CW_EINVAL);
	assert_int_equal(wizard_set_agents(w, "a1.example.com,a2.example.com", &e), CW_OK);
	assert_int_equal(wizard_choose_procedure(w, "../etc/passwd", &e), CW_EINVAL);
	assert_int_equal(wizard_choose_procedure(w, "agent", &e), CW_OK);
	assert_int_equal(wizard_build_plan(w, &e), CW_OK);
	assert_int_equal(w->plan->nhosts, 3);
	wizard_free(w);
}

/* A run chosen on the command line alone is written down as an answers file, and that file
 * alone gives the same plan again (what `certwiz resume` loads). */
static void test_answers_round_trip(void **state)
{
	(void)state;
	struct wizard *w = open_wizard("agent");
	struct cw_error e = {0};
	assert_int_equal(wizard_set_agents(w, "a1.example.com,a2.example.com", &e), CW_OK);
	free(w->site.on_failure);
	w->site.on_failure = xstrdup("rollback");
	assert_int_equal(wizard_build_plan(w, &e), CW_OK);
	char *path = NULL;
	assert_int_equal(wizard_write_answers(w, "run", "alice", "# test\n", &path, &e), CW_OK);
	assert_non_null(strstr(path, "/runs/run-"));
	struct wizard_opts o = {.datadir = CW_TEST_SRCDIR, .root = root, .answers_path = path,
				.config_path = "/dev/null"};
	struct wizard *w2 = NULL;
	if (wizard_open(&o, &w2, &e) != CW_OK)
		fail_msg("%s: %s", path, e.msg);
	assert_int_equal(wizard_build_plan(w2, &e), CW_OK);
	assert_string_equal(w2->plan->procedure, "agent");
	assert_string_equal(w2->profile->name, "oss-debian");
	assert_string_equal(w2->site.operator_name, "alice");
	assert_string_equal(w2->site.on_failure, "rollback");
	assert_string_equal(w2->site.journal_dir, w->site.journal_dir);
	assert_int_equal(w2->plan->nhosts, 3);
	assert_string_equal(w2->plan->hosts[2].name, "a2.example.com");
	assert_string_equal(vars_get(&w2->plan->hosts[0].vars, "dns_alt_names"),
			    vars_get(&w->plan->hosts[0].vars, "dns_alt_names"));
	free(path);
	wizard_free(w2);
	wizard_free(w);
}

static const struct check_item *item(const struct check_report *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	fail_msg("no check '%s'", name);
	return NULL;
}

static void test_checks_expiry(void **state)
{
	(void)state;
	struct wizard *w = open_wizard(NULL);
	struct check_report r;
	struct cw_error e = {0};
	assert_int_equal(checks_run(w, 30, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CA certificate")->level, LEVEL_WARN); /* 10 days < 30 */
	assert_non_null(strstr(item(&r, "CA certificate")->found, " days), SHA-256 "));
	assert_non_null(strstr(item(&r, "CA certificate")->fix, "then certwiz plan --procedure ca-renew --agents-file "
								  "all-agents.txt"));
	assert_non_null(strstr(item(&r, "CA certificate")->fix, "if its key must change too, regenerate the CA and every "
								  "certificate: certwiz plan --procedure oss-ca"));
	assert_int_equal(item(&r, "host certificate")->level, LEVEL_WARN);
	assert_int_equal(item(&r, "alt names allowed")->level, LEVEL_WARN);
	assert_non_null(strstr(item(&r, "alt names allowed")->fix, "HTTP 409"));
	assert_true(r.worst >= LEVEL_WARN);
	check_report_done(&r);
	assert_int_equal(checks_run(w, 3, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CA certificate")->level, LEVEL_OK);
	check_report_done(&r);
	/* Twenty days from now both have expired. */
	assert_int_equal(checks_run(w, 30, (long)time(NULL) + 20 * 86400, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CA certificate")->level, LEVEL_FAIL);
	assert_non_null(strstr(item(&r, "host certificate")->found, "expired"));
	assert_int_equal(r.worst, LEVEL_FAIL);
	check_report_done(&r);
	/* What the welcome screen shows: each expiry finding with the certwiz command. */
	char **found = check_expiry_findings(w, 30, 0);
	char *all = strv_join(found, "\n");
	assert_non_null(strstr(all, "CA certificate needs attention: renew it with its own key: certwiz inventory "
				    "--within 36500 --write-agents all-agents.txt (every agent), then certwiz plan "
				    "--procedure ca-renew --agents-file all-agents.txt"));
	assert_non_null(strstr(all, "host certificate needs attention: regenerate it with its alt names: certwiz plan "
				    "--procedure primary"));
	free(all);
	strv_free(found);
	found = check_expiry_findings(w, 30, (long)time(NULL) + 20 * 86400);
	assert_non_null(strstr(found[0], "CA certificate has a problem"));
	strv_free(found);
	/* Within 3 days nothing expires; what is left is this fixture's missing CRL. */
	found = check_expiry_findings(w, 3, 0);
	assert_int_equal(strv_len(found), 1);
	assert_non_null(strstr(found[0], "CRL needs attention"));
	strv_free(found);
	wizard_free(w);
}

/* The CRL check: missing warns, unreadable fails, expired fails, current is ok; and a service
 * backend whose tool is not there fails with the tool's name and the fix. */
static void test_checks_crl_and_service_tools(void **state)
{
	(void)state;
	char *crl = path_join(root, "etc/puppet/puppetserver/ca/ca_crl.pem");
	struct check_report r;
	struct cw_error e = {0};
	struct wizard *w = open_wizard(NULL);
	assert_int_equal(checks_run(w, 30, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CRL")->level, LEVEL_WARN);
	assert_non_null(strstr(item(&r, "CRL")->found, "no CRL at"));
	check_report_done(&r);

	test_write(crl, "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n");
	assert_int_equal(checks_run(w, 30, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CRL")->level, LEVEL_FAIL);
	assert_non_null(strstr(item(&r, "CRL")->found, "cannot be read"));
	assert_non_null(strstr(item(&r, "CRL")->fix, "restore it from a backup"));
	check_report_done(&r);

	/* a CRL from the CA, next update in 7 days */
	char *cnf = xasprintf("%s/crl.cnf", work), *cakey = xasprintf("%s/ca_key.pem", work);
	char *ca = path_join(root, "etc/puppet/puppetserver/ca/ca_crt.pem");
	char *text = xasprintf("[ca]\ndefault_ca=d\n[d]\ndatabase=%1$s/index.txt\ncrlnumber=%1$s/crlnumber\n"
			       "default_md=sha256\n", work);
	test_write(cnf, text);
	free(text);
	char *idx = xasprintf("%s/index.txt", work), *num = xasprintf("%s/crlnumber", work);
	test_write(idx, "");
	test_write(num, "01\n");
	char *const gencrl[] = {"openssl", "ca", "-gencrl", "-config", cnf, "-keyfile", cakey, "-cert", ca,
				"-crldays", "7", "-out", crl, NULL};
	test_run_quiet(gencrl);
	assert_int_equal(checks_run(w, 3, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CRL")->level, LEVEL_OK);
	assert_non_null(strstr(item(&r, "CRL")->found, "next update"));
	check_report_done(&r);
	assert_int_equal(checks_run(w, 30, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CRL")->level, LEVEL_WARN); /* 7 days < 30 */
	check_report_done(&r);
	assert_int_equal(checks_run(w, 3, (long)time(NULL) + 8 * 86400, &r, &e), CW_OK);
	assert_int_equal(item(&r, "CRL")->level, LEVEL_FAIL); /* past its next update */
	assert_non_null(strstr(item(&r, "CRL")->fix, "--procedure crl-refresh"));
	check_report_done(&r);
	wizard_free(w);
	unlink(crl);

	/* services through a command that is not installed */
	char *cfg = xasprintf("%s/tools.cfg", work);
	test_write(cfg, "services = { backend = \"command\"; start = [\"/nonexistent/svc\", \"${service}\", \"start\"];\n"
			"  stop = [\"/nonexistent/svc\", \"${service}\", \"stop\"]; status = [\"/nonexistent/svc\", \"${service}\", \"status\"]; };\n");
	char *backups = xasprintf("%s/backups", work), *runs = xasprintf("%s/runs", work);
	struct wizard_opts o = {.datadir = CW_TEST_SRCDIR, .root = root, .profile = "auto",
				.backup_dir = backups, .journal_dir = runs, .config_path = cfg};
	assert_int_equal(wizard_open(&o, &w, &e), CW_OK);
	assert_int_equal(checks_run(w, 30, 0, &r, &e), CW_OK);
	assert_int_equal(item(&r, "service control")->level, LEVEL_FAIL);
	assert_non_null(strstr(item(&r, "service control")->found, "not found: /nonexistent/svc"));
	assert_non_null(strstr(item(&r, "service control")->fix, "install /nonexistent/svc"));
	assert_int_equal(r.worst, LEVEL_FAIL);
	check_report_done(&r);
	wizard_free(w);
	free(backups);
	free(runs);
	free(cfg);
	free(idx);
	free(num);
	free(cnf);
	free(cakey);
	free(ca);
	free(crl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_answers_round_trip),
		cmocka_unit_test(test_checks_expiry),
		cmocka_unit_test(test_checks_crl_and_service_tools),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
