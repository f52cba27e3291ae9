/* test_sshconfig.c: unit tests for core/sshconfig: the ~/.ssh/config basics certwiz reads
 * (first value wins, Host patterns with wildcards and negation, expansion, errors). */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "sshconfig.h"
#include "util.h"

static const char *const sample =
	"# a typical operator's config\n"
	"ConnectTimeout 7\n"
	"\n"
	"Host bastion\n"
	"    HostName 10.1.2.3\n"
	"Host web?.example.com !web9.example.com\n"
	"    User deploy\n"
	"    Port=2222\n"
	"    IdentityFile ~/.ssh/web_%h\n"
	"Host \"*.example.com\"\n"
	"    User ops\n"
	"    Port 22\n"
	"    IdentityFile %d/.ssh/id_ed25519\n"
	"    UserKnownHostsFile = /etc/ssh/known_%r\n"
	"    ProxyJump bastion\n"
	"Match host db.example.com\n"
	"    User never\n"
	"Host *\n"
	"    HostName %h.internal\n";

static struct sshcfg parsed(void)
{
	struct sshcfg c;
	struct cw_error err = {0};
	assert_int_equal(sshcfg_parse("cfg", sample, &c, &err), CW_OK);
	return c;
}

static void test_first_value_wins(void **state)
{
	(void)state;
	struct sshcfg c = parsed();
	struct sshcfg_host h;
	struct cw_error err = {0};
	assert_int_equal(sshcfg_lookup(&c, "web1.example.com", "/home/op", &h, &err), CW_OK);
	assert_string_equal(h.user, "deploy"); /* the web? block comes before *.example.com */
	assert_int_equal(h.port, 2222);
	assert_string_equal(h.identity, "/home/op/.ssh/web_web1.example.com");
	assert_string_equal(h.known_hosts, "/etc/ssh/known_deploy");
	assert_int_equal(h.connect_timeout, 7); /* before the first Host: every host */
	assert_string_equal(h.hostname, "web1.example.com.internal");
	sshcfg_host_done(&h);
	sshcfg_done(&c);
}

static void test_negation_and_wildcards(void **state)
{
	(void)state;
	struct sshcfg c = parsed();
	struct sshcfg_host h;
	struct cw_error err = {0};
	/* !web9 takes web9 out of the web? block: it falls through to *.example.com */
	assert_int_equal(sshcfg_lookup(&c, "web9.example.com", "/home/op", &h, &err), CW_OK);
	assert_string_equal(h.user, "ops");
	assert_int_equal(h.port, 22);
	assert_string_equal(h.identity, "/home/op/.ssh/id_ed25519");
	sshcfg_host_done(&h);
	/* case-insensitive, as ssh matches */
	assert_int_equal(sshcfg_lookup(&c, "WEB2.Example.COM", "/h", &h, &err), CW_OK);
	assert_string_equal(h.user, "deploy");
	sshcfg_host_done(&h);
	/* web10 is not web? */
	assert_int_equal(sshcfg_lookup(&c, "web10.example.com", "/h", &h, &err), CW_OK);
	assert_string_equal(h.user, "ops");
	sshcfg_host_done(&h);
	sshcfg_done(&c);
}

static void test_match_blocks_apply_to_nothing(void **state)
{
	(void)state;
	struct sshcfg c = parsed();
	struct sshcfg_host h;
	struct cw_error err = {0};
	assert_int_equal(sshcfg_lookup(&c, "db.example.com", "/h", &h, &err), CW_OK);
	assert_string_equal(h.user, "ops");
	sshcfg_host_done(&h);
	sshcfg_done(&c);
}

static void test_silent_config(void **state)
{
	(void)state;
	struct sshcfg c = parsed();
	struct sshcfg_host h;
	struct cw_error err = {0};
	assert_int_equal(sshcfg_lookup(&c, "bastion", "/h", &h, &err), CW_OK);
	assert_string_equal(h.hostname, "10.1.2.3");
	assert_null(h.user);
	assert_int_equal(h.port, 0);
	assert_null(h.identity);
	sshcfg_host_done(&h);
	sshcfg_done(&c);
	/* a missing file is an empty config */
	assert_int_equal(sshcfg_load("/nonexistent/ssh_config", &c, &err), CW_OK);
	assert_int_equal(sshcfg_lookup(&c, "agent1", "/h", &h, &err), CW_OK);
	assert_null(h.hostname);
	assert_null(h.user);
	sshcfg_host_done(&h);
	sshcfg_done(&c);
}

static void expect_error(const char *text, const char *host, const char *want)
{
	struct sshcfg c;
	struct cw_error err = {0};
	cw_status st = sshcfg_parse("cfg", text, &c, &err);
	if (st == CW_OK) {
		struct sshcfg_host h;
		st = sshcfg_lookup(&c, host, NULL, &h, &err);
		sshcfg_done(&c);
	}
	assert_int_equal(st, CW_ECONFIG);
	if (!strstr(err.msg, want))
		fail_msg("error '%s' does not contain '%s'", err.msg, want);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_error("Host a\n  Port 70000\n", "a", "cfg:2: port must be a number from 1 to 65535, found '70000'");
	expect_error("Host a\n  Port\n", "a", "cfg:2: port takes one value, found 0");
	expect_error("Host\n", "a", "cfg:1: Host needs at least one pattern");
	expect_error("Host a\n  User \"bob\n", "a", "cfg:2: a quote is not closed");
	expect_error("Host a\n  IdentityFile ~/.ssh/k\n", "a", "cfg:2: identityfile starts with ~/ but HOME is not set");
	expect_error("Host a\n  IdentityFile /k/%p\n", "a", "found %p");
	expect_error("Host a\n  IdentityFile /k/%C\n", "a", "cfg:2: identityfile: certwiz expands");
}

static void test_more_tokens(void **state)
{
	(void)state;
	struct sshcfg c;
	struct sshcfg_host h;
	struct cw_error err = {0};
	setenv("USER", "alice", 1);
	assert_int_equal(sshcfg_parse("cfg", "Host *\n  IdentityFile /keys/%u/%n%%\n", &c, &err), CW_OK);
	assert_int_equal(sshcfg_lookup(&c, "db1", "/h", &h, &err), CW_OK);
	assert_string_equal(h.identity, "/keys/alice/db1%");
	sshcfg_host_done(&h);
	sshcfg_done(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_value_wins),
		cmocka_unit_test(test_negation_and_wildcards),
		cmocka_unit_test(test_match_blocks_apply_to_nothing),
		cmocka_unit_test(test_silent_config),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_more_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
