// SPDX-License-Identifier: GPL-2.0
// test_ioctl.c - Check tests: ioctls, UC maps, hibernation veto, counters, library, fault hooks.
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <secretmem.h>
#include <libsecretmem.h>

#include "probe.h"
#include "sm_test.h"

#define SYSFS_DEV	"/sys/class/misc/" SECRETMEM_DEVICE_NAME
#define SYSFS_MODULE	"/sys/module/" SECRETMEM_MODULE_NAME
#define PARAMS		SYSFS_MODULE "/parameters/"
#define PARAM_MAX_PAGES	PARAMS "max_pages"
#define SNAPSHOT	"/dev/snapshot"
#define PAT_LIST	"/sys/kernel/debug/x86/pat_memtype_list"

#define PROT_ALWAYS	(SECRETMEM_PROT_DIRECT_MAP | SECRETMEM_PROT_NO_CORE_DUMP | \
			 SECRETMEM_PROT_NO_GUP | SECRETMEM_PROT_NO_FORK | \
			 SECRETMEM_PROT_NO_SWAP | SECRETMEM_PROT_SCRUB)
#define PROT_KNOWN	(PROT_ALWAYS | SECRETMEM_PROT_HIBERNATION | SECRETMEM_PROT_UNCACHED)
#define PLAT_KNOWN	((SECRETMEM_PLAT_IBT << 1) - 1)

/* ---- helpers ---- */

/* GET_INFO with a full-size struct; the call must succeed. */
static void get_info(int fd, struct secretmem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_GET_INFO, info),
		      "SECRETMEM_IOC_GET_INFO: %s", strerror(errno));
	ck_assert_msg(info->size == sizeof(*info), "GET_INFO set .size %u, expected %zu",
		      info->size, sizeof(*info));
}

static void expect_ioctl_fail(int fd, unsigned long cmd, unsigned long arg,
			      int want, const char *what)
{
	int r;

	errno = 0;
	r = ioctl(fd, cmd, arg);
	ck_assert_msg(r == -1, "%s: ioctl returned %d, expected %s", what, r,
		      strerror(want));
	ck_assert_msg(errno == want, "%s: ioctl failed with %s, expected %s", what,
		      strerror(errno), strerror(want));
}

static void set_flags(int fd, unsigned long long flags)
{
	__u64 v = flags;

	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &v),
		      "SET_FLAGS(0x%llx): %s", flags, strerror(errno));
}

/* SET_FLAGS(flags) must fail with errno want. */
static void expect_set_flags_fail(int fd, unsigned long long flags, int want,
				  const char *what)
{
	__u64 v = flags;

	expect_ioctl_fail(fd, SECRETMEM_IOC_SET_FLAGS, (unsigned long)&v, want, what);
}

/* Counter of SYSFS_DEV; -1 when the file does not exist. */
static long counter(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), SYSFS_DEV "/%s", name);
	if (access(path, R_OK))
		return -1;
	return read_long_file(path);
}

/* Like counter() but the file must exist. */
static long counter_req(const char *name)
{
	long v = counter(name);

	ck_assert_msg(v >= 0, "%s/%s: missing or unreadable (%s)", SYSFS_DEV, name,
		      strerror(errno));
	return v;
}

static long max_pages_param(void)
{
	long v = read_long_file(PARAM_MAX_PAGES);

	ck_assert_msg(v > 0, "%s: %ld (%s)", PARAM_MAX_PAGES, v, strerror(errno));
	return v;
}

static int count_fds(void)
{
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	ck_assert_msg(dir, "/proc/self/fd: %s", strerror(errno));
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* Every 64-bit word of [p, p+len) is zero; returns the first bad offset or -1. */
static long first_nonzero(const volatile void *p, size_t len)
{
	const volatile uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return (long)(i * 8);
	return -1;
}

/* ---- module parameters restored by fixtures (run in the runner) ---- */

static long saved_max_pages = -1;

static void max_pages_save(void)
{
	saved_max_pages = read_long_file(PARAM_MAX_PAGES);
}

static void max_pages_restore(void)
{
	if (saved_max_pages > 0)
		write_long_file(PARAM_MAX_PAGES, saved_max_pages);
}

static const char *const fault_params[] = {
	PARAMS "fault_alloc_nth", PARAMS "fault_dmap_nth", PARAMS "fault_map_nth",
};

#define NFAULT	(sizeof(fault_params) / sizeof(fault_params[0]))

static void faults_off(void)
{
	size_t i;

	for (i = 0; i < NFAULT; i++)
		if (!access(fault_params[i], W_OK))
			write_long_file(fault_params[i], 0);
}

/* The fault tests count allocations and MemFree: no pool in between. */
static void faults_off_pool_off(void)
{
	faults_off();
	pool_off();
}

static void faults_off_pool_restore(void)
{
	faults_off();
	pool_restore();
}

/* ---- SECRETMEM_IOC_GET_INFO ---- */

SM_TEST(test_get_info_fresh_fd)
{
	struct secretmem_info info;
	bool snap = !access(SNAPSHOT, F_OK);
	long pg = sysconf(_SC_PAGESIZE);
	int fd = dev_open();

	get_info(fd, &info);
	close(fd);
	ck_assert_msg(info.version == SECRETMEM_UAPI_VERSION, "version %u, expected %u",
		      info.version, SECRETMEM_UAPI_VERSION);
	ck_assert_msg((info.protections & PROT_ALWAYS) == PROT_ALWAYS,
		      "protections 0x%llx lack some of 0x%llx",
		      (unsigned long long)info.protections,
		      (unsigned long long)PROT_ALWAYS);
	ck_assert_msg(!(info.protections & SECRETMEM_PROT_UNCACHED),
		      "protections 0x%llx has UNCACHED on a fresh fd",
		      (unsigned long long)info.protections);
	ck_assert_msg(!(info.protections & ~PROT_KNOWN), "unknown protection bits 0x%llx",
		      (unsigned long long)(info.protections & ~PROT_KNOWN));
	if (snap)
		ck_assert_msg(info.protections & SECRETMEM_PROT_HIBERNATION,
			      "%s exists (kernel with hibernation) but protections "
			      "0x%llx lack HIBERNATION",
			      SNAPSHOT, (unsigned long long)info.protections);
	else
		printf("NOTE: %s: no %s, HIBERNATION bit %s\n", tcase_name(), SNAPSHOT,
		       info.protections & SECRETMEM_PROT_HIBERNATION ? "set" : "clear");
	ck_assert_msg(!(info.platform & ~PLAT_KNOWN), "unknown platform bits 0x%llx",
		      (unsigned long long)(info.platform & ~PLAT_KNOWN));
	ck_assert_msg(info.flags == 0, "flags 0x%llx on a fresh fd",
		      (unsigned long long)info.flags);
	ck_assert_msg(info.mapped_bytes == 0, "mapped_bytes %llu on a fresh fd",
		      (unsigned long long)info.mapped_bytes);
	ck_assert_msg(info.page_size == (uint64_t)pg, "page_size %llu, sysconf says %ld",
		      (unsigned long long)info.page_size, pg);
	if (geteuid() == 0)
		ck_assert_msg(info.memlock_left == ~0ULL,
			      "memlock_left 0x%llx for root, expected ~0 (unlimited)",
			      (unsigned long long)info.memlock_left);
}
END_TEST

SM_TEST(test_get_info_mapped_bytes)
{
	struct secretmem_info info;
	int fd = dev_open(), fd2;
	void *a, *b;

	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == 0, "mapped_bytes %llu before mmap",
		      (unsigned long long)info.mapped_bytes);
	a = sm_mmap(fd, 16 * PAGE_SZ);
	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == 16 * PAGE_SZ,
		      "mapped_bytes %llu after a %lu-byte mmap",
		      (unsigned long long)info.mapped_bytes, 16 * PAGE_SZ);
	b = sm_mmap(fd, 4 * PAGE_SZ);
	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == 20 * PAGE_SZ,
		      "mapped_bytes %llu with two regions of 16 and 4 pages",
		      (unsigned long long)info.mapped_bytes);
	/* per fd: another fd holds nothing */
	fd2 = dev_open();
	get_info(fd2, &info);
	close(fd2);
	ck_assert_msg(info.mapped_bytes == 0, "another fd reports mapped_bytes %llu",
		      (unsigned long long)info.mapped_bytes);
	ck_assert(!munmap(a, 16 * PAGE_SZ));
	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == 4 * PAGE_SZ,
		      "mapped_bytes %llu after unmapping the 16-page region",
		      (unsigned long long)info.mapped_bytes);
	ck_assert(!munmap(b, 4 * PAGE_SZ));
	get_info(fd, &info);
	close(fd);
	ck_assert_msg(info.mapped_bytes == 0, "mapped_bytes %llu after munmap of everything",
		      (unsigned long long)info.mapped_bytes);
}
END_TEST

