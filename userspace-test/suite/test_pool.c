// SPDX-License-Identifier: GPL-2.0
// test_pool.c - the module's pool of zeroed pages kept out of the direct map: reuse, flushes, bounds, draining, memory cgroups.
#include <sys/stat.h>

#include "sm_test.h"

SM_FILE("pool", 110, 900);

#define DROP_CACHES	"/proc/sys/vm/drop_caches"
#define CG_GROUP	SM_CG_ROOT "/smpool"

/* The pool size every test here starts from: 64 MiB. */
#define POOL_TEST_MAX	16384L

/* ---- helpers ---- */

static long pool_pages(void)
{
	return counter("pool_pages");
}

static void pool_max(long pages)
{
	ck_assert_msg(!write_long_file(SM_PARAM_POOL_MAX, pages), "writing %ld to %s: %s",
		      pages, SM_PARAM_POOL_MAX, strerror(errno));
}

/* Fixtures: a known, empty pool of POOL_TEST_MAX pages; the old size after. */
static void pool_fresh(void)
{
	pool_off();
	write_long_file(SM_PARAM_POOL_MAX, POOL_TEST_MAX);
}

static void pool_put_back(void)
{
	sm_faults_off();
	pool_restore();
}

static SM_FIXTURE(fix_pool_fresh, pool_fresh, pool_put_back);

/* Map @len, check it reads as zero, write @fill over it, unmap. */
static void map_fill_unmap(size_t len, int fill)
{
	uint8_t *p;
	size_t i;
	int fd = dev_open();

	p = sm_mmap(fd, len);
	close(fd);
	/* One assertion, not one per byte: each is a message to the runner. */
	for (i = 0; i < len && !p[i]; i++)
		;
	ck_assert_msg(i == len, "%zu KiB mapping: byte %zu is 0x%02x, not zero",
		      len >> 10, i, i < len ? p[i] : 0);
	memset(p, fill, len);
	ck_assert(!munmap(p, len));
}

/* ---- tests ---- */

/*
 * Small mappings in steady state are served from ready pages: no TLB
 * flush and no new direct-map split for each of them.
 */
SM_TEST_FIX(test_pool_small_mmaps_no_flush, fix_pool_fresh)
{
	const int n = quick ? 64 : 256;
	long t0, s0, t1, s1;
	int i;

	POOL_OR_SKIP();
	map_fill_unmap(PAGE_SZ, 0x5a);	/* the first refill */
	t0 = counter("tlb_flushes");
	s0 = counter("dmap_splits");
	for (i = 0; i < n; i++)
		map_fill_unmap(PAGE_SZ, 0x5a);
	t1 = counter("tlb_flushes");
	s1 = counter("dmap_splits");
	printf("%s: %d 4 KiB mmaps: %ld TLB flushes, %ld splits, pool %ld pages\n",
	       tcase_name(), n, t1 - t0, s1 - s0, pool_pages());
	ck_assert_msg(t1 - t0 <= 1, "%d 4 KiB mmaps took %ld TLB flushes (at most 1 expected)",
		      n, t1 - t0);
	ck_assert_msg(s1 - s0 <= 1, "%d 4 KiB mmaps split %ld direct-map pages (at most 1)",
		      n, s1 - s0);
}
END_TEST

/*
 * A pool full of 2 MiB chunks still serves small mappings: one chunk is
 * cut into single pages (one flush), not a fresh page and a flush per mmap.
 */
SM_TEST_FIX(test_pool_small_mmaps_from_2mib_chunk, fix_pool_fresh)
{
	long t0, t1, v;
	int i;

	POOL_OR_SKIP();
	pool_max(512);
	map_fill_unmap(2 << 20, 0x5c);
	ck_assert_msg(pool_pages() == 512, "pool holds %ld pages after a 2 MiB munmap, "
		      "expected one 2 MiB chunk", pool_pages());
	t0 = counter("tlb_flushes");
	for (i = 0; i < 64; i++)
		map_fill_unmap(PAGE_SZ, 0x5c);
	t1 = counter("tlb_flushes");
	v = pool_pages();
	printf("%s: 64 4 KiB mmaps: %ld TLB flushes, pool %ld pages\n", tcase_name(), t1 - t0, v);
	ck_assert_msg(t1 - t0 <= 1, "64 4 KiB mmaps took %ld TLB flushes with a full pool",
		      t1 - t0);
	ck_assert_msg(v <= 512, "pool holds %ld pages, max 512", v);
}
END_TEST

/*
 * 2 MiB mappings reuse pooled 2 MiB chunks made ready in one batch: one
 * TLB flush for a run of them, and no split.
 */
