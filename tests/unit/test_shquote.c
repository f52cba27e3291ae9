/* test_shquote.c: unit tests for core/shquote: exact quoting, and a round trip through real
 * shells (every word must come back byte-identical). */
#include "testutil.h"

#include <errno.h>

#include "shquote.h"
#include "util.h"

static void check_word(const char *word, const char *want)
{
	char *q = shquote_word(word);
	assert_string_equal(q, want);
	free(q);
}

static void test_word_plain(void **state)
{
	(void)state;
	check_word("abc", "'abc'");
	/* Safe-looking words are quoted too: no judgement calls. */
	check_word("puppet", "'puppet'");
	check_word("-n", "'-n'");
	check_word("/etc/puppetlabs/puppet/ssl", "'/etc/puppetlabs/puppet/ssl'");
}

static void test_word_empty(void **state)
{
	(void)state;
	check_word("", "''");
	check_word(NULL, "''");
}

static void test_word_single_quotes(void **state)
{
	(void)state;
	check_word("it's", "'it'\\''s'");
	check_word("'", "''\\'''");
	check_word("''", "''\\'''\\'''");
	check_word("'a'", "''\\''a'\\'''");
	check_word("\\'", "'\\'\\'''"); /* backslash is literal inside quotes */
}

static void test_word_metacharacters_stay_inside(void **state)
{
	(void)state;
	check_word("$(rm -rf /)", "'$(rm -rf /)'");
	check_word("`id`", "'`id`'");
	check_word("${HOME}$HOME", "'${HOME}$HOME'");
	check_word("*?[a-z]", "'*?[a-z]'");
	check_word("a;b|c&d<e>f", "'a;b|c&d<e>f'");
	check_word("line1\nline2", "'line1\nline2'");
	check_word("tab\there", "'tab\there'");
	check_word("\"dq\"", "'\"dq\"'");
	check_word("~root", "'~root'");
	check_word("#comment", "'#comment'");
	check_word("{a,b}", "'{a,b}'");
	check_word("A=1", "'A=1'");
	check_word("caf\xc3\xa9 \xe2\x9c\x93", "'caf\xc3\xa9 \xe2\x9c\x93'");
	check_word("\xff\xfe\x01", "'\xff\xfe\x01'");
}

static void test_argv_join(void **state)
{
	(void)state;
	char *argv[] = { "puppetserver", "ca", "clean", "--certname", "agent's host", NULL };
	char *q = shquote_argv(argv);
	assert_string_equal(q, "'puppetserver' 'ca' 'clean' '--certname' 'agent'\\''s host'");
	free(q);

	char *one[] = { "", NULL };
	q = shquote_argv(one);
	assert_string_equal(q, "''");
	free(q);

	char *none[] = { NULL };
	q = shquote_argv(none);
	assert_string_equal(q, "");
	free(q);
	q = shquote_argv(NULL);
	assert_string_equal(q, "");
	free(q);
}

/* The words of the round trip: everything a shell could misread. */
static const char *const tricky[] = {
	"plain",
	"",
	"two words",
	"  leading and trailing  ",
	"it's",
	"'",
	"''",
	"\\'",
	"'\\''",
	"\"double\"",
	"back\\slash\\",
	"$(touch /tmp/certwiz-shquote-pwned)",
	"`touch /tmp/certwiz-shquote-pwned`",
	"$HOME ${HOME} $$ $? $0 $1 $@ $*",
	"*",
	"?",
	"[a-z]*",
	"/*",
	"a;b",
	"a|b",
	"a&b",
	"a&&b||c",
	"<in",
	">out",
	">>append",
	"2>&1",
	"line1\nline2\n",
	"\n",
	"tab\tafter",
	"\r\n",
	"#not a comment",
	"~",
	"~root",
	"{a,b}",
	"!event",
	"A=1",
	"-n",
	"--",
	"%s %d %%",
	"caf\xc3\xa9 na\xc3\xafve \xe2\x9c\x93 \xf0\x9f\x94\x91",
	"\xff\xfe\x80 not utf-8",
	"\x01\x02\x1b[31m\x7f",
	NULL,
};

