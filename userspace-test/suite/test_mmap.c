// SPDX-License-Identifier: GPL-2.0
// test_mmap.c - mmap semantics: the device node, errno of bad mappings, splits, VmLck, max_pages, RLIMIT_MEMLOCK, fork and exec.
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "sm_test.h"

SM_FILE("mmap", 10, 900);

SM_TEST(test_device_node)
{
	struct stat st;

	ck_assert_msg(!access(SM_SYSFS_MODULE, F_OK), "%s missing: module %s not loaded",
		      SM_SYSFS_MODULE, SECRETMEM_MODULE_NAME);
	ck_assert_msg(!stat(SECRETMEM_DEVICE_PATH, &st), "stat %s: %s",
		      SECRETMEM_DEVICE_PATH, strerror(errno));
	ck_assert_msg(S_ISCHR(st.st_mode), "%s is not a character device",
		      SECRETMEM_DEVICE_PATH);
	ck_assert_msg((st.st_mode & 0777) == 0666, "%s has mode %03o, expected 0666",
		      SECRETMEM_DEVICE_PATH, st.st_mode & 0777);
}
END_TEST

SM_TEST(test_mmap_zeroed)
{
	const size_t pages = 64, len = pages * PAGE_SZ;
	volatile uint64_t *q;
	size_t i;

	q = sm_map_pages(pages);
	for (i = 0; i < len / sizeof(*q); i++)
		ck_assert_msg(q[i] == 0, "byte offset %zu is not zero (0x%llx)",
			      i * sizeof(*q), (unsigned long long)q[i]);
	for (i = 0; i < len / sizeof(*q); i++)
		q[i] = i * 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < len / sizeof(*q); i++)
		ck_assert(q[i] == i * 0x9e3779b97f4a7c15ULL);
	ck_assert(!munmap((void *)q, len));
}
END_TEST

SM_TEST(test_regions_independent)
{
	const size_t len = 4 * PAGE_SZ;
	uint8_t *a, *b;
	size_t i;
	int fd;

	fd = dev_open();
	a = sm_mmap(fd, len);
	b = sm_mmap(fd, len);
	ck_assert(a != b);
	memset(a, 0xaa, len);
	for (i = 0; i < len; i++)
		ck_assert_msg(b[i] == 0, "second region sees the first one's data at %zu", i);
	memset(b, 0x55, len);
	close(fd);
	/* the mappings outlive the descriptor */
	for (i = 0; i < len; i++) {
		ck_assert(a[i] == 0xaa);
		ck_assert(b[i] == 0x55);
	}
	ck_assert(!munmap(a, len));
	for (i = 0; i < len; i++)
		ck_assert(b[i] == 0x55);
	ck_assert(!munmap(b, len));
}
END_TEST

SM_TEST(test_vma_flags)
{
	static const char *const want[] = { "io", "pf", "dd", "de", "dc" };
	static const char *const not[] = { "ex", "me" };
	char line[512], start[32], flags[512] = "";
	bool in = false;
	size_t i;
	FILE *f;
	void *p;

	p = sm_map_pages(4);
	snprintf(start, sizeof(start), "%lx-", (unsigned long)p);
	f = fopen("/proc/self/smaps", "re");
	ck_assert_msg(f, "/proc/self/smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, start, strlen(start)))
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, sizeof(flags), "%s", line + 8);
			break;
		}
	}
	fclose(f);
	ck_assert_msg(flags[0], "no VmFlags line for the mapping at %p", p);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char tok[8];

		snprintf(tok, sizeof(tok), " %s", want[i]);
		ck_assert_msg(strstr(flags, tok), "VmFlags lacks '%s':%s", want[i], flags);
	}
	for (i = 0; i < sizeof(not) / sizeof(not[0]); i++) {
		char tok[8];

		snprintf(tok, sizeof(tok), " %s", not[i]);
		ck_assert_msg(!strstr(flags, tok), "VmFlags has '%s':%s", not[i], flags);
	}
	ck_assert(!munmap(p, 4 * PAGE_SZ));
}
END_TEST

