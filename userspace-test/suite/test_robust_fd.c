// SPDX-License-Identifier: GPL-2.0
// test_robust_fd.c - bad and unusual use of a region and its fd: every madvise value, read/write/lseek, SCM_RIGHTS, mlock, msync, PROT_NONE, pagemap, many fds.
#include <sys/resource.h>
#include <sys/socket.h>

#include "sm_test.h"

/* Values of MADV_* that may be missing from older libc headers. */
#define ADV_FREE		8
#define ADV_DONTNEED_LOCKED	24
#define ADV_HWPOISON		100
#define ADV_SOFT_OFFLINE	101
#define ADV_LAST		30	/* probe 0..ADV_LAST (25 is the last known on 6.12) */

SM_FILE("robust", 101, 900);

/* ---- madvise ---- */

SM_TEST_BASE(test_madvise_all_advice_data_intact)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	char line[1024];
	size_t o = 0;
	long bad;
	uint8_t *p;
	int adv, rc, err;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0xadf);
	for (adv = 0; adv <= ADV_LAST; adv++) {
		if (adv == ADV_HWPOISON || adv == ADV_SOFT_OFFLINE)
			continue;	/* CAP_SYS_ADMIN and destructive: never */
		errno = 0;
		rc = madvise(p, len, adv);
		err = rc ? errno : 0;
		o += snprintf(line + o, sizeof(line) - o, " %d=%s", adv, sm_errname(err));
		bad = check_tag(p, pages, 0xadf);
		ck_assert_msg(bad < 0, "madvise(%d) returned %s and page %ld lost its data",
			      adv, sm_errname(err), bad);
		expect_held(&sm_base, pages, 1, "after a madvise");
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
				      adv, sm_errname(err));
			break;
		default:
			break;
		}
	}
	printf("%s: results:%s\n", tcase_name(), line);
	ck_assert(!munmap(p, len));
}
END_TEST

/* ---- the fd itself ---- */

SM_TEST_BASE(test_fd_read_write_einval)
{
	char buf[16] = "x";
	ssize_t n;
	int fd;

	fd = dev_open();
	errno = 0;
	n = read(fd, buf, sizeof(buf));
	ck_assert_msg(n == -1 && errno == EINVAL, "read: %zd (%s), expected -1 EINVAL",
		      n, strerror(errno));
	errno = 0;
	n = write(fd, buf, sizeof(buf));
	ck_assert_msg(n == -1 && errno == EINVAL, "write: %zd (%s), expected -1 EINVAL",
		      n, strerror(errno));
	/* still usable for mmap afterwards */
	munmap(sm_mmap(fd, (1) * PAGE_SZ), PAGE_SZ);
	close(fd);
}
END_TEST

SM_TEST(test_fd_lseek_espipe)
{
	off_t r;
	int fd;

	fd = dev_open();
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
	if (!sm_all_zero(p, SCM_PAGES * PAGE_SZ)) {
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

SM_TEST_BASE(test_scm_rights_child_charged)
{
	const size_t ppages = 16;
	struct scm_report r = { 0 };
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
	fd = dev_open();
	p = sm_mmap(fd, ppages * PAGE_SZ);
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
	ck_assert_msg(counter("pages") == sm_base.pages + (long)ppages + SCM_PAGES,
		      "pages counter %ld with both regions, expected %ld",
		      counter("pages"), sm_base.pages + (long)ppages + SCM_PAGES);
	ck_assert_msg(check_tag(p, ppages, 0x9a9a) < 0, "parent's data changed by the child");
	ck_assert(write(sv[0], "g", 1) == 1);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(sv[0]);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x (3: pipe, "
		      "4: its data changed, 5: VmLck not back after munmap)", st);
	expect_held(&sm_base, ppages, 1, "after the child exited");
	ck_assert(!munmap(p, ppages * PAGE_SZ));
}
END_TEST

/* ---- mlock, msync, mprotect ---- */

SM_TEST_BASE(test_mlock_munlock_no_double_charge)
{
	const size_t pages = 8, len = pages * PAGE_SZ;
	uint8_t *p;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x10c);
	/* VM_SPECIAL: mlock succeeds without setting VM_LOCKED or counting again */
	ck_assert_msg(!mlock(p, len), "mlock: %s", strerror(errno));
	expect_held(&sm_base, pages, 1, "after mlock");
	ck_assert_msg(!munlock(p, len), "munlock: %s", strerror(errno));
	/* munlock must not take away the module's charge either */
	expect_held(&sm_base, pages, 1, "after munlock");
	ck_assert_msg(!mlock2(p, len, MLOCK_ONFAULT), "mlock2(MLOCK_ONFAULT): %s",
		      strerror(errno));
	expect_held(&sm_base, pages, 1, "after mlock2");
	map_tag_check(p, pages, 0x10c, false);
}
END_TEST

SM_TEST_BASE(test_msync_sync_einval_async_ok)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *p;
	int rc;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x5c);
	ck_assert_msg(!msync(p, len, MS_ASYNC), "msync(MS_ASYNC): %s", strerror(errno));
	ck_assert_msg(!msync(p, len, MS_INVALIDATE), "msync(MS_INVALIDATE): %s",
		      strerror(errno));
	/* MS_SYNC calls the file's ->fsync, which a device without one refuses */
	errno = 0;
	rc = msync(p, len, MS_SYNC);
	ck_assert_msg(rc == -1 && errno == EINVAL, "msync(MS_SYNC): %d (%s), expected -1 EINVAL",
		      rc, strerror(errno));
	map_tag_check(p, pages, 0x5c, false);
}
END_TEST