/* Run shell -c line and return stdout (heap, *len bytes). */
static char *run_shell(const char *shell, const char *line, size_t *len)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl(shell, shell, "-c", line, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	struct strbuf sb;
	strbuf_init(&sb);
	char buf[4096];
	for (;;) {
		ssize_t n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		strbuf_add(&sb, buf, (size_t)n);
	}
	close(pfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	*len = sb.len;
	return strbuf_detach(&sb);
}

/* out holds NUL-terminated words; compare them with want[]. */
static void check_words(const char *out, size_t len, const char *const *want)
{
	size_t off = 0;
	for (size_t i = 0; want[i]; i++) {
		size_t wl = strlen(want[i]);
		if (off + wl >= len)
			fail_msg("output ended before word %zu (\"%s\")", i, want[i]);
		if (memcmp(out + off, want[i], wl) != 0 || out[off + wl] != '\0')
			fail_msg("word %zu came back as \"%s\", expected \"%s\"", i, out + off,
				 want[i]);
		off += wl + 1;
	}
	assert_int_equal(off, len); /* nothing extra */
}

static void round_trip(const char *shell)
{
	if (access(shell, X_OK) != 0) {
		print_message("%s not installed: round trip through it skipped\n", shell);
		return;
	}
	unlink("/tmp/certwiz-shquote-pwned");

	/* 1. Directly: printf '%s\0' WORDS... */
	char *quoted = shquote_argv((char *const *)tricky);
	char *line = xasprintf("printf '%%s\\0' %s", quoted);
	size_t len;
	char *out = run_shell(shell, line, &len);
	check_words(out, len, tricky);
	free(out);
	free(line);
	free(quoted);

	/* 2. As the SSH transport does it: the whole argv of a nested shell quoted, so the words
	 * pass two shells: sh -c 'printf "%s\0" "$@"' sh WORDS... */
	char **argv = NULL;
	strv_push(&argv, "sh");
	strv_push(&argv, "-c");
	strv_push(&argv, "printf '%s\\0' \"$@\"");
	strv_push(&argv, "sh");
	for (size_t i = 0; tricky[i]; i++)
		strv_push(&argv, tricky[i]);
	line = shquote_argv(argv);
	out = run_shell(shell, line, &len);
	check_words(out, len, tricky);
	free(out);
	free(line);
	strv_free(argv);

	/* 3. Each word alone, so one word's failure cannot hide behind another. */
	for (size_t i = 0; tricky[i]; i++) {
		char *q = shquote_word(tricky[i]);
		line = xasprintf("printf '%%s\\0' %s", q);
		out = run_shell(shell, line, &len);
		const char *one[] = { tricky[i], NULL };
		check_words(out, len, one);
		free(out);
		free(line);
		free(q);
	}

	assert_false(path_exists("/tmp/certwiz-shquote-pwned"));
}

static void test_round_trip_sh(void **state)
{
	(void)state;
	round_trip("/bin/sh");
}

static void test_round_trip_bash(void **state)
{
	(void)state;
	round_trip("/bin/bash");
}

/* Long words and many quotes: no size limit hides in the quoting. */
static void test_round_trip_long(void **state)
{
	(void)state;
	size_t n = 100000;
	char *big = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = "a'b\n$`*"[i % 8];
	big[n] = '\0';
	const char *words[] = { big, "'", big, NULL };
	char *quoted = shquote_argv((char *const *)words);
	char *line = xasprintf("printf '%%s\\0' %s", quoted);
	size_t len;
	char *out = run_shell("/bin/sh", line, &len);
	check_words(out, len, words);
	free(out);
	free(line);
	free(quoted);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_word_plain),
		cmocka_unit_test(test_word_empty),
		cmocka_unit_test(test_word_single_quotes),
		cmocka_unit_test(test_word_metacharacters_stay_inside),
		cmocka_unit_test(test_argv_join),
		cmocka_unit_test(test_round_trip_sh),
		cmocka_unit_test(test_round_trip_bash),
		cmocka_unit_test(test_round_trip_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
