/* test_util.c: buffers, files, hashing, time. */
#include "testutil.h"

#include <sys/stat.h>

#include "util.h"

static void test_files(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char *sub = xasprintf("%s/a/b/c", dir);
	assert_int_equal(mkdir_p(sub, 0700, NULL), CW_OK);
	assert_true(path_is_dir(sub));
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *f = path_join(sub, "/x.txt");
	assert_int_equal(file_write_atomic(f, "hello\n", 6, 0600, NULL), CW_OK);
	char *data;
	size_t len;
	assert_int_equal(file_read(f, 100, &data, &len, NULL), CW_OK);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	struct cw_error e = {0};
	assert_int_equal(file_read(f, 3, &data, &len, &e), CW_EIO);
	assert_non_null(strstr(e.msg, "larger than 3"));
	char *missing = path_join(dir, "nope");
	assert_int_equal(file_read(missing, 3, &data, &len, &e), CW_ENOTFOUND);
	assert_non_null(strstr(e.msg, missing));
	free(missing);
	free(f);
	free(sub);
	test_rmrf(dir);
	free(dir);
}

static void expect_abs(const char *path, const char *base, const char *want)
{
	char *got = path_absolute(path, base);
	assert_string_equal(got, want);
	free(got);
}

/* What the journal records for a path typed on the command line. */
static void test_path_absolute(void **state)
{
	(void)state;
	expect_abs("/etc/certwiz/certwiz.cfg", "/x", "/etc/certwiz/certwiz.cfg");
	expect_abs("site.cfg", "/root/work", "/root/work/site.cfg");
	expect_abs("./a/./b/", "/srv", "/srv/a/b");
	expect_abs("../runs", "/var/lib/certwiz/x", "/var/lib/certwiz/runs");
	expect_abs("../../../..", "/a/b", "/");
	expect_abs("//etc//puppet/", NULL, "/etc/puppet");
	assert_null(path_absolute(NULL, "/"));
	char *cwd = getcwd(NULL, 0), *want = path_join(cwd, "answers.cfg");
	expect_abs("answers.cfg", NULL, want);
	free(cwd);
	free(want);
}

static void test_strbuf_and_hash(void **state)
{
	(void)state;
	struct strbuf sb;
	strbuf_init(&sb);
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%d,", i);
	assert_true(sb.len > 3000);
	char *s = strbuf_detach(&sb);
	assert_int_equal(strncmp(s, "0,1,2,", 6), 0);
	free(s);
	char hex[65];
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	char t[32];
	assert_string_equal(time_iso8601(0, t), "1970-01-01T00:00:00Z");
	struct cw_error e = {0};
	cw_error_set_at(&e, CW_ECONFIG, "x.cfg", 7, "bad %s", "thing");
	char buf[256];
	assert_string_equal(cw_error_format(&e, buf, sizeof buf), "x.cfg:7: bad thing");
	cw_error_prefix(&e, "step %d", 3);
	assert_string_equal(e.msg, "step 3: bad thing");
	assert_int_equal(cw_status_exit_code(CW_EBACKUP), 8);
}

/* Found by fuzzing the journal reader: a time gmtime_r cannot convert, or that prints longer
 * than the buffer, gave uninitialised fields and a buffer without its NUL. */
static void test_time_out_of_range(void **state)
{
	(void)state;
	char t[32];
	memset(t, 'x', sizeof t);
	assert_string_equal(time_iso8601(-1, t), "1969-12-31T23:59:59Z");
	assert_string_equal(time_iso8601(253402300799L, t), "9999-12-31T23:59:59Z");
	const long bad[] = { 253402300800L, -62167219201L, 0x7fffffffffffffffL, -0x7fffffffffffffffL - 1 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(t, 'x', sizeof t);
		assert_string_equal(time_iso8601(bad[i], t), "(time out of range)");
	}
}

/* An error wrapped in more context by formatting its own message into itself (as
 * "services: backend: MESSAGE" was) keeps the message. */
static void test_error_wraps_itself(void **state)
{
	(void)state;
	struct cw_error e = {0};
	cw_error_set(&e, CW_ECONFIG, "expected \"systemd\", found \"%s\"", "upstart");
	cw_error_set_at(&e, CW_ECONFIG, e.file, 3, "services: %s", e.msg);
	assert_string_equal(e.msg, "services: expected \"systemd\", found \"upstart\"");
	assert_int_equal(e.line, 3);
	cw_error_set_at(&e, CW_ECONFIG, "a.cfg", 4, "%s", "x");
	cw_error_set_at(&e, CW_ECONFIG, e.file, e.line, "in %s: %s", e.file, e.msg);
	char buf[256];
	assert_string_equal(cw_error_format(&e, buf, sizeof buf), "a.cfg:4: in a.cfg: x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_strbuf_and_hash),
		cmocka_unit_test(test_path_absolute),
		cmocka_unit_test(test_time_out_of_range),
		cmocka_unit_test(test_error_wraps_itself),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
