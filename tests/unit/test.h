/* A tiny unit-test harness. Each test binary prints one line per test case:
 *   pass <suite>.<case>
 *   fail <suite>.<case>: <file>:<line>: <failed expression>
 * and exits non-zero if any case failed. tests/run.sh counts these lines. */
#ifndef MOTE_TEST_H
#define MOTE_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures_total;
static int test_case_failed;
static const char *test_suite_name = "unit";

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			if (!test_case_failed)                                             \
				printf("fail %s.%s: %s:%d: %s\n", test_suite_name, test_cur, \
				       __FILE__, __LINE__, #cond);                         \
			test_case_failed = 1;                                              \
		}                                                                          \
	} while (0)

#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_STR_CONTAINS(hay, needle) CHECK(strstr((hay), (needle)) != NULL)

static const char *test_cur = "";

#define RUN(fn)                                                                            \
	do {                                                                               \
		test_cur = #fn;                                                            \
		test_case_failed = 0;                                                      \
		fn();                                                                      \
		if (test_case_failed)                                                      \
			test_failures_total++;                                             \
		else                                                                       \
			printf("pass %s.%s\n", test_suite_name, #fn);                      \
		fflush(stdout);                                                            \
	} while (0)

#define TEST_MAIN_END() return test_failures_total ? 1 : 0

#endif
