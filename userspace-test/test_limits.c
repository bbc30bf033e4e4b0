// SPDX-License-Identifier: GPL-2.0
// test_limits.c - Check tests: per-user RLIMIT_MEMLOCK, RSS and the OOM killer, fd flags, counters' permissions.
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

#define SYSFS_DEV	"/sys/class/misc/" SECRETMEM_DEVICE_NAME "/"
#define PARAM_MAX_PAGES	"/sys/module/" SECRETMEM_MODULE_NAME "/parameters/max_pages"
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_OOM		CG_ROOT "/smlimits_oom"
#define KB		1024UL
#define MB		(1024UL * 1024UL)
#define PF_SUPERPRIV	0x00000100UL

/* ---- helpers ---- */

static long counter(const char *name)
{
	char path[256];
	long v;

	snprintf(path, sizeof(path), SYSFS_DEV "%s", name);
	v = read_long_file(path);
	ck_assert_msg(v >= 0, "%s: %s", path, strerror(errno));
	return v;
}

/* Wait up to @ms for the module's pages and regions to be 0; true if they are. */
static bool counters_idle(int ms)
{
	for (; ms > 0; ms -= 50) {
		if (counter("pages") == 0 && counter("regions") == 0)
			return true;
		usleep(50000);
	}
	return counter("pages") == 0 && counter("regions") == 0;
}

/* Occurrences of @what in the kernel log (-1: cannot read it). */
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

/* A line in the kernel log, so that a log reader can tell expected reports. */
static void kmsg_note(const char *what)
{
	char line[256];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "<6>secretmem_test: %s\n", what);
	if (write(fd, line, strlen(line)) < 0)
		perror("/dev/kmsg");	/* only a note */
	close(fd);
}

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

static int set_flags(int fd, __u64 flags)
{
	return ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &flags);
}

static int get_info(int fd, struct secretmem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, SECRETMEM_IOC_GET_INFO, info);
}

/* ---- workers: children of a given privilege that map on command ---- */

enum w_priv {
	W_NOBODY,		/* drop_to_nobody(memlock) */
	W_NOBODY_SUID0,		/* uid 65534, no effective caps, saved uid 0 (may change uid) */
	W_NOBODY_IPC_LOCK,	/* uid 65534 with CAP_IPC_LOCK only */
	W_ROOT,			/* root, RLIMIT_MEMLOCK = memlock */
};

enum w_op {
	OP_MAP = 1,	/* open, mmap len, touch, close the fd: 0 or errno */
	OP_UNMAP,	/* munmap all: 0 */
	OP_VMLCK,	/* VmLck kB */
	OP_INFO,	/* GET_INFO memlock_left (-1: unlimited), or -errno */
	OP_SETUID,	/* become uid/gid 65533 entirely (W_NOBODY_SUID0): 0 or errno */
	OP_EXEC,	/* execve busybox sleep: no reply, the pipes close */
	OP_EXIT,	/* _exit(0) */
};

struct wreq {
	int op;
	unsigned long len;
};

struct worker {
	pid_t pid;
	int cmd, rep;
};

#define W_MAXMAPS	64

static int capset_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1U << CAP_IPC_LOCK;
	return syscall(SYS_capset, &h, d);
}

static int worker_priv(enum w_priv priv, unsigned long memlock, char *msg, size_t n)
{
	struct rlimit rl = { memlock, memlock };

	switch (priv) {
	case W_NOBODY:
		return drop_to_nobody(memlock, msg, n);
	case W_ROOT:
		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			CFAIL("setrlimit: %s", strerror(errno));
		return 0;
	case W_NOBODY_SUID0:
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
		    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 0))
			CFAIL("to uid 65534 (saved 0): %s", strerror(errno));
		if (proc_status_kb(0, "CapEff") != 0)
			CFAIL("CapEff not 0 as uid 65534 with saved uid 0");
		return 0;
	case W_NOBODY_IPC_LOCK:
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
		    prctl(PR_SET_KEEPCAPS, 1) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			CFAIL("to uid 65534 keeping caps: %s", strerror(errno));
		if (capset_ipc_lock())
			CFAIL("capset(CAP_IPC_LOCK): %s", strerror(errno));
		return 0;
	}
	CFAIL("bad priv");
}

