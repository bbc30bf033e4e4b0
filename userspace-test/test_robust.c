// SPDX-License-Identifier: GPL-2.0
// test_robust.c - bad and unusual input to /dev/secretmem: MAP_FIXED, odd lengths and offsets, mremap, madvise, fd I/O, SCM_RIGHTS, mlock, msync, pagemap, many fds.
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

#define SYSFS_DEV	"/sys/class/misc/" SECRETMEM_DEVICE_NAME
#define SYSFS_PAGES	SYSFS_DEV "/pages"
#define SYSFS_REGIONS	SYSFS_DEV "/regions"
#define SYSFS_PARAMS	"/sys/module/" SECRETMEM_MODULE_NAME "/parameters/"
#define PARAM_MAP_NTH	SYSFS_PARAMS "fault_map_nth"
#define PARAM_MAX_PAGES	SYSFS_PARAMS "max_pages"

/* Values of MADV_* that may be missing from older libc headers. */
#define ADV_FREE		8
#define ADV_DONTNEED_LOCKED	24
#define ADV_HWPOISON		100
#define ADV_SOFT_OFFLINE	101
#define ADV_LAST		30	/* probe 0..ADV_LAST (25 is the last known on 6.12) */

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

/* ---- helpers ---- */

/* What a test must leave as it found: counters, VmLck, kernel taint. */
struct baseline {
	long pages, regions, vmlck, taint;
};

static long rb_counter(const char *path)
{
	long v = read_long_file(path);

	ck_assert_msg(v >= 0, "reading %s: %s", path, strerror(errno));
	return v;
}

static void baseline_take(struct baseline *b)
{
	b->pages = rb_counter(SYSFS_PAGES);
	b->regions = rb_counter(SYSFS_REGIONS);
	b->vmlck = vmlck();
	b->taint = kernel_bad_taint();
}

/* Counters are base + pages/regions, VmLck base + pages (4 KiB each). */
static void expect_held(const struct baseline *b, long pages, long regions,
			const char *when)
{
	long v;

	v = rb_counter(SYSFS_PAGES);
	ck_assert_msg(v == b->pages + pages, "%s: pages counter %ld, expected %ld",
		      when, v, b->pages + pages);
	v = rb_counter(SYSFS_REGIONS);
	ck_assert_msg(v == b->regions + regions, "%s: regions counter %ld, expected %ld",
		      when, v, b->regions + regions);
	v = vmlck();
	ck_assert_msg(v == b->vmlck + pages * 4, "%s: VmLck %ld kB, expected %ld kB",
		      when, v, b->vmlck + pages * 4);
}

/* Everything back to the baseline and no WARN/oops taint gained. */
static void baseline_check(const struct baseline *b, const char *when)
{
	expect_held(b, 0, 0, when);
	ck_assert_msg(kernel_bad_taint() == b->taint,
		      "%s: kernel taint gained WARN/DIE (check dmesg)", when);
}

static int rb_open(void)
{
	int fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
	return fd;
}

static uint8_t *rb_map_fd(int fd, size_t pages)
{
	void *p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap of %zu pages: %s", pages, strerror(errno));
	return p;
}

static uint8_t *rb_map(size_t pages)
{
	int fd = rb_open();
	uint8_t *p = rb_map_fd(fd, pages);

	close(fd);
	return p;
}

/* A recognisable word at a few places of every page: tag ^ page index. */
static void fill_tag(uint8_t *p, size_t pages, uint64_t tag)
{
	size_t i, j;

	for (i = 0; i < pages; i++)
		for (j = 0; j < PAGE_SZ; j += 1024)
			*(volatile uint64_t *)(p + i * PAGE_SZ + j) = tag ^ (i << 16 | j);
}

