/* test_config.c: loading site, answers, profiles and procedures; errors a person can act on. */
#include "testutil.h"

#include "config.h"
#include "util.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = test_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmrf(dir);
	free(dir);
	return 0;
}

static char *write_cfg(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	test_write(p, text);
	return p;
}

/* Load a site file and return the formatted error ("" when it loaded). */
static char *site_error(const char *text)
{
	char *p = write_cfg("site.cfg", text);
	struct site s;
	site_init(&s);
	struct cw_error e = {0};
	cw_status st = site_load(&s, p, &e);
	site_done(&s);
	free(p);
	char buf[1400];
	return xstrdup(st ? cw_error_format(&e, buf, sizeof buf) : "");
}

static void expect(char *got, const char *part)
{
	if (!strstr(got, part))
		fail_msg("error '%s' lacks '%s'", got, part);
	free(got);
}

static void test_site_ok(void **state)
{
	(void)state;
	char *p = write_cfg("ok.cfg",
			    "operator = \"alice\";\n"
			    "procedure = \"agent\";\n"
			    "dns_alt_names = \"puppet, puppet.example.com\";\n"
			    "agents = [\"a1.example.com\", \"a2.example.com\"];\n"
			    "ssh = { user = \"deploy\"; port = 2222; sudo = true; parallel = 4; };\n"
			    "hosts = ( { name = \"a1.example.com\"; address = \"127.0.0.11\"; os = \"windows\"; } );\n"
			    "services = { backend = \"command\"; start = [\"/x\", \"${service}\", \"start\"];\n"
			    "  stop = [\"/x\", \"${service}\", \"stop\"]; status = [\"/x\", \"${service}\", \"status\"]; };\n"
			    "vars = { ssldir = \"/srv/ssl\"; };\n"
			    "confirm_destructive = true;\n");
	struct site s;
	site_init(&s);
	struct cw_error e = {0};
	assert_int_equal(site_load(&s, p, &e), CW_OK);
	assert_string_equal(s.operator_name, "alice");
	assert_int_equal(strv_len(s.dns_alt_names), 2);
	assert_string_equal(s.dns_alt_names[1], "puppet.example.com");
	assert_int_equal(strv_len(s.agents), 2);
	assert_int_equal(s.ssh_port, 2222);
	assert_int_equal(s.ssh_sudo, 1);
	assert_int_equal(s.parallel, 4);
	assert_string_equal(site_host(&s, "a1.example.com")->address, "127.0.0.11");
	assert_true(s.has_backend);
	assert_int_equal(s.backend.kind, BACKEND_COMMAND);
	assert_string_equal(vars_get(&s.vars, "ssldir"), "/srv/ssl");
	assert_true(s.confirm_destructive);
	site_done(&s);
	free(p);
}

static void test_site_errors_name_line_and_fix(void **state)
{
	(void)state;
	expect(site_error("operator = \"a\"\nprocedure = ;\n"), "site.cfg:2: syntax error");
	expect(site_error("operater = \"alice\";\n"), "site.cfg:1: unknown setting 'operater'");
	expect(site_error("\n\nautosign = \"yes\";\n"), "site.cfg:3: 'autosign' must be true or false");
	expect(site_error("certname = \"Puppet.Example.com\";\n"), "upper-case");
	expect(site_error("agents = [\"ok.example.com\", \"bad;rm\"];\n"), "agent certname 'bad;rm'");
	expect(site_error("ssh = { port = 70000; };\n"), "between 1 and 65535, found 70000");
	expect(site_error("hosts = ( { address = \"1.2.3.4\"; } );\n"), "needs the setting 'name'");
	expect(site_error("hosts = ( { name = \"a\"; os = \"beos\"; } );\n"), "os must be \"linux\" or \"windows\"");
	expect(site_error("services = { backend = \"upstart\"; };\n"), "site.cfg:1:");
	expect(site_error("services = { backend = \"command\"; start = [\"/x\"]; };\n"), "needs start, stop and status");
	expect(site_error("backup_dir = \"relative/dir\";\n"), "not absolute");
	expect(site_error("on_failure = \"panic\";\n"), "\"stop\" or \"rollback\"");
	expect(site_error("dns_alt_names = 5;\n"), "must be a string or a list");
	/* a profile's service list and groups have no place in a site file */
	expect(site_error("services = { backend = \"sysv\"; list = (); };\n"),
	       "site.cfg:1: services: 'list' belongs to a profile");
	expect(site_error("\nservices = { backend = \"sysv\";\n groups = (); };\n"),
	       "site.cfg:3: services: 'groups' belongs to a profile");
	/* an error about a setting says where it is, and the message is whole */
	expect(site_error("hosts = ( { name = \"a\"; }, { name = \"b\"; bogus = 1; } );\n"),
	       "unknown setting 'bogus' in entry 2 of 'hosts': expected one of name,");
	expect(site_error("services = { backend = \"systemctl\"; };\n"),
	       "site.cfg:1: unknown service backend \"systemctl\": expected one of systemd");
	expect(site_error("operator = ;\n"), "site.cfg:1: syntax error in this line or at the end of the one before: expected");
	char *missing = xasprintf("%s/none.cfg", dir);
	struct site s;
	site_init(&s);
	struct cw_error e = {0};
	assert_int_equal(site_load(&s, missing, &e), CW_ENOTFOUND);
	assert_non_null(strstr(e.msg, "none.cfg"));
	site_done(&s);
	free(missing);
}