static void __attribute__((noreturn)) worker_loop(int cfd, int rfd)
{
	void *maps[W_MAXMAPS];
	size_t lens[W_MAXMAPS];
	struct secretmem_info info;
	int nmaps = 0, fd, i;
	struct wreq rq;
	int64_t r;
	void *p;

	for (;;) {
		if (read(cfd, &rq, sizeof(rq)) != sizeof(rq))
			_exit(0);
		r = 0;
		switch (rq.op) {
		case OP_MAP:
			fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				r = errno;
				break;
			}
			p = mmap(NULL, rq.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED) {
				r = errno;
			} else if (nmaps == W_MAXMAPS) {
				munmap(p, rq.len);
				r = E2BIG;
			} else {
				for (size_t o = 0; o < rq.len; o += PAGE_SZ)
					((volatile uint8_t *)p)[o] = 0x5a;
				maps[nmaps] = p;
				lens[nmaps++] = rq.len;
			}
			close(fd);
			break;
		case OP_UNMAP:
			for (i = 0; i < nmaps; i++)
				munmap(maps[i], lens[i]);
			nmaps = 0;
			break;
		case OP_VMLCK:
			r = proc_status_kb(0, "VmLck");
			break;
		case OP_INFO:
			fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
			if (fd < 0 || get_info(fd, &info))
				r = -errno;
			else
				r = (int64_t)info.memlock_left;
			if (fd >= 0)
				close(fd);
			break;
		case OP_SETUID:
			if (setresuid(-1, 0, -1) || setgroups(0, NULL) ||
			    setresgid(65533, 65533, 65533) ||
			    setresuid(65533, 65533, 65533))
				r = errno;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			break;
		case OP_EXEC:
			execl("/bin/busybox", "busybox", "sleep", "300", (char *)NULL);
			execl("/bin/sleep", "sleep", "300", (char *)NULL);
			_exit(3);
		case OP_EXIT:
			_exit(0);
		default:
			r = EINVAL;
		}
		if (write(rfd, &r, sizeof(r)) != sizeof(r))
			_exit(2);
	}
}

