// SPDX-License-Identifier: GPL-2.0
// runner.c - main() of secretmem_test: one Check suite per topic file, one test case per test, skips counted.
#include <time.h>

#include "sm_test.h"

bool quick;

static struct timespec t_start;

void announce(const char *name)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("RUN: %s (t+%lds)\n", name, (long)(now.tv_sec - t_start.tv_sec));
	fflush(stdout);
}

/* Every SM_TEST's registration, placed in this section by the linker. */
extern const struct sm_test *const __start_sm_tests[];
extern const struct sm_test *const __stop_sm_tests[];
extern const struct sm_fixture sm_baseline_fixture;

#define MAX_TESTS	256

static const struct sm_test *tests[MAX_TESTS];
static size_t ntests;

/* Topics by their order; a file's tests in the order they are written. */
static int cmp_test(const void *a, const void *b)
{
	const struct sm_test *x = *(const struct sm_test *const *)a;
	const struct sm_test *y = *(const struct sm_test *const *)b;

	if (x->file->order != y->file->order)
		return x->file->order < y->file->order ? -1 : 1;
	if (x->file != y->file)		/* two files of one order: by topic name */
		return strcmp(x->file->topic, y->file->topic);
	return x->line - y->line;
}

static void collect_tests(void)
{
	const struct sm_test *const *t;
	size_t i;

	for (t = __start_sm_tests; t < __stop_sm_tests; t++) {
		if (ntests == MAX_TESTS) {
			fprintf(stderr, "secretmem_test: more than %d tests\n", MAX_TESTS);
			exit(2);
		}
		tests[ntests++] = *t;
	}
	qsort(tests, ntests, sizeof(tests[0]), cmp_test);
	for (i = 1; i < ntests; i++)
		if (tests[i]->file->order == tests[i - 1]->file->order &&
		    tests[i]->file != tests[i - 1]->file &&
		    !strcmp(tests[i]->file->topic, tests[i - 1]->file->topic)) {
			fprintf(stderr, "secretmem_test: topic %s has two files of one order\n",
				tests[i]->file->topic);
			exit(2);
		}
}

static void usage(void)
{
	printf("usage: secretmem_test [--list | --topics] [test_name | topic ...]\n"
	       "Runs all tests (or the named tests and topics) in Check's fork mode: one\n"
	       "suite per topic, one test case per test (CK_RUN_SUITE / CK_RUN_CASE select).\n"
	       "A skipped test prints \"SM-SKIP <test>: <why>\"; the end prints\n"
	       "\"SM-SKIPPED <k>\" and \"secretmem_test: <n> passed, <m> failed, <k> skipped\".\n"
	       "env: SECRETMEM_QUICK=1 shorter slow tests, SECRETMEM_KO=path/to/%s.ko\n"
	       "     SM_EXCLUDE_TOPICS=topic,topic  leave these topics out\n"
	       "     SECRETMEM_METHOD=dmap_method for the reload, CK_VERBOSITY\n",
	       SECRETMEM_MODULE_NAME);
}

/* Is topic listed in SM_EXCLUDE_TOPICS (comma-separated)? */
static bool excluded(const char *topic)
{
	const char *l = getenv("SM_EXCLUDE_TOPICS");
	size_t n = strlen(topic);

	while (l && *l) {
		if (!strncmp(l, topic, n) && (l[n] == ',' || !l[n]))
			return true;
		l = strchr(l, ',');
		if (l)
			l++;
	}
	return false;
}

/* Is test t named on the command line (by itself or by its topic)? */
static bool selected(const struct sm_test *t, int argc, char **argv)
{
	int i;

	if (excluded(t->file->topic))
		return false;
	if (argc <= 1)
		return true;
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], t->name) || !strcmp(argv[i], t->file->topic))
			return true;
	return false;
}

static int check_args(int argc, char **argv)
{
	size_t t;
	int i;

	for (i = 1; i < argc; i++) {
		for (t = 0; t < ntests; t++)
			if (!strcmp(argv[i], tests[t]->name) ||
			    !strcmp(argv[i], tests[t]->file->topic))
				break;
		if (t == ntests) {
			fprintf(stderr, "unknown test or topic %s (see --list, --topics)\n", argv[i]);
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nsel = 0, run, failed, skipped;
	const struct sm_file *cur = NULL;
	SRunner *sr = NULL;
	Suite *s = NULL;
	size_t t;

	collect_tests();
	if (argc > 1 && !strcmp(argv[1], "--report-after-exec"))
		return report_after_exec();
	if (argc > 1 && !strcmp(argv[1], "--libsm-backend"))
		return libsm_report_backend();
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--list") || !strcmp(argv[1], "--topics"))) {
		for (t = 0; t < ntests; t++)
			if (argv[1][2] == 'l')
				printf("%s\n", tests[t]->name);
			else
				printf("%s %s\n", tests[t]->file->topic, tests[t]->name);
		return 0;
	}
	if (check_args(argc, argv))
		return 2;
	quick = env_flag("SECRETMEM_QUICK");
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	/* Seen and counted by every test's process (Check forks one per test). */
	sm_skip_count = mmap(NULL, sizeof(*sm_skip_count), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sm_skip_count == MAP_FAILED) {
		perror("secretmem_test: mmap of the skip counter");
		return 2;
	}
	*sm_skip_count = 0;

	for (t = 0; t < ntests; t++) {
		const struct sm_test *e = tests[t];
		TCase *tc;

		if (!selected(e, argc, argv))
			continue;
		if (!s || strcmp(cur->topic, e->file->topic)) {
			s = suite_create(e->file->topic);
			if (sr)
				srunner_add_suite(sr, s);
			else
				sr = srunner_create(s);
		}
		cur = e->file;
		tc = tcase_create(e->name);
		tcase_set_timeout(tc, e->file->timeout);
		if (e->fix)
			tcase_add_unchecked_fixture(tc, e->fix->setup, e->fix->teardown);
		if (e->flags & SM_BASELINE)
			tcase_add_checked_fixture(tc, sm_baseline_fixture.setup,
						  sm_baseline_fixture.teardown);
		tcase_add_test(tc, *e->test);
		suite_add_tcase(s, tc);
		nsel++;
	}
	if (!sr)	/* all excluded: an empty run, still with Check's summary */
		sr = srunner_create(suite_create("none"));
	if (geteuid() != 0)
		printf("NOTE: not running as root; many tests need root\n");
	printf("secretmem_test: %d tests%s\n", nsel, quick ? " (quick)" : "");
	fflush(stdout);

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, getenv("CK_VERBOSITY") ? CK_ENV : CK_VERBOSE);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	skipped = (int)__atomic_load_n(sm_skip_count, __ATOMIC_SEQ_CST);
	printf("SM-SKIPPED %d\n", skipped);
	printf("secretmem_test: %d passed, %d failed, %d skipped\n",
	       run - failed - skipped, failed, skipped);
	fflush(stdout);
	return failed ? 1 : 0;
}