SM_TEST(test_map_private_einval)
{
	int fd = dev_open();

	expect_mmap_fail(fd, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0,
			 EINVAL, "MAP_PRIVATE");
	expect_mmap_fail(fd, PAGE_SZ, PROT_READ, MAP_PRIVATE, 0, EINVAL,
			 "MAP_PRIVATE read-only");
	close(fd);
}
END_TEST

SM_TEST(test_offset_einval)
{
	int fd = dev_open();

	expect_mmap_fail(fd, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
			 PAGE_SZ, EINVAL, "offset 4096");
	expect_mmap_fail(fd, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
			 16 * PAGE_SZ, EINVAL, "offset 64 KiB");
	close(fd);
}
END_TEST

SM_TEST(test_len_zero_einval)
{
	int fd = dev_open();

	expect_mmap_fail(fd, 0, PROT_READ | PROT_WRITE, MAP_SHARED, 0, EINVAL,
			 "length 0");
	close(fd);
}
END_TEST

SM_TEST(test_prot_exec_eperm)
{
	int fd = dev_open();

	expect_mmap_fail(fd, PAGE_SZ, PROT_READ | PROT_EXEC, MAP_SHARED, 0,
			 EPERM, "PROT_READ|PROT_EXEC");
	expect_mmap_fail(fd, PAGE_SZ, PROT_READ | PROT_WRITE | PROT_EXEC,
			 MAP_SHARED, 0, EPERM, "PROT_READ|PROT_WRITE|PROT_EXEC");
	close(fd);
}
END_TEST