#define MEMLOCK_LIMIT	(64UL << 10)

static int memlock_child(void *arg, char *msg, size_t n)
{
	struct secretmem_info info;
	uint64_t want;
	long lck;
	void *a, *b;
	int fd;

	(void)arg;
	if (drop_to_nobody(MEMLOCK_LIMIT, msg, n))
		return 1;
	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		CFAIL("open %s as uid 65534: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
	lck = proc_status_kb(0, "VmLck");
	if (lck < 0)
		CFAIL("no VmLck");

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info))
		CFAIL("GET_INFO as uid 65534: %s", strerror(errno));
	want = MEMLOCK_LIMIT - lck * 1024;
	if (info.memlock_left != want)
		CFAIL("memlock_left %llu with RLIMIT_MEMLOCK 64 KiB and VmLck %ld kB, "
		      "expected %llu",
		      (unsigned long long)info.memlock_left, lck, (unsigned long long)want);

	a = mmap(NULL, 32 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		CFAIL("32 KiB mmap as uid 65534: %s", strerror(errno));
	b = mmap(NULL, 16 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		CFAIL("16 KiB mmap as uid 65534: %s", strerror(errno));
	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info))
		CFAIL("GET_INFO after mmap: %s", strerror(errno));
	want = MEMLOCK_LIMIT - lck * 1024 - (48 << 10);
	if (info.memlock_left != want)
		CFAIL("memlock_left %llu after mapping 48 KiB, expected %llu",
		      (unsigned long long)info.memlock_left, (unsigned long long)want);
	if (info.mapped_bytes != 48 << 10)
		CFAIL("mapped_bytes %llu after mapping 48 KiB",
		      (unsigned long long)info.mapped_bytes);
	munmap(a, 32 << 10);
	munmap(b, 16 << 10);
	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info))
		CFAIL("GET_INFO after munmap: %s", strerror(errno));
	want = MEMLOCK_LIMIT - lck * 1024;
	if (info.memlock_left != want)
		CFAIL("memlock_left %llu after munmap, expected %llu",
		      (unsigned long long)info.memlock_left, (unsigned long long)want);
	close(fd);
	return 0;
}

SM_TEST(test_get_info_memlock_left)
{
	struct secretmem_info info;
	int fd;

	if (geteuid() != 0)
		SKIP("needs root (to drop to uid 65534 with a set RLIMIT_MEMLOCK)");
	fd = dev_open();
	get_info(fd, &info);
	close(fd);
	ck_assert_msg(info.memlock_left == ~0ULL, "memlock_left 0x%llx for root",
		      (unsigned long long)info.memlock_left);
	run_child(memlock_child, NULL);
}
END_TEST

SM_TEST(test_get_info_max_bytes)
{
	struct secretmem_info info;
	long mp = max_pages_param(), want = mp / 2 + 1;
	int fd = dev_open();

	get_info(fd, &info);
	ck_assert_msg(info.max_bytes == (uint64_t)mp * info.page_size,
		      "max_bytes %llu, max_pages %ld * page size %llu",
		      (unsigned long long)info.max_bytes, mp,
		      (unsigned long long)info.page_size);
	if (geteuid() == 0) {
		/* it follows the parameter (the fixture restores it) */
		ck_assert_msg(!write_long_file(PARAM_MAX_PAGES, want), "writing %s: %s",
			      PARAM_MAX_PAGES, strerror(errno));
		get_info(fd, &info);
		ck_assert_msg(info.max_bytes == (uint64_t)want * info.page_size,
			      "max_bytes %llu after max_pages=%ld",
			      (unsigned long long)info.max_bytes, want);
	}
	close(fd);
}
END_TEST

/* ---- GET_INFO argument checks ---- */

