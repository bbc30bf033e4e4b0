// SPDX-License-Identifier: GPL-2.0
// secretmem_test.c - Check test suite for /dev/secretmem (module secretmem_dev); run as root inside a test guest.
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

#define SYSFS_DEV	"/sys/class/misc/" SECRETMEM_DEVICE_NAME
#define SYSFS_PAGES	SYSFS_DEV "/pages"
#define SYSFS_REGIONS	SYSFS_DEV "/regions"
#define SYSFS_MODULE	"/sys/module/" SECRETMEM_MODULE_NAME
#define PARAM_MAX_PAGES	SYSFS_MODULE "/parameters/max_pages"

#define HOLD_PAGES	32
/* more copies in the control: a few freed pages get reused before a scan */
#define HOLD_PAGES_ANON	128
#define TEST_TIMEOUT	900

bool quick;

static struct timespec t_start;

void announce(const char *name)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("RUN: %s (t+%lds)\n", name, (long)(now.tv_sec - t_start.tv_sec));
	fflush(stdout);
}

/* ---- helpers ---- */

/* Map a fresh region and close the descriptor; the mapping stays valid. */
static void *sm_map_pages(size_t pages)
{
	int fd = dev_open();
	void *p = sm_mmap(fd, pages * PAGE_SZ);

	close(fd);
	return p;
}

static void expect_mmap_fail(int fd, size_t len, int prot, int flags,
			     off_t off, int want, const char *what)
{
	void *p;

	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		munmap(p, len);
	ck_assert_msg(p == MAP_FAILED, "%s: mmap succeeded, expected %s",
		      what, strerror(want));
	ck_assert_msg(errno == want, "%s: mmap failed with %s, expected %s",
		      what, strerror(errno), strerror(want));
}

/* -1 when the counter file does not exist */
static long sysfs_counter(const char *path)
{
	if (access(path, R_OK))
		return -1;
	return read_long_file(path);
}

static void start_holder(struct holder *h, enum mem_kind kind,
			 const struct pattern *p, bool core, const char *cwd)
{
	struct holder_opts o = {
		.kind = kind, .core = core, .cwd = cwd,
		.pages = kind == MEM_ANON ? HOLD_PAGES_ANON : HOLD_PAGES,
	};
	char err[256];

	ck_assert_msg(!holder_start(h, &o, p, err, sizeof(err)), "%s %s",
		      kind == MEM_ANON ? "control (anonymous memory):" :
		      "secretmem:", err);
}

static int kcore_scan_checked(struct kcore *k, const struct pattern *p,
			      uint64_t *pa)
{
	int r = kcore_scan(k, p, pa);

	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	return r;
}

/* Pages/regions counters are back to where they were (skipped if absent). */
static void assert_counters(long pages0, long regions0, const char *when)
{
	long v;

	if (pages0 >= 0) {
		v = sysfs_counter(SYSFS_PAGES);
		ck_assert_msg(v == pages0, "%s: %s is %ld, expected %ld", when,
			      SYSFS_PAGES, v, pages0);
	}
	if (regions0 >= 0) {
		v = sysfs_counter(SYSFS_REGIONS);
		ck_assert_msg(v == regions0, "%s: %s is %ld, expected %ld",
			      when, SYSFS_REGIONS, v, regions0);
	}
}

/* ---- the device and mmap basics ---- */

