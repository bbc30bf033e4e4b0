// SPDX-License-Identifier: GPL-2.0
// test_robust_map.c - bad and unusual mappings: MAP_FIXED, MAP_POPULATE, MAP_LOCKED, huge and unaligned lengths, offsets, mremap; each test leaves the counters, VmLck and the taint as it found them.
#include <sys/syscall.h>

#include "sm_test.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

SM_FILE("robust", 100, 900);

/* ---- MAP_FIXED, MAP_POPULATE, MAP_LOCKED ---- */

SM_TEST_BASE(test_map_fixed_over_anon_replaces)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *a, *q;
	int fd;

	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	memset(a, 0x11, len);
	fd = dev_open();
	q = mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	ck_assert_msg(q != MAP_FAILED, "MAP_FIXED over anonymous memory: %s", strerror(errno));
	ck_assert_msg(q == a, "MAP_FIXED returned %p, asked for %p", (void *)q, (void *)a);
	ck_assert_msg(sm_all_zero(q, len), "the new region is not zero: the anonymous pages stayed");
	expect_held(&sm_base, pages, 1, "after MAP_FIXED over anonymous memory");
	map_tag_check(q, pages, 0xf1, true);
}
END_TEST

SM_TEST_BASE(test_map_fixed_over_region_frees_old)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	uint8_t *p, *q, *a;
	int fd;

	fd = dev_open();
	p = sm_mmap(fd, pages * PAGE_SZ);
	fill_tag(p, pages, 0xaa);
	expect_held(&sm_base, pages, 1, "first region");

	q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ck_assert_msg(q != MAP_FAILED, "MAP_FIXED over a region: %s", strerror(errno));
	ck_assert(q == p);
	ck_assert_msg(sm_all_zero(q, len), "the replacing region shows old data");
	/* the old region is gone, not leaked: one region's worth held */
	expect_held(&sm_base, pages, 1, "after MAP_FIXED secretmem over secretmem");

	a = mmap(q, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert_msg(a == q, "MAP_FIXED anonymous over a region: %s", strerror(errno));
	expect_held(&sm_base, 0, 0, "after MAP_FIXED anonymous over the region");
	ck_assert(sm_all_zero(a, len));
	ck_assert(!munmap(a, len));
	close(fd);
}
END_TEST

SM_TEST_BASE(test_map_fixed_over_part_keeps_region)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	uint8_t *p, *a;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0xbb);
	a = mmap(p + 2 * PAGE_SZ, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert_msg(a == p + 2 * PAGE_SZ, "MAP_FIXED over pages 2-3: %s", strerror(errno));
	/* the rest of the region (two VMAs) still holds all its pages */
	expect_held(&sm_base, pages, 1, "after replacing a part");
	ck_assert(check_tag(p, 2, 0xbb) < 0);
	ck_assert_msg(check_tag_range(p, 4, 4, 0xbb) < 0, "tail of the region lost its data");
	ck_assert(sm_all_zero(a, 2 * PAGE_SZ));
	ck_assert(!munmap(p, len));
}
END_TEST

static struct sm_param saved_map_nth;

static void map_nth_save(void)
{
	sm_param_save(&saved_map_nth, SM_PARAM_FAULT_MAP);
}

static void map_nth_restore(void)
{
	sm_param_restore(&saved_map_nth);
}

static SM_FIXTURE(fix_map_nth, map_nth_save, map_nth_restore);

SM_TEST_WITH(test_map_fixed_failed_mmap_frees_old, &fix_map_nth, SM_BASELINE)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *p, *q;
	int fd, err;

	if (access(SM_PARAM_FAULT_MAP, W_OK))
		SKIP("%s not writable: %s", SM_PARAM_FAULT_MAP, strerror(errno));
	fd = dev_open();
	p = sm_mmap(fd, pages * PAGE_SZ);
	fill_tag(p, pages, 0xcc);
	ck_assert(!write_long_file(SM_PARAM_FAULT_MAP, 1));
	q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	err = errno;
	ck_assert(!write_long_file(SM_PARAM_FAULT_MAP, 0));
	close(fd);
	ck_assert_msg(q == MAP_FAILED, "MAP_FIXED with fault_map_nth=1 succeeded");
	ck_assert_msg(err == ENOMEM, "failed MAP_FIXED: %s, expected ENOMEM", strerror(err));
	/* The kernel leaves a hole where the old mapping was (6.1 and 6.12). */
	ck_assert_msg(is_unmapped(p, len), "the old mapping is still there after a failed MAP_FIXED");
}
END_TEST

SM_TEST_BASE(test_map_populate_works)
{
	const size_t pages = 32, len = pages * PAGE_SZ;
	uint8_t *p;

	p = map_held(pages, MAP_POPULATE, "MAP_POPULATE");
	ck_assert(sm_all_zero(p, len));
	map_tag_check(p, pages, 0xdd, true);
}
END_TEST