/* Index of the first page of [first, first+n) of base with a wrong tag, or -1. */
static long check_tag_range(const uint8_t *base, size_t first, size_t n, uint64_t tag)
{
	size_t i, j;

	for (i = first; i < first + n; i++)
		for (j = 0; j < PAGE_SZ; j += 1024)
			if (*(const volatile uint64_t *)(base + i * PAGE_SZ + j) !=
			    (tag ^ (i << 16 | j)))
				return (long)i;
	return -1;
}

static long check_tag(const uint8_t *p, size_t pages, uint64_t tag)
{
	return check_tag_range(p, 0, pages, tag);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += sizeof(uint64_t))
		if (*(const volatile uint64_t *)(p + i))
			return false;
	return true;
}

static sigjmp_buf rb_jmp;

static void rb_fault(int sig)
{
	siglongjmp(rb_jmp, sig);
}

/* Access one byte at p; returns the signal it raised, or 0. */
static int access_sig(volatile uint8_t *p, bool write)
{
	struct sigaction sa = { .sa_handler = rb_fault }, osegv, obus;
	int sig;

	sigaction(SIGSEGV, &sa, &osegv);
	sigaction(SIGBUS, &sa, &obus);
	sig = sigsetjmp(rb_jmp, 1);
	if (!sig) {
		if (write)
			*p = 0x5c;
		else
			(void)*p;
	}
	sigaction(SIGSEGV, &osegv, NULL);
	sigaction(SIGBUS, &obus, NULL);
	return sig;
}

/* Is any part of [p, p+len) mapped?  (mincore fails with ENOMEM on holes.) */
static bool is_unmapped(void *p, size_t len)
{
	unsigned char vec[64];

	return len <= 64 * PAGE_SZ && mincore(p, len, vec) == -1 && errno == ENOMEM;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENODEV: return "ENODEV";
	case EBADF: return "EBADF";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESPIPE: return "ESPIPE";
	case EOVERFLOW: return "EOVERFLOW";
	case EBUSY: return "EBUSY";
	case EIO: return "EIO";
	default: return strerrorname_np(e) ? strerrorname_np(e) : "?";
	}
}

/* ---- MAP_FIXED, MAP_POPULATE, MAP_LOCKED ---- */

SM_TEST(test_map_fixed_over_anon_replaces)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *a, *q;
	int fd;

	baseline_take(&b);
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	memset(a, 0x11, len);
	fd = rb_open();
	q = mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	ck_assert_msg(q != MAP_FAILED, "MAP_FIXED over anonymous memory: %s", strerror(errno));
	ck_assert_msg(q == a, "MAP_FIXED returned %p, asked for %p", (void *)q, (void *)a);
	ck_assert_msg(all_zero(q, len), "the new region is not zero: the anonymous pages stayed");
	expect_held(&b, pages, 1, "after MAP_FIXED over anonymous memory");
	fill_tag(q, pages, 0xf1);
	ck_assert(check_tag(q, pages, 0xf1) < 0);
	ck_assert(!munmap(q, len));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_map_fixed_over_region_frees_old)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *q, *a;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	p = rb_map_fd(fd, pages);
	fill_tag(p, pages, 0xaa);
	expect_held(&b, pages, 1, "first region");

	q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ck_assert_msg(q != MAP_FAILED, "MAP_FIXED over a region: %s", strerror(errno));
	ck_assert(q == p);
	ck_assert_msg(all_zero(q, len), "the replacing region shows old data");
	/* the old region is gone, not leaked: one region's worth held */
	expect_held(&b, pages, 1, "after MAP_FIXED secretmem over secretmem");

	a = mmap(q, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert_msg(a == q, "MAP_FIXED anonymous over a region: %s", strerror(errno));
	expect_held(&b, 0, 0, "after MAP_FIXED anonymous over the region");
	ck_assert(all_zero(a, len));
	ck_assert(!munmap(a, len));
	close(fd);
	baseline_check(&b, "at the end");
}
END_TEST

SM_TEST(test_map_fixed_over_part_keeps_region)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *a;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0xbb);
	a = mmap(p + 2 * PAGE_SZ, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert_msg(a == p + 2 * PAGE_SZ, "MAP_FIXED over pages 2-3: %s", strerror(errno));
	/* the rest of the region (two VMAs) still holds all its pages */
	expect_held(&b, pages, 1, "after replacing a part");
	ck_assert(check_tag(p, 2, 0xbb) < 0);
	ck_assert_msg(check_tag_range(p, 4, 4, 0xbb) < 0, "tail of the region lost its data");
	ck_assert(all_zero(a, 2 * PAGE_SZ));
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap of everything");
}
END_TEST

static long saved_map_nth = -1;

static void map_nth_save(void)
{
	saved_map_nth = read_long_file(PARAM_MAP_NTH);
}

static void map_nth_restore(void)
{
	if (saved_map_nth >= 0)
		write_long_file(PARAM_MAP_NTH, saved_map_nth);
}

SM_TEST(test_map_fixed_failed_mmap_frees_old)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *q;
	int fd, err;

	if (access(PARAM_MAP_NTH, W_OK))
		SKIP("%s not writable: %s", PARAM_MAP_NTH, strerror(errno));
	baseline_take(&b);
	fd = rb_open();
	p = rb_map_fd(fd, pages);
	fill_tag(p, pages, 0xcc);
	ck_assert(!write_long_file(PARAM_MAP_NTH, 1));
	q = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	err = errno;
	ck_assert(!write_long_file(PARAM_MAP_NTH, 0));
	close(fd);
	ck_assert_msg(q == MAP_FAILED, "MAP_FIXED with fault_map_nth=1 succeeded");
	ck_assert_msg(err == ENOMEM, "failed MAP_FIXED: %s, expected ENOMEM", strerror(err));
	/* The kernel leaves a hole where the old mapping was (6.1 and 6.12). */
	ck_assert_msg(is_unmapped(p, len), "the old mapping is still there after a failed MAP_FIXED");
	baseline_check(&b, "after the failed MAP_FIXED");
}
END_TEST

SM_TEST(test_map_populate_works)
{
	const size_t pages = 32, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	ck_assert_msg(p != MAP_FAILED, "MAP_POPULATE: %s", strerror(errno));
	expect_held(&b, pages, 1, "after MAP_POPULATE");
	ck_assert(all_zero(p, len));
	fill_tag(p, pages, 0xdd);
	ck_assert(check_tag(p, pages, 0xdd) < 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_map_locked_charged_once)
{
	const size_t pages = 16, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE,
		 fd, 0);
	close(fd);
	ck_assert_msg(p != MAP_FAILED, "MAP_LOCKED|MAP_POPULATE: %s", strerror(errno));
	/* VM_SPECIAL mappings get no VM_LOCKED from the core: one charge, the module's */
	expect_held(&b, pages, 1, "after MAP_LOCKED");
	fill_tag(p, pages, 0xde);
	ck_assert(check_tag(p, pages, 0xde) < 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

/* ---- lengths and offsets ---- */

SM_TEST(test_huge_len_enomem_no_splat)
{
	const size_t lens[] = {
		1UL << 40,
		SIZE_MAX & ~(PAGE_SZ - 1),
		SIZE_MAX,				/* PAGE_ALIGN wraps to 0 */
		(size_t)1 << 47,			/* the whole user half */
	};
	struct baseline b;
	long max_pages;
	size_t i;
	void *p;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		errno = 0;
		p = mmap(NULL, lens[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			munmap(p, lens[i]);
		ck_assert_msg(p == MAP_FAILED, "mmap of %#zx bytes succeeded", lens[i]);
		ck_assert_msg(errno == ENOMEM || errno == EINVAL,
			      "mmap of %#zx bytes: %s, expected ENOMEM or EINVAL",
			      lens[i], strerror(errno));
		printf("%s: len %#zx -> %s\n", tcase_name(), lens[i], errname(errno));
	}
	/* one page over the module's cap: the module's own ENOMEM */
	max_pages = read_long_file(PARAM_MAX_PAGES);
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
	baseline_check(&b, "after the huge mmaps");
	p = rb_map(1);
	ck_assert(!munmap(p, PAGE_SZ));
}
END_TEST

SM_TEST(test_len_unaligned_rounds_up)
{
	struct baseline b;
	uint8_t *p;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	p = mmap(NULL, 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "mmap of 1 byte: %s", strerror(errno));
	expect_held(&b, 1, 1, "1-byte mapping");
	ck_assert(all_zero(p, PAGE_SZ));
	p[0] = 1;
	p[PAGE_SZ - 1] = 2;	/* the whole page is there */
	ck_assert(p[0] == 1 && p[PAGE_SZ - 1] == 2);
	ck_assert(!munmap(p, 1));	/* munmap rounds up too */
	expect_held(&b, 0, 0, "after munmap of 1 byte");

	p = mmap(NULL, 3 * PAGE_SZ + 5, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "mmap of 3 pages + 5 bytes: %s", strerror(errno));
	expect_held(&b, 4, 1, "3 pages + 5 bytes mapping");
	p[4 * PAGE_SZ - 1] = 3;
	ck_assert(!munmap(p, 4 * PAGE_SZ));
	close(fd);
	baseline_check(&b, "at the end");
}
END_TEST

/* mmap through the raw syscall: the offset reaches the kernel as is. */
static void *raw_mmap(size_t len, int fd, unsigned long off)
{
	long r = syscall(SYS_mmap, 0UL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	return (void *)r;
}

SM_TEST(test_offsets_einval)
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
	struct baseline b;
	size_t i;
	void *p;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		p = raw_mmap(PAGE_SZ, fd, cases[i].off);
		if (p != MAP_FAILED)
			munmap(p, PAGE_SZ);
		ck_assert_msg(p == MAP_FAILED, "offset %s: mmap succeeded", cases[i].what);
		ck_assert_msg(errno == cases[i].want, "offset %s: %s, expected %s",
			      cases[i].what, strerror(errno), errname(cases[i].want));
	}
	close(fd);
	baseline_check(&b, "after the offset mmaps");
}
END_TEST

/* ---- mremap ---- */

SM_TEST(test_mremap_shrink_keeps_pages)
{
	const size_t pages = 8;
	struct baseline b;
	uint8_t *p, *q;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0x1234);
	q = mremap(p, pages * PAGE_SZ, 3 * PAGE_SZ, 0);
	ck_assert_msg(q != MAP_FAILED, "mremap shrink: %s", strerror(errno));
	ck_assert(q == p);
	ck_assert_msg(check_tag(q, 3, 0x1234) < 0, "data changed by the shrink");
	ck_assert_msg(is_unmapped(p + 3 * PAGE_SZ, 5 * PAGE_SZ), "the cut tail is still mapped");
	/* the region is freed with its last VMA: all 8 pages still held */
	expect_held(&b, pages, 1, "after the shrink");
	ck_assert(!munmap(q, 3 * PAGE_SZ));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_mremap_grow_efault_data_intact)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *dst, *q;

	baseline_take(&b);
	p = rb_map(pages);
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
	expect_held(&b, pages, 1, "after the failed grows");
	ck_assert(!munmap(dst, 4 * len));
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_mremap_move_fixed_data_intact)
{
	const size_t pages = 16, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *dst, *q;

	baseline_take(&b);
	p = rb_map(pages);
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
	expect_held(&b, pages, 1, "after the move");
	fill_tag(q, pages, 0x99);
	ck_assert(!munmap(q, len));
	baseline_check(&b, "after munmap at the new address");
}
END_TEST

SM_TEST(test_mremap_move_part_splits_region)
{
	const size_t pages = 8;
	struct baseline b;
	uint8_t *p, *dst, *q;

	baseline_take(&b);
	p = rb_map(pages);
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
	expect_held(&b, pages, 1, "with only the moved part left");
	ck_assert(*(volatile uint64_t *)q == (0x5151 ^ (3UL << 16)));
	ck_assert(!munmap(q, 2 * PAGE_SZ));
	baseline_check(&b, "after the last part is gone");
}
END_TEST

SM_TEST(test_mremap_dontunmap_einval)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p, *q;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0xd0);
	errno = 0;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (q != MAP_FAILED)
		munmap(q, len);
	ck_assert_msg(q == MAP_FAILED, "MREMAP_DONTUNMAP succeeded on a secretmem region");
	ck_assert_msg(errno == EINVAL, "MREMAP_DONTUNMAP: %s, expected EINVAL", strerror(errno));
	ck_assert(check_tag(p, pages, 0xd0) < 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

/* ---- madvise ---- */

SM_TEST(test_madvise_all_advice_data_intact)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	char line[1024];
	struct baseline b;
	size_t o = 0;
	long bad;
	uint8_t *p;
	int adv, rc, err;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0xadf);
	for (adv = 0; adv <= ADV_LAST; adv++) {
		if (adv == ADV_HWPOISON || adv == ADV_SOFT_OFFLINE)
			continue;	/* CAP_SYS_ADMIN and destructive: never */
		errno = 0;
		rc = madvise(p, len, adv);
		err = rc ? errno : 0;
		o += snprintf(line + o, sizeof(line) - o, " %d=%s", adv, errname(err));
		bad = check_tag(p, pages, 0xadf);
		ck_assert_msg(bad < 0, "madvise(%d) returned %s and page %ld lost its data",
			      adv, errname(err), bad);
		expect_held(&b, pages, 1, "after a madvise");
		switch (adv) {
		case MADV_DONTNEED:
		case ADV_FREE:
		case ADV_DONTNEED_LOCKED:
		case MADV_DODUMP:	/* VM_IO: cannot undo DONTDUMP */
		case MADV_DOFORK:	/* VM_IO: cannot undo DONTCOPY */
		case MADV_WIPEONFORK:	/* not for shared or file mappings */
		case 5: case 6: case 7:	/* unknown values */
		case 26: case 27: case 28: case 29: case 30:
			ck_assert_msg(err == EINVAL, "madvise(%d): %s, expected EINVAL",
				      adv, errname(err));
			break;
		default:
			break;
		}
	}
	printf("%s: results:%s\n", tcase_name(), line);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

/* ---- the fd itself ---- */

SM_TEST(test_fd_read_write_einval)
{
	char buf[16] = "x";
	struct baseline b;
	ssize_t n;
	int fd;

	baseline_take(&b);
	fd = rb_open();
	errno = 0;
	n = read(fd, buf, sizeof(buf));
	ck_assert_msg(n == -1 && errno == EINVAL, "read: %zd (%s), expected -1 EINVAL",
		      n, strerror(errno));
	errno = 0;
	n = write(fd, buf, sizeof(buf));
	ck_assert_msg(n == -1 && errno == EINVAL, "write: %zd (%s), expected -1 EINVAL",
		      n, strerror(errno));
	/* still usable for mmap afterwards */
	munmap(rb_map_fd(fd, 1), PAGE_SZ);
	close(fd);
	baseline_check(&b, "at the end");
}
END_TEST

SM_TEST(test_fd_lseek_espipe)
{
	off_t r;
	int fd;

	fd = rb_open();
	errno = 0;
	r = lseek(fd, 4096, SEEK_SET);
	ck_assert_msg(r == -1 && errno == ESPIPE, "lseek(SEEK_SET): %lld (%s), expected -1 ESPIPE",
		      (long long)r, strerror(errno));
	errno = 0;
	r = lseek(fd, 0, SEEK_CUR);
	ck_assert_msg(r == -1 && errno == ESPIPE, "lseek(SEEK_CUR): %lld (%s), expected -1 ESPIPE",
		      (long long)r, strerror(errno));
	close(fd);
}
END_TEST

