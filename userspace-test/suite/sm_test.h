/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sm_test.h - the Check suite's own layer over sm_lib.h and probe.h: how a
 * test is defined and registered, skips, fixtures, and asserting helpers.
 *
 * A test file starts with SM_FILE(topic, order, timeout) and then defines
 * its tests with SM_TEST(name) { body } (or SM_TEST_WITH for fixtures).
 * The name is written once: the macro defines the Check test and puts it
 * in the registry that runner.c reads (linker section "sm_tests").  Each
 * topic is one Check suite, each test one test case named after the test,
 * so CK_RUN_SUITE=topic and CK_RUN_CASE=test_name select as usual.
 */
#ifndef SM_TEST_H
#define SM_TEST_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "probe.h"
#include "sm_lib.h"

/* ---- registry ---- */

struct sm_file {
	const char *topic;	/* the Check suite */
	int order;		/* suites run by increasing order */
	int timeout;		/* seconds per test (times CK_TIMEOUT_MULTIPLIER) */
};

/* Unchecked: run by the runner around the test, even when it fails. */
struct sm_fixture {
	SFun setup, teardown;
};

#define SM_FIXTURE(name, setup, teardown) \
	const struct sm_fixture name = { setup, teardown }

/* Checked fixture (in the test's process): the baseline below. */
#define SM_BASELINE	1u

struct sm_test {
	const char *name;
	const TTest *const *test;
	const struct sm_file *file;
	int line;			/* order inside the file */
	const struct sm_fixture *fix;	/* NULL: none */
	unsigned int flags;		/* SM_BASELINE */
};

#define SM_FILE(topic, order, timeout) \
	static const struct sm_file sm_this_file = { topic, order, timeout }

/* Progress line with the time since the suite started (TCG is slow). */
void announce(const char *name);

#define SM_TEST_WITH(name, fixture, fl)					\
	static void name##_body(void);					\
	START_TEST(name)						\
	{								\
		announce(#name);					\
		name##_body();						\
	}								\
	END_TEST							\
	static const struct sm_test name##_reg = {			\
		#name, &name, &sm_this_file, __LINE__, fixture, fl	\
	};								\
	static const struct sm_test *const name##_regp			\
	__attribute__((used, section("sm_tests"))) = &name##_reg;	\
	static void name##_body(void)

#define SM_TEST(name)		SM_TEST_WITH(name, NULL, 0)
/* The test must leave the module's counters, VmLck and the taint as it found them. */
#define SM_TEST_BASE(name)	SM_TEST_WITH(name, NULL, SM_BASELINE)
#define SM_TEST_FIX(name, fix)	SM_TEST_WITH(name, &(fix), 0)

/* SECRETMEM_QUICK=1: shorter slow tests. */
extern bool quick;

/* ---- skips ---- */

/*
 * SKIP(fmt, ...): the test cannot run here.  Prints one line
 * "SM-SKIP <test_name>: <reason>", runs the checked teardown (the baseline
 * must still hold), counts the skip in the runner's shared counter and
 * ends the test (Check counts it as run and passed; the runner subtracts
 * the skips).  Usable at any depth inside the test's process.
 */
void sm_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define SKIP(...)	sm_skip(__VA_ARGS__)

/* Set by the runner: a counter in MAP_SHARED memory that every test's process sees. */
extern unsigned int *sm_skip_count;

#define KCORE_OPEN_OR_SKIP(k) do {					\
	char _why[256];							\
	if (kcore_open((k), _why, sizeof(_why)))			\
		SKIP("%s", _why);					\
} while (0)

#define SNAPSHOT_OR_SKIP() do {						\
	if (access(SM_SNAPSHOT, F_OK))					\
		SKIP("%s missing: kernel without hibernation", SM_SNAPSHOT); \
	if (geteuid() != 0)						\
		SKIP("needs root for %s", SM_SNAPSHOT);			\
} while (0)

#define POOL_OR_SKIP() do {						\
	if (geteuid() != 0)						\
		SKIP("needs root to size the pool");			\
	if (access(SM_PARAM_POOL_MAX, W_OK))				\
		SKIP("%s missing: module without a pool", SM_PARAM_POOL_MAX); \
} while (0)

/*
 * SECRETMEM_FLAG_UNCACHED is x86 only: the module refuses it elsewhere
 * with EOPNOTSUPP (test_set_flags_uncached_by_arch checks that).  Known at
 * build time, so a module that refuses it on x86 fails instead of skipping.
 */
#if defined(__x86_64__)
#define SM_ARCH_UNCACHED	1
#define SM_ARCH_ID		SECRETMEM_ARCH_X86_64
#else
#define SM_ARCH_UNCACHED	0
#define SM_ARCH_ID		SECRETMEM_ARCH_ARM64
#endif
/* A flag value SET_FLAGS accepts here other than the default: UNCACHED on x86, else only 0. */
#define SM_FLAG_SETTABLE	(SM_ARCH_UNCACHED ? SECRETMEM_FLAG_UNCACHED : 0ULL)
#define UNCACHED_OR_SKIP() do {						\
	if (!SM_ARCH_UNCACHED)						\
		SKIP("SECRETMEM_FLAG_UNCACHED is x86 only (EOPNOTSUPP here)"); \
} while (0)