SM_TEST(test_get_info_bad_pointer_efault)
{
	struct secretmem_info *ro, *edge, info;
	long taint0 = kernel_bad_taint();
	uint8_t *area, *hole;
	int fd = dev_open();

	expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, 0, EFAULT, "NULL pointer");
	expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, 0xffffffff81000000UL, EFAULT,
			  "kernel address");

	hole = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(hole != MAP_FAILED);
	ck_assert(!munmap(hole, PAGE_SZ));
	expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, (unsigned long)hole, EFAULT,
			  "unmapped address");

	/* readable .size but a read-only page: the copy out must fail */
	ro = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	ck_assert(ro != MAP_FAILED);
	memset(ro, 0xaa, PAGE_SZ);
	ro->size = sizeof(*ro);
	ck_assert(!mprotect(ro, PAGE_SZ, PROT_READ));
	expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, (unsigned long)ro, EFAULT,
			  "read-only page");
	ck_assert(ro->size == sizeof(*ro) && ro->version == 0xaaaaaaaa);
	ck_assert(!munmap(ro, PAGE_SZ));

	/* .size readable at the end of a page, the rest in an unmapped page */
	area = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(area != MAP_FAILED);
	ck_assert(!munmap(area + PAGE_SZ, PAGE_SZ));
	edge = (struct secretmem_info *)(area + PAGE_SZ - 16);
	edge->size = sizeof(*edge);
	expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, (unsigned long)edge, EFAULT,
			  "struct running into an unmapped page");
	ck_assert(!munmap(area, PAGE_SZ));

	/* the fd still works */
	get_info(fd, &info);
	ck_assert(info.version == SECRETMEM_UAPI_VERSION);
	close(fd);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

SM_TEST(test_get_info_bad_size_einval)
{
	static const uint32_t sizes[] = {
		0, 8, SECRETMEM_INFO_SIZE_V1 - 1, 4097, 8192, 0x7fffffff, 0xffffffff,
	};
	const size_t len = 2 * PAGE_SZ;
	uint8_t *buf;
	size_t i, j;
	int fd = dev_open();

	buf = malloc(len);
	ck_assert(buf);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char what[64];

		memset(buf, 0xaa, len);
		memcpy(buf, &sizes[i], sizeof(sizes[i]));
		snprintf(what, sizeof(what), ".size %u", sizes[i]);
		expect_ioctl_fail(fd, SECRETMEM_IOC_GET_INFO, (unsigned long)buf, EINVAL, what);
		ck_assert_msg(!memcmp(buf, &sizes[i], sizeof(sizes[i])),
			      "%s: .size changed on EINVAL", what);
		for (j = sizeof(uint32_t); j < len; j++)
			ck_assert_msg(buf[j] == 0xaa, "%s: byte %zu written on EINVAL", what, j);
	}
	free(buf);
	close(fd);
}
END_TEST

SM_TEST(test_get_info_size_v1_exact)
{
	uint8_t buf[sizeof(struct secretmem_info) + 64];
	struct secretmem_info *info = (struct secretmem_info *)buf;
	size_t j;
	int fd = dev_open();

	memset(buf, 0xaa, sizeof(buf));
	info->size = SECRETMEM_INFO_SIZE_V1;
	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_GET_INFO, buf),
		      "GET_INFO with .size %d: %s", SECRETMEM_INFO_SIZE_V1, strerror(errno));
	close(fd);
	ck_assert_msg(info->size == SECRETMEM_INFO_SIZE_V1, ".size %u, expected %d",
		      info->size, SECRETMEM_INFO_SIZE_V1);
	ck_assert_msg(info->version == SECRETMEM_UAPI_VERSION, "version %u", info->version);
	ck_assert_msg((info->protections & PROT_ALWAYS) == PROT_ALWAYS,
		      "protections 0x%llx", (unsigned long long)info->protections);
	ck_assert_msg(!(info->platform & ~PLAT_KNOWN), "platform 0x%llx: not filled?",
		      (unsigned long long)info->platform);
	for (j = SECRETMEM_INFO_SIZE_V1; j < sizeof(buf); j++)
		ck_assert_msg(buf[j] == 0xaa, "byte %zu (past .size %d) was written: 0x%02x",
			      j, SECRETMEM_INFO_SIZE_V1, buf[j]);
}
END_TEST

/* A caller struct of @usize bytes: what we know is filled, the rest zeroed. */
static void larger_struct_case(int fd, uint32_t usize)
{
	const size_t len = PAGE_SZ + 64;
	struct secretmem_info *info;
	uint8_t *buf;
	size_t j;

	buf = malloc(len);
	ck_assert(buf);
	memset(buf, 0xaa, len);
	info = (struct secretmem_info *)buf;
	info->size = usize;
	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_GET_INFO, buf), "GET_INFO with .size %u: %s",
		      usize, strerror(errno));
	ck_assert_msg(info->size == sizeof(*info), ".size %u for a %u-byte struct, expected %zu",
		      info->size, usize, sizeof(*info));
	ck_assert(info->version == SECRETMEM_UAPI_VERSION);
	ck_assert(info->page_size == PAGE_SZ);
	for (j = sizeof(*info); j < usize; j++)
		ck_assert_msg(buf[j] == 0, ".size %u: tail byte %zu not zeroed (0x%02x)",
			      usize, j, buf[j]);
	for (j = usize; j < len; j++)
		ck_assert_msg(buf[j] == 0xaa, ".size %u: byte %zu past the struct written",
			      usize, j);
	free(buf);
}

SM_TEST(test_get_info_larger_struct_tail_zeroed)
{
	int fd = dev_open();

	larger_struct_case(fd, sizeof(struct secretmem_info) + 64);
	larger_struct_case(fd, PAGE_SZ);	/* the largest accepted */
	close(fd);
}
END_TEST

/*
 * GET_INFO is matched by direction, type and number: a number that encodes
 * another struct size (a binary built against an older or newer header)
 * still works, and .size alone says how much is filled.
 */
SM_TEST(test_get_info_number_ignores_encoded_size)
{
	static const unsigned int sizes[] = { 0, 24, 72, 200, 0x3fff };
	struct secretmem_info info;
	size_t i;
	int fd = dev_open();

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, SECRETMEM_IOC_MAGIC,
					 0x01, sizes[i]);

		memset(&info, 0xaa, sizeof(info));
		info.size = sizeof(info);
		ck_assert_msg(!ioctl(fd, cmd, &info), "GET_INFO encoding size %u: %s",
			      sizes[i], strerror(errno));
		ck_assert_msg(info.size == sizeof(info) &&
			      info.version == SECRETMEM_UAPI_VERSION &&
			      info.page_size == PAGE_SZ,
			      "GET_INFO encoding size %u: size %u version %u page_size %llu",
			      sizes[i], info.size, info.version,
			      (unsigned long long)info.page_size);
	}
	close(fd);
}
END_TEST

/* ---- unknown ioctls ---- */

SM_TEST(test_unknown_ioctl_enotty)
{
	static const struct {
		unsigned long cmd;
		const char *what;
	} cmds[] = {
		{ _IOC(_IOC_READ, SECRETMEM_IOC_MAGIC, 0x7f, 8U), "magic 0xB7 nr 0x7f" },
		{ _IOC(_IOC_NONE, SECRETMEM_IOC_MAGIC, 0x00, 0U), "magic 0xB7 nr 0" },
		{ _IOC(_IOC_READ, SECRETMEM_IOC_MAGIC, 0x01,
		       (unsigned int)sizeof(struct secretmem_info)), "GET_INFO nr as _IOR" },
		{ _IOC(_IOC_WRITE, SECRETMEM_IOC_MAGIC, 0x02, 8U),
		  "SET_FLAGS of UAPI version 1 (nr 2, took the value)" },
		{ _IOC(_IOC_READ | _IOC_WRITE, SECRETMEM_IOC_MAGIC, 0x03, 8U),
		  "SET_FLAGS nr as _IOWR" },
		{ 0x5401, "TCGETS (another type's number)" },
		{ 0xc0185879, "magic 'X' nr 0x79 (another type's number)" },
	};
	struct secretmem_info info;
	uint8_t buf[PAGE_SZ];
	size_t i;
	int fd = dev_open();

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(buf, 0, sizeof(buf));
		((struct secretmem_info *)buf)->size = sizeof(struct secretmem_info);
		expect_ioctl_fail(fd, cmds[i].cmd, (unsigned long)buf, ENOTTY, cmds[i].what);
	}
	get_info(fd, &info);
	ck_assert_msg(info.flags == 0, "flags 0x%llx after unknown ioctls",
		      (unsigned long long)info.flags);
	close(fd);
}
END_TEST

/* ---- SECRETMEM_IOC_SET_FLAGS ---- */

SM_TEST(test_set_flags_unknown_einval)
{
	static const unsigned long long bad[] = {
		1ULL << 1, 1ULL << 5, 1ULL << 63, ~0ULL, SECRETMEM_FLAG_UNCACHED | 1ULL << 2,
	};
	struct secretmem_info info;
	size_t i;
	int fd = dev_open();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "SET_FLAGS(0x%llx)", bad[i]);
		expect_set_flags_fail(fd, bad[i], EINVAL, what);
	}
	get_info(fd, &info);
	ck_assert_msg(info.flags == 0, "flags 0x%llx after refused SET_FLAGS",
		      (unsigned long long)info.flags);
	close(fd);
}
END_TEST

SM_TEST(test_set_flags_uncached_before_mmap)
{
	struct secretmem_info info;
	int fd = dev_open();

	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	get_info(fd, &info);
	ck_assert_msg(info.flags == SECRETMEM_FLAG_UNCACHED,
		      "flags 0x%llx after SET_FLAGS(UNCACHED)",
		      (unsigned long long)info.flags);
	ck_assert_msg(info.protections & SECRETMEM_PROT_UNCACHED,
		      "protections 0x%llx lack UNCACHED", (unsigned long long)info.protections);
	ck_assert_msg((info.protections & PROT_ALWAYS) == PROT_ALWAYS,
		      "protections 0x%llx lost a base protection",
		      (unsigned long long)info.protections);
	/* still changeable: nothing mapped yet */
	set_flags(fd, 0);
	get_info(fd, &info);
	ck_assert_msg(info.flags == 0 && !(info.protections & SECRETMEM_PROT_UNCACHED),
		      "flags 0x%llx protections 0x%llx after SET_FLAGS(0)",
		      (unsigned long long)info.flags, (unsigned long long)info.protections);
	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	get_info(fd, &info);
	ck_assert(info.flags == SECRETMEM_FLAG_UNCACHED);
	close(fd);
}
END_TEST

SM_TEST(test_set_flags_after_mmap_ebusy)
{
	struct secretmem_info info;
	int fd = dev_open();
	void *p;

	p = sm_mmap(fd, PAGE_SZ);
	expect_set_flags_fail(fd, SECRETMEM_FLAG_UNCACHED, EBUSY,
			      "SET_FLAGS(UNCACHED) after mmap");
	expect_set_flags_fail(fd, 0, EBUSY, "SET_FLAGS(0) after mmap");
	ck_assert(!munmap(p, PAGE_SZ));
	/* fixed for good, also once the region is gone */
	expect_set_flags_fail(fd, SECRETMEM_FLAG_UNCACHED, EBUSY,
			      "SET_FLAGS(UNCACHED) after mmap+munmap");
	/* unknown bits are still EINVAL, not EBUSY */
	expect_set_flags_fail(fd, 1UL << 1, EINVAL, "SET_FLAGS(1<<1) after mmap");
	get_info(fd, &info);
	ck_assert_msg(info.flags == 0, "flags 0x%llx after refused SET_FLAGS",
		      (unsigned long long)info.flags);
	close(fd);
}
END_TEST

SM_TEST(test_set_flags_per_fd)
{
	struct secretmem_info info;
	int a = dev_open(), b = dev_open();
	void *p;

	set_flags(a, SECRETMEM_FLAG_UNCACHED);
	get_info(b, &info);
	ck_assert_msg(info.flags == 0 && !(info.protections & SECRETMEM_PROT_UNCACHED),
		      "a second fd sees flags 0x%llx protections 0x%llx",
		      (unsigned long long)info.flags, (unsigned long long)info.protections);
	/* mapping the first fd does not fix the second one's flags */
	p = sm_mmap(a, PAGE_SZ);
	set_flags(b, SECRETMEM_FLAG_UNCACHED);
	set_flags(b, 0);
	ck_assert(!munmap(p, PAGE_SZ));
	close(a);
	a = dev_open();
	get_info(a, &info);
	ck_assert_msg(info.flags == 0, "a new fd starts with flags 0x%llx",
		      (unsigned long long)info.flags);
	close(a);
	close(b);
}
END_TEST

/* ---- uncached mappings ---- */

static long pat_uc_entries(void)
{
	char line[256];
	long n = 0;
	FILE *f;

	f = fopen(PAT_LIST, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "uncached-minus"))
			n++;
	fclose(f);
	return n;
}

SM_TEST(test_uncached_mapping_rw)
{
	const size_t len = 64 << 10;
	long pages0 = counter("pages"), regions0 = counter("regions"), pat0, pat1;
	long taint0 = kernel_bad_taint(), off;
	struct secretmem_info info;
	volatile uint64_t *q;
	size_t i;
	int fd = dev_open();

	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	pat0 = pat_uc_entries();
	q = sm_mmap(fd, len);
	pat1 = pat_uc_entries();
	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == len && (info.protections & SECRETMEM_PROT_UNCACHED),
		      "UC fd: mapped_bytes %llu protections 0x%llx",
		      (unsigned long long)info.mapped_bytes,
		      (unsigned long long)info.protections);
	off = first_nonzero(q, len);
	ck_assert_msg(off < 0, "uncached mapping not zeroed at offset %ld", off);
	for (i = 0; i < len / 8; i++)
		q[i] = i * 0x9e3779b97f4a7c15ULL ^ 0x5555;
	for (i = 0; i < len / 8; i++)
		ck_assert_msg(q[i] == (i * 0x9e3779b97f4a7c15ULL ^ 0x5555),
			      "uncached mapping: word %zu reads back 0x%llx", i,
			      (unsigned long long)q[i]);
	if (pages0 >= 0)
		ck_assert_msg(counter("pages") == pages0 + (long)(len / PAGE_SZ),
			      "pages %ld with a 16-page UC region, was %ld",
			      counter("pages"), pages0);
	ck_assert(!munmap((void *)q, len));
	close(fd);
	if (pages0 >= 0)
		ck_assert_msg(counter("pages") == pages0, "pages %ld after munmap, was %ld",
			      counter("pages"), pages0);
	if (regions0 >= 0)
		ck_assert_msg(counter("regions") == regions0, "regions %ld after munmap, was %ld",
			      counter("regions"), regions0);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
	if (pat0 < 0)
		printf("NOTE: %s: %s absent (debugfs or CONFIG_X86_PAT): memtype not checked\n",
		       tcase_name(), PAT_LIST);
	else
		printf("NOTE: %s: %s lists %ld uncached-minus ranges before, %ld while mapped "
		       "(RAM memtypes live in page flags, not this list: not asserted)\n",
		       tcase_name(), PAT_LIST, pat0, pat1);
}
END_TEST

SM_TEST(test_uncached_kcore_no_pattern)
{
	const size_t pages = 32, len = pages * PAGE_SZ;
	struct pattern ps;
	struct kcore k;
	uint64_t pa = 0;
	uint8_t *p;
	int r, fd;

	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	pattern_new(&ps);
	fd = dev_open();
	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	p = sm_mmap(fd, len);
	close(fd);
	pattern_fill_pages(&ps, p, len);
	ck_assert(pattern_match_volatile(&ps, p + PATTERN_OFFSET));
	r = kcore_scan(&k, &ps, &pa);
	ck_assert(!munmap(p, len));
	kcore_close(&k);
	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	ck_assert_msg(r == 0, "the UNCACHED secret is READABLE via /proc/kcore at phys 0x%llx",
		      (unsigned long long)pa);
}
END_TEST

/* ---- hibernation veto ---- */

/* open(/dev/snapshot) and close at once: 0 or the errno. */
static int snapshot_try(int how)
{
	int fd = open(SNAPSHOT, how | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

#define SNAPSHOT_OR_SKIP() do {						\
	if (access(SNAPSHOT, F_OK))					\
		SKIP("%s missing: kernel without hibernation", SNAPSHOT); \
	if (geteuid() != 0)						\
		SKIP("needs root to open %s", SNAPSHOT);		\
} while (0)

static void expect_snapshot_ok(const char *when)
{
	int err = snapshot_try(O_RDONLY);

	ck_assert_msg(!err, "%s: open(%s, O_RDONLY) failed: %s (secretmem pages in use: %ld)",
		      when, SNAPSHOT, strerror(err), counter("pages"));
}

SM_TEST(test_hibernation_allowed_when_nothing_mapped)
{
	SNAPSHOT_OR_SKIP();
	ck_assert_msg(counter("pages") <= 0, "%ld secret pages in use before the test",
		      counter("pages"));
	expect_snapshot_ok("nothing mapped");
}
END_TEST

SM_TEST(test_hibernation_allowed_with_unmapped_fd)
{
	int fd;

	SNAPSHOT_OR_SKIP();
	fd = dev_open();
	expect_snapshot_ok("an fd open, nothing mapped");
	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	expect_snapshot_ok("an fd with flags set, nothing mapped");
	close(fd);
}
END_TEST

/* /dev/kmsg positioned at the end, or -1 */
static int kmsg_open_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Append the records logged since kmsg_open_end() to buf (NUL-terminated). */
static void kmsg_collect(int fd, char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n;

	buf[0] = 0;
	while (used < size - 1) {
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		used += n;
		buf[used] = 0;
	}
}

/* Occurrences of @what in the whole syslog buffer (klogctl fallback). */
static int klog_count(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), n = 0;
	char *buf, *s;

	if (len <= 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = 0;
	for (s = buf; (s = strstr(s, what)); s++)
		n++;
	free(buf);
	return n;
}

SM_TEST(test_hibernation_refused_while_mapped)
{
	const char *hib = "refusing to hibernate", *res = "refusing to restore";
	int fd, kfd, err_rd, err_wr, hib0 = -1, res0 = -1;
	bool hib_seen, res_seen;
	uint8_t *p;

	SNAPSHOT_OR_SKIP();
	expect_snapshot_ok("before mapping");

	kfd = kmsg_open_end();
	if (kfd < 0) {
		hib0 = klog_count(hib);
		res0 = klog_count(res);
	}
	fd = dev_open();
	p = sm_mmap(fd, 16 * PAGE_SZ);
	close(fd);
	memset(p, 0x3c, 16 * PAGE_SZ);
	err_rd = snapshot_try(O_RDONLY);	/* hibernate: PM_HIBERNATION_PREPARE */
	err_wr = snapshot_try(O_WRONLY);	/* restore: PM_RESTORE_PREPARE */
	if (kfd >= 0) {
		char *log = malloc(64 << 10);

		ck_assert(log);
		kmsg_collect(kfd, log, 64 << 10);
		close(kfd);
		hib_seen = strstr(log, hib) != NULL;
		res_seen = strstr(log, res) != NULL;
		free(log);
	} else {
		hib_seen = klog_count(hib) > hib0;
		res_seen = klog_count(res) > res0;
	}
	ck_assert(!munmap(p, 16 * PAGE_SZ));
	ck_assert_msg(err_rd == EPERM,
		      "open(%s, O_RDONLY) with a region mapped: %s, expected EPERM",
		      SNAPSHOT, err_rd ? strerror(err_rd) : "succeeded (hibernation NOT refused)");
	ck_assert_msg(err_wr == EPERM,
		      "open(%s, O_WRONLY) with a region mapped: %s, expected EPERM",
		      SNAPSHOT, err_wr ? strerror(err_wr) : "succeeded (restore NOT refused)");
	ck_assert_msg(hib_seen, "no \"%s\" line from the module in the kernel log", hib);
	ck_assert_msg(res_seen, "no \"%s\" line from the module in the kernel log", res);
	expect_snapshot_ok("after munmap");
}
END_TEST

/* ---- sysfs counters ---- */

static const char *const counter_names[] = {
	"regions", "pages", "peak_pages", "alloc_failures", "tlb_flushes",
	"dmap_changes", "dmap_splits",
};

#define NCOUNTERS	(sizeof(counter_names) / sizeof(counter_names[0]))

/* Whole content of a small sysfs file, trailing newline kept. */
static void read_attr(const char *name, char *buf, size_t n)
{
	char path[256];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), SYSFS_DEV "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	r = read(fd, buf, n - 1);
	close(fd);
	ck_assert_msg(r > 0, "%s: read: %s", path, r < 0 ? strerror(errno) : "empty");
	buf[r] = 0;
}

SM_TEST(test_counters_readable_no_addresses)
{
	const char *method = getenv("SECRETMEM_METHOD");
	char buf[128], path[256];
	struct stat st;
	size_t i, j, len;

	for (i = 0; i < NCOUNTERS + 1; i++) {
		const char *name = i < NCOUNTERS ? counter_names[i] : "dmap_method";

		snprintf(path, sizeof(path), SYSFS_DEV "/%s", name);
		ck_assert_msg(!stat(path, &st), "%s: %s", path, strerror(errno));
		ck_assert_msg(!(st.st_mode & 0222), "%s is writable (mode %03o)", path,
			      st.st_mode & 0777);
		read_attr(name, buf, sizeof(buf));
		len = strlen(buf);
		ck_assert_msg(len >= 2 && buf[len - 1] == '\n', "%s: '%s' is not one line",
			      path, buf);
		if (i == NCOUNTERS) {
			buf[len - 1] = 0;
			ck_assert_msg(!strcmp(buf, "kernel") || !strcmp(buf, "pte"),
				      "%s is '%s', expected kernel or pte", path, buf);
			if (method && (!strcmp(method, "kernel") || !strcmp(method, "pte")))
				ck_assert_msg(!strcmp(buf, method),
					      "%s is '%s' but the module was loaded with "
					      "dmap_method=%s", path, buf, method);
			continue;
		}
		/* a small decimal number: no pointer, no hex, no sign */
		for (j = 0; j < len - 1; j++)
			ck_assert_msg(isdigit((unsigned char)buf[j]), "%s: '%s' is not decimal",
				      path, buf);
		ck_assert_msg(len - 1 <= 12, "%s: %s is too large for a counter "
			      "(a kernel address?)", path, buf);
	}
}
END_TEST

SM_TEST(test_counters_track_mmap)
{
	static const size_t sizes[] = { 16, 64, 1 };
	long r0, p0, t0, d0, s0, v, total = 0;
	void *maps[3];
	size_t i;
	int fd;

	r0 = counter_req("regions");
	p0 = counter_req("pages");
	t0 = counter_req("tlb_flushes");
	d0 = counter_req("dmap_changes");
	s0 = counter_req("dmap_splits");
	for (i = 0; i < 3; i++) {
		fd = dev_open();
		maps[i] = sm_mmap(fd, sizes[i] * PAGE_SZ);
		close(fd);
		memset(maps[i], 0x11, sizes[i] * PAGE_SZ);
		total += sizes[i];
		v = counter_req("tlb_flushes");
		ck_assert_msg(v == t0 + (long)i + 1,
			      "tlb_flushes %ld after %zu mmap calls, was %ld",
			      v, i + 1, t0);
	}
	v = counter_req("regions");
	ck_assert_msg(v == r0 + 3, "regions %ld with 3 regions mapped, was %ld", v, r0);
	v = counter_req("pages");
	ck_assert_msg(v == p0 + total, "pages %ld with %ld mapped, was %ld", v, total, p0);
	v = counter_req("dmap_changes");
	ck_assert_msg(v >= d0 + total, "dmap_changes %ld after taking %ld pages out, was %ld",
		      v, total, d0);
	v = counter_req("peak_pages");
	ck_assert_msg(v >= p0 + total, "peak_pages %ld below the %ld pages now in use",
		      v, p0 + total);
	v = counter_req("dmap_splits");
	ck_assert_msg(v >= s0, "dmap_splits went down: %ld -> %ld", s0, v);
	for (i = 0; i < 3; i++)
		ck_assert(!munmap(maps[i], sizes[i] * PAGE_SZ));
	v = counter_req("dmap_changes");
	ck_assert_msg(v >= d0 + 2 * total, "dmap_changes %ld after taking out and putting "
		      "back %ld pages, was %ld", v, total, d0);
	ck_assert_msg(counter_req("regions") == 0, "%ld regions with no users",
		      counter_req("regions"));
	ck_assert_msg(counter_req("pages") == 0, "%ld pages in use with no users",
		      counter_req("pages"));
	v = counter_req("peak_pages");
	ck_assert_msg(v >= p0 + total, "peak_pages %ld fell below the peak %ld after munmap",
		      v, p0 + total);
}
END_TEST

