// SPDX-License-Identifier: GPL-2.0
// test_faults.c - fault injection through the module's fault_*_nth hooks: every failure is ENOMEM and leaves nothing behind.

#include "sm_test.h"

SM_FILE("faults", 90, 900);

/* ---- fault injection through the module's test hooks ---- */

enum fault_hook { HOOK_ALLOC, HOOK_DMAP, HOOK_MAP };

static const unsigned int fault_ns[] = { 1, 2, 5 };

/*
 * 8 MiB and 15 pages: at least 8 chunks (4 of 2 MiB, then 32, 16, 8 and
 * 4 KiB), so every hook position in fault_ns[] falls inside one mmap.
 */
#define FAULT_PAGES	(4 * 512 + 15)
#define FAULT_LEN	(FAULT_PAGES * PAGE_SZ)

static void set_hook(enum fault_hook h, unsigned int n)
{
	ck_assert_msg(!write_long_file(sm_fault_params[h], n), "writing %u to %s: %s", n,
		      sm_fault_params[h], strerror(errno));
}

/* mmap+touch+check+munmap of @len on a fresh fd: the module works. */
static void map_touch_unmap(size_t len, const char *when)
{
	volatile uint8_t *p;
	size_t i;
	long off;
	int fd = dev_open();

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_msg(p != MAP_FAILED, "%s: mmap of %zu KiB: %s", when, len >> 10,
		      strerror(errno));
	off = sm_first_nonzero(p, len);
	ck_assert_msg(off < 0, "%s: mapping not zeroed at offset %ld", when, off);
	for (i = 0; i < len; i += PAGE_SZ)
		p[i] = (uint8_t)(i >> 12) | 1;
	for (i = 0; i < len; i += PAGE_SZ)
		ck_assert(p[i] == ((uint8_t)(i >> 12) | 1));
	ck_assert(!munmap((void *)p, len));
}

struct fault_base {
	long vmlck, pages, regions, alloc_failures, memfree;
};

static void fault_base_read(struct fault_base *b)
{
	b->vmlck = vmlck();
	b->pages = counter("pages");
	b->regions = counter("regions");
	b->alloc_failures = counter("alloc_failures");
	b->memfree = free_kb();
}

static void fault_base_check(const struct fault_base *b, long failures, const char *when)
{
	long v;

	v = vmlck();
	ck_assert_msg(v == b->vmlck, "%s: VmLck %ld kB, baseline %ld kB", when, v, b->vmlck);
	v = counter("pages");
	ck_assert_msg(v == b->pages, "%s: pages %ld, baseline %ld", when, v, b->pages);
	v = counter("regions");
	ck_assert_msg(v == b->regions, "%s: regions %ld, baseline %ld", when, v, b->regions);
	v = counter("alloc_failures");
	ck_assert_msg(v == b->alloc_failures + failures, "%s: alloc_failures %ld, expected %ld",
		      when, v, b->alloc_failures + failures);
	v = free_kb();
	ck_assert_msg(v >= b->memfree - slack_kb(), "%s: free %ld kB, %ld kB before (slack %ld)",
		      when, v, b->memfree, slack_kb());
}

/* With hook @h at @n, an mmap of @pages must fail with ENOMEM and leave nothing behind. */
static void fault_expect_enomem(enum fault_hook h, unsigned int n, size_t pages)
{
	const size_t len = pages * PAGE_SZ;
	struct fault_base b;
	char when[128];
	int fd, err;
	void *p;

	snprintf(when, sizeof(when), "%s=%u, %zu-page mmap", strrchr(sm_fault_params[h], '/') + 1,
		 n, pages);
	fault_base_read(&b);
	fd = dev_open();
	set_hook(h, n);
	errno = 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	err = errno;
	set_hook(h, 0);
	close(fd);
	if (p != MAP_FAILED)
		munmap(p, len);
	ck_assert_msg(p == MAP_FAILED, "%s: succeeded, the hook did not fire", when);
	ck_assert_msg(err == ENOMEM, "%s: %s, expected ENOMEM", when, strerror(err));

	fault_base_check(&b, 1, when);
	/* the next mmap works */
	map_touch_unmap(4 << 20, when);
	fault_base_check(&b, 1, when);
}

#define FAULT_HOOK_OR_SKIP(h) do {					\
	if (geteuid() != 0)						\
		SKIP("needs root for the fault hooks");			\
	if (access(sm_fault_params[h], W_OK))				\
		SKIP("%s missing: module without fault hooks", sm_fault_params[h]); \
} while (0)

SM_TEST_FIX(test_fault_alloc_nth, fix_faults_pool_off)
{
	struct fault_base b;
	long taint0 = kernel_bad_taint();
	char when[64];
	size_t i;

	FAULT_HOOK_OR_SKIP(HOOK_ALLOC);
	for (i = 0; i < sizeof(fault_ns) / sizeof(fault_ns[0]); i++) {
		unsigned int n = fault_ns[i];

		/*
		 * A refused large chunk falls back to smaller ones: the 8 MiB
		 * mmap succeeds with the hook firing on a large chunk.
		 */
		snprintf(when, sizeof(when), "fault_alloc_nth=%u, 8 MiB mmap", n);
		fault_base_read(&b);
		set_hook(HOOK_ALLOC, n);
		map_touch_unmap(FAULT_LEN, when);
		set_hook(HOOK_ALLOC, 0);
		fault_base_check(&b, 0, when);
		/*
		 * 2^n - 1 pages: chunks of order n-1 ... 0, so the nth
		 * allocation is a single page, which has no fallback.
		 */
		fault_expect_enomem(HOOK_ALLOC, n, (1UL << n) - 1);
	}
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

SM_TEST_FIX(test_fault_dmap_nth, fix_faults_pool_off)
{
	long taint0 = kernel_bad_taint(), avail;
	size_t i, touch;

	FAULT_HOOK_OR_SKIP(HOOK_DMAP);
	for (i = 0; i < sizeof(fault_ns) / sizeof(fault_ns[0]); i++)
		fault_expect_enomem(HOOK_DMAP, fault_ns[i], FAULT_PAGES);
	/* the pages of the failed mmaps went back with a direct map: use them */
	map_touch_unmap(16 << 20, "after the dmap faults");
	avail = meminfo_kb("MemAvailable");
	ck_assert_msg(avail > 0, "no MemAvailable in /proc/meminfo");
	touch = ((size_t)avail * 1024 / 2) & ~(PAGE_SZ - 1);
	printf("%s: touching %zu MiB of %ld MiB available\n", tcase_name(), touch >> 20,
	       avail >> 10);
	fflush(stdout);
	run_child(touch_child, &touch);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

SM_TEST_FIX(test_fault_map_nth, fix_faults_pool_off)
{
	long taint0 = kernel_bad_taint();
	size_t i;

	FAULT_HOOK_OR_SKIP(HOOK_MAP);
	for (i = 0; i < sizeof(fault_ns) / sizeof(fault_ns[0]); i++)
		fault_expect_enomem(HOOK_MAP, fault_ns[i], FAULT_PAGES);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST
