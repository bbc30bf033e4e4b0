// SPDX-License-Identifier: GPL-2.0
// test_ioctl.c - the ioctls: GET_INFO (sizes, bad pointers, the fields), unknown numbers, SET_FLAGS.

#include <libsecretmem.h>

#include "sm_test.h"

SM_FILE("ioctl", 40, 300);

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

/* SET_FLAGS(flags) must fail with errno want. */
static void expect_set_flags_fail(int fd, unsigned long long flags, int want,
				  const char *what)
{
	__u64 v = flags;

	expect_ioctl_fail(fd, SECRETMEM_IOC_SET_FLAGS, (unsigned long)&v, want, what);
}

static long max_pages_param(void)
{
	long v = read_long_file(SM_PARAM_MAX_PAGES);

	ck_assert_msg(v > 0, "%s: %ld (%s)", SM_PARAM_MAX_PAGES, v, strerror(errno));
	return v;
}

/* ---- SECRETMEM_IOC_GET_INFO ---- */

SM_TEST(test_get_info_fresh_fd)
{
	struct secretmem_info info;
	bool snap = !access(SM_SNAPSHOT, F_OK);
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
			      SM_SNAPSHOT, (unsigned long long)info.protections);
	else
		printf("NOTE: %s: no %s, HIBERNATION bit %s\n", tcase_name(), SM_SNAPSHOT,
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

/* Does /proc/cpuinfo list @flag among the first CPU's features? */
static bool cpuinfo_has(const char *flag)
{
	char line[4096], *tok, *save;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Features", 8) && strncmp(line, "flags", 5))
			continue;
		tok = strchr(line, ':');
		for (tok = tok ? strtok_r(tok + 1, " \n", &save) : NULL; tok;
		     tok = strtok_r(NULL, " \n", &save))
			if (!strcmp(tok, flag))
				found = true;
		break;
	}
	fclose(f);
	return found;
}

SM_TEST(test_get_info_arch)
{
	struct secretmem_info info;
	int fd = dev_open();

	get_info(fd, &info);
	close(fd);
	ck_assert_msg(info.size == sizeof(info), ".size %u, expected %zu", info.size,
		      sizeof(info));
	ck_assert_msg(info.arch == SM_ARCH_ID, "arch %u, this program is built for %u",
		      info.arch, SM_ARCH_ID);
	ck_assert_msg(info.reserved == 0, "reserved 0x%x", info.reserved);
}
END_TEST

/*
 * The platform bits of the architecture: on arm64 the linear map is
 * page-granular (the module loaded, so its removal self-test passed), no
 * x86 bit is set, BTI or MTE only where the CPU has them; on x86 no arm64
 * bit is set.
 */
SM_TEST(test_get_info_arch_facts)
{
	const unsigned long long x86 = SECRETMEM_PLAT_L1TF | SECRETMEM_PLAT_MDS |
				       SECRETMEM_PLAT_IBT;
	const unsigned long long arm = SECRETMEM_PLAT_LINEAR_MAP_PAGES | SECRETMEM_PLAT_BTI |
				       SECRETMEM_PLAT_MTE;
	struct secretmem_info info;
	unsigned long long p;
	int fd = dev_open();

	get_info(fd, &info);
	close(fd);
	p = info.platform;
	if (SM_ARCH_ID == SECRETMEM_ARCH_ARM64) {
		ck_assert_msg(p & SECRETMEM_PLAT_LINEAR_MAP_PAGES,
			      "platform 0x%llx: loaded on arm64 but no LINEAR_MAP_PAGES", p);
		ck_assert_msg(!(p & x86), "platform 0x%llx has x86 bits on arm64", p);
		ck_assert_msg(!(p & SECRETMEM_PLAT_BTI) || cpuinfo_has("bti"),
			      "platform 0x%llx: BTI, but the CPU lists no bti", p);
		ck_assert_msg(!(p & SECRETMEM_PLAT_MTE) || cpuinfo_has("mte"),
			      "platform 0x%llx: MTE, but the CPU lists no mte", p);
		printf("NOTE: %s: platform 0x%llx (cpu bti %d, mte %d)\n", tcase_name(), p,
		       cpuinfo_has("bti"), cpuinfo_has("mte"));
	} else {
		ck_assert_msg(!(p & arm), "platform 0x%llx has arm64 bits on x86", p);
	}
}
END_TEST