SM_TEST(test_counters_alloc_failures_on_refusal)
{
	long used, af0, r0, v;
	void *p;
	int fd;

	if (geteuid() != 0)
		SKIP("needs root to lower max_pages");
	af0 = counter_req("alloc_failures");
	r0 = counter_req("regions");
	used = counter_req("pages");
	ck_assert_msg(!write_long_file(PARAM_MAX_PAGES, used + 16), "writing %s: %s",
		      PARAM_MAX_PAGES, strerror(errno));
	fd = dev_open();
	errno = 0;
	p = mmap(NULL, 32 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		munmap(p, 32 * PAGE_SZ);
	ck_assert_msg(p == MAP_FAILED, "32 pages with max_pages 16 free: mmap succeeded");
	ck_assert_msg(errno == ENOMEM, "32 pages over max_pages: %s, expected ENOMEM",
		      strerror(errno));
	v = counter_req("alloc_failures");
	ck_assert_msg(v == af0 + 1, "alloc_failures %ld after a refused mmap, was %ld", v, af0);
	ck_assert_msg(counter_req("pages") == used, "pages %ld after a refused mmap, was %ld",
		      counter_req("pages"), used);
	ck_assert_msg(counter_req("regions") == r0, "regions %ld after a refused mmap, was %ld",
		      counter_req("regions"), r0);
	/* one that fits is not a failure */
	p = sm_mmap(fd, 8 * PAGE_SZ);
	ck_assert(!munmap(p, 8 * PAGE_SZ));
	close(fd);
	v = counter_req("alloc_failures");
	ck_assert_msg(v == af0 + 1, "alloc_failures %ld after a fitting mmap, expected %ld",
		      v, af0 + 1);
}
END_TEST

/* ---- libsecretmem.h ---- */

SM_TEST(test_lib_alloc_free)
{
	long vl0 = vmlck(), p0 = counter("pages"), off;
	int fds0 = count_fds();
	volatile uint8_t *p;
	size_t i;

	p = secretmem_alloc(4096, 0);
	ck_assert_msg(p, "secretmem_alloc(4096, 0): %s", secretmem_strerror(errno));
	ck_assert_msg(count_fds() == fds0, "secretmem_alloc left an fd open (%d -> %d)",
		      fds0, count_fds());
	off = first_nonzero(p, 4096);
	ck_assert_msg(off < 0, "secretmem_alloc memory not zeroed at %ld", off);
	for (i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < 4096; i++)
		ck_assert(p[i] == (uint8_t)(i * 7 + 1));
	ck_assert_msg(vmlck() == vl0 + 4, "VmLck %ld kB with one page, was %ld", vmlck(), vl0);
	if (p0 >= 0)
		ck_assert_msg(counter("pages") == p0 + 1, "pages %ld, was %ld",
			      counter("pages"), p0);
	ck_assert_msg(!secretmem_free((void *)p, 4096), "secretmem_free: %s", strerror(errno));
	ck_assert_msg(vmlck() == vl0, "VmLck %ld kB after secretmem_free, was %ld", vmlck(), vl0);
	if (p0 >= 0)
		ck_assert_msg(counter("pages") == p0, "pages %ld after free, was %ld",
			      counter("pages"), p0);
	ck_assert(!secretmem_free(NULL, 0));

	/* a size that is not a page multiple, uncached */
	p = secretmem_alloc(100, SECRETMEM_FLAG_UNCACHED);
	ck_assert_msg(p, "secretmem_alloc(100, UNCACHED): %s", secretmem_strerror(errno));
	ck_assert(first_nonzero(p, 4096) < 0);
	p[4095] = 0x5a;
	ck_assert(p[4095] == 0x5a);
	ck_assert(!secretmem_free((void *)p, 100));
	ck_assert_msg(vmlck() == vl0, "VmLck %ld kB after freeing 100 bytes, was %ld",
		      vmlck(), vl0);
	ck_assert(count_fds() == fds0);
}
END_TEST

SM_TEST(test_lib_alloc_einval)
{
	long p0 = counter("pages");
	int fds0 = count_fds();
	void *p;

	errno = 0;
	p = secretmem_alloc(0, 0);
	ck_assert_msg(!p, "secretmem_alloc(0, 0) returned %p", p);
	ck_assert_msg(errno == EINVAL, "secretmem_alloc(0, 0): %s, expected EINVAL",
		      strerror(errno));
	errno = 0;
	p = secretmem_alloc(4096, 1ULL << 5);
	if (p)
		secretmem_free(p, 4096);
	ck_assert_msg(!p, "secretmem_alloc(4096, 1<<5) succeeded");
	ck_assert_msg(errno == EINVAL, "secretmem_alloc(4096, 1<<5): %s, expected EINVAL",
		      strerror(errno));
	ck_assert_msg(count_fds() == fds0, "a failed secretmem_alloc left an fd open");
	if (p0 >= 0)
		ck_assert_msg(counter("pages") == p0, "pages %ld after failed allocs, was %ld",
			      counter("pages"), p0);
}
END_TEST

SM_TEST(test_lib_info_strerror)
{
	struct secretmem_info info;
	int fds0 = count_fds();
	const char *s;

	memset(&info, 0xaa, sizeof(info));
	ck_assert_msg(!secretmem_info(&info), "secretmem_info: %s", secretmem_strerror(errno));
	ck_assert_msg(count_fds() == fds0, "secretmem_info left an fd open");
	ck_assert_msg(info.version == SECRETMEM_UAPI_VERSION, "version %u", info.version);
	ck_assert_msg(info.size == sizeof(info), ".size %u", info.size);
	ck_assert_msg((info.protections & PROT_ALWAYS) == PROT_ALWAYS, "protections 0x%llx",
		      (unsigned long long)info.protections);
	ck_assert(info.flags == 0 && info.mapped_bytes == 0 && info.page_size == PAGE_SZ);

	s = secretmem_strerror(ENOENT);
	ck_assert_msg(s && strstr(s, SECRETMEM_MODULE_NAME) && strstr(s, SECRETMEM_DEVICE_PATH),
		      "secretmem_strerror(ENOENT) = '%s': no module name or device", s);
	s = secretmem_strerror(ENXIO);
	ck_assert_msg(s && strstr(s, SECRETMEM_MODULE_NAME), "secretmem_strerror(ENXIO) = '%s'", s);
	s = secretmem_strerror(EAGAIN);
	ck_assert_msg(s && strstr(s, "RLIMIT_MEMLOCK"), "secretmem_strerror(EAGAIN) = '%s'", s);
	s = secretmem_strerror(EINVAL);
	ck_assert_msg(s && !strcmp(s, strerror(EINVAL)), "secretmem_strerror(EINVAL) = '%s'", s);
}
END_TEST

/* The example program: /tests/example_key, or next to this binary. */
static bool example_path(char *path, size_t n)
{
	char self[1024], *slash;
	ssize_t r;

	snprintf(path, n, "/tests/example_key");
	if (!access(path, X_OK))
		return true;
	r = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (r <= 0)
		return false;
	self[r] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = 0;
	snprintf(path, n, "%s/example_key", self);
	return !access(path, X_OK);
}

SM_TEST(test_example_key_runs)
{
	static const char msg[] = "ioctl test message";
	char path[PATH_MAX], out[4096] = "", want[128], *line;
	long p0 = counter("pages");
	size_t used = 0, i;
	int pfd[2], st;
	bool found = false;
	ssize_t r;
	pid_t pid;

	if (!example_path(path, sizeof(path)))
		SKIP("example_key binary not found (/tests/example_key or next to this binary)");
	ck_assert(!pipe2(pfd, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		char *argv[] = { path, (char *)msg, NULL };

		dup2(pfd[1], 1);
		execv(path, argv);
		_exit(127);
	}
	close(pfd[1]);
	while (used < sizeof(out) - 1) {
		r = read(pfd[0], out + used, sizeof(out) - 1 - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		used += r;
	}
	out[used] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s exited with status 0x%x; output: %s", path, st, out);
	snprintf(want, sizeof(want), "SipHash-2-4(\"%s\") = ", msg);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "SipHash-2-4(", 12))
			continue;
		ck_assert_msg(!strncmp(line, want, strlen(want)), "unexpected line '%s'", line);
		line += strlen(want);
		for (i = 0; i < 16; i++)
			ck_assert_msg(isxdigit((unsigned char)line[i]),
				      "hash '%s' is not 16 hex digits", line);
		ck_assert_msg(!line[16], "trailing text after the hash: '%s'", line);
		found = true;
	}
	ck_assert_msg(found, "%s printed no line starting \"SipHash-2-4(\"", path);
	if (p0 >= 0)
		ck_assert_msg(counter("pages") == p0, "pages %ld after example_key exited, was %ld",
			      counter("pages"), p0);
}
END_TEST

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
	ck_assert_msg(!write_long_file(fault_params[h], n), "writing %u to %s: %s", n,
		      fault_params[h], strerror(errno));
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
	off = first_nonzero(p, len);
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
	b->pages = counter_req("pages");
	b->regions = counter_req("regions");
	b->alloc_failures = counter_req("alloc_failures");
	b->memfree = meminfo_kb("MemFree");
}