/* ---- SCM_RIGHTS ---- */

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'F';
	struct iovec iov = { &byte, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

struct scm_report {
	long vl0, vl1;		/* child's VmLck before and after its mmap */
	int ok;
	char msg[200];
};

#define SCM_PAGES	64

static void scm_child(int sock)
{
	struct scm_report r = { 0 };
	uint8_t *p;
	char go;
	int fd;

	fd = recv_fd(sock);
	if (fd < 0) {
		snprintf(r.msg, sizeof(r.msg), "recvmsg of the fd failed: %s", strerror(errno));
		goto report;
	}
	r.vl0 = proc_status_kb(0, "VmLck");
	p = mmap(NULL, SCM_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(r.msg, sizeof(r.msg), "child mmap of the passed fd: %s", strerror(errno));
		goto report;
	}
	r.vl1 = proc_status_kb(0, "VmLck");
	if (!all_zero(p, SCM_PAGES * PAGE_SZ)) {
		snprintf(r.msg, sizeof(r.msg), "child's region is not zero: it sees other memory");
		goto report;
	}
	fill_tag(p, SCM_PAGES, 0xc41d);
	r.ok = 1;
	if (write(sock, &r, sizeof(r)) != sizeof(r) || read(sock, &go, 1) != 1)
		_exit(3);
	if (check_tag(p, SCM_PAGES, 0xc41d) >= 0)
		_exit(4);
	munmap(p, SCM_PAGES * PAGE_SZ);
	_exit(proc_status_kb(0, "VmLck") == r.vl0 ? 0 : 5);
report:
	if (write(sock, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(1);
}

SM_TEST(test_scm_rights_child_charged)
{
	const size_t ppages = 16;
	struct scm_report r = { 0 };
	struct baseline b;
	int sv[2], fd, st;
	long vl_parent;
	uint8_t *p;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		SKIP("socketpair(AF_UNIX): %s", strerror(errno));	/* no CONFIG_UNIX */
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		close(sv[0]);
		scm_child(sv[1]);
	}
	close(sv[1]);
	/* the device is opened after the fork: the child only has it via SCM_RIGHTS */
	baseline_take(&b);
	fd = rb_open();
	p = rb_map_fd(fd, ppages);
	fill_tag(p, ppages, 0x9a9a);
	vl_parent = vmlck();
	ck_assert_msg(!send_fd(sv[0], fd), "sendmsg SCM_RIGHTS: %s", strerror(errno));
	close(fd);
	ck_assert_msg(read(sv[0], &r, sizeof(r)) == sizeof(r), "no report from the child");
	ck_assert_msg(r.ok, "child: %s", r.msg);
	ck_assert_msg(r.vl1 - r.vl0 == (long)(SCM_PAGES * PAGE_SZ / 1024),
		      "child's VmLck went %ld -> %ld kB for a %lu kB mapping",
		      r.vl0, r.vl1, SCM_PAGES * PAGE_SZ / 1024);
	ck_assert_msg(vmlck() == vl_parent, "parent's VmLck changed %ld -> %ld kB when the "
		      "child mapped the passed fd", vl_parent, vmlck());
	ck_assert_msg(rb_counter(SYSFS_PAGES) == b.pages + (long)ppages + SCM_PAGES,
		      "pages counter %ld with both regions, expected %ld",
		      rb_counter(SYSFS_PAGES), b.pages + (long)ppages + SCM_PAGES);
	ck_assert_msg(check_tag(p, ppages, 0x9a9a) < 0, "parent's data changed by the child");
	ck_assert(write(sv[0], "g", 1) == 1);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(sv[0]);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x (3: pipe, "
		      "4: its data changed, 5: VmLck not back after munmap)", st);
	expect_held(&b, ppages, 1, "after the child exited");
	ck_assert(!munmap(p, ppages * PAGE_SZ));
	baseline_check(&b, "after munmap");
}
END_TEST

/* ---- mlock, msync, mprotect ---- */

SM_TEST(test_mlock_munlock_no_double_charge)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0x10c);
	/* VM_SPECIAL: mlock succeeds without setting VM_LOCKED or counting again */
	ck_assert_msg(!mlock(p, len), "mlock: %s", strerror(errno));
	expect_held(&b, pages, 1, "after mlock");
	ck_assert_msg(!munlock(p, len), "munlock: %s", strerror(errno));
	/* munlock must not take away the module's charge either */
	expect_held(&b, pages, 1, "after munlock");
	ck_assert_msg(!mlock2(p, len, MLOCK_ONFAULT), "mlock2(MLOCK_ONFAULT): %s",
		      strerror(errno));
	expect_held(&b, pages, 1, "after mlock2");
	ck_assert(check_tag(p, pages, 0x10c) < 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_msync_sync_einval_async_ok)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p;
	int rc;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0x5c);
	ck_assert_msg(!msync(p, len, MS_ASYNC), "msync(MS_ASYNC): %s", strerror(errno));
	ck_assert_msg(!msync(p, len, MS_INVALIDATE), "msync(MS_INVALIDATE): %s",
		      strerror(errno));
	/* MS_SYNC calls the file's ->fsync, which a device without one refuses */
	errno = 0;
	rc = msync(p, len, MS_SYNC);
	ck_assert_msg(rc == -1 && errno == EINVAL, "msync(MS_SYNC): %d (%s), expected -1 EINVAL",
		      rc, strerror(errno));
	ck_assert(check_tag(p, pages, 0x5c) < 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

SM_TEST(test_mprotect_none_and_back)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	struct baseline b;
	uint8_t *p;
	int sig;

	baseline_take(&b);
	p = rb_map(pages);
	fill_tag(p, pages, 0x4e4f);
	ck_assert_msg(!mprotect(p, len, PROT_NONE), "mprotect(PROT_NONE): %s", strerror(errno));
	sig = access_sig(p + PAGE_SZ, false);
	ck_assert_msg(sig == SIGSEGV, "read of a PROT_NONE page: signal %d, expected SIGSEGV", sig);
	expect_held(&b, pages, 1, "while PROT_NONE");
	ck_assert_msg(!mprotect(p, len, PROT_READ), "mprotect(PROT_READ): %s", strerror(errno));
	ck_assert(check_tag(p, pages, 0x4e4f) < 0);
	sig = access_sig(p, true);
	ck_assert_msg(sig == SIGSEGV, "write to a PROT_READ page: signal %d, expected SIGSEGV",
		      sig);
	ck_assert_msg(!mprotect(p, len, PROT_READ | PROT_WRITE), "mprotect back to RW: %s",
		      strerror(errno));
	ck_assert_msg(check_tag(p, pages, 0x4e4f) < 0, "data changed by PROT_NONE and back");
	ck_assert(access_sig(p + 2 * PAGE_SZ, true) == 0);
	ck_assert(!munmap(p, len));
	baseline_check(&b, "after munmap");
}
END_TEST