SM_TEST(test_mprotect_exec_eacces)
{
	uint8_t *p = sm_map_pages(2);

	p[0] = 1;
	errno = 0;
	ck_assert_msg(mprotect(p, 2 * PAGE_SZ, PROT_READ | PROT_EXEC) == -1,
		      "mprotect(PROT_EXEC) succeeded");
	ck_assert_msg(errno == EACCES, "mprotect(PROT_EXEC): %s, expected EACCES",
		      strerror(errno));
	/* read-only and back is fine */
	ck_assert_msg(!mprotect(p, 2 * PAGE_SZ, PROT_READ), "mprotect(PROT_READ): %s",
		      strerror(errno));
	ck_assert_msg(!mprotect(p, 2 * PAGE_SZ, PROT_READ | PROT_WRITE),
		      "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
	p[1] = 2;
	ck_assert(p[0] == 1 && p[1] == 2);
	ck_assert(!munmap(p, 2 * PAGE_SZ));
}
END_TEST

SM_TEST(test_mremap_grow_efault)
{
	const size_t len = 4 * PAGE_SZ;
	void *p = sm_map_pages(4), *q;

	errno = 0;
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	ck_assert_msg(q == MAP_FAILED, "mremap grow (MAYMOVE) succeeded");
	ck_assert_msg(errno == EFAULT, "mremap grow (MAYMOVE): %s, expected EFAULT",
		      strerror(errno));
	errno = 0;
	q = mremap(p, len, 2 * len, 0);
	ck_assert_msg(q == MAP_FAILED, "mremap grow in place succeeded");
	ck_assert_msg(errno == EFAULT, "mremap grow in place: %s, expected EFAULT",
		      strerror(errno));
	ck_assert(!munmap(p, len));
}
END_TEST

SM_TEST(test_madvise_dodump_dofork_einval)
{
	const size_t len = 4 * PAGE_SZ;
	void *p = sm_map_pages(4);

	errno = 0;
	ck_assert_msg(madvise(p, len, MADV_DODUMP) == -1, "MADV_DODUMP succeeded");
	ck_assert_msg(errno == EINVAL, "MADV_DODUMP: %s, expected EINVAL",
		      strerror(errno));
	errno = 0;
	ck_assert_msg(madvise(p, len, MADV_DOFORK) == -1, "MADV_DOFORK succeeded");
	ck_assert_msg(errno == EINVAL, "MADV_DOFORK: %s, expected EINVAL",
		      strerror(errno));
	ck_assert(!munmap(p, len));
}
END_TEST

/* ---- accounting ---- */

SM_TEST(test_vmlck_charged_and_released)
{
	const size_t pages = 256;
	long base, v;
	void *p, *q;

	base = vmlck();
	p = sm_map_pages(pages);
	v = vmlck();
	ck_assert_msg(v == base + (long)(pages * PAGE_SZ / 1024),
		      "VmLck %ld kB after a %zu kB mapping, baseline %ld kB",
		      v, pages * PAGE_SZ / 1024, base);
	q = sm_map_pages(pages / 2);
	v = vmlck();
	ck_assert_msg(v == base + (long)(pages * 3 / 2 * PAGE_SZ / 1024),
		      "VmLck %ld kB with two mappings, baseline %ld kB", v, base);
	ck_assert(!munmap(p, pages * PAGE_SZ));
	ck_assert(!munmap(q, pages / 2 * PAGE_SZ));
	v = vmlck();
	ck_assert_msg(v == base, "VmLck %ld kB after munmap, baseline %ld kB", v, base);
}
END_TEST

SM_TEST(test_partial_munmap_mprotect)
{
	const size_t pages = 16;
	long base, pages0, regions0;
	uint8_t *p;
	size_t i, j;

	base = vmlck();
	pages0 = sm_counter("pages");
	regions0 = sm_counter("regions");
	p = sm_map_pages(pages);
	for (i = 0; i < pages; i++)
		memset(p + i * PAGE_SZ, (int)i + 1, PAGE_SZ);

	/* hole in the middle, read-only head: three VMAs of one region */
	ck_assert_msg(!munmap(p + 4 * PAGE_SZ, 4 * PAGE_SZ), "partial munmap: %s",
		      strerror(errno));
	ck_assert_msg(!mprotect(p, 4 * PAGE_SZ, PROT_READ), "partial mprotect: %s",
		      strerror(errno));
	for (i = 0; i < pages; i++) {
		if (i >= 4 && i < 8)
			continue;
		for (j = 0; j < PAGE_SZ; j += 512)
			ck_assert_msg(p[i * PAGE_SZ + j] == i + 1,
				      "page %zu lost its content after the split", i);
	}
	p[9 * PAGE_SZ] = 0x42;
	ck_assert(p[9 * PAGE_SZ] == 0x42);

	ck_assert_msg((access_sig(p + PAGE_SZ, 0x77) != 0), "write to the read-only part succeeded");
	ck_assert(p[PAGE_SZ] == 2);

	ck_assert_msg(!mprotect(p, 4 * PAGE_SZ, PROT_READ | PROT_WRITE),
		      "mprotect back to RW: %s", strerror(errno));
	p[0] = 0x99;
	ck_assert(p[0] == 0x99 && p[PAGE_SZ] == 2);
	/* a lone page out of the tail */
	ck_assert(!munmap(p + 15 * PAGE_SZ, PAGE_SZ));
	ck_assert(p[14 * PAGE_SZ] == 15);

	ck_assert(!munmap(p, 4 * PAGE_SZ));
	ck_assert(!munmap(p + 8 * PAGE_SZ, 7 * PAGE_SZ));
	/* only now, with the last VMA gone, is the region freed */
	ck_assert_msg(vmlck() == base, "VmLck %ld kB after full teardown, baseline %ld kB",
		      vmlck(), base);
	assert_counters(pages0, regions0, "after full teardown");
}
END_TEST

SM_TEST_FIX(test_max_pages_enomem, fix_max_pages)
{
	long used, old, limit;
	void *p;
	int fd;

	fd = dev_open();
	old = read_long_file(SM_PARAM_MAX_PAGES);
	ck_assert_msg(old >= 0, "%s: %s", SM_PARAM_MAX_PAGES, strerror(errno));
	used = sm_counter("pages");
	if (used < 0)
		used = 0;
	limit = used + 16;
	ck_assert_msg(!write_long_file(SM_PARAM_MAX_PAGES, limit), "writing %s: %s",
		      SM_PARAM_MAX_PAGES, strerror(errno));
	ck_assert(read_long_file(SM_PARAM_MAX_PAGES) == limit);

	expect_mmap_fail(fd, 32 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
			 0, ENOMEM, "32 pages with max_pages 16 free");
	p = mmap(NULL, 8 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "8 pages under max_pages: %s", strerror(errno));
	ck_assert(((volatile uint8_t *)p)[0] == 0);
	ck_assert(!munmap(p, 8 * PAGE_SZ));

	ck_assert(!write_long_file(SM_PARAM_MAX_PAGES, old));
	p = mmap(NULL, 32 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "32 pages after restoring max_pages %ld: %s",
		      old, strerror(errno));
	ck_assert(!munmap(p, 32 * PAGE_SZ));
	close(fd);
}
END_TEST

static int unprivileged_child(void *arg, char *msg, size_t n)
{
	void *a, *b, *c;
	int fd;

	(void)arg;
	fd = nobody_open(64 << 10, msg, n);
	if (fd < 0)
		return 1;
	a = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a != MAP_FAILED)
		CFAIL("1 MiB mmap over a 64 KiB RLIMIT_MEMLOCK succeeded");
	if (errno != EAGAIN)
		CFAIL("1 MiB mmap over RLIMIT_MEMLOCK: %s, expected EAGAIN", strerror(errno));
	a = mmap(NULL, 32 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		CFAIL("32 KiB mmap under RLIMIT_MEMLOCK: %s", strerror(errno));
	memset(a, 1, 32 << 10);
	if (proc_status_kb(0, "VmLck") != 32)
		CFAIL("VmLck %ld kB after a 32 KiB mapping", proc_status_kb(0, "VmLck"));
	b = mmap(NULL, 32 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED)
		CFAIL("second 32 KiB mmap (64 KiB total = the limit): %s", strerror(errno));
	c = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c != MAP_FAILED)
		CFAIL("mmap past the limit (64 KiB + 4 KiB) succeeded");
	if (errno != EAGAIN)
		CFAIL("mmap past the limit: %s, expected EAGAIN", strerror(errno));
	if (munmap(b, 32 << 10))
		CFAIL("munmap: %s", strerror(errno));
	c = mmap(NULL, 32 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		CFAIL("32 KiB mmap after munmap gave quota back: %s", strerror(errno));
	munmap(a, 32 << 10);
	munmap(c, 32 << 10);
	if (proc_status_kb(0, "VmLck") != 0)
		CFAIL("VmLck %ld kB after unmapping everything", proc_status_kb(0, "VmLck"));
	close(fd);
	return 0;
}

SM_TEST(test_unprivileged_rlimit_eagain)
{
	run_child(unprivileged_child, NULL);
}
END_TEST

/* ---- fork and exec ---- */

SM_TEST(test_fork_child_no_mapping)
{
	volatile uint8_t *p = sm_map_pages(4);
	char line[512];
	pid_t pid;
	FILE *f;
	int st;

	p[0] = 0x3c;
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		f = fopen("/proc/self/maps", "re");
		if (!f)
			_exit(4);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, SECRETMEM_DEVICE_PATH))
				_exit(2);
		fclose(f);
		(void)p[0];
		_exit(3);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 2),
		      "the child's /proc/self/maps lists %s", SECRETMEM_DEVICE_PATH);
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 3),
		      "the child could read the parent's secret region");
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "child status 0x%x, expected death by SIGSEGV", st);
	ck_assert(p[0] == 0x3c);
	p[1] = 1;
	ck_assert(!munmap((void *)p, 4 * PAGE_SZ));
}
END_TEST