static void test_agents_file(void **state)
{
	(void)state;
	char *p = write_cfg("agents.txt", "# web tier\nweb1.example.com\n\n  web2.example.com  # second\nweb1.example.com\n");
	char **agents = NULL;
	assert_int_equal(agents_file_read(p, &agents, NULL), CW_OK);
	assert_int_equal(strv_len(agents), 2); /* duplicates once */
	strv_free(agents);
	free(p);
	p = write_cfg("bad.txt", "web1.example.com\nweb 2\n");
	agents = NULL;
	struct cw_error e = {0};
	assert_int_equal(agents_file_read(p, &agents, &e), CW_EINVAL);
	assert_int_equal(e.line, 2);
	strv_free(agents);
	free(p);
}

static char *procedure_error(const char *text)
{
	char *p = write_cfg("proc.cfg", text);
	struct procedure *pr = NULL;
	struct cw_error e = {0};
	cw_status st = procedure_load(p, &pr, &e);
	procedure_free(pr);
	free(p);
	char buf[1400];
	return xstrdup(st ? cw_error_format(&e, buf, sizeof buf) : "");
}

#define PROC_HEAD "procedure = { name = \"t\"; title = \"T\"; summary = \"s\"; when_to_use = \"w\"; seed = \"0\";\n" \
		  "roles = [\"ca\"]; backup = (); phases = ( { id = \"p\"; title = \"P\"; explain = \"e\"; steps = (\n"

static void test_procedure_errors(void **state)
{
	(void)state;
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; "
					 "run = (\"rm\", \"-rf\", \"/x/y\"); destructive = true; }\n); } ); };\n"),
	       "proc.cfg:3: destructive step 's' needs a verify list");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"agent\"; run = (\"true\"); }\n); } ); };\n"),
	       "role 'agent', which the procedure's roles do not list");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; }\n); } ); };\n"),
	       "needs exactly one of run, service, backup, action or manual");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = (\"a\"); },\n"
					 "{ id = \"s\"; title = \"y\"; explain = \"e\"; role = \"ca\"; run = (\"b\"); }\n); } ); };\n"),
	       "step id 's' is used twice");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = ([\"opt\"], \"a\"); }\n); } ); };\n"),
	       "the first word of 'run' (the program) cannot be optional");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = (\"a\"); "
					 "verify = ( { absent = \"/a/b\"; present = \"/a/b\"; } ); }\n); } ); };\n"),
	       "exactly one of absent, present");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = (\"a\"); colour = 1; }\n); } ); };\n"),
	       "unknown setting 'colour'");
	expect(procedure_error(PROC_HEAD "); }, { use = \"nothere/x\"; } ); };\n"), "use = \"nothere/x\"");
	expect(procedure_error(PROC_HEAD "{ id = \"s\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = (\"a\"); "
					 "batch_run = { modern = (\"b\"); }; }\n); } ); };\n"),
	       "batch_run is the command of a batch step (batch = true), found it on step 's'");
	/* Found by fuzzing: an include whose second phase is broken leaked the first (ASan). */
	free(write_cfg("inc.cfg", PROC_HEAD "{ id = \"a\"; title = \"x\"; explain = \"e\"; role = \"ca\"; run = (\"true\"); }\n); },\n"
			   "{ id = \"q\"; title = \"Q\"; explain = \"e\"; steps = ( { id = \"b\"; title = \"x\"; explain = \"e\"; role = \"ca\"; } ); } ); };\n"));
	expect(procedure_error(PROC_HEAD "); }, { use = \"inc/q\"; } ); };\n"), "inc.cfg:5: step 'b'");
}