SM_TEST_BASE(test_map_locked_charged_once)
{
	const size_t pages = 16;
	uint8_t *p;

	/* VM_SPECIAL mappings get no VM_LOCKED from the core: one charge, the module's */
	p = map_held(pages, MAP_LOCKED | MAP_POPULATE, "MAP_LOCKED|MAP_POPULATE");
	map_tag_check(p, pages, 0xde, true);
}
END_TEST

/* ---- lengths and offsets ---- */

SM_TEST_BASE(test_huge_len_enomem_no_splat)
{
	const size_t lens[] = {
		1UL << 40,
		SIZE_MAX & ~(PAGE_SZ - 1),
		SIZE_MAX,				/* PAGE_ALIGN wraps to 0 */
		(size_t)1 << 47,			/* the whole user half */
	};
	long max_pages;
	size_t i;
	void *p;
	int fd;

	fd = dev_open();
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		errno = 0;
		p = mmap(NULL, lens[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, lens[i]);
		ck_assert_msg(p == MAP_FAILED, "mmap of %#zx bytes succeeded", lens[i]);
		ck_assert_msg(errno == ENOMEM || errno == EINVAL,
			      "mmap of %#zx bytes: %s, expected ENOMEM or EINVAL",
			      lens[i], strerror(errno));
		printf("%s: len %#zx -> %s\n", tcase_name(), lens[i], sm_errname(errno));
	}
	/* one page over the module's cap: the module's own ENOMEM */
	max_pages = read_long_file(SM_PARAM_MAX_PAGES);
	if (max_pages > 0 && max_pages < (1L << 30)) {
		size_t len = ((size_t)max_pages + 1) * PAGE_SZ;

		errno = 0;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, len);
		ck_assert_msg(p == MAP_FAILED && errno == ENOMEM,
			      "mmap of max_pages+1 pages: %s, expected ENOMEM",
			      p == MAP_FAILED ? strerror(errno) : "succeeded");
	}
	close(fd);
	baseline_check(&sm_base, "after the huge mmaps");
	p = sm_map_pages(1);
	ck_assert(!munmap(p, PAGE_SZ));
}
END_TEST

SM_TEST_BASE(test_len_unaligned_rounds_up)
{
	uint8_t *p;
	int fd;

	fd = dev_open();
	p = mmap(NULL, 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "mmap of 1 byte: %s", strerror(errno));
	expect_held(&sm_base, 1, 1, "1-byte mapping");
	ck_assert(sm_all_zero(p, PAGE_SZ));
	p[0] = 1;
	p[PAGE_SZ - 1] = 2;	/* the whole page is there */
	ck_assert(p[0] == 1 && p[PAGE_SZ - 1] == 2);
	ck_assert(!munmap(p, 1));	/* munmap rounds up too */
	expect_held(&sm_base, 0, 0, "after munmap of 1 byte");

	p = mmap(NULL, 3 * PAGE_SZ + 5, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "mmap of 3 pages + 5 bytes: %s", strerror(errno));
	expect_held(&sm_base, 4, 1, "3 pages + 5 bytes mapping");
	p[4 * PAGE_SZ - 1] = 3;
	ck_assert(!munmap(p, 4 * PAGE_SZ));
	close(fd);
}
END_TEST

/* mmap through the raw syscall: the offset reaches the kernel as is. */
static void *raw_mmap(size_t len, int fd, unsigned long off)
{
	long r = syscall(SYS_mmap, 0UL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	return (void *)r;
}

SM_TEST_BASE(test_offsets_einval)
{
	static const struct {
		unsigned long off;
		int want;
		const char *what;
	} cases[] = {
		{ PAGE_SZ, EINVAL, "4096 (module)" },
		{ 1UL << 40, EINVAL, "1 TiB (module)" },
		{ 100, EINVAL, "100, not page aligned (core mm)" },
		{ -(1UL << 20), EINVAL, "-1 MiB, pgoff 2^52-256 (module)" },
		/* pgoff + pages past ULONG_MAX bytes: refused before the module */
		{ -PAGE_SZ, EOVERFLOW, "-4096, pgoff 2^52-1 (core mm)" },
	};
	size_t i;
	void *p;
	int fd;

	fd = dev_open();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		p = raw_mmap(PAGE_SZ, fd, cases[i].off);
		if (p != MAP_FAILED)
			munmap(p, PAGE_SZ);
		ck_assert_msg(p == MAP_FAILED, "offset %s: mmap succeeded", cases[i].what);
		ck_assert_msg(errno == cases[i].want, "offset %s: %s, expected %s",
			      cases[i].what, strerror(errno), sm_errname(cases[i].want));
	}
	close(fd);
}
END_TEST

/* ---- mremap ---- */

