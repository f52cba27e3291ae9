/* testutil.h: what every unit test binary includes: cmocka and a few helpers. */
#ifndef CW_TESTUTIL_H
#define CW_TESTUTIL_H

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

/* A test that needs something of the machine (sshd, ssh-agent, GNU tar...) which is missing:
 * skipped, unless CERTWIZ_TEST_STRICT=1 says the machine has everything (tests/run-all.sh sets
 * it: there a missing tool is a failure, never a pass). */
#define test_need(have, ...)                                                                       \
	do {                                                                                       \
		if (!(have)) {                                                                     \
			const char *strict_ = getenv("CERTWIZ_TEST_STRICT");                       \
			print_message("missing: " __VA_ARGS__);                                    \
			print_message("\n");                                                       \
			if (strict_ && strcmp(strict_, "1") == 0)                                  \
				fail_msg("CERTWIZ_TEST_STRICT=1: this machine should have it");    \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* A fresh private temporary directory (heap string); removed by tmpdir_remove. */
static inline char *test_tmpdir(void)
{
	char tmpl[] = "/tmp/certwiz-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static inline void test_rmrf(const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
}

static inline void test_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Write text to root/rel, making rel's directories first. Needs util.h (path_join, mkdir_p). */
#define test_put(root, rel, text)                                              \
	do {                                                                   \
		char *p_ = path_join((root), (rel)), *d_ = xstrdup(p_);        \
		*strrchr(d_, '/') = '\0';                                      \
		assert_int_equal(mkdir_p(d_, 0755, NULL), CW_OK);              \
		test_write(p_, (text));                                        \
		free(d_);                                                      \
		free(p_);                                                      \
	} while (0)

/* The whole file as a string (heap), or NULL when it cannot be read. */
static inline char *test_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap + 1);
			assert_non_null(data);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	data[len] = '\0';
	return data;
}

/* Run argv quietly; the test fails unless it exits 0. */
static inline void test_run_quiet(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

#endif
