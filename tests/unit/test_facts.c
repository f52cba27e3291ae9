/* test_facts.c: discovery from files only, on a fake root that stands for /. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/wait.h>

#include "config.h"
#include "facts.h"
#include "util.h"

static char *root;
static struct profile *debian;

static void put(const char *rel, const char *text)
{
	test_put(root, rel, text);
}

static int setup(void **state)
{
	(void)state;
	root = test_tmpdir();
	char *path = config_find(CW_TEST_SRCDIR, "profiles/oss-debian.cfg");
	struct cw_error e = {0};
	if (profile_load(path, &debian, &e) != CW_OK)
		fail_msg("%s", e.msg);
	free(path);
	put("usr/lib/ruby/vendor_ruby/puppet/version.rb", "module Puppet\n  PUPPETVERSION = '7.23.0'\nend\n");
	put("etc/puppet/puppet.conf",
	    "# sandbox\n[main]\ncertname = main.example.com\ndns_alt_names = puppet, puppet.example.com\n"
	    "ssldir = $vardir/ssl-main\n[agent]\ncertname = agent-section.example.com\n"
	    "[server]\ncertname = primary.example.com\nvardir = /srv/puppet\nautosign = true\n");
	put("etc/puppet/puppetserver/conf.d/ca.conf", "certificate-authority: {\n    allow-subject-alt-names: true\n}\n");
	/* The current certificate carries an alt name puppet.conf no longer lists. */
	char *certs = path_join(root, "srv/puppet/ssl-main/certs");
	assert_int_equal(mkdir_p(certs, 0755, NULL), CW_OK);
	char *cert = path_join(certs, "primary.example.com.pem");
	char *key = xasprintf("%s/key.pem", root);
	char *const argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
			      "-days", "30", "-subj", "/CN=primary.example.com", "-addext",
			      "subjectAltName=DNS:primary.example.com,DNS:puppet,DNS:old-name.example.com", NULL};
	test_run_quiet(argv);
	free(key);
	free(cert);
	free(certs);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	profile_free(debian);
	test_rmrf(root);
	free(root);
	return 0;
}

static void test_puppetconf_sections(void **state)
{
	(void)state;
	static const char *const server[] = {"server", "master", "main", NULL};
	static const char *const agent[] = {"agent", "main", NULL};
	const char *text = "certname = top.example.com\n[main]\nvardir=/v\nssldir = $vardir/ssl { owner = service }\n"
			   "[master]\ncertname = m.example.com\n[agent]\nserver = puppet.example.com\n";
	struct vars base, out;
	vars_init(&base);
	vars_set(&base, "confdir", "/etc/puppet");
	vars_init(&out);
	assert_int_equal(puppetconf_parse(text, server, &base, &out, NULL), CW_OK);
	assert_string_equal(vars_get(&out, "certname"), "m.example.com");
	assert_string_equal(vars_get(&out, "ssldir"), "/v/ssl");
	assert_null(vars_get(&out, "server"));
	vars_done(&out);
	vars_init(&out);
	assert_int_equal(puppetconf_parse(text, agent, &base, &out, NULL), CW_OK);
	assert_string_equal(vars_get(&out, "certname"), "top.example.com");
	assert_string_equal(vars_get(&out, "server"), "puppet.example.com");
	vars_done(&out);
	vars_init(&out);
	struct cw_error e = {0};
	assert_int_equal(puppetconf_parse("[main\ncertname=x\n", server, &base, &out, &e), CW_ECONFIG);
	assert_non_null(strstr(e.msg, "line 1"));
	vars_done(&out);
	vars_done(&base);
}

static void test_discover(void **state)
{
	(void)state;
	struct facts f;
	struct cw_error e = {0};
	if (facts_discover(root, debian, &f, &e) != CW_OK)
		fail_msg("%s", e.msg);
	assert_string_equal(vars_get(&f.vars, "certname"), "primary.example.com");
	assert_string_equal(vars_get(&f.vars, "ssldir"), "/srv/puppet/ssl-main");
	assert_string_equal(vars_get(&f.vars, "cadir"), "/etc/puppet/puppetserver/ca");
	assert_string_equal(f.puppet_version, "7.23.0");
	assert_int_equal(f.puppet_major, 7);
	assert_true(f.autosign);
	assert_int_equal(f.allow_subject_alt_names, 1);
	assert_true(f.has_hostcert);
	/* union of puppet.conf and the certificate, with a warning that they differ */
	assert_string_equal(vars_get(&f.vars, "dns_alt_names"), "puppet,puppet.example.com,old-name.example.com");
	bool warned = false;
	for (size_t i = 0; f.warnings && f.warnings[i]; i++)
		warned = warned || strstr(f.warnings[i], "dns_alt_names differ");
	assert_true(warned);
	facts_done(&f);
}

static void test_detect(void **state)
{
	(void)state;
	struct profile *list[] = {debian};
	char *why = NULL;
	assert_ptr_equal(profile_detect(root, list, 1, &why), debian);
	assert_non_null(strstr(why, "Puppet 7.23.0"));
	free(why);
	char *empty = test_tmpdir();
	assert_null(profile_detect(empty, list, 1, &why));
	assert_non_null(strstr(why, "missing"));
	free(why);
	test_rmrf(empty);
	free(empty);
}

static struct profile *load_profile(const char *name)
{
	char *rel = xasprintf("profiles/%s.cfg", name);
	char *path = config_find(CW_TEST_SRCDIR, rel);
	struct profile *p = NULL;
	struct cw_error e = {0};
	if (profile_load(path, &p, &e) != CW_OK)
		fail_msg("%s", e.msg);
	free(path);
	free(rel);
	return p;
}

/* A PE host has everything an AIO host has: oss-aio (first in name order) must not take it,
 * because its detect lists PE's pe_version as absent; the match is named first. */
static void test_detect_absent(void **state)
{
	(void)state;
	struct profile *aio = load_profile("oss-aio"), *pe = load_profile("pe-2023");
	struct profile *list[] = {aio, pe};
	char *r = test_tmpdir();
	test_put(r, "etc/puppetlabs/puppet/puppet.conf", "[main]\ncertname = pe.example.com\n");
	test_put(r, "opt/puppetlabs/puppet/lib/ruby/vendor_ruby/puppet/version.rb",
		 "module Puppet\n  PUPPETVERSION = '8.10.0'\nend\n");
	char *why = NULL;
	assert_ptr_equal(profile_detect(r, list, 2, &why), aio);
	free(why);
	test_put(r, "opt/puppetlabs/server/pe_version", "2025.8.0\n");
	assert_ptr_equal(profile_detect(r, list, 2, &why), pe);
	assert_true(strncmp(why, "pe-2023: matches (Puppet 8.10.0); oss-aio: /opt/puppetlabs/server/pe_version present",
			    strlen("pe-2023: matches (Puppet 8.10.0); oss-aio: /opt/puppetlabs/server/pe_version present")) == 0);
	free(why);
	profile_free(aio);
	profile_free(pe);
	test_rmrf(r);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_puppetconf_sections),
		cmocka_unit_test(test_discover),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_detect_absent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