static void worker_start(struct worker *w, enum w_priv priv, unsigned long memlock)
{
	int c[2], r[2];
	pid_t parent = getpid();
	char msg[256] = "";
	int64_t hello;
	ssize_t got;

	ck_assert(!pipe2(c, O_CLOEXEC) && !pipe2(r, O_CLOEXEC));
	fflush(NULL);
	w->pid = fork();
	ck_assert_msg(w->pid >= 0, "fork: %s", strerror(errno));
	if (!w->pid) {
		close(c[1]);
		close(r[0]);
		if (worker_priv(priv, memlock, msg, sizeof(msg))) {
			fprintf(stderr, "worker: %s\n", msg);
			hello = 1;
			if (write(r[1], &hello, sizeof(hello)) < 0)
				_exit(2);
			_exit(1);
		}
		/* after the uid change, which clears it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		hello = 0;
		if (write(r[1], &hello, sizeof(hello)) != sizeof(hello))
			_exit(2);
		worker_loop(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	w->cmd = c[1];
	w->rep = r[0];
	got = read(w->rep, &hello, sizeof(hello));
	ck_assert_msg(got == sizeof(hello) && hello == 0,
		      "worker (priv %d) could not set itself up (see stderr)", priv);
}

static int64_t worker_call(struct worker *w, int op, unsigned long len)
{
	struct wreq rq = { op, len };
	int64_t r;

	ck_assert_msg(write(w->cmd, &rq, sizeof(rq)) == sizeof(rq),
		      "worker %d: %s", (int)w->pid, strerror(errno));
	ck_assert_msg(read(w->rep, &r, sizeof(r)) == sizeof(r),
		      "worker %d died during op %d", (int)w->pid, op);
	return r;
}

static int worker_reap(struct worker *w)
{
	int st = 0;

	close(w->cmd);
	close(w->rep);
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* Let the worker exit and reap it. */
static void worker_exit(struct worker *w)
{
	struct wreq rq = { OP_EXIT, 0 };

	if (write(w->cmd, &rq, sizeof(rq)) != sizeof(rq))
		kill(w->pid, SIGKILL);
	worker_reap(w);
}

static void worker_kill(struct worker *w)
{
	kill(w->pid, SIGKILL);
	worker_reap(w);
}

/* execve() in the worker; returns when its old image is gone (pipes closed). */
static void worker_exec(struct worker *w)
{
	struct wreq rq = { OP_EXEC, 0 };
	int64_t r;

	ck_assert(write(w->cmd, &rq, sizeof(rq)) == sizeof(rq));
	ck_assert_msg(read(w->rep, &r, sizeof(r)) == 0, "worker did not exec");
	usleep(100000);
	ck_assert_msg(waitpid(w->pid, NULL, WNOHANG) == 0, "worker died at execve");
}

static const char *errname(int64_t e)
{
	return e == 0 ? "success" : strerror((int)e);
}

/* ---- 1. RLIMIT_MEMLOCK per user ---- */

#define LIM	(64 * KB)

/*
 * Four processes of one unprivileged user, RLIMIT_MEMLOCK 64 KiB each, each
 * try to map the whole 64 KiB and hold it: only the first gets it, the
 * others get EAGAIN (the limit is the user's, not each process's).
 */
SM_TEST(test_memlock_per_user_not_per_process)
{
	struct worker w[4];
	int64_t r[4];
	int i, ok = 0;

	for (i = 0; i < 4; i++) {
		worker_start(&w[i], W_NOBODY, LIM);
		r[i] = worker_call(&w[i], OP_MAP, LIM);
		if (!r[i])
			ok++;
	}
	printf("%s: %d of 4 processes of uid 65534 each mapped the whole 64 KiB limit "
	       "(results: %s, %s, %s, %s)\n", tcase_name(), ok, errname(r[0]),
	       errname(r[1]), errname(r[2]), errname(r[3]));
	for (i = 0; i < 4; i++)
		worker_kill(&w[i]);
	ck_assert_msg(r[0] == 0, "first 64 KiB mmap of uid 65534: %s", errname(r[0]));
	for (i = 1; i < 4; i++)
		ck_assert_msg(r[i] == EAGAIN, "%d of 4 processes of one user each mapped its "
			      "whole 64 KiB RLIMIT_MEMLOCK (process %d: %s, expected EAGAIN): "
			      "the limit is per process, not per user", ok, i + 1, errname(r[i]));
}
END_TEST

/*
 * A maps 48 KiB of the user's 64 KiB: B (same uid) gets EAGAIN for 32 KiB,
 * maps 16 KiB, then EAGAIN for 4 KiB more; after A unmaps, B maps 32 KiB.
 * VmLck of each process still shows its own mappings.
 */
SM_TEST(test_memlock_shared_by_user_processes)
{
	struct worker a, b;
	int64_t r;

	worker_start(&a, W_NOBODY, LIM);
	worker_start(&b, W_NOBODY, LIM);
	r = worker_call(&a, OP_MAP, 48 * KB);
	ck_assert_msg(r == 0, "A: 48 KiB under a 64 KiB limit: %s", errname(r));
	r = worker_call(&a, OP_VMLCK, 0);
	ck_assert_msg(r == 48, "A: VmLck %lld kB after mapping 48 KiB", (long long)r);
	r = worker_call(&b, OP_MAP, 32 * KB);
	ck_assert_msg(r == EAGAIN, "B: 32 KiB while A (same uid) holds 48 KiB of the 64 KiB "
		      "limit: %s, expected EAGAIN (the limit is per process)", errname(r));
	r = worker_call(&b, OP_MAP, 16 * KB);
	ck_assert_msg(r == 0, "B: 16 KiB (48 + 16 = the limit): %s", errname(r));
	r = worker_call(&b, OP_VMLCK, 0);
	ck_assert_msg(r == 16, "B: VmLck %lld kB after mapping 16 KiB", (long long)r);
	r = worker_call(&b, OP_MAP, 4 * KB);
	ck_assert_msg(r == EAGAIN, "B: 4 KiB past the user's limit: %s, expected EAGAIN",
		      errname(r));
	worker_call(&a, OP_UNMAP, 0);
	r = worker_call(&a, OP_VMLCK, 0);
	ck_assert_msg(r == 0, "A: VmLck %lld kB after munmap", (long long)r);
	r = worker_call(&b, OP_MAP, 32 * KB);
	ck_assert_msg(r == 0, "B: 32 KiB after A unmapped its 48 KiB: %s (charge not given "
		      "back to the user)", errname(r));
	r = worker_call(&b, OP_VMLCK, 0);
	ck_assert_msg(r == 48, "B: VmLck %lld kB after 16 + 32 KiB", (long long)r);
	worker_exit(&a);
	worker_exit(&b);
}
END_TEST

enum release_way { BY_MUNMAP, BY_EXIT, BY_EXEC, BY_SIGKILL, BY_UID_CHANGE_EXIT, NWAYS };

static const char *const way_name[NWAYS] = {
	"munmap", "exit", "execve", "SIGKILL", "uid change then exit",
};

/*
 * A holder maps the user's whole limit; while it holds it another process
 * of the user gets EAGAIN even for 4 KiB; once the holder has unmapped,
 * exited, exec'd, been killed, or changed its uid and exited, a fresh
 * process of the user maps the whole limit again: the charge went back to
 * the user it was taken from, whatever task tore the region down.
 */
SM_TEST(test_memlock_charge_returned_to_user)
{
	struct worker h, p;
	int64_t r;
	int way;

	for (way = 0; way < NWAYS; way++) {
		worker_start(&h, way == BY_UID_CHANGE_EXIT ? W_NOBODY_SUID0 : W_NOBODY, LIM);
		r = worker_call(&h, OP_MAP, LIM);
		ck_assert_msg(r == 0, "[%s] holder: 64 KiB: %s", way_name[way], errname(r));
		worker_start(&p, W_NOBODY, LIM);
		r = worker_call(&p, OP_MAP, 4 * KB);
		ck_assert_msg(r == EAGAIN, "[%s] 4 KiB while another process of the user holds "
			      "its whole 64 KiB limit: %s, expected EAGAIN", way_name[way],
			      errname(r));
		switch (way) {
		case BY_MUNMAP:
			worker_call(&h, OP_UNMAP, 0);
			break;
		case BY_EXIT:
			worker_exit(&h);
			break;
		case BY_EXEC:
			worker_exec(&h);
			break;
		case BY_SIGKILL:
			worker_kill(&h);
			break;
		case BY_UID_CHANGE_EXIT:
			r = worker_call(&h, OP_SETUID, 0);
			ck_assert_msg(r == 0, "holder: changing to uid 65533: %s", errname(r));
			worker_exit(&h);
			break;
		}
		r = worker_call(&p, OP_MAP, LIM);
		ck_assert_msg(r == 0, "[%s] the whole 64 KiB after the holder let go: %s (the "
			      "charge stayed with the user%s)", way_name[way], errname(r),
			      way == BY_UID_CHANGE_EXIT ? ", or went to the holder's new uid" : "");
		worker_exit(&p);
		if (way == BY_MUNMAP || way == BY_EXEC)
			worker_kill(&h);
	}
	/* Nothing left charged: a fresh process maps the whole limit. */
	worker_start(&p, W_NOBODY, LIM);
	r = worker_call(&p, OP_MAP, LIM);
	worker_exit(&p);
	ck_assert_msg(r == 0, "fresh process of uid 65534 after all holders left: %s",
		      errname(r));
	ck_assert_msg(counters_idle(2000), "pages %ld regions %ld after the test",
		      counter("pages"), counter("regions"));
}
END_TEST

/*
 * CAP_IPC_LOCK lifts the limit, as for mlock: root with RLIMIT_MEMLOCK
 * 64 KiB maps 1 MiB; so does a uid-65534 process holding CAP_IPC_LOCK.
 */
SM_TEST(test_memlock_cap_ipc_lock_exempt)
{
	struct worker w, p;
	int64_t r;

	worker_start(&w, W_ROOT, LIM);
	r = worker_call(&w, OP_MAP, 1 * MB);
	worker_exit(&w);
	ck_assert_msg(r == 0, "root with RLIMIT_MEMLOCK 64 KiB: 1 MiB: %s", errname(r));

	worker_start(&w, W_NOBODY_IPC_LOCK, LIM);
	r = worker_call(&w, OP_MAP, 1 * MB);
	ck_assert_msg(r == 0, "uid 65534 with CAP_IPC_LOCK, RLIMIT_MEMLOCK 64 KiB: 1 MiB: %s",
		      errname(r));
	/* Not asserted: whether the exempt mapping counts against the user. */
	worker_start(&p, W_NOBODY, LIM);
	r = worker_call(&p, OP_MAP, LIM);
	printf("%s: while a CAP_IPC_LOCK process of uid 65534 holds 1 MiB, a plain one "
	       "mapping 64 KiB: %s\n", tcase_name(), errname(r));
	worker_exit(&p);
	worker_exit(&w);
}
END_TEST

/* ---- 2. RSS and the OOM killer ---- */

struct rss {
	long file, total;
};

static void rss_read(struct rss *r)
{
	r->file = proc_status_kb(0, "RssFile");
	r->total = proc_status_kb(0, "VmRSS");
}

static void prewarm(void)
{
	void *a, *b;
	pid_t pid;
	struct rss r;
	int st;

	a = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a = mremap(a, 2 * PAGE_SZ, 2 * PAGE_SZ, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	a = mremap(a, 2 * PAGE_SZ, PAGE_SZ, 0);
	munmap(a, PAGE_SZ);
	pid = fork();
	if (!pid)
		_exit(0);
	waitpid(pid, &st, 0);
	rss_read(&r);
}

#define RSS_LEN		(4 * MB)
#define RSS_KB		(long)(RSS_LEN / KB)

static int rss_child(void *arg, char *msg, size_t n)
{
	struct rss r0, r1, r2, r3, r4, r5, r6;
	uint8_t *p, *q, *dst;
	int fd, pfd[2], st;
	long child_file;
	pid_t pid;

	(void)arg;
	prewarm();
	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		CFAIL("open: %s", strerror(errno));
	if (pipe2(pfd, O_CLOEXEC))
		CFAIL("pipe: %s", strerror(errno));
	dst = mmap(NULL, 3 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		CFAIL("reserving: %s", strerror(errno));
	rss_read(&r0);
	p = mmap(NULL, RSS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		CFAIL("mmap 4 MiB: %s", strerror(errno));
	rss_read(&r1);
	if (r1.file - r0.file != RSS_KB)
		CFAIL("RssFile rose by %ld kB at a 4 MiB mmap (%ld -> %ld), expected %ld: secret "
		      "pages not in RSS", r1.file - r0.file, r0.file, r1.file, RSS_KB);
	if (r1.total - r0.total != RSS_KB)
		CFAIL("VmRSS rose by %ld kB at a 4 MiB mmap (%ld -> %ld), expected %ld",
		      r1.total - r0.total, r0.total, r1.total, RSS_KB);
	memset(p, 0x33, RSS_LEN);
	/* partial munmap: the region keeps all its pages */
	if (munmap(p, 1 * MB))
		CFAIL("munmap first MiB: %s", strerror(errno));
	rss_read(&r2);
	if (r2.file != r1.file)
		CFAIL("RssFile %ld -> %ld kB after munmap of 1 MiB of the region (its pages "
		      "stay until its last part goes)", r1.file, r2.file);
	/* mremap: move, then shrink */
	q = mremap(p + MB, 3 * MB, 3 * MB, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q == MAP_FAILED)
		CFAIL("mremap move: %s", strerror(errno));
	rss_read(&r3);
	if (r3.file != r1.file)
		CFAIL("RssFile %ld -> %ld kB after mremap moved the region", r2.file, r3.file);
	if (mremap(q, 3 * MB, 2 * MB, 0) == MAP_FAILED)
		CFAIL("mremap shrink: %s", strerror(errno));
	rss_read(&r4);
	if (r4.file != r1.file)
		CFAIL("RssFile %ld -> %ld kB after mremap shrank the region", r3.file, r4.file);
	/* fork: the child does not get the region */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		child_file = proc_status_kb(0, "RssFile");
		if (write(pfd[1], &child_file, sizeof(child_file)) < 0)
			_exit(2);
		_exit(0);
	}
	if (read(pfd[0], &child_file, sizeof(child_file)) != sizeof(child_file))
		CFAIL("fork child did not report");
	waitpid(pid, &st, 0);
	rss_read(&r5);
	if (r5.file != r1.file)
		CFAIL("RssFile of the parent %ld -> %ld kB across fork", r4.file, r5.file);
	if (child_file - r0.file >= RSS_KB / 2)
		CFAIL("RssFile of a fork child is %ld kB (parent before the region: %ld): the "
		      "child's RSS includes the region it does not map", child_file, r0.file);
	/* the last part goes: RSS falls back exactly */
	rss_read(&r5);
	if (munmap(q, 2 * MB))
		CFAIL("munmap the rest: %s", strerror(errno));
	rss_read(&r6);
	if (r6.file != r0.file)
		CFAIL("RssFile %ld kB after the region's last part went, %ld before its mmap",
		      r6.file, r0.file);
	if (r5.total - r6.total != RSS_KB)
		CFAIL("VmRSS fell by %ld kB (%ld -> %ld) when the region's last part went, "
		      "expected %ld", r5.total - r6.total, r5.total, r6.total, RSS_KB);
	close(fd);
	printf("rss: RssFile %ld -> %ld (mmap) -> %ld (partial munmap) -> %ld (mremap) "
	       "-> %ld (fork; child %ld) -> %ld kB (munmap)\n", r0.file, r1.file, r2.file,
	       r4.file, r5.file, child_file, r6.file);
	fflush(stdout);
	/* exit with a region mapped: the kernel's rss check at exit must agree */
	p = mmap(NULL, RSS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		 open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC), 0);
	if (p == MAP_FAILED)
		CFAIL("mmap before exit: %s", strerror(errno));
	munmap(p + MB, MB);	/* a split region at exit, too */
	return 0;
}

/*
 * A process's secret pages count in its RSS (VmRSS, RssFile) from mmap
 * until the region's last part goes, exactly, across partial munmap,
 * mremap (move, shrink) and fork (the child's RSS does not include them);
 * exit with a region mapped leaves no "Bad rss-counter" report.
 */
SM_TEST(test_rss_counts_secret_pages)
{
	int bad0 = klog_count("Bad rss-counter"), bad1;

	run_child(rss_child, NULL);
	bad1 = klog_count("Bad rss-counter");
	ck_assert_msg(bad1 == bad0, "kernel log: %d new \"Bad rss-counter\" reports after the "
		      "child exited", bad1 - bad0);
	ck_assert_msg(counters_idle(2000), "pages %ld regions %ld after the child exited",
		      counter("pages"), counter("regions"));
}
END_TEST

#define OOM_MAX		(96 * MB)
#define OOM_SECRET	(56 * MB)
#define OOM_BYSTANDER	(16 * MB)
#define OOM_ALLOC_MAX	(40 * MB)	/* 56 + 16 + 40 > 96: the group must OOM */
#define OOM_ROUNDS	5

static void cg_kill_all(void)
{
	char line[64];
	FILE *f;

	if (!write_str(CG_OOM "/cgroup.kill", "1"))
		return;
	f = fopen(CG_OOM "/cgroup.procs", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		kill(atoi(line), SIGKILL);
	fclose(f);
}

/* Kill whatever is in the test's group and remove it; true if it is gone. */
static bool cg_cleanup(void)
{
	int i;

	if (access(CG_OOM, F_OK))
		return true;
	cg_kill_all();
	for (i = 0; i < 100; i++) {
		if (!rmdir(CG_OOM))
			return true;
		usleep(50000);
	}
	return false;
}

static void oom_setup(void)
{
	pool_off();
	cg_cleanup();
}

static void oom_teardown(void)
{
	cg_cleanup();
	kmsg_note("expected OOM kills end");
	pool_restore();
}

static long cg_key(const char *file, const char *key)
{
	char path[256], line[128];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), CG_OOM "/%s", file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

enum oom_role { HOLDER, BYSTANDER, ALLOCATOR, NROLES };

static const char *const role_name[NROLES] = { "holder", "bystander", "allocator" };

static void __attribute__((noreturn)) oom_kid(enum oom_role role, pid_t parent, int wfd)
{
	char buf[32];
	uint8_t *p;
	size_t len, o;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if (write_str(CG_OOM "/cgroup.procs", buf) || write_str("/proc/self/oom_score_adj", "0"))
		_exit(3);
	switch (role) {
	case HOLDER:
		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		p = mmap(NULL, OOM_SECRET, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(4);
		close(fd);
		break;
	case BYSTANDER:
		p = mmap(NULL, OOM_BYSTANDER, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(4);
		for (o = 0; o < OOM_BYSTANDER; o += PAGE_SZ)
			p[o] = 1;
		break;
	case ALLOCATOR:
		for (len = 0; len < OOM_ALLOC_MAX; len += MB) {
			p = mmap(NULL, MB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				_exit(4);
			for (o = 0; o < MB; o += PAGE_SZ)
				p[o] = 1;
		}
		break;
	default:
		_exit(5);
	}
	if (write(wfd, "R", 1) != 1)
		_exit(2);
	for (;;)
		pause();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start a kid and wait for its "R" or its end; 0, or its wait status. */
static int oom_kid_start(enum oom_role role, pid_t *pid, int *st, double timeout)
{
	struct pollfd pf;
	int p[2];
	char c;
	pid_t parent = getpid();

	*st = 0;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(NULL);
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid) {
		close(p[0]);
		oom_kid(role, parent, p[1]);
	}
	close(p[1]);
	pf.fd = p[0];
	pf.events = POLLIN;
	if (poll(&pf, 1, (int)(timeout * 1000)) != 1) {
		close(p[0]);
		return 2;	/* timed out */
	}
	if (read(p[0], &c, 1) == 1) {
		close(p[0]);
		return 0;
	}
	/* no "R" but the pipe closed: it is dying */
	close(p[0]);
	while (waitpid(*pid, st, 0) < 0 && errno == EINTR)
		;
	return 1;
}

/* One round; 0, or 1 with the reason in err.  Leaves the group empty. */
static int oom_round(int round, char *err, size_t n)
{
	pid_t pid[NROLES] = { 0, 0, 0 };
	int st[NROLES] = { 0, 0, 0 }, r, i, rc = 0;
	bool dead[NROLES] = { false, false, false };
	long oom_kill, pages, regions;
	char buf[32];
	double t0 = now_s();

	if (mkdir(CG_OOM, 0755)) {
		snprintf(err, n, "mkdir %s: %s", CG_OOM, strerror(errno));
		return 1;
	}
	snprintf(buf, sizeof(buf), "%lu", OOM_MAX);
	if (write_str(CG_OOM "/memory.max", buf)) {
		snprintf(err, n, "memory.max: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	write_str(CG_OOM "/memory.swap.max", "0");

	for (i = 0; i < NROLES; i++) {
		r = oom_kid_start(i, &pid[i], &st[i], 60);
		if (r < 0) {
			snprintf(err, n, "starting the %s: %s", role_name[i], strerror(errno));
			rc = 1;
			goto out;
		}
		if (r == 1)
			dead[i] = true;
		if (r == 2) {
			snprintf(err, n, "the %s did not get ready in 60 s", role_name[i]);
			rc = 1;
			goto out;
		}
		if (dead[i] && i != ALLOCATOR)
			break;
	}
	/* The allocator is done or dead: let a second victim, if any, fall. */
	usleep(1500000);
	for (i = 0; i < NROLES; i++)
		if (!dead[i] && pid[i] > 0 && waitpid(pid[i], &st[i], WNOHANG) == pid[i])
			dead[i] = true;
	oom_kill = cg_key("memory.events", "oom_kill");
	printf("%s: round %d (%.1f s): oom_kill %ld; holder %s, bystander %s, allocator %s\n",
	       tcase_name(), round, now_s() - t0, oom_kill,
	       dead[HOLDER] ? (WIFSIGNALED(st[HOLDER]) ? strsignal(WTERMSIG(st[HOLDER])) :
			       "exited") : "alive",
	       dead[BYSTANDER] ? (WIFSIGNALED(st[BYSTANDER]) ?
				  strsignal(WTERMSIG(st[BYSTANDER])) : "exited") : "alive",
	       dead[ALLOCATOR] ? (WIFSIGNALED(st[ALLOCATOR]) ?
				  strsignal(WTERMSIG(st[ALLOCATOR])) : "exited") : "alive");
	fflush(stdout);
	if (dead[HOLDER] && WIFEXITED(st[HOLDER])) {
		snprintf(err, n, "round %d: the holder exited with %d before the OOM (could not "
			 "map %lu MiB in a %lu MiB group?)", round, WEXITSTATUS(st[HOLDER]),
			 OOM_SECRET >> 20, OOM_MAX >> 20);
		rc = 1;
	} else if (!dead[HOLDER] || !WIFSIGNALED(st[HOLDER]) ||
		   WTERMSIG(st[HOLDER]) != SIGKILL) {
		snprintf(err, n, "round %d: the OOM killer did not kill the holder of %lu MiB of "
			 "secret memory (bystander %s, allocator %s, oom_kill %ld): its secret "
			 "pages are not in its RSS", round, OOM_SECRET >> 20,
			 dead[BYSTANDER] ? "killed" : "alive",
			 dead[ALLOCATOR] ? "killed" : "alive", oom_kill);
		rc = 1;
	} else if (dead[BYSTANDER] || dead[ALLOCATOR]) {
		snprintf(err, n, "round %d: besides the holder the OOM killer killed the %s%s "
			 "(oom_kill %ld): a second victim while the holder's pages were freed",
			 round, dead[BYSTANDER] ? "bystander" : "",
			 dead[ALLOCATOR] ? (dead[BYSTANDER] ? " and the allocator" : "allocator") : "",
			 oom_kill);
		rc = 1;
	} else if (oom_kill != 1) {
		snprintf(err, n, "round %d: memory.events oom_kill %ld, expected 1", round,
			 oom_kill);
		rc = 1;
	}
out:
	for (i = 0; i < NROLES; i++)
		if (pid[i] > 0 && !dead[i]) {
			kill(pid[i], SIGKILL);
			waitpid(pid[i], NULL, 0);
		}
	if (!cg_cleanup() && !rc) {
		snprintf(err, n, "round %d: cannot remove %s: %s", round, CG_OOM, strerror(errno));
		rc = 1;
	}
	if (!counters_idle(3000)) {
		pages = counter("pages");
		regions = counter("regions");
		if (!rc)
			snprintf(err, n, "round %d: %ld pages, %ld regions left after every process "
				 "of the group is gone", round, pages, regions);
		rc = 1;
	}
	return rc;
}

/*
 * In a 96 MiB memory cgroup a holder maps 56 MiB of secret memory, a
 * bystander holds 16 MiB of anonymous memory, and an allocator grows until
 * the group is out of memory.  The OOM killer must pick the holder (the
 * largest RSS) and only it, five rounds in a row; the module's pages and
 * regions return to 0 every time.
 */
SM_TEST(test_oom_kills_secret_holder)
{
	char err[512] = "";
	int round;

	ck_assert(!write_str("/proc/self/oom_score_adj", "-1000"));
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL))
			SKIP("cannot mount cgroup2: %s", strerror(errno));
	}
	if (!file_has(CG_ROOT "/cgroup.controllers", "memory"))
		SKIP("no memory controller in this kernel");
	if (!file_has(CG_ROOT "/cgroup.subtree_control", "memory") &&
	    write_str(CG_ROOT "/cgroup.subtree_control", "+memory"))
		SKIP("cannot enable the memory controller: %s", strerror(errno));
	kmsg_note("expected OOM kills begin (test_oom_kills_secret_holder)");
	for (round = 1; round <= OOM_ROUNDS; round++)
		if (oom_round(round, err, sizeof(err)))
			break;
	kmsg_note("expected OOM kills end");
	ck_assert_msg(!err[0], "%s", err);
}
END_TEST

/* ---- 3. SET_FLAGS after an mmap that made no page ---- */

static int flags_after_eagain_child(void *arg, char *msg, size_t n)
{
	struct secretmem_info info;
	void *p;
	int fd;

	(void)arg;
	if (drop_to_nobody(LIM, msg, n))
		return 1;
	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		CFAIL("open: %s", strerror(errno));
	p = mmap(NULL, 1 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED || errno != EAGAIN)
		CFAIL("1 MiB mmap over a 64 KiB RLIMIT_MEMLOCK: %s, expected EAGAIN",
		      p == MAP_FAILED ? strerror(errno) : "success");
	if (set_flags(fd, SECRETMEM_FLAG_UNCACHED))
		CFAIL("SET_FLAGS(UNCACHED) after an mmap that failed with EAGAIN: %s, expected "
		      "success (the failed mmap froze the fd's flags)", strerror(errno));
	if (get_info(fd, &info) || info.flags != SECRETMEM_FLAG_UNCACHED)
		CFAIL("GET_INFO flags 0x%llx after SET_FLAGS(UNCACHED)",
		      (unsigned long long)info.flags);
	p = mmap(NULL, 16 * KB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		CFAIL("16 KiB uncached mmap: %s", strerror(errno));
	errno = 0;
	if (!set_flags(fd, 0) || errno != EBUSY)
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

/*
 * An mmap that fails with ENOMEM because of max_pages makes no page:
 * SET_FLAGS(UNCACHED) on the same fd still succeeds after it.
 */
SM_TEST(test_set_flags_after_enomem_mmap)
{
	struct secretmem_info info;
	int fd, e, r;
	void *p;

	ck_assert_msg(saved_max_pages > 0, "reading %s", PARAM_MAX_PAGES);
	ck_assert(!write_long_file(PARAM_MAX_PAGES, counter("pages") + 16));
	fd = dev_open();
	p = mmap(NULL, 1 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	ck_assert(!write_long_file(PARAM_MAX_PAGES, saved_max_pages));
	ck_assert_msg(p == MAP_FAILED && e == ENOMEM, "1 MiB mmap over max_pages: %s, expected "
		      "ENOMEM", p == MAP_FAILED ? strerror(e) : "success");
	r = set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	ck_assert_msg(!r, "SET_FLAGS(UNCACHED) after an mmap that failed with ENOMEM (max_pages): "
		      "%s, expected success (the failed mmap froze the fd's flags)",
		      strerror(errno));
	ck_assert(!get_info(fd, &info));
	ck_assert_msg(info.flags == SECRETMEM_FLAG_UNCACHED, "GET_INFO flags 0x%llx",
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

/*
 * GET_INFO's memlock_left is the user's: it drops by 16 KiB in one process
 * of uid 65534 when another process of that uid maps 16 KiB.
 */
SM_TEST(test_get_info_memlock_left_per_user)
{
	struct worker a, b;
	int64_t l0, l1, r;

	worker_start(&a, W_NOBODY, LIM);
	worker_start(&b, W_NOBODY, LIM);
	l0 = worker_call(&a, OP_INFO, 0);
	ck_assert_msg(l0 >= 0, "GET_INFO in A: %s", strerror((int)-l0));
	r = worker_call(&b, OP_MAP, 16 * KB);
	ck_assert_msg(r == 0, "B: 16 KiB: %s", errname(r));
	l1 = worker_call(&a, OP_INFO, 0);
	printf("%s: memlock_left in A %lld -> %lld bytes after B mapped 16 KiB\n", tcase_name(),
	       (long long)l0, (long long)l1);
	worker_exit(&a);
	worker_exit(&b);
	ck_assert_msg(l0 == (int64_t)LIM, "memlock_left %lld in a fresh uid-65534 process with "
		      "RLIMIT_MEMLOCK 64 KiB (leftover charge of the user?)", (long long)l0);
	ck_assert_msg(l0 - l1 == 16 * KB, "memlock_left in A went %lld -> %lld bytes when B "
		      "(same uid) mapped 16 KiB, expected a drop of 16384", (long long)l0,
		      (long long)l1);
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
		snprintf(path, sizeof(path), SYSFS_DEV "%s", private_counters[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			CFAIL("uid 65534 opened %s (it times other users' activity)", path);
		if (errno != EACCES)
			CFAIL("uid 65534 opening %s: %s, expected EACCES", path, strerror(errno));
	}
	fd = open(SYSFS_DEV "dmap_method", O_RDONLY | O_CLOEXEC);
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
		snprintf(path, sizeof(path), SYSFS_DEV "%s", private_counters[i]);
		ck_assert_msg(!stat(path, &sb), "stat %s: %s", path, strerror(errno));
		ck_assert_msg((sb.st_mode & 07777) == 0400, "%s is mode %04o, expected 0400",
			      path, sb.st_mode & 07777);
	}
	ck_assert_msg(!stat(SYSFS_DEV "dmap_method", &sb), "stat dmap_method: %s",
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

/* ---- table ---- */

static const struct test_entry limits_tests[] = {
	T(test_memlock_per_user_not_per_process),
	T(test_memlock_shared_by_user_processes),
	T(test_memlock_charge_returned_to_user),
	T(test_memlock_cap_ipc_lock_exempt),
	T(test_rss_counts_secret_pages),
	TF(test_oom_kills_secret_holder, oom_setup, oom_teardown),
	T(test_set_flags_after_eagain_mmap),
	TF(test_set_flags_after_enomem_mmap, max_pages_save, max_pages_restore),
	T(test_get_info_no_superpriv),
	T(test_get_info_memlock_left_per_user),
	T(test_counters_root_only),
	T(test_tlb_flushes_unprivileged_bound),
};

TEST_TABLE(limits_table, limits_tests);