/* ---- /proc/PID/pagemap ---- */

#define PM_PFN_MASK	((1ULL << 55) - 1)
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)

static int pagemap_read(int fd, const void *addr, size_t pages, uint64_t *out)
{
	off_t off = (off_t)((uintptr_t)addr / PAGE_SZ * sizeof(uint64_t));
	ssize_t n = pread(fd, out, pages * sizeof(uint64_t), off);

	return n == (ssize_t)(pages * sizeof(uint64_t)) ? 0 : -1;
}

SM_TEST(test_pagemap_no_pfn)
{
	const size_t pages = 8;
	uint64_t pm[8], ctl;
	uint8_t *p, *a;
	size_t i;
	int fd;

	p = rb_map(pages);
	fill_tag(p, pages, 0x9a6e);
	a = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	a[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "/proc/self/pagemap: %s", strerror(errno));
	ck_assert_msg(!pagemap_read(fd, a, 1, &ctl), "pagemap read (control): %s",
		      strerror(errno));
	ck_assert_msg(!pagemap_read(fd, p, pages, pm), "pagemap read: %s", strerror(errno));
	close(fd);
	if (!(ctl & PM_PRESENT) || !(ctl & PM_PFN_MASK))
		printf("NOTE: %s: control shows no PFN (0x%llx): no CAP_SYS_ADMIN?\n",
		       tcase_name(), (unsigned long long)ctl);
	for (i = 0; i < pages; i++) {
		ck_assert_msg(!(pm[i] & PM_PFN_MASK), "pagemap REVEALS the frame of page %zu: "
			      "0x%llx", i, (unsigned long long)pm[i]);
		ck_assert_msg(!(pm[i] & (PM_PRESENT | PM_SWAP)),
			      "pagemap reports page %zu present/swapped: 0x%llx", i,
			      (unsigned long long)pm[i]);
	}
	ck_assert(check_tag(p, pages, 0x9a6e) < 0);
	munmap(a, PAGE_SZ);
	ck_assert(!munmap(p, pages * PAGE_SZ));
}
END_TEST