/* ---- SECRETMEM_FLAG_INHERIT: fork() children share the pages ---- */

/* A MAP_SHARED mapping of @pages from a fresh fd with SECRETMEM_FLAG_INHERIT; the fd closed. */
static uint8_t *map_inherit(size_t pages)
{
	__u64 flags = SECRETMEM_FLAG_INHERIT;
	int fd = dev_open();
	uint8_t *p;

	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &flags),
		      "SET_FLAGS(INHERIT): %s", strerror(errno));
	p = sm_mmap(fd, pages * PAGE_SZ);
	close(fd);
	return p;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

SM_TEST(test_fork_inherit_child_shares_pages)
{
	volatile uint8_t *p = map_inherit(4);
	long vmlck = proc_status_kb(0, "VmLck");
	pid_t pid;
	int st;

	p[0] = 0x3c;
	p[4 * PAGE_SZ - 1] = 0x3d;
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		if (p[0] != 0x3c || p[4 * PAGE_SZ - 1] != 0x3d)
			_exit(2);
		p[1] = 0x5a;	/* the same page: the parent sees it */
		/* Charged to the mm that mapped it, not to its children. */
		_exit(proc_status_kb(0, "VmLck") == 0 ? 0 : 3);
	}
	st = wait_status(pid);
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 2),
		      "the child read other bytes than the parent wrote");
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 3),
		      "the child's VmLck is not 0");
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	ck_assert_msg(p[1] == 0x5a, "the child's write is not in the parent's page");
	ck_assert_int_eq(proc_status_kb(0, "VmLck"), vmlck);
	ck_assert(!munmap((void *)p, 4 * PAGE_SZ));
}
END_TEST

