// SPDX-License-Identifier: GPL-2.0
// test_memory.c - memory comes back: pages allocated at mmap, MemFree restored, 80% of MemAvailable touchable after a free.

#include "sm_test.h"

SM_FILE("memory", 30, 900);

static size_t big_len(void)
{
	return (quick ? 4UL : 16UL) << 20;
}

SM_TEST(test_pages_allocated_at_mmap)
{
	const size_t len = big_len();
	long free0, free1, pages0, pages1;
	void *p;

	pages0 = sm_counter("pages");
	free0 = free_kb();
	p = sm_map_pages(len / PAGE_SZ);
	free1 = free_kb();
	pages1 = sm_counter("pages");
	ck_assert(!munmap(p, len));
	if (pages0 >= 0)
		ck_assert_msg(pages1 == pages0 + (long)(len / PAGE_SZ),
			      "%s went %ld -> %ld for an untouched %zu-page mapping",
			      SM_SYSFS_PAGES, pages0, pages1, len / PAGE_SZ);
	ck_assert_msg(free0 - free1 >= (long)(len >> 10) - slack_kb(),
		      "free memory dropped by %ld kB only for an untouched %zu kB mapping",
		      free0 - free1, len >> 10);
}
END_TEST

/* the allocator's, not the pool's */
SM_TEST_FIX(test_memfree_restored, fix_pool_off)
{
	const size_t len = big_len();
	long free0, free1, pages0, regions0;
	int round;
	uint8_t *p;
	size_t i;

	pages0 = sm_counter("pages");
	regions0 = sm_counter("regions");
	free0 = free_kb();
	for (round = 0; round < 2; round++) {
		p = sm_map_pages(len / PAGE_SZ);
		for (i = 0; i < len; i += PAGE_SZ)
			p[i] = (uint8_t)i | 1;
		ck_assert(!munmap(p, len));
	}
	free1 = free_kb();
	assert_counters(pages0, regions0, "after munmap");
	ck_assert_msg(free1 >= free0 - slack_kb(),
		      "free %ld kB after munmap, %ld kB before (slack %ld kB)",
		      free1, free0, slack_kb());
}
END_TEST

SM_TEST(test_touch_memavailable_after_free)
{
	const size_t len = big_len();
	long avail, taint0;
	size_t touch;
	uint8_t *p;
	int round;

	taint0 = kernel_bad_taint();
	for (round = 0; round < 2; round++) {
		p = sm_map_pages(len / PAGE_SZ);
		memset(p, 0xa5, len);
		ck_assert(!munmap(p, len));
	}
	avail = meminfo_kb("MemAvailable");
	ck_assert_msg(avail > 0, "no MemAvailable in /proc/meminfo");
	touch = (size_t)avail * 1024 / 100 * (quick ? 50 : 80);
	touch &= ~(PAGE_SZ - 1);
	printf("%s: touching %zu MiB of %ld MiB available\n", tcase_name(),
	       touch >> 20, avail >> 10);
	fflush(stdout);
	run_child(touch_child, &touch);
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE while touching memory (check dmesg)");
}
END_TEST

/* ---- sysfs counters ---- */