static void fault_base_check(const struct fault_base *b, long failures, const char *when)
{
	long v;

	v = vmlck();
	ck_assert_msg(v == b->vmlck, "%s: VmLck %ld kB, baseline %ld kB", when, v, b->vmlck);
	v = counter_req("pages");
	ck_assert_msg(v == b->pages, "%s: pages %ld, baseline %ld", when, v, b->pages);
	v = counter_req("regions");
	ck_assert_msg(v == b->regions, "%s: regions %ld, baseline %ld", when, v, b->regions);
	v = counter_req("alloc_failures");
	ck_assert_msg(v == b->alloc_failures + failures, "%s: alloc_failures %ld, expected %ld",
		      when, v, b->alloc_failures + failures);
	v = meminfo_kb("MemFree");
	ck_assert_msg(v >= b->memfree - slack_kb(), "%s: MemFree %ld kB, %ld kB before (slack %ld)",
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

	snprintf(when, sizeof(when), "%s=%u, %zu-page mmap", strrchr(fault_params[h], '/') + 1,
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
	if (access(fault_params[h], W_OK))				\
		SKIP("%s missing: module without fault hooks", fault_params[h]); \
} while (0)

SM_TEST(test_fault_alloc_nth)
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

SM_TEST(test_fault_dmap_nth)
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

SM_TEST(test_fault_map_nth)
{
	long taint0 = kernel_bad_taint();
	size_t i;

	FAULT_HOOK_OR_SKIP(HOOK_MAP);
	for (i = 0; i < sizeof(fault_ns) / sizeof(fault_ns[0]); i++)
		fault_expect_enomem(HOOK_MAP, fault_ns[i], FAULT_PAGES);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/* ---- table ---- */

static const struct test_entry ioctl_tests[] = {
	T(test_get_info_fresh_fd),
	T(test_get_info_mapped_bytes),
	T(test_get_info_memlock_left),
	TF(test_get_info_max_bytes, max_pages_save, max_pages_restore),
	T(test_get_info_bad_pointer_efault),
	T(test_get_info_bad_size_einval),
	T(test_get_info_size_v1_exact),
	T(test_get_info_larger_struct_tail_zeroed),
	T(test_get_info_number_ignores_encoded_size),
	T(test_unknown_ioctl_enotty),
	T(test_set_flags_unknown_einval),
	T(test_set_flags_uncached_before_mmap),
	T(test_set_flags_after_mmap_ebusy),
	T(test_set_flags_per_fd),
	T(test_uncached_mapping_rw),
	T(test_uncached_kcore_no_pattern),
	T(test_hibernation_allowed_when_nothing_mapped),
	T(test_hibernation_allowed_with_unmapped_fd),
	T(test_hibernation_refused_while_mapped),
	T(test_counters_readable_no_addresses),
	TF(test_counters_track_mmap, pool_off, pool_restore),
	TF(test_counters_alloc_failures_on_refusal, max_pages_save, max_pages_restore),
	T(test_lib_alloc_free),
	T(test_lib_alloc_einval),
	T(test_lib_info_strerror),
	T(test_example_key_runs),
	TF(test_fault_alloc_nth, faults_off_pool_off, faults_off_pool_restore),
	TF(test_fault_dmap_nth, faults_off_pool_off, faults_off_pool_restore),
	TF(test_fault_map_nth, faults_off_pool_off, faults_off_pool_restore),
};

TEST_TABLE(ioctl_table, ioctl_tests);