SM_TEST_BASE(test_mprotect_none_and_back)
{
	const size_t pages = 4, len = pages * PAGE_SZ;
	uint8_t *p;
	int sig;

	p = sm_map_pages(pages);
	fill_tag(p, pages, 0x4e4f);
	ck_assert_msg(!mprotect(p, len, PROT_NONE), "mprotect(PROT_NONE): %s", strerror(errno));
	sig = access_sig(p + PAGE_SZ, -1);
	ck_assert_msg(sig == SIGSEGV, "read of a PROT_NONE page: signal %d, expected SIGSEGV", sig);
	expect_held(&sm_base, pages, 1, "while PROT_NONE");
	ck_assert_msg(!mprotect(p, len, PROT_READ), "mprotect(PROT_READ): %s", strerror(errno));
	ck_assert(check_tag(p, pages, 0x4e4f) < 0);
	sig = access_sig(p, 0x5c);
	ck_assert_msg(sig == SIGSEGV, "write to a PROT_READ page: signal %d, expected SIGSEGV",
		      sig);
	ck_assert_msg(!mprotect(p, len, PROT_READ | PROT_WRITE), "mprotect back to RW: %s",
		      strerror(errno));
	ck_assert_msg(check_tag(p, pages, 0x4e4f) < 0, "data changed by PROT_NONE and back");
	ck_assert(access_sig(p + 2 * PAGE_SZ, 0x5c) == 0);
	ck_assert(!munmap(p, len));
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

	p = sm_map_pages(pages);
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

SM_TEST_BASE(test_many_fds_counters_zero)
{
	static int fds[MANY_FDS];
	static uint8_t *maps[MANY_FDS];
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
	for (i = 0; i < MANY_FDS; i++) {
		fds[i] = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		ck_assert_msg(fds[i] >= 0, "open #%d: %s", i, strerror(errno));
		maps[i] = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		ck_assert_msg(maps[i] != MAP_FAILED, "mmap #%d: %s", i, strerror(errno));
		*(volatile uint32_t *)maps[i] = (uint32_t)i * 2654435761u;
	}
	expect_held(&sm_base, MANY_FDS, MANY_FDS, "with all fds mapped");
	for (i = 0; i < MANY_FDS; i++)
		ck_assert(!close(fds[i]));
	/* the mappings keep their files: nothing freed yet */
	expect_held(&sm_base, MANY_FDS, MANY_FDS, "after closing the fds");
	for (i = MANY_FDS - 1; i >= 0; i--) {
		ck_assert_msg(*(volatile uint32_t *)maps[i] == (uint32_t)i * 2654435761u,
			      "mapping #%d lost its data", i);
		ck_assert(!munmap(maps[i], PAGE_SZ));
	}
}
END_TEST