SM_TEST_FIX(test_pool_2mib_mmaps_batched, fix_pool_fresh)
{
	long t0, s0, t1, s1;
	int i;

	POOL_OR_SKIP();
	map_fill_unmap(16 << 20, 0x5b);	/* 8 spare 2 MiB chunks */
	t0 = counter("tlb_flushes");
	s0 = counter("dmap_splits");
	for (i = 0; i < 8; i++)
		map_fill_unmap(2 << 20, 0x5b);
	t1 = counter("tlb_flushes");
	s1 = counter("dmap_splits");
	printf("%s: 8 2 MiB mmaps: %ld TLB flushes, %ld splits\n", tcase_name(), t1 - t0,
	       s1 - s0);
	ck_assert_msg(t1 - t0 <= 1, "8 2 MiB mmaps from the pool took %ld TLB flushes "
		      "(at most 1 expected)", t1 - t0);
	ck_assert_msg(s1 == s0, "8 2 MiB mmaps split %ld direct-map pages", s1 - s0);
}
END_TEST

/* A page that held a secret comes back from the pool zeroed, at every size. */
SM_TEST_FIX(test_pool_reused_pages_zeroed, fix_pool_fresh)
{
	static const size_t sizes[] = { 4096, 65536, 2 << 20, (2 << 20) + 12288, 8 << 20 };
	size_t i;
	int round;

	POOL_OR_SKIP();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		map_fill_unmap(sizes[i], 0xa5);
	ck_assert_msg(pool_pages() > 0, "nothing went to the pool after munmap");
	for (round = 0; round < 3; round++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			map_fill_unmap(sizes[i], 0xa5 + round);
}
END_TEST

/* Never more pages in the pool than pool_max_pages. */
SM_TEST_FIX(test_pool_bounded_by_max, fix_pool_fresh)
{
	static const size_t sizes[] = { 4096, 16 << 20, 65536, (2 << 20) + 4096, 6 << 20 };
	size_t i;
	long v;

	POOL_OR_SKIP();
	pool_max(1024);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		map_fill_unmap(sizes[i], 0x33);
		v = pool_pages();
		ck_assert_msg(v <= 1024, "pool holds %ld pages after a %zu KiB munmap, max 1024",
			      v, sizes[i] >> 10);
	}
	ck_assert_msg(pool_pages() > 0, "pool empty: nothing was kept");
	pool_max(100);
	v = pool_pages();
	ck_assert_msg(v <= 100, "pool holds %ld pages after lowering the max to 100", v);
}
END_TEST

/* Writing 0 to pool_max_pages frees every pooled page at once. */
SM_TEST_FIX(test_pool_max_zero_frees_all, fix_pool_fresh)
{
	long m0, m1, m2;

	POOL_OR_SKIP();
	m0 = free_kb();
	map_fill_unmap(16 << 20, 0x44);
	map_fill_unmap(12288, 0x44);
	m1 = free_kb();
	ck_assert_msg(pool_pages() >= 4096, "pool holds %ld pages after a 16 MiB munmap",
		      pool_pages());
	pool_max(0);
	ck_assert_msg(pool_pages() == 0, "pool holds %ld pages with pool_max_pages=0",
		      pool_pages());
	m2 = free_kb();
	printf("%s: free %ld kB, pooled %ld kB, after pool_max_pages=0 %ld kB\n",
	       tcase_name(), m0, m1, m2);
	ck_assert_msg(m2 >= m0 - slack_kb(), "free %ld kB after draining, %ld kB before "
		      "(slack %ld)", m2, m0, slack_kb());
	/* The pool stays off: pages go straight back. */
	map_fill_unmap(4 << 20, 0x45);
	ck_assert_msg(pool_pages() == 0, "pool holds %ld pages while off", pool_pages());
}
END_TEST

/* With no pool activity the pool empties itself within seconds. */
SM_TEST_FIX(test_pool_drains_when_idle, fix_pool_fresh)
{
	long v = 0;
	int i;

	POOL_OR_SKIP();
	map_fill_unmap(4 << 20, 0x66);
	ck_assert_msg(pool_pages() > 0, "nothing went to the pool after munmap");
	for (i = 0; i < 40; i++) {
		usleep(500000);
		v = pool_pages();
		if (!v)
			break;
	}
	printf("%s: pool empty after %.1f s idle\n", tcase_name(), (i + 1) * 0.5);
	ck_assert_msg(v == 0, "pool still holds %ld pages after 20 s idle", v);
}
END_TEST

