/* test_ssh.c: unit tests for core/transport_ssh (being written: skipped until then). */
#include "testutil.h"

static void test_pending(void **state) { (void)state; skip(); }

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_pending) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
