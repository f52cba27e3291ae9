/* test_validate.c: the rules names and paths must pass before reaching a command. */
#include "testutil.h"

#include "validate.h"

static void test_certnames_accepted(void **state)
{
	(void)state;
	const char *good[] = {"agent1.example.com", "puppet", "a", "web-01.dc_2.example.com", "x.y"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_int_equal(validate_certname(good[i], NULL), CW_OK);
}

static void test_certnames_refused_with_reason(void **state)
{
	(void)state;
	struct {
		const char *name, *reason;
	} bad[] = {
		{"", "empty"},
		{"Agent1.example.com", "upper-case"},
		{".agent", "starts or ends with '.'"},
		{"agent.", "starts or ends with '.'"},
		{"-rf", "starts with '-'"},
		{"a..b", "'..'"},
		{"a b", "character ' '"},
		{"a;rm -rf /", "character ';'"},
		{"$(reboot)", "character '$'"},
		{"`id`", "character '`'"},
		{"a/b", "character '/'"},
		{"a\nb", "\\?"},
		{"caf\xc3\xa9", "position 4"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cw_error e = {0};
		assert_int_equal(validate_certname(bad[i].name, &e), CW_EINVAL);
		if (!strstr(e.msg, bad[i].reason))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].name, e.msg, bad[i].reason);
	}
	char huge[300];
	memset(huge, 'a', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	struct cw_error e = {0};
	assert_int_equal(validate_certname(huge, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "at most 253"));
	assert_int_equal(validate_certname(NULL, &e), CW_EINVAL);
}

static void test_alt_names(void **state)
{
	(void)state;
	struct cw_error e = {0};
	assert_int_equal(validate_alt_name("puppet", NULL), CW_OK);
	assert_int_equal(validate_alt_name("DNS:puppet.example.com", NULL), CW_OK);
	assert_int_equal(validate_alt_name("IP:192.0.2.10", NULL), CW_OK);
	assert_int_equal(validate_alt_name("IP:2001:db8::1", NULL), CW_OK);
	assert_int_equal(validate_alt_name("IP:999.1.1.1", &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "not an IP address"));
	assert_int_equal(validate_alt_name("*.example.com", &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "wildcard"));
	assert_int_equal(validate_alt_name("puppet,other", &e), CW_EINVAL);
}

static void test_paths(void **state)
{
	(void)state;
	struct cw_error e = {0};
	assert_int_equal(validate_path("/var/lib/puppet/ssl", 2, NULL), CW_OK);
	assert_int_equal(validate_path("/", 2, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "too close to /"));
	assert_int_equal(validate_path("/etc", 2, &e), CW_EINVAL);
	assert_int_equal(validate_path("//etc//", 2, &e), CW_EINVAL);
	assert_int_equal(validate_path("var/lib", 1, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "not absolute"));
	assert_int_equal(validate_path("/var/lib/../../etc", 2, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, ".."));
	assert_int_equal(validate_path("/var/./lib", 2, &e), CW_EINVAL);
	assert_int_equal(validate_path("/var/lib/pup\npet", 2, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "control character"));
	/* The message never echoes a raw control character. */
	assert_null(strchr(e.msg, '\n'));
	assert_int_equal(validate_path("", 1, &e), CW_EINVAL);
}

static void test_hosts_and_users(void **state)
{
	(void)state;
	assert_int_equal(validate_host("127.0.0.11", NULL), CW_OK);
	assert_int_equal(validate_host("Agent1.Example.com", NULL), CW_OK);
	assert_int_equal(validate_host("-oProxyCommand=x", NULL), CW_EINVAL);
	assert_int_equal(validate_user("root", NULL), CW_OK);
	assert_int_equal(validate_user("deploy-bot_2", NULL), CW_OK);
	assert_int_equal(validate_user("Root", NULL), CW_EINVAL);
	assert_int_equal(validate_user("-x", NULL), CW_EINVAL);
	assert_int_equal(validate_user("a b", NULL), CW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certnames_accepted),
		cmocka_unit_test(test_certnames_refused_with_reason),
		cmocka_unit_test(test_alt_names),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_hosts_and_users),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