/* KPTI/PTI as the kernel reports Meltdown: "Mitigation: PTI" iff the bit. */
SM_TEST(test_get_info_kpti_matches_meltdown)
{
	const char *path = "/sys/devices/system/cpu/vulnerabilities/meltdown";
	struct secretmem_info info;
	char text[256] = "";
	bool kpti;
	int fd = dev_open();

	get_info(fd, &info);
	close(fd);
	kpti = info.platform & SECRETMEM_PLAT_KPTI;
	if (sm_read_text(path, text, sizeof(text)) < 0)
		SKIP("no %s", path);
	if (strstr(text, "Mitigation: PTI"))
		ck_assert_msg(kpti, "%s says \"%s\" but KPTI is clear", path, text);
	else if (strstr(text, "Vulnerable"))
		ck_assert_msg(!kpti, "%s says \"%s\" but KPTI is set", path, text);
	printf("NOTE: %s: meltdown \"%.*s\", KPTI %d\n", tcase_name(),
	       (int)strcspn(text, "\n"), text, kpti);
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
	fd = nobody_open(MEMLOCK_LIMIT, msg, n);
	if (fd < 0)
		return 1;
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

SM_TEST_FIX(test_get_info_max_bytes, fix_max_pages)
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
		ck_assert_msg(!write_long_file(SM_PARAM_MAX_PAGES, want), "writing %s: %s",
			      SM_PARAM_MAX_PAGES, strerror(errno));
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

/* A caller built against version 2 (no .arch): gets its 64 bytes, nothing more. */
SM_TEST(test_get_info_size_v2_exact)
{
	uint8_t buf[sizeof(struct secretmem_info) + 64];
	struct secretmem_info *info = (struct secretmem_info *)buf;
	size_t j;
	int fd = dev_open();

	ck_assert(offsetof(struct secretmem_info, arch) == SECRETMEM_INFO_SIZE_V2);
	memset(buf, 0xaa, sizeof(buf));
	info->size = SECRETMEM_INFO_SIZE_V2;
	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_GET_INFO, buf),
		      "GET_INFO with .size %d: %s", SECRETMEM_INFO_SIZE_V2, strerror(errno));
	close(fd);
	ck_assert_msg(info->size == SECRETMEM_INFO_SIZE_V2, ".size %u, expected %d",
		      info->size, SECRETMEM_INFO_SIZE_V2);
	ck_assert_msg(info->page_size == PAGE_SZ, "page_size %llu",
		      (unsigned long long)info->page_size);
	for (j = SECRETMEM_INFO_SIZE_V2; j < sizeof(buf); j++)
		ck_assert_msg(buf[j] == 0xaa, "byte %zu (past .size %d) was written: 0x%02x",
			      j, SECRETMEM_INFO_SIZE_V2, buf[j]);
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

/* A refused call left the fd's flags at 0; the fd is closed. */
static void expect_no_flags_close(int fd, const char *when)
{
	struct secretmem_info info;

	get_info(fd, &info);
	ck_assert_msg(info.flags == 0, "flags 0x%llx %s", (unsigned long long)info.flags, when);
	close(fd);
}

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
	uint8_t buf[PAGE_SZ];
	size_t i;
	int fd = dev_open();

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(buf, 0, sizeof(buf));
		((struct secretmem_info *)buf)->size = sizeof(struct secretmem_info);
		expect_ioctl_fail(fd, cmds[i].cmd, (unsigned long)buf, ENOTTY, cmds[i].what);
	}
	expect_no_flags_close(fd, "after unknown ioctls");
}
END_TEST

/* ---- SECRETMEM_IOC_SET_FLAGS ---- */

SM_TEST(test_set_flags_unknown_einval)
{
	static const unsigned long long bad[] = {
		1ULL << 1, 1ULL << 5, 1ULL << 63, ~0ULL, SECRETMEM_FLAG_UNCACHED | 1ULL << 2,
	};
	size_t i;
	int fd = dev_open();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "SET_FLAGS(0x%llx)", bad[i]);
		expect_set_flags_fail(fd, bad[i], EINVAL, what);
	}
	expect_no_flags_close(fd, "after refused SET_FLAGS");
}
END_TEST

/* UNCACHED is accepted on x86 and refused with EOPNOTSUPP elsewhere. */
SM_TEST(test_set_flags_uncached_by_arch)
{
	struct secretmem_info info;
	int fd = dev_open();
	__u64 v = SECRETMEM_FLAG_UNCACHED;

	if (SM_ARCH_UNCACHED) {
		ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &v),
			      "SET_FLAGS(UNCACHED) on x86: %s", strerror(errno));
	} else {
		expect_set_flags_fail(fd, SECRETMEM_FLAG_UNCACHED, EOPNOTSUPP,
				      "SET_FLAGS(UNCACHED) off x86");
		get_info(fd, &info);
		ck_assert_msg(info.flags == 0 && !(info.protections & SECRETMEM_PROT_UNCACHED),
			      "flags 0x%llx protections 0x%llx after a refused UNCACHED",
			      (unsigned long long)info.flags,
			      (unsigned long long)info.protections);
	}
	close(fd);
}
END_TEST

SM_TEST(test_set_flags_uncached_before_mmap)
{
	struct secretmem_info info;
	int fd;

	UNCACHED_OR_SKIP();
	fd = dev_open();

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
	int fd = dev_open();
	void *p;

	p = sm_mmap(fd, PAGE_SZ);
	/* off x86 UNCACHED can never be set: EOPNOTSUPP, mapped or not */
	expect_set_flags_fail(fd, SECRETMEM_FLAG_UNCACHED, SM_ARCH_UNCACHED ? EBUSY : EOPNOTSUPP,
			      "SET_FLAGS(UNCACHED) after mmap");
	expect_set_flags_fail(fd, 0, EBUSY, "SET_FLAGS(0) after mmap");
	ck_assert(!munmap(p, PAGE_SZ));
	/* fixed for good, also once the region is gone */
	expect_set_flags_fail(fd, SECRETMEM_FLAG_UNCACHED, SM_ARCH_UNCACHED ? EBUSY : EOPNOTSUPP,
			      "SET_FLAGS(UNCACHED) after mmap+munmap");
	expect_set_flags_fail(fd, 0, EBUSY, "SET_FLAGS(0) after mmap+munmap");
	/* unknown bits are still EINVAL, not EBUSY */
	expect_set_flags_fail(fd, 1UL << 1, EINVAL, "SET_FLAGS(1<<1) after mmap");
	expect_no_flags_close(fd, "after refused SET_FLAGS");
}
END_TEST

SM_TEST(test_set_flags_per_fd)
{
	struct secretmem_info info;
	int a, b;

	void *p;

	UNCACHED_OR_SKIP();
	a = dev_open();
	b = dev_open();

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