SM_TEST(test_device_node)
{
	struct stat st;

	ck_assert_msg(!access(SYSFS_MODULE, F_OK), "%s missing: module %s not loaded",
		      SYSFS_MODULE, SECRETMEM_MODULE_NAME);
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

static sigjmp_buf fault_jmp;

static void fault_handler(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/* Does writing one byte at p fault?  (Tried in this process.) */
static bool write_faults(volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = fault_handler }, old_segv, old_bus;
	bool faulted = false;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(fault_jmp, 1))
		faulted = true;
	else
		*p = 0x77;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

SM_TEST(test_partial_munmap_mprotect)
{
	const size_t pages = 16;
	long base, pages0, regions0;
	uint8_t *p;
	size_t i, j;

	base = vmlck();
	pages0 = sysfs_counter(SYSFS_PAGES);
	regions0 = sysfs_counter(SYSFS_REGIONS);
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

	ck_assert_msg(write_faults(p + PAGE_SZ), "write to the read-only part succeeded");
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

static long saved_max_pages = -1;

static void max_pages_save(void)
{
	saved_max_pages = read_long_file(PARAM_MAX_PAGES);
}

static void max_pages_restore(void)
{
	if (saved_max_pages >= 0)
		write_long_file(PARAM_MAX_PAGES, saved_max_pages);
}

SM_TEST(test_max_pages_enomem)
{
	long used, old, limit;
	void *p;
	int fd;

	fd = dev_open();
	old = read_long_file(PARAM_MAX_PAGES);
	ck_assert_msg(old >= 0, "%s: %s", PARAM_MAX_PAGES, strerror(errno));
	used = sysfs_counter(SYSFS_PAGES);
	if (used < 0)
		used = 0;
	limit = used + 16;
	ck_assert_msg(!write_long_file(PARAM_MAX_PAGES, limit), "writing %s: %s",
		      PARAM_MAX_PAGES, strerror(errno));
	ck_assert(read_long_file(PARAM_MAX_PAGES) == limit);

	expect_mmap_fail(fd, 32 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED,
			 0, ENOMEM, "32 pages with max_pages 16 free");
	p = mmap(NULL, 8 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p != MAP_FAILED, "8 pages under max_pages: %s", strerror(errno));
	ck_assert(((volatile uint8_t *)p)[0] == 0);
	ck_assert(!munmap(p, 8 * PAGE_SZ));

	ck_assert(!write_long_file(PARAM_MAX_PAGES, old));
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
	if (drop_to_nobody(64 << 10, msg, n))
		return 1;

	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		CFAIL("open %s as uid 65534: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
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

/* Mode of the binary run after execve() by test_execve_vmlck_reset. */
static int report_after_exec(void)
{
	printf("vmlck=%ld pages=%ld regions=%ld\n", proc_status_kb(0, "VmLck"),
	       sysfs_counter(SYSFS_PAGES), sysfs_counter(SYSFS_REGIONS));
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
	pages0 = sysfs_counter(SYSFS_PAGES);
	regions0 = sysfs_counter(SYSFS_REGIONS);
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

typedef int (*remote_probe)(pid_t pid, uintptr_t addr, const struct pattern *p, int *err);

static void remote_probe_test(remote_probe probe, const char *name, int want_err)
{
	struct pattern pc, ps;
	struct holder h;
	int r, err = 0;

	pattern_new(&pc);
	pattern_new(&ps);

	start_holder(&h, MEM_ANON, &pc, false, NULL);
	r = probe(h.pid, h.secret, &pc, &err);
	holder_kill(&h, SIGKILL);
	ck_assert_msg(r != -2, "control: PTRACE_ATTACH failed: %s", strerror(err));
	ck_assert_msg(r != -1, "control: %s on anonymous memory failed: %s "
		      "(the probe cannot detect a leak)", name, strerror(err));
	ck_assert_msg(r == 1, "control: %s read anonymous memory but not the pattern", name);

	start_holder(&h, MEM_SECRET, &ps, false, NULL);
	r = probe(h.pid, h.secret, &ps, &err);
	holder_kill(&h, SIGKILL);
	ck_assert_msg(r != -2, "PTRACE_ATTACH failed: %s", strerror(err));
	ck_assert_msg(r != 1, "%s READ THE SECRET from secretmem", name);
	ck_assert_msg(r == -1, "%s read secretmem (no pattern seen, but it should fail)", name);
	ck_assert_msg(err == want_err, "%s on secretmem failed with %s, expected %s",
		      name, strerror(err), strerror(want_err));
}

SM_TEST(test_ptrace_peek_eio)
{
	remote_probe_test(probe_ptrace_peek, "ptrace(PTRACE_PEEKDATA)", EIO);
}
END_TEST

SM_TEST(test_proc_pid_mem_eio)
{
	remote_probe_test(probe_proc_mem, "pread(/proc/PID/mem)", EIO);
}
END_TEST

SM_TEST(test_process_vm_readv_efault)
{
	remote_probe_test(probe_vm_readv, "process_vm_readv", EFAULT);
}
END_TEST

SM_TEST(test_vmsplice_efault)
{
	struct pattern pc, ps;
	uint8_t *a, *s;
	int r, err = 0;

	pattern_new(&pc);
	pattern_new(&ps);
	a = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	pattern_write(&pc, a);
	r = probe_vmsplice(a, &pc, &err);
	ck_assert_msg(r == 1, "control: vmsplice of anonymous memory: %s",
		      r < 0 ? strerror(err) : "pattern not seen in the pipe");
	munmap(a, PAGE_SZ);

	s = sm_map_pages(1);
	pattern_write(&ps, s);
	r = probe_vmsplice(s, &ps, &err);
	ck_assert_msg(r != 1, "vmsplice MOVED THE SECRET into a pipe");
	ck_assert_msg(r == -1, "vmsplice of secretmem succeeded");
	ck_assert_msg(err == EFAULT, "vmsplice of secretmem: %s, expected EFAULT",
		      strerror(err));
	munmap(s, PAGE_SZ);
}
END_TEST

/* Abort a holder of the given kind; 1 = core has the pattern, 0 = not, -1 = no core. */
static int core_probe(enum mem_kind kind, const struct pattern *p, const char *dir,
		      char *why, size_t whylen)
{
	char path[256];
	struct holder h;
	uint64_t where;
	struct stat st;
	int status, fd, r;

	start_holder(&h, kind, p, true, dir);
	if (core_path(h.pid, "smholder", dir, path, sizeof(path), why, whylen)) {
		holder_kill(&h, SIGKILL);
		return -2;
	}
	unlink(path);
	status = holder_abort(&h);
	if (!WIFSIGNALED(status) || !WCOREDUMP(status)) {
		snprintf(why, whylen, "holder status 0x%x: no core dumped", status);
		unlink(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !st.st_size) {
		snprintf(why, whylen, "core file %s missing or empty: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	r = scan_fd(fd, 0, 0, p, &where);
	close(fd);
	unlink(path);
	if (r < 0)
		snprintf(why, whylen, "reading core file %s: %s", path, strerror(errno));
	return r;
}

SM_TEST(test_coredump_no_pattern)
{
	char dir[] = "/tmp/smcore.XXXXXX", why[512] = "";
	struct pattern pc, ps;
	int r;

	pattern_new(&pc);
	pattern_new(&ps);
	ck_assert_msg(mkdtemp(dir), "mkdtemp: %s", strerror(errno));

	r = core_probe(MEM_ANON, &pc, dir, why, sizeof(why));
	if (r == -2 || r == -1) {
		rmdir(dir);
		SKIP("control core dump not possible: %s", why);
	}
	ck_assert_msg(r == 1, "control: core of anonymous memory lacks the pattern "
		      "(the probe cannot detect a leak) %s", why);

	r = core_probe(MEM_SECRET, &ps, dir, why, sizeof(why));
	rmdir(dir);
	ck_assert_msg(r != 1, "the core dump CONTAINS THE SECRET");
	ck_assert_msg(r == 0, "secretmem holder: %s", why);
}
END_TEST

/* ---- /proc/kcore ---- */

/*
 * Control first, then a secretmem holder of @pages pages with a fresh
 * pattern: a scan of every RAM segment of /proc/kcore must not find it.
 */
static void kcore_secret_not_found(size_t pages)
{
	struct holder_opts o = { .kind = MEM_SECRET, .pages = pages };
	struct pattern ps;
	struct holder hs;
	struct kcore k;
	uint64_t pa = 0;
	char err[256];
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	pattern_new(&ps);
	ck_assert_msg(!holder_start(&hs, &o, &ps, err, sizeof(err)),
		      "secretmem holder of %zu pages: %s", pages, err);
	r = kcore_scan_checked(&k, &ps, &pa);
	holder_kill(&hs, SIGKILL);
	kcore_close(&k);
	ck_assert_msg(r == 0, "the secret is READABLE via /proc/kcore at phys 0x%llx",
		      (unsigned long long)pa);
}

SM_TEST(test_kcore_no_pattern_while_mapped)
{
	kcore_secret_not_found(HOLD_PAGES);
}
END_TEST

/*
 * A region of 4 MiB and a page: two 2 MiB chunks, which the pte method takes
 * out of the direct map as single 2 MiB entries, and a 4 KiB one.  A kcore
 * read of either kind of entry must find nothing.
 */
SM_TEST(test_kcore_no_pattern_in_2mib_chunks)
{
	kcore_secret_not_found(2 * 512 + 1);
}
END_TEST

enum release { REL_MUNMAP, REL_EXIT, REL_SIGKILL };

static const char *const release_name[] = { "munmap", "exit", "SIGKILL" };

static void release_holder(struct holder *h, enum release how)
{
	int st;

	switch (how) {
	case REL_MUNMAP:
		ck_assert_msg(!holder_unmap(h), "holder munmap failed");
		break;
	case REL_EXIT:
		st = holder_exit(h);
		ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "holder status 0x%x", st);
		break;
	case REL_SIGKILL:
		st = holder_kill(h, SIGKILL);
		ck_assert_msg(WIFSIGNALED(st), "holder status 0x%x", st);
		break;
	}
}

static void kcore_after_free_test(enum release how, bool control)
{
	long pages0, regions0, taint0;
	struct pattern pc, ps;
	struct holder h;
	struct kcore k;
	uint64_t pa = 0;
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	pattern_new(&pc);
	pattern_new(&ps);
	taint0 = kernel_bad_taint();
	pages0 = sysfs_counter(SYSFS_PAGES);
	regions0 = sysfs_counter(SYSFS_REGIONS);

	if (control && file_has("/proc/cmdline", "init_on_free=1")) {
		printf("NOTE: %s: init_on_free=1, no after-free control\n", tcase_name());
		control = false;
	}
	if (control) {
		start_holder(&h, MEM_ANON, &pc, false, NULL);
		release_holder(&h, how);
		r = kcore_scan_checked(&k, &pc, &pa);
		if (how != REL_MUNMAP)
			holder_kill(&h, SIGKILL);
		else
			holder_exit(&h);
		ck_assert_msg(r == 1, "control: no stale copy of a pattern in freed "
			      "anonymous memory after %s (does the kernel scrub freed "
			      "pages, e.g. init_on_free?): the scan cannot detect a leak",
			      release_name[how]);
	}

	start_holder(&h, MEM_SECRET, &ps, false, NULL);
	if (!quick) {
		/* test_kcore_no_pattern_while_mapped covers this too */
		r = kcore_scan_checked(&k, &ps, &pa);
		ck_assert_msg(r == 0, "the secret is READABLE via /proc/kcore at phys "
			      "0x%llx while mapped", (unsigned long long)pa);
	}
	release_holder(&h, how);
	r = kcore_scan_checked(&k, &ps, &pa);
	if (how == REL_MUNMAP) {
		assert_counters(pages0, regions0, "after munmap");
		holder_exit(&h);
	}
	kcore_close(&k);
	ck_assert_msg(r == 0, "a trace of the secret is in RAM at phys 0x%llx after %s "
		      "(pages not scrubbed?)", (unsigned long long)pa, release_name[how]);
	assert_counters(pages0, regions0, "after the holder is gone");
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE (check dmesg)");
}

SM_TEST(test_kcore_no_trace_after_munmap)
{
	kcore_after_free_test(REL_MUNMAP, true);
}
END_TEST

SM_TEST(test_kcore_no_trace_after_exit)
{
	kcore_after_free_test(REL_EXIT, !quick);
}
END_TEST

SM_TEST(test_kcore_no_trace_after_sigkill)
{
	kcore_after_free_test(REL_SIGKILL, false);
}
END_TEST

/* ---- memory comes back ---- */

static size_t big_len(void)
{
	return (quick ? 4UL : 16UL) << 20;
}

SM_TEST(test_pages_allocated_at_mmap)
{
	const size_t len = big_len();
	long free0, free1, pages0, pages1;
	void *p;

	pages0 = sysfs_counter(SYSFS_PAGES);
	free0 = meminfo_kb("MemFree");
	p = sm_map_pages(len / PAGE_SZ);
	free1 = meminfo_kb("MemFree");
	pages1 = sysfs_counter(SYSFS_PAGES);
	ck_assert(!munmap(p, len));
	if (pages0 >= 0)
		ck_assert_msg(pages1 == pages0 + (long)(len / PAGE_SZ),
			      "%s went %ld -> %ld for an untouched %zu-page mapping",
			      SYSFS_PAGES, pages0, pages1, len / PAGE_SZ);
	ck_assert_msg(free0 - free1 >= (long)(len >> 10) - slack_kb(),
		      "MemFree dropped by %ld kB only for an untouched %zu kB mapping",
		      free0 - free1, len >> 10);
}
END_TEST

SM_TEST(test_memfree_restored)
{
	const size_t len = big_len();
	long free0, free1, pages0, regions0;
	int round;
	uint8_t *p;
	size_t i;

	pages0 = sysfs_counter(SYSFS_PAGES);
	regions0 = sysfs_counter(SYSFS_REGIONS);
	free0 = meminfo_kb("MemFree");
	for (round = 0; round < 2; round++) {
		p = sm_map_pages(len / PAGE_SZ);
		for (i = 0; i < len; i += PAGE_SZ)
			p[i] = (uint8_t)i | 1;
		ck_assert(!munmap(p, len));
	}
	free1 = meminfo_kb("MemFree");
	assert_counters(pages0, regions0, "after munmap");
	ck_assert_msg(free1 >= free0 - slack_kb(),
		      "MemFree %ld kB after munmap, %ld kB before (slack %ld kB)",
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

SM_TEST(test_sysfs_counters)
{
	long pages0, regions0, v;
	uint8_t *a, *b;

	pages0 = sysfs_counter(SYSFS_PAGES);
	regions0 = sysfs_counter(SYSFS_REGIONS);
	if (pages0 < 0 && regions0 < 0)
		SKIP("%s and %s missing", SYSFS_PAGES, SYSFS_REGIONS);
	if (pages0 > 0 || regions0 > 0)
		printf("NOTE: %s: counters not 0 at start (pages %ld, regions %ld)\n",
		       tcase_name(), pages0, regions0);

	a = sm_map_pages(4);
	b = sm_map_pages(8);
	if (pages0 >= 0) {
		v = sysfs_counter(SYSFS_PAGES);
		ck_assert_msg(v == pages0 + 12, "pages %ld with 12 mapped, was %ld", v, pages0);
	}
	if (regions0 >= 0) {
		v = sysfs_counter(SYSFS_REGIONS);
		ck_assert_msg(v == regions0 + 2, "regions %ld with 2 mapped, was %ld",
			      v, regions0);
	}
	ck_assert(!munmap(a, 4 * PAGE_SZ));
	if (pages0 >= 0) {
		v = sysfs_counter(SYSFS_PAGES);
		ck_assert_msg(v == pages0 + 8, "pages %ld after freeing 4 of 12, was %ld",
			      v, pages0);
	}
	ck_assert(!munmap(b + 2 * PAGE_SZ, 2 * PAGE_SZ));
	ck_assert(!munmap(b, 2 * PAGE_SZ));
	ck_assert(!munmap(b + 4 * PAGE_SZ, 4 * PAGE_SZ));
	assert_counters(pages0, regions0, "after unmapping everything");
	if (pages0 >= 0)
		ck_assert_msg(sysfs_counter(SYSFS_PAGES) == 0,
			      "%ld pages in use with no users", sysfs_counter(SYSFS_PAGES));
	if (regions0 >= 0)
		ck_assert_msg(sysfs_counter(SYSFS_REGIONS) == 0,
			      "%ld regions with no users", sysfs_counter(SYSFS_REGIONS));
}
END_TEST

/* ---- module unload (runs last) ---- */

SM_TEST(test_module_unload_reload)
{
	const char *ko = getenv("SECRETMEM_KO");
	const char *method = getenv("SECRETMEM_METHOD");
	int fd, kofd, busy_rc, busy_err, rc, err, load_rc = -1, load_err = 0, i, st = 0;
	int go[2], ready[2];
	pid_t child;
	char c = 0;
	bool sysfs_gone = false;
	char params[128] = "";
	long taint0;
	uint8_t *p;

	if (!ko || !*ko)
		SKIP("SECRETMEM_KO not set: would not be able to reload the module");
	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	if (kofd < 0)
		SKIP("SECRETMEM_KO=%s: %s", ko, strerror(errno));
	if (method && *method)
		snprintf(params, sizeof(params), "dmap_method=%s", method);
	ck_assert_msg(!access(SYSFS_MODULE, F_OK), "module %s not loaded",
		      SECRETMEM_MODULE_NAME);
	taint0 = kernel_bad_taint();

	/*
	 * The mapping lives in a child: a process that has mapped the device
	 * keeps the module (its mm's notifier) until it exits.
	 */
	ck_assert(!pipe2(go, O_CLOEXEC) && !pipe2(ready, O_CLOEXEC));
	child = fork();
	ck_assert(child >= 0);
	if (!child) {
		char c = 0;

		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR);
		p = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		close(fd);
		memset(p, 0x11, 4 * PAGE_SZ);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		/* still usable while the unload was refused */
		if (p[4095] != 0x11)
			_exit(4);
		p[0] = 0x22;
		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR);
		if (fd < 0 || munmap(p, 4 * PAGE_SZ))
			_exit(5);
		close(fd);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	ck_assert_msg(read(ready[0], &c, 1) == 1, "the mapping child failed");
	busy_rc = syscall(SYS_delete_module, SECRETMEM_MODULE_NAME, O_NONBLOCK);
	busy_err = errno;
	if (busy_rc)
		ck_assert(write(go[1], &c, 1) == 1);
	close(go[1]);
	close(ready[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(!busy_rc || (WIFEXITED(st) && !WEXITSTATUS(st)),
		      "the mapping child failed (status 0x%x)", st);

	/* the last references (file, notifier) may go a moment after exit */
	rc = busy_rc;		/* unloaded while mapped (a bug): still reload */
	err = 0;
	for (i = 0; busy_rc && i < 50; i++) {
		rc = syscall(SYS_delete_module, SECRETMEM_MODULE_NAME, O_NONBLOCK);
		err = errno;
		if (!rc || (err != EAGAIN && err != EBUSY))
			break;
		usleep(100000);
	}
	if (!rc) {
		sysfs_gone = access(SYSFS_MODULE, F_OK) != 0;
		load_rc = syscall(SYS_finit_module, kofd, params, 0);
		load_err = errno;
	}
	close(kofd);

	ck_assert_msg(busy_rc != 0, "module unloaded while a mapping existed");
	ck_assert_msg(!rc, "delete_module after the mapping process exited: %s", strerror(err));
	ck_assert_msg(sysfs_gone, "%s still there after unload", SYSFS_MODULE);
	ck_assert_msg(!load_rc, "finit_module(%s, \"%s\"): %s", ko, params,
		      strerror(load_err));
	for (i = 0; i < 50 && access(SECRETMEM_DEVICE_PATH, F_OK); i++)
		usleep(100000);
	p = sm_map_pages(1);
	ck_assert(p[0] == 0);
	ck_assert(!munmap(p, PAGE_SZ));
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE (check dmesg)");
	printf("%s: refused while mapped with %s; reloaded with \"%s\"\n",
	       tcase_name(), strerror(busy_err), params);
}
END_TEST

/* ---- runner ---- */

static const struct test_entry tests[] = {
	T(test_device_node),
	T(test_mmap_zeroed),
	T(test_regions_independent),
	T(test_vma_flags),
	T(test_map_private_einval),
	T(test_offset_einval),
	T(test_len_zero_einval),
	T(test_prot_exec_eperm),
	T(test_mprotect_exec_eacces),
	T(test_mremap_grow_efault),
	T(test_madvise_dodump_dofork_einval),
	T(test_vmlck_charged_and_released),
	T(test_partial_munmap_mprotect),
	TF(test_max_pages_enomem, max_pages_save, max_pages_restore),
	T(test_unprivileged_rlimit_eagain),
	T(test_fork_child_no_mapping),
	T(test_execve_vmlck_reset),
	T(test_ptrace_peek_eio),
	T(test_proc_pid_mem_eio),
	T(test_process_vm_readv_efault),
	T(test_vmsplice_efault),
	T(test_coredump_no_pattern),
	T(test_kcore_no_pattern_while_mapped),
	T(test_kcore_no_pattern_in_2mib_chunks),
	T(test_kcore_no_trace_after_munmap),
	T(test_kcore_no_trace_after_exit),
	T(test_kcore_no_trace_after_sigkill),
	T(test_pages_allocated_at_mmap),
	TF(test_memfree_restored, pool_off, pool_restore),	/* the allocator's, not the pool's */
	T(test_touch_memavailable_after_free),
	T(test_sysfs_counters),
};

static const struct test_entry last_tests[] = {
	T(test_module_unload_reload),	/* keep last: reloads the module */
};

static TEST_TABLE(core_table, tests);
static TEST_TABLE(last_table, last_tests);
extern const struct test_table ioctl_table;
extern const struct test_table robust_table;
extern const struct test_table pool_table;
extern const struct test_table hibernate_table;
extern const struct test_table dmapentry_table;
extern const struct test_table limits_table;
extern const struct test_table lost_table;
extern const struct test_table memcg_table;

/* Every file's table, in the order they run. */
static const struct test_table *const tables[] = {
	&core_table,
	&ioctl_table,
	&robust_table,
	&pool_table,
	&hibernate_table,
	&dmapentry_table,
	&limits_table,
	&lost_table,
	&memcg_table,
	&last_table,
};

#define NTABLES	(sizeof(tables) / sizeof(tables[0]))
#define MAX_TESTS	256

static void usage(void)
{
	printf("usage: secretmem_test [--list] [test_name...]\n"
	       "Runs all tests (or the named ones) as Check test cases in fork mode.\n"
	       "env: SECRETMEM_QUICK=1 shorter slow tests, SECRETMEM_KO=path/to/%s.ko\n"
	       "     SECRETMEM_METHOD=dmap_method for the reload, SECRETMEM_VERBOSE=1\n",
	       SECRETMEM_MODULE_NAME);
}

static const struct test_entry *all_tests[MAX_TESTS];
static size_t ntests;

static void collect_tests(void)
{
	size_t i, j;

	for (i = 0; i < NTABLES; i++)
		for (j = 0; j < tables[i]->n && ntests < MAX_TESTS; j++)
			all_tests[ntests++] = &tables[i]->tests[j];
}

int main(int argc, char **argv)
{
	bool selected[MAX_TESTS];
	int i, nsel = 0, failed;
	size_t t;
	SRunner *sr;
	Suite *s;

	collect_tests();
	if (argc > 1 && !strcmp(argv[1], "--report-after-exec"))
		return report_after_exec();
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (t = 0; t < ntests; t++)
			printf("%s\n", all_tests[t]->name);
		return 0;
	}
	memset(selected, argc <= 1, sizeof(selected));
	for (i = 1; i < argc; i++) {
		for (t = 0; t < ntests; t++)
			if (!strcmp(argv[i], all_tests[t]->name))
				break;
		if (t == ntests) {
			fprintf(stderr, "unknown test %s (see --list)\n", argv[i]);
			return 2;
		}
		selected[t] = true;
	}
	quick = env_flag("SECRETMEM_QUICK");
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	s = suite_create("secretmem");
	for (t = 0; t < ntests; t++) {
		const struct test_entry *e = all_tests[t];
		TCase *tc;

		if (!selected[t])
			continue;
		tc = tcase_create(e->name);
		tcase_set_timeout(tc, TEST_TIMEOUT);
		if (e->setup || e->teardown)
			tcase_add_unchecked_fixture(tc, e->setup, e->teardown);
		tcase_add_test(tc, *e->test);
		suite_add_tcase(s, tc);
		nsel++;
	}
	if (geteuid() != 0)
		printf("NOTE: not running as root; many tests need root\n");
	printf("secretmem_test: %d tests%s\n", nsel, quick ? " (quick)" : "");
	fflush(stdout);

	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, getenv("CK_VERBOSITY") ? CK_ENV : CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