/* Found by fuzzing: the known_hosts of a host's settings was never freed (ASan leak). */
static void test_host_settings_free(void **state)
{
	(void)state;
	char *p = write_cfg("kh.cfg", "ssh = { known_hosts = \"/etc/kh\"; user = \"u\"; };\n");
	struct site s;
	site_init(&s);
	struct cw_error e = {0};
	assert_int_equal(site_load(&s, p, &e), CW_OK);
	struct host_cfg h;
	assert_int_equal(site_host_settings(&s, "a.example.com", NULL, &h, &e), CW_OK);
	assert_string_equal(h.known_hosts, "/etc/kh");
	assert_string_equal(h.user, "u");
	host_cfg_done(&h);
	site_done(&s);
	free(p);
}

static void test_shipped_data_loads(void **state)
{
	(void)state;
	char **names = config_list(CW_TEST_SRCDIR, "procedures");
	assert_true(strv_len(names) >= 5);
	for (size_t i = 0; names[i]; i++) {
		char *rel = xasprintf("procedures/%s.cfg", names[i]);
		char *path = config_find(CW_TEST_SRCDIR, rel);
		struct procedure *p = NULL;
		struct cw_error e = {0};
		if (procedure_load(path, &p, &e) != CW_OK)
			fail_msg("%s: %s:%d: %s", names[i], e.file, e.line, e.msg);
		assert_true(p->nphases > 0);
		procedure_free(p);
		free(path);
		free(rel);
	}
	strv_free(names);
	names = config_list(CW_TEST_SRCDIR, "profiles");
	assert_true(strv_len(names) >= 6);
	for (size_t i = 0; names[i]; i++) {
		char *rel = xasprintf("profiles/%s.cfg", names[i]);
		char *path = config_find(CW_TEST_SRCDIR, rel);
		struct profile *p = NULL;
		struct cw_error e = {0};
		if (profile_load(path, &p, &e) != CW_OK)
			fail_msg("%s: %s:%d: %s", names[i], e.file, e.line, e.msg);
		assert_non_null(profile_group(p, "agent"));
		profile_free(p);
		free(path);
		free(rel);
	}
	strv_free(names);
}

static void test_profile_errors(void **state)
{
	(void)state;
	char *p = write_cfg("prof.cfg", "profile = { name = \"x\"; title = \"X\"; flavour = \"oss\"; dialect = \"ancient\";\n"
					"vars = {}; services = { backend = \"sysv\"; list = (); groups = (); }; };\n");
	struct profile *pr = NULL;
	struct cw_error e = {0};
	assert_int_equal(profile_load(p, &pr, &e), CW_ECONFIG);
	assert_non_null(strstr(e.msg, "dialect must be \"modern\""));
	assert_int_equal(e.line, 1);
	free(p);
	p = write_cfg("prof2.cfg", "profile = { name = \"x\"; title = \"X\"; flavour = \"oss\"; dialect = \"modern\";\n"
				   "vars = { confdir = \"/a/b\"; ssldir = \"/a/c\"; cadir = \"/a/d\"; client_datadir = \"/a/e\"; };\n"
				   "services = { backend = \"sysv\"; list = ( { name = \"puppet\"; } );\n"
				   "groups = ( { name = \"agent\"; stop = [\"puppet\", \"mcollective\"]; } ); }; };\n");
	assert_int_equal(profile_load(p, &pr, &e), CW_ECONFIG);
	assert_non_null(strstr(e.msg, "names 'mcollective', which is not in the service list"));
	assert_int_equal(e.line, 4);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_site_ok),
		cmocka_unit_test(test_site_errors_name_line_and_fix),
		cmocka_unit_test(test_agents_file),
		cmocka_unit_test(test_procedure_errors),
		cmocka_unit_test(test_host_settings_free),
		cmocka_unit_test(test_profile_errors),
		cmocka_unit_test(test_shipped_data_loads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
