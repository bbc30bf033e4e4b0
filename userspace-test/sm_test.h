/* SPDX-License-Identifier: GPL-2.0 */
/* The pieces every file of the Check suite shares: test tables and macros. */
#ifndef SM_TEST_H
#define SM_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* SECRETMEM_QUICK=1: shorter slow tests. */
extern bool quick;

/* Progress line with the time since the suite started (TCG is slow). */
void announce(const char *name);

#define SKIP(...) do {							\
	printf("SKIP: %s: ", tcase_name());				\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
	fflush(stdout);							\
	return;								\
} while (0)

/* A Check test that announces itself; the body follows like a function's. */
#define SM_TEST(name)							\
	static void name##_body(void);					\
	START_TEST(name)						\
	{								\
		announce(#name);					\
		name##_body();						\
	}								\
	END_TEST							\
	static void name##_body(void)

struct test_entry {
	const char *name;
	const TTest *const *test;
	SFun setup, teardown;	/* unchecked fixtures, run by the runner */
};

#define T(t)		{ #t, &t, NULL, NULL }
#define TF(t, s, d)	{ #t, &t, s, d }

/* A file's tests; secretmem_test.c runs the tables in order. */
struct test_table {
	const struct test_entry *tests;
	size_t n;
};

#define TEST_TABLE(name, array) \
	const struct test_table name = { array, sizeof(array) / sizeof(array[0]) }

/* sm_test.c: the device, /proc values and children, asserting as they go. */
int dev_open(void);			/* open /dev/secretmem */
void *sm_mmap(int fd, size_t len);	/* MAP_SHARED read-write mapping of fd */
long vmlck(void);			/* VmLck of this process, kB */
long slack_kb(void);			/* tolerance for MemFree comparisons */

/* A child's body: 0 on success, else 1 with a message in msg (CFAIL). */
typedef int (*child_fn)(void *arg, char *msg, size_t n);

#define CFAIL(...) do { snprintf(msg, n, __VA_ARGS__); return 1; } while (0)

/* Run fn in a child; fail the test with the child's message if it fails. */
void run_child(child_fn fn, void *arg);

#define KCORE_OPEN_OR_SKIP(k) do {					\
	char _why[256];							\
	if (kcore_open((k), _why, sizeof(_why)))			\
		SKIP("%s", _why);					\
} while (0)

struct kcore;
/*
 * The control of a kcore test: a pattern in ordinary anonymous memory must
 * be found by a scan of @k, or the scan could not detect a leak.
 */
void kcore_control(struct kcore *k);

/*
 * In a child: limit RLIMIT_MEMLOCK to @memlock bytes, become uid/gid 65534
 * with no capabilities.  0, or 1 with the reason in msg (for CFAIL users).
 */
int drop_to_nobody(unsigned long memlock, char *msg, size_t n);

/* A child_fn: map and touch *(size_t *)arg bytes of anonymous memory. */
int touch_child(void *arg, char *msg, size_t n);

/* The module's page pool: its size parameter and how many pages it holds. */
#define SM_PARAM_POOL_MAX	"/sys/module/secretmem_dev/parameters/pool_max_pages"
#define SM_SYSFS_POOL_PAGES	"/sys/class/misc/secretmem/pool_pages"

/*
 * Fixtures for a test that counts exact allocations, TLB flushes or
 * MemFree: turn the pool off (which frees what it holds), then put the
 * size back.
 */
void pool_off(void);
void pool_restore(void);

#endif /* SM_TEST_H */
