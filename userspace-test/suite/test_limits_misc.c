// SPDX-License-Identifier: GPL-2.0
// test_limits_misc.c - SET_FLAGS after a failed mmap, GET_INFO without PF_SUPERPRIV, counters root-only, TLB flushes an unprivileged user can cause.
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "sm_test.h"
#include "workers.h"

#define PF_SUPERPRIV	0x00000100UL

SM_FILE("limits", 132, 900);

/* Field 9 ("flags") of /proc/self/stat; read() only, no capability used. */
static long self_task_flags(void)
{
	char buf[1024], *p;
	ssize_t got;
	int fd, i;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* after "comm)": state ppid pgrp session tty_nr tpgid flags */
	for (i = 0; i < 7; i++) {
		while (*p == ' ')
			p++;
		if (i == 6)
			return strtol(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* ---- 3. SET_FLAGS after an mmap that made no page ---- */

static int flags_after_eagain_child(void *arg, char *msg, size_t n)
{
	struct secretmem_info info;
	void *p;
	int fd;

	(void)arg;
	fd = nobody_open(LIM, msg, n);
	if (fd < 0)
		return 1;
	p = mmap(NULL, 1 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED || errno != EAGAIN)
		CFAIL("1 MiB mmap over a 64 KiB RLIMIT_MEMLOCK: %s, expected EAGAIN",
		      p == MAP_FAILED ? strerror(errno) : "success");
	if (sm_set_flags(fd, SM_FLAG_SETTABLE))
		CFAIL("SET_FLAGS(UNCACHED) after an mmap that failed with EAGAIN: %s, expected "
		      "success (the failed mmap froze the fd's flags)", strerror(errno));
	if (sm_get_info(fd, &info) || info.flags != SM_FLAG_SETTABLE)
		CFAIL("GET_INFO flags 0x%llx after SET_FLAGS(UNCACHED)",
		      (unsigned long long)info.flags);
	p = mmap(NULL, 16 * KB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		CFAIL("16 KiB uncached mmap: %s", strerror(errno));
	errno = 0;
	if (!sm_set_flags(fd, 0) || errno != EBUSY)
		CFAIL("SET_FLAGS after a successful mmap: %s, expected EBUSY",
		      errno ? strerror(errno) : "success");
	munmap(p, 16 * KB);
	close(fd);
	return 0;
}

/*
 * An mmap that fails with EAGAIN (RLIMIT_MEMLOCK, uid 65534) makes no
 * page: SET_FLAGS(UNCACHED) on the same fd still succeeds after it.
 */
SM_TEST(test_set_flags_after_eagain_mmap)
{
	run_child(flags_after_eagain_child, NULL);
}
END_TEST

/*
 * An mmap that fails with ENOMEM because of max_pages makes no page:
 * SET_FLAGS(UNCACHED) on the same fd still succeeds after it.
 */
SM_TEST_FIX(test_set_flags_after_enomem_mmap, fix_max_pages)
{
	long saved_max_pages = read_long_file(SM_PARAM_MAX_PAGES);
	struct secretmem_info info;
	int fd, e, r;
	void *p;

	ck_assert_msg(saved_max_pages > 0, "reading %s", SM_PARAM_MAX_PAGES);
	ck_assert(!write_long_file(SM_PARAM_MAX_PAGES, counter("pages") + 16));
	fd = dev_open();
	p = mmap(NULL, 1 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	ck_assert(!write_long_file(SM_PARAM_MAX_PAGES, saved_max_pages));
	ck_assert_msg(p == MAP_FAILED && e == ENOMEM, "1 MiB mmap over max_pages: %s, expected "
		      "ENOMEM", p == MAP_FAILED ? strerror(e) : "success");
	r = sm_set_flags(fd, SM_FLAG_SETTABLE);
	ck_assert_msg(!r, "SET_FLAGS(UNCACHED) after an mmap that failed with ENOMEM (max_pages): "
		      "%s, expected success (the failed mmap froze the fd's flags)",
		      strerror(errno));
	ck_assert(!sm_get_info(fd, &info));
	ck_assert_msg(info.flags == SM_FLAG_SETTABLE, "GET_INFO flags 0x%llx",
		      (unsigned long long)info.flags);
	close(fd);
}
END_TEST

/* ---- 4. GET_INFO ---- */

static int superpriv_child(void *arg, char *msg, size_t n)
{
	struct rlimit rl = { LIM, LIM };
	struct secretmem_info info;
	long f0, f1;
	int fd, r;

	(void)arg;
	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		CFAIL("open: %s", strerror(errno));
	/* a finite limit, so that a capable() check is not skipped */
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		CFAIL("setrlimit: %s", strerror(errno));
	f0 = self_task_flags();
	if (f0 < 0)
		CFAIL("cannot read flags from /proc/self/stat");
	if (f0 & PF_SUPERPRIV)
		CFAIL("precondition: PF_SUPERPRIV already set (flags 0x%lx) before GET_INFO", f0);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	r = ioctl(fd, SECRETMEM_IOC_GET_INFO, &info);
	f1 = self_task_flags();
	if (r)
		CFAIL("GET_INFO: %s", strerror(errno));
	if (f1 & PF_SUPERPRIV)
		CFAIL("GET_INFO set PF_SUPERPRIV on the task (flags 0x%lx -> 0x%lx): it asked "
		      "capable() (memlock_left %#llx)", f0, f1,
		      (unsigned long long)info.memlock_left);
	close(fd);
	return 0;
}

/* GET_INFO must not mark a root task as having used a privilege. */
SM_TEST(test_get_info_no_superpriv)
{
	run_child(superpriv_child, NULL);
}
END_TEST

/* ---- 5. counters' permissions ---- */

static const char *const private_counters[] = {
	"regions", "pages", "peak_pages", "alloc_failures", "tlb_flushes",
	"dmap_changes", "dmap_splits", "pool_pages",
};

#define NCOUNTERS	(sizeof(private_counters) / sizeof(private_counters[0]))

static int counters_nobody_child(void *arg, char *msg, size_t n)
{
	char path[256];
	size_t i;
	int fd;

	(void)arg;
	if (drop_to_nobody(LIM, msg, n))
		return 1;
	for (i = 0; i < NCOUNTERS; i++) {
		snprintf(path, sizeof(path), SM_SYSFS_DEV "/%s", private_counters[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			CFAIL("uid 65534 opened %s (it times other users' activity)", path);
		if (errno != EACCES)
			CFAIL("uid 65534 opening %s: %s, expected EACCES", path, strerror(errno));
	}
	fd = open(SM_SYSFS_METHOD, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		CFAIL("uid 65534 opening dmap_method: %s", strerror(errno));
	close(fd);
	return 0;
}

/*
 * The counters that time other users' activity are mode 0400 (root only):
 * uid 65534 gets EACCES; dmap_method stays 0444.
 */
SM_TEST(test_counters_root_only)
{
	char path[256];
	struct stat sb;
	size_t i;

	for (i = 0; i < NCOUNTERS; i++) {
		snprintf(path, sizeof(path), SM_SYSFS_DEV "/%s", private_counters[i]);
		ck_assert_msg(!stat(path, &sb), "stat %s: %s", path, strerror(errno));
		ck_assert_msg((sb.st_mode & 07777) == 0400, "%s is mode %04o, expected 0400",
			      path, sb.st_mode & 07777);
	}
	ck_assert_msg(!stat(SM_SYSFS_METHOD, &sb), "stat dmap_method: %s",
		      strerror(errno));
	ck_assert_msg((sb.st_mode & 07777) == 0444, "dmap_method is mode %04o, expected 0444",
		      sb.st_mode & 07777);
	run_child(counters_nobody_child, NULL);
}
END_TEST

/* ---- 6. TLB flushes an unprivileged user can cause ---- */

#define FLUSH_CYCLES	200

static int cycles_child(void *arg, char *msg, size_t n)
{
	size_t len = *(size_t *)arg, o;
	uint8_t *p;
	int i, fd;

	if (drop_to_nobody(4 * MB, msg, n))
		return 1;
	for (i = 0; i < FLUSH_CYCLES; i++) {
		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			CFAIL("cycle %d: open: %s", i, strerror(errno));
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			CFAIL("cycle %d: mmap %zu: %s", i, len, strerror(errno));
		for (o = 0; o < len; o += PAGE_SZ)
			((volatile uint8_t *)p)[o] = (uint8_t)i;
		if (munmap(p, len))
			CFAIL("cycle %d: munmap: %s", i, strerror(errno));
		close(fd);
	}
	return 0;
}

/*
 * uid 65534 (RLIMIT_MEMLOCK 4 MiB) runs 200 open+mmap+touch+munmap+close
 * cycles of 2 MiB, then of 4 KiB, with the pool at its default: at most one
 * kernel TLB flush (on every CPU) per 2 MiB cycle and one per 16 4-KiB
 * cycles.  Prints the measured flushes per cycle.
 */
SM_TEST(test_tlb_flushes_unprivileged_bound)
{
	size_t big = 2 * MB, small = 4 * KB;
	long t0, t1, t2;

	t0 = counter("tlb_flushes");
	run_child(cycles_child, &big);
	t1 = counter("tlb_flushes");
	run_child(cycles_child, &small);
	t2 = counter("tlb_flushes");
	printf("%s: pool_max_pages %ld: %ld flushes in %d 2 MiB cycles (%.3f per cycle), "
	       "%ld in %d 4 KiB cycles (%.3f per cycle)\n", tcase_name(),
	       read_long_file(SM_PARAM_POOL_MAX), t1 - t0, FLUSH_CYCLES,
	       (double)(t1 - t0) / FLUSH_CYCLES, t2 - t1, FLUSH_CYCLES,
	       (double)(t2 - t1) / FLUSH_CYCLES);
	ck_assert_msg(t1 - t0 <= FLUSH_CYCLES, "%ld TLB flushes in %d 2 MiB cycles of uid 65534 "
		      "(at most 1 per cycle)", t1 - t0, FLUSH_CYCLES);
	ck_assert_msg((t2 - t1) * 16 <= FLUSH_CYCLES, "%ld TLB flushes in %d 4 KiB cycles of uid "
		      "65534 (at most 1 per 16 cycles)", t2 - t1, FLUSH_CYCLES);
}
END_TEST