/* Without the flag, the fd says NO_FORK; with it, not (and the flag is reported). */
SM_TEST(test_fork_inherit_reported_in_info)
{
	struct secretmem_info info;
	__u64 flags = SECRETMEM_FLAG_INHERIT;
	int fd = dev_open();

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	ck_assert(!ioctl(fd, SECRETMEM_IOC_GET_INFO, &info));
	ck_assert(info.protections & SECRETMEM_PROT_NO_FORK);
	ck_assert(!ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &flags));
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	ck_assert(!ioctl(fd, SECRETMEM_IOC_GET_INFO, &info));
	ck_assert_msg(!(info.protections & SECRETMEM_PROT_NO_FORK),
		      "protections 0x%llx claim NO_FORK for an INHERIT fd",
		      (unsigned long long)info.protections);
	ck_assert_msg(info.flags == SECRETMEM_FLAG_INHERIT, "flags 0x%llx",
		      (unsigned long long)info.flags);
	ck_assert(info.protections & SECRETMEM_PROT_DIRECT_MAP);
	close(fd);
}
END_TEST

/*
 * The mapper exits while its child still maps the region: the pages stay
 * (the child reads them intact), and go back when the child unmaps them.
 */
SM_TEST(test_fork_inherit_outlives_mapper)
{
	long pages0 = sm_counter("pages"), regions0 = sm_counter("regions");
	pid_t mapper, kid = -1;
	int pfd[2], st;

	/* The grandchild comes back to this process when the mapper exits. */
	ck_assert(!prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ck_assert(!pipe(pfd));
	fflush(NULL);
	mapper = fork();
	ck_assert(mapper >= 0);
	if (!mapper) {
		uint8_t *p = map_inherit(8);
		pid_t me = getpid(), k;

		memset(p, 0xa7, 8 * PAGE_SZ);
		fflush(NULL);
		k = fork();
		if (k < 0)
			_exit(20);
		if (k) {
			if (write(pfd[1], &k, sizeof(k)) != sizeof(k))
				_exit(21);
			_exit(0);	/* the mapper goes, the child stays */
		}
		alarm(60);
		while (getppid() == me)	/* until the mapper is gone */
			usleep(10000);
		if (p[0] != 0xa7 || p[8 * PAGE_SZ - 1] != 0xa7)
			_exit(30);
		if (sm_counter("pages") < pages0 + 8 || sm_counter("regions") < regions0 + 1)
			_exit(31);
		if (munmap(p, 8 * PAGE_SZ))
			_exit(32);
		if (sm_counter("pages") != pages0 || sm_counter("regions") != regions0)
			_exit(33);
		_exit(0);
	}
	close(pfd[1]);
	ck_assert(read(pfd[0], &kid, sizeof(kid)) == sizeof(kid));
	close(pfd[0]);
	st = wait_status(mapper);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "mapper status 0x%x", st);
	st = wait_status(kid);
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 30),
		      "the pages changed when their mapper exited");
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 31),
		      "the pages were given back while the child still mapped them");
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 33),
		      "the pages were not given back when the last mapping went");
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	ck_assert_int_eq(sm_counter("pages"), pages0);
	ck_assert_int_eq(sm_counter("regions"), regions0);
}
END_TEST