SM_TEST_BASE(test_mremap_shrink_keeps_pages)
{
	const size_t pages = 8;
	uint8_t *p, *q;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x1234);
	q = mremap(p, pages * PAGE_SZ, 3 * PAGE_SZ, 0);
	ck_assert_msg(q != MAP_FAILED, "mremap shrink: %s", strerror(errno));
	ck_assert(q == p);
	ck_assert_msg(check_tag(q, 3, 0x1234) < 0, "data changed by the shrink");
	ck_assert_msg(is_unmapped(p + 3 * PAGE_SZ, 5 * PAGE_SZ), "the cut tail is still mapped");
	/* the region is freed with its last VMA: all 8 pages still held */
	expect_held(&sm_base, pages, 1, "after the shrink");
	ck_assert(!munmap(q, 3 * PAGE_SZ));
}
END_TEST

SM_TEST_BASE(test_mremap_grow_efault_data_intact)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *p, *dst, *q;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x77);
	dst = mmap(NULL, 4 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(dst != MAP_FAILED);

	errno = 0;
	q = mremap(p, len, 2 * len, 0);
	ck_assert_msg(q == MAP_FAILED && errno == EFAULT, "grow in place: %s, expected EFAULT",
		      q == MAP_FAILED ? strerror(errno) : "succeeded");
	errno = 0;
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	ck_assert_msg(q == MAP_FAILED && errno == EFAULT, "grow MAYMOVE: %s, expected EFAULT",
		      q == MAP_FAILED ? strerror(errno) : "succeeded");
	errno = 0;
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ck_assert_msg(q == MAP_FAILED && errno == EFAULT,
		      "grow MAYMOVE|FIXED: %s, expected EFAULT",
		      q == MAP_FAILED ? strerror(errno) : "succeeded");
	ck_assert_msg(check_tag(p, pages, 0x77) < 0, "data changed by the failed mremaps");
	expect_held(&sm_base, pages, 1, "after the failed grows");
	ck_assert(!munmap(dst, 4 * len));
	ck_assert(!munmap(p, len));
}
END_TEST

SM_TEST_BASE(test_mremap_move_fixed_data_intact)
{
	const size_t pages = 16, len = pages * PAGE_SZ;
	uint8_t *p, *dst, *q;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x4d4f5645);
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(dst != MAP_FAILED);
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ck_assert_msg(q != MAP_FAILED, "mremap move: %s", strerror(errno));
	ck_assert(q == dst);
	ck_assert_msg(check_tag(q, pages, 0x4d4f5645) < 0,
		      "data not intact at the new address (page %ld)",
		      check_tag(q, pages, 0x4d4f5645));
	ck_assert_msg(is_unmapped(p, len), "old address still mapped after the move");
	expect_held(&sm_base, pages, 1, "after the move");
	fill_tag(q, pages, 0x99);
	ck_assert(!munmap(q, len));
}
END_TEST

SM_TEST_BASE(test_mremap_move_part_splits_region)
{
	const size_t pages = 8;
	uint8_t *p, *dst, *q;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x5151);
	dst = mmap(NULL, 2 * PAGE_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(dst != MAP_FAILED);
	/* move pages 3-4 away: the region now has three VMAs */
	q = mremap(p + 3 * PAGE_SZ, 2 * PAGE_SZ, 2 * PAGE_SZ,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ck_assert_msg(q == dst, "mremap of a part: %s", strerror(errno));
	ck_assert(*(volatile uint64_t *)q == (0x5151 ^ (3UL << 16)));
	ck_assert(*(volatile uint64_t *)(q + PAGE_SZ) == (0x5151 ^ (4UL << 16)));
	ck_assert(check_tag(p, 3, 0x5151) < 0);
	ck_assert(*(volatile uint64_t *)(p + 7 * PAGE_SZ) == (0x5151 ^ (7UL << 16)));
	ck_assert(!munmap(p, 3 * PAGE_SZ));
	ck_assert(!munmap(p + 5 * PAGE_SZ, 3 * PAGE_SZ));
	expect_held(&sm_base, pages, 1, "with only the moved part left");
	ck_assert(*(volatile uint64_t *)q == (0x5151 ^ (3UL << 16)));
	ck_assert(!munmap(q, 2 * PAGE_SZ));
}
END_TEST

SM_TEST_BASE(test_mremap_dontunmap_einval)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *p, *q;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0xd0);
	errno = 0;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (q != MAP_FAILED)
		munmap(q, len);
	ck_assert_msg(q == MAP_FAILED, "MREMAP_DONTUNMAP succeeded on a secretmem region");
	ck_assert_msg(errno == EINVAL, "MREMAP_DONTUNMAP: %s, expected EINVAL", strerror(errno));
	map_tag_check(p, pages, 0xd0, false);
}
END_TEST