/* The shrinker gives the pool back (drop_caches=2 runs every shrinker). */
SM_TEST_FIX(test_pool_shrinker_frees_pages, fix_pool_fresh)
{
	long before, after;
	int fd;

	POOL_OR_SKIP();
	map_fill_unmap(8 << 20, 0x77);
	map_fill_unmap(8192, 0x77);
	before = pool_pages();
	ck_assert_msg(before > 0, "nothing went to the pool after munmap");
	fd = open(DROP_CACHES, O_WRONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", DROP_CACHES, strerror(errno));
	ck_assert_msg(write(fd, "2", 1) == 1, "writing %s: %s", DROP_CACHES, strerror(errno));
	close(fd);
	after = pool_pages();
	ck_assert_msg(after == 0, "pool holds %ld of %ld pages after the shrinkers ran",
		      after, before);
}
END_TEST

/*
 * Hibernation (opening /dev/snapshot runs its prepare step) empties the
 * pool first: pooled pages hold nothing and must not block it.
 */
SM_TEST_FIX(test_pool_drained_before_hibernation, fix_pool_fresh)
{
	int fd;

	POOL_OR_SKIP();
	if (access(SM_SNAPSHOT, F_OK))
		SKIP("%s missing: kernel without hibernation", SM_SNAPSHOT);
	map_fill_unmap(4 << 20, 0x99);
	ck_assert_msg(pool_pages() > 0, "nothing went to the pool after munmap");
	ck_assert_msg(counter("pages") == 0, "%ld secret pages in use", counter("pages"));
	fd = open(SM_SNAPSHOT, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open(%s) with only pooled pages: %s", SM_SNAPSHOT, strerror(errno));
	close(fd);
	ck_assert_msg(pool_pages() == 0, "pool holds %ld pages after the hibernation prepare "
		      "step", pool_pages());
}
END_TEST

/*
 * A failing mmap served partly from the pool rolls back fully: the pool's
 * ready pages go back too, and draining then frees every page.
 */
SM_TEST_FIX(test_pool_failed_mmap_rolls_back, fix_pool_fresh)
{
	static const char *const hooks[] = { SM_PARAM_FAULT_DMAP, SM_PARAM_FAULT_MAP };
	static const size_t sizes[] = { 8192, (4 << 20) + 8192 };
	long m0, taint0 = kernel_bad_taint(), v;
	size_t h, i;
	void *p;
	int fd;

	POOL_OR_SKIP();
	if (access(hooks[0], W_OK) || access(hooks[1], W_OK))
		SKIP("module without fault hooks");
	m0 = free_kb();
	for (h = 0; h < 2; h++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			map_fill_unmap(sizes[i], 0x21);	/* the pool holds pages */
			fd = dev_open();
			ck_assert(!write_long_file(hooks[h], 1));
			p = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			write_long_file(hooks[h], 0);
			close(fd);
			if (p == MAP_FAILED)
				continue;
			/* All pages came ready: nothing to take out, no hook. */
			ck_assert_msg(h == 0, "%s=1: %zu KiB mmap succeeded", hooks[h],
				      sizes[i] >> 10);
			ck_assert(!munmap(p, sizes[i]));
		}
	}
	v = counter("pages");
	ck_assert_msg(v == 0, "%ld pages in use after the failed mmaps", v);
	ck_assert_msg(counter("regions") == 0, "%ld regions left", counter("regions"));
	map_fill_unmap((2 << 20) + 4096, 0x22);
	pool_max(0);
	v = free_kb();
	ck_assert_msg(v >= m0 - slack_kb(), "free %ld kB after draining, %ld kB before "
		      "(slack %ld)", v, m0, slack_kb());
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/*
 * Pages charged to one memory cgroup are never served to a task of
 * another: a cgroup's pooled 2 MiB chunk stays put while the test, in
 * another cgroup, maps 4 MiB.  A cgroup below the root keeps at most 512
 * pooled pages (its own reclaim cannot reach the shrinker), and they stay
 * charged to it.
 */
SM_TEST_FIX(test_pool_not_shared_across_memcg, fix_pool_fresh)
{
	long held, after, charged;
	char buf[32];
	pid_t pid;
	int st;

	POOL_OR_SKIP();
	memcg_or_skip();
	rmdir(CG_GROUP);
	ck_assert_msg(!mkdir(CG_GROUP, 0755), "mkdir %s: %s", CG_GROUP, strerror(errno));

	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		if (write_str(CG_GROUP "/cgroup.procs", buf))
			_exit(2);
		map_fill_unmap(4 << 20, 0x88);
		_exit(0);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	held = pool_pages();
	charged = read_long_file(CG_GROUP "/memory.current");
	ck_assert_msg(held > 0, "nothing of the cgroup's 4 MiB went to the pool");
	ck_assert_msg(held <= 512, "the pool keeps %ld pages of a cgroup below the root "
		      "(at most 512)", held);
	ck_assert_msg(charged >= held * 4096, "memory.current of the cgroup is %ld bytes with "
		      "%ld of its pages pooled: not charged", charged, held);
	map_fill_unmap(4 << 20, 0x89);
	after = pool_pages();
	printf("%s: pool %ld pages after the cgroup's munmap, %ld after ours; cgroup charged %ld kB\n",
	       tcase_name(), held, after, charged >> 10);
	ck_assert_msg(after >= held, "the pool went from %ld to %ld pages: the cgroup's pages "
		      "were served to a task of another cgroup", held, after);
	pool_max(0);
	ck_assert_msg(!rmdir(CG_GROUP), "rmdir %s: %s", CG_GROUP, strerror(errno));
}
END_TEST