/*
 * The mapper unmaps while its child maps: the mapper's VmLck goes back at
 * once, the pages stay for the child until it exits.
 */
SM_TEST(test_fork_inherit_mapper_munmap_uncharges)
{
	long pages0 = sm_counter("pages"), vmlck0 = proc_status_kb(0, "VmLck");
	uint8_t *p = map_inherit(16);
	int go, st;
	pid_t pid;

	memset(p, 0x6b, 16 * PAGE_SZ);
	ck_assert(proc_status_kb(0, "VmLck") >= vmlck0 + 64);
	pid = fork_held(&go);
	if (!pid)
		_exit(p[0] == 0x6b && p[16 * PAGE_SZ - 1] == 0x6b ? 0 : 3);
	ck_assert(!munmap(p, 16 * PAGE_SZ));
	ck_assert_int_eq(proc_status_kb(0, "VmLck"), vmlck0);
	ck_assert_msg(sm_counter("pages") >= pages0 + 16,
		      "pages %ld: given back while the child maps them", sm_counter("pages"));
	st = release_held(go, pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	ck_assert_int_eq(sm_counter("pages"), pages0);
}
END_TEST

/*
 * A fork() child has the shared pages in its RSS (RssFile) while it maps
 * them, as a mapper of shared file pages does: its munmap takes them out
 * again, and the mapper's RSS is untouched by either.
 */
SM_TEST(test_fork_inherit_child_rss)
{
	uint8_t *p = map_inherit(64);
	long rss0 = proc_status_kb(0, "RssFile");
	int st;
	pid_t pid;

	memset(p, 0x5e, 64 * PAGE_SZ);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		long with = proc_status_kb(0, "RssFile"), without;

		if (with < 256)
			_exit(2);
		if (munmap(p, 32 * PAGE_SZ))	/* a part: a split, the rest still mapped */
			_exit(3);
		if (proc_status_kb(0, "RssFile") < with - 8)
			_exit(4);
		if (munmap(p + 32 * PAGE_SZ, 32 * PAGE_SZ))
			_exit(3);
		without = proc_status_kb(0, "RssFile");
		_exit(with - without >= 256 ? 0 : 5);
	}
	st = wait_status(pid);
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 2),
		      "the child's RssFile is below the 256 kB it maps");
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 4),
		      "the child's RssFile fell while it still mapped half the region");
	ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 5),
		      "the child's munmap did not take the 256 kB out of its RssFile");
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	/* A few pages of this program's own text may have come in meanwhile. */
	ck_assert_msg(labs(proc_status_kb(0, "RssFile") - rss0) <= 32,
		      "the mapper's RssFile went from %ld to %ld kB", rss0,
		      proc_status_kb(0, "RssFile"));
	ck_assert(!munmap(p, 64 * PAGE_SZ));
}
END_TEST

/*
 * A child maps the region and unmaps it again; then the mapper exits: its
 * release hook finds nobody else mapping and gives the pages back.
 */
SM_TEST(test_fork_inherit_mapper_exit_after_child_gone)
{
	long pages0 = sm_counter("pages"), regions0 = sm_counter("regions");
	pid_t mapper;
	int st;

	fflush(NULL);
	mapper = fork();
	ck_assert(mapper >= 0);
	if (!mapper) {
		uint8_t *p = map_inherit(8);
		pid_t kid;

		memset(p, 0x19, 8 * PAGE_SZ);
		fflush(NULL);
		kid = fork();
		if (kid < 0)
			_exit(20);
		if (!kid)
			_exit(munmap(p, 8 * PAGE_SZ) || p == NULL ? 21 : 0);
		if (wait_status(kid) != 0)
			_exit(22);
		_exit(p[0] == 0x19 ? 0 : 23);	/* exit with the region mapped */
	}
	st = wait_status(mapper);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "mapper status 0x%x", st);
	ck_assert_int_eq(sm_counter("pages"), pages0);
	ck_assert_int_eq(sm_counter("regions"), regions0);
}
END_TEST