/* Mount cgroup2 and enable the memory controller, or skip. */
void memcg_or_skip(void);

/* ---- the baseline (SM_TEST_BASE) ---- */

/* What a test must leave as it found: counters, VmLck, kernel taint. */
struct baseline {
	long pages, regions, vmlck, taint;
};

/* Taken by the checked setup of an SM_TEST_BASE test. */
extern struct baseline sm_base;

void baseline_take(struct baseline *b);
/* Counters are base + pages/regions, VmLck base + pages (4 KiB each). */
void expect_held(const struct baseline *b, long pages, long regions, const char *when);
/* Everything back to the baseline and no WARN/oops taint gained. */
void baseline_check(const struct baseline *b, const char *when);

/* ---- unchecked fixtures shared by several files ---- */

/* Pool off (which frees what it holds), its size back after. */
extern const struct sm_fixture fix_pool_off;
/* max_pages saved and restored (tests that lower it). */
extern const struct sm_fixture fix_max_pages;
/* Fault hooks off before and after, and the pool off. */
extern const struct sm_fixture fix_faults_pool_off;

void pool_off(void);
void pool_restore(void);

/* What every fd's mappings get (x86, no flags); what the module may report. */
#define PROT_ALWAYS	(SECRETMEM_PROT_DIRECT_MAP | SECRETMEM_PROT_NO_CORE_DUMP | \
			 SECRETMEM_PROT_NO_GUP | SECRETMEM_PROT_NO_FORK | \
			 SECRETMEM_PROT_NO_SWAP | SECRETMEM_PROT_SCRUB)
#define PROT_KNOWN	(PROT_ALWAYS | SECRETMEM_PROT_HIBERNATION | SECRETMEM_PROT_UNCACHED)
#define PLAT_KNOWN	((SECRETMEM_PLAT_KPTI << 1) - 1)

/* ---- asserting helpers ---- */

int dev_open(void);			/* open /dev/secretmem */
void *sm_mmap(int fd, size_t len);	/* MAP_SHARED read-write mapping of fd */
void *sm_map_pages(size_t pages);	/* a fresh fd's mapping; the fd closed */
/* mmap must fail with @want. */
void expect_mmap_fail(int fd, size_t len, int prot, int flags, off_t off, int want,
		      const char *what);
long counter(const char *name);		/* sm_counter(), which must exist */
void get_info(int fd, struct secretmem_info *info);	/* GET_INFO must work */
/* pages/regions counters back to where they were (each skipped if it was -1: absent). */
void assert_counters(long pages0, long regions0, const char *when);
void set_flags(int fd, unsigned long long flags);	/* SET_FLAGS must work */
/* Wait up to @ms for the module's pages and regions to be 0; true if they are. */
bool counters_idle(int ms);
long vmlck(void);			/* VmLck of this process, kB */
long free_kb(void);			/* MemFree + per-CPU free lists, kB */
long slack_kb(void);			/* tolerance for MemFree comparisons */

/* Access one byte at p (write @val, or read if val < 0); the signal it raised, or 0. */
int access_sig(volatile uint8_t *p, int val);

/* A child's body: 0 on success, else 1 with a message in msg (CFAIL). */
typedef int (*child_fn)(void *arg, char *msg, size_t n);

#define CFAIL(...) do { snprintf(msg, n, __VA_ARGS__); return 1; } while (0)

/* Run fn in a child; fail the test with the child's message if it fails. */
void run_child(child_fn fn, void *arg);

/*
 * fork() a child that waits until release_held(): 0 in the child (which
 * goes on from there), its pid in the parent, with *go_fd set.
 */
pid_t fork_held(int *go_fd);
/* Let the child of fork_held() go on; its wait status once it exited. */
int release_held(int go_fd, pid_t pid);

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

/* drop_to_nobody(), then open the device: the fd, or -1 with the reason in msg. */
int nobody_open(unsigned long memlock, char *msg, size_t n);

/* A child_fn: map and touch *(size_t *)arg bytes of anonymous memory. */
int touch_child(void *arg, char *msg, size_t n);

/* Tagged pages: a recognisable word at a few places of every page (tag ^ page index). */
void fill_tag(uint8_t *p, size_t pages, uint64_t tag);
/* Index of the first page of [first, first+n) of base with a wrong tag, or -1. */
long check_tag_range(const uint8_t *base, size_t first, size_t n, uint64_t tag);
long check_tag(const uint8_t *p, size_t pages, uint64_t tag);
uint8_t *map_held(size_t pages, int flags, const char *what);
void map_tag_check(uint8_t *p, size_t pages, uint64_t tag, bool fill);
/* Is no part of [p, p+len) mapped?  (mincore fails with ENOMEM on holes.) */
bool is_unmapped(void *p, size_t len);

/* open(/dev/snapshot, how) and close it: 0, or the errno (EPERM: hibernation vetoed). */
int snapshot_try(int how);

/* test_mmap.c: what secretmem_test --report-after-exec runs (after an execve). */
int report_after_exec(void);
/* test_libsecretmem.c: what secretmem_test --libsm-backend runs (prints the backend). */
int libsm_report_backend(void);

#endif /* SM_TEST_H */
