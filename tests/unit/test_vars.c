/* test_vars.c: ${name} expansion never splits words and refuses unknown names. */
#include "testutil.h"

#include "util.h"
#include "vars.h"

static void test_expand(void **state)
{
	(void)state;
	struct vars v;
	vars_init(&v);
	vars_set(&v, "ssldir", "/var/lib/puppet/ssl");
	vars_set(&v, "certname", "a b;$(x)");
	vars_set_prefixed(&v, "agent", "certname", "agent1");
	char *out = NULL;
	assert_int_equal(vars_expand(&v, "${ssldir}/certs/${certname}.pem", &out, NULL), CW_OK);
	assert_string_equal(out, "/var/lib/puppet/ssl/certs/a b;$(x).pem"); /* one word, verbatim */
	free(out);
	assert_int_equal(vars_expand(&v, "${agent.certname} costs $$5", &out, NULL), CW_OK);
	assert_string_equal(out, "agent1 costs $5");
	free(out);
	struct cw_error e = {0};
	assert_int_equal(vars_expand(&v, "x ${nope} y", &out, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "${nope}"));
	assert_int_equal(vars_expand(&v, "x ${ssldir", &out, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "closing"));
	vars_set(&v, "ssldir", "/other");
	assert_string_equal(vars_get(&v, "ssldir"), "/other");
	assert_true(vars_true(&v, "ssldir"));
	vars_set(&v, "flag", "false");
	assert_false(vars_true(&v, "flag"));
	assert_false(vars_true(&v, "missing"));
	char **refs = vars_refs("${a}-${b.c}-${a}-$${d}");
	assert_int_equal(strv_len(refs), 2);
	assert_string_equal(refs[0], "a");
	assert_string_equal(refs[1], "b.c");
	strv_free(refs);
	struct vars copy;
	vars_copy(&copy, &v);
	assert_string_equal(vars_get(&copy, "agent.certname"), "agent1");
	vars_done(&copy);
	vars_done(&v);
}

static void test_strv(void **state)
{
	(void)state;
	char **v = strv_split(" a, b ,,c ,", ',');
	assert_int_equal(strv_len(v), 3);
	assert_string_equal(v[1], "b");
	char *j = strv_join(v, "+");
	assert_string_equal(j, "a+b+c");
	free(j);
	char **w = strv_split("c,d", ',');
	strv_union(&v, w);
	assert_int_equal(strv_len(v), 4);
	strv_free(w);
	strv_free(v);
	assert_null(strv_split("", ','));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