/* MADV_DONTFORK still works on an INHERIT mapping: that child gets nothing. */
SM_TEST(test_fork_inherit_madv_dontfork)
{
	volatile uint8_t *p = map_inherit(2);
	pid_t pid;
	int st;

	p[0] = 0x21;
	ck_assert(!madvise((void *)p, 2 * PAGE_SZ, MADV_DONTFORK));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		(void)p[0];
		_exit(3);
	}
	st = wait_status(pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "child status 0x%x, expected death by SIGSEGV", st);
	ck_assert(p[0] == 0x21);
	ck_assert(!munmap((void *)p, 2 * PAGE_SZ));
}
END_TEST

/* A child's inherited mapping is as closed to /proc/PID/mem as the parent's. */
SM_TEST(test_fork_inherit_child_proc_mem_refused)
{
	uint8_t *p = map_inherit(1), buf[16];
	static char c;
	char path[64];
	int go, fd, st;
	ssize_t n;
	pid_t pid;

	memset(p, 0x42, PAGE_SZ);
	pid = fork_held(&go);
	if (!pid)
		_exit(0);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	/* Control: the child's ordinary memory reads. */
	n = pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)&c);
	ck_assert_msg(n == sizeof(buf) || n == 1 || n > 0, "control read of the child: %s",
		      strerror(errno));
	n = pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)p);
	ck_assert_msg(n < 0, "read %zd bytes of the child's inherited secret mapping", n);
	close(fd);
	st = release_held(go, pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	ck_assert(!munmap(p, PAGE_SZ));
}
END_TEST

/* Mode of the binary run after execve() by test_execve_vmlck_reset. */
int report_after_exec(void)
{
	printf("vmlck=%ld pages=%ld regions=%ld\n", proc_status_kb(0, "VmLck"),
	       sm_counter("pages"), sm_counter("regions"));
	return 0;
}

SM_TEST(test_execve_vmlck_reset)
{
	long taint0, pages0, regions0, vl = -2, pg = -2, rg = -2;
	char out[256] = "";
	int pfd[2], st;
	ssize_t got;
	pid_t pid;

	taint0 = kernel_bad_taint();
	pages0 = sm_counter("pages");
	regions0 = sm_counter("regions");
	ck_assert(!pipe(pfd));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		char *argv[] = { "secretmem_test", "--report-after-exec", NULL };
		int fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		uint8_t *p;

		if (fd < 0)
			_exit(10);
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(11);
		close(fd);
		memset(p, 0xee, 1 << 20);
		if (proc_status_kb(0, "VmLck") < 1024)
			_exit(12);
		dup2(pfd[1], 1);
		close(pfd[0]);
		execv("/proc/self/exe", argv);
		_exit(13);
	}
	close(pfd[1]);
	got = read(pfd[0], out, sizeof(out) - 1);
	out[got > 0 ? got : 0] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFEXITED(st), "exec child died: status 0x%x", st);
	ck_assert_msg(WEXITSTATUS(st) != 10, "open %s failed (is module %s loaded?)",
		      SECRETMEM_DEVICE_PATH, SECRETMEM_MODULE_NAME);
	ck_assert_msg(WEXITSTATUS(st) != 11, "mmap before exec failed");
	ck_assert_msg(WEXITSTATUS(st) != 12, "VmLck did not rise before exec");
	ck_assert_msg(WEXITSTATUS(st) != 13, "execv(/proc/self/exe) failed");
	ck_assert_msg(sscanf(out, "vmlck=%ld pages=%ld regions=%ld", &vl, &pg, &rg) == 3,
		      "no report from the new image: '%s'", out);
	ck_assert_msg(vl == 0, "VmLck of the new image is %ld kB, expected 0", vl);
	if (pages0 >= 0)
		ck_assert_msg(pg == pages0, "%ld pages in use after exec, %ld before the mapping",
			      pg, pages0);
	if (regions0 >= 0)
		ck_assert_msg(rg == regions0, "%ld regions after exec, %ld before", rg, regions0);
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE during exec (check dmesg)");
	assert_counters(pages0, regions0, "after the exec'd child exited");
}
END_TEST

/* ---- secrecy probes with a control on anonymous memory ---- */