/* ---- many fds ---- */

#define MANY_FDS	1000

SM_TEST(test_many_fds_counters_zero)
{
	static int fds[MANY_FDS];
	static uint8_t *maps[MANY_FDS];
	struct baseline b;
	struct rlimit rl;
	int i;

	ck_assert(!getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur < MANY_FDS + 64) {
		rl.rlim_cur = MANY_FDS + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		ck_assert_msg(!setrlimit(RLIMIT_NOFILE, &rl), "raising RLIMIT_NOFILE: %s",
			      strerror(errno));
	}
	baseline_take(&b);
	for (i = 0; i < MANY_FDS; i++) {
		fds[i] = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		ck_assert_msg(fds[i] >= 0, "open #%d: %s", i, strerror(errno));
		maps[i] = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		ck_assert_msg(maps[i] != MAP_FAILED, "mmap #%d: %s", i, strerror(errno));
		*(volatile uint32_t *)maps[i] = (uint32_t)i * 2654435761u;
	}
	expect_held(&b, MANY_FDS, MANY_FDS, "with all fds mapped");
	for (i = 0; i < MANY_FDS; i++)
		ck_assert(!close(fds[i]));
	/* the mappings keep their files: nothing freed yet */
	expect_held(&b, MANY_FDS, MANY_FDS, "after closing the fds");
	for (i = MANY_FDS - 1; i >= 0; i--) {
		ck_assert_msg(*(volatile uint32_t *)maps[i] == (uint32_t)i * 2654435761u,
			      "mapping #%d lost its data", i);
		ck_assert(!munmap(maps[i], PAGE_SZ));
	}
	baseline_check(&b, "after unmapping all");
}
END_TEST

static const struct test_entry robust_tests[] = {
	T(test_map_fixed_over_anon_replaces),
	T(test_map_fixed_over_region_frees_old),
	T(test_map_fixed_over_part_keeps_region),
	TF(test_map_fixed_failed_mmap_frees_old, map_nth_save, map_nth_restore),
	T(test_map_populate_works),
	T(test_map_locked_charged_once),
	T(test_huge_len_enomem_no_splat),
	T(test_len_unaligned_rounds_up),
	T(test_offsets_einval),
	T(test_mremap_shrink_keeps_pages),
	T(test_mremap_grow_efault_data_intact),
	T(test_mremap_move_fixed_data_intact),
	T(test_mremap_move_part_splits_region),
	T(test_mremap_dontunmap_einval),
	T(test_madvise_all_advice_data_intact),
	T(test_fd_read_write_einval),
	T(test_fd_lseek_espipe),
	T(test_scm_rights_child_charged),
	T(test_mlock_munlock_no_double_charge),
	T(test_msync_sync_einval_async_ok),
	T(test_mprotect_none_and_back),
	T(test_pagemap_no_pfn),
	T(test_many_fds_counters_zero),
};

TEST_TABLE(robust_table, robust_tests);
