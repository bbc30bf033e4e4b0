// SPDX-License-Identifier: GPL-2.0
// workers.c - children of a given privilege that map /dev/secretmem on command (the limits tests).
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "sm_test.h"
#include "workers.h"

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
			if (fd < 0 || sm_get_info(fd, &info))
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

void worker_start(struct worker *w, enum w_priv priv, unsigned long memlock)
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

int64_t worker_call(struct worker *w, int op, unsigned long len)
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
void worker_exit(struct worker *w)
{
	struct wreq rq = { OP_EXIT, 0 };

	if (write(w->cmd, &rq, sizeof(rq)) != sizeof(rq))
		kill(w->pid, SIGKILL);
	worker_reap(w);
}

void worker_kill(struct worker *w)
{
	kill(w->pid, SIGKILL);
	worker_reap(w);
}

/* execve() in the worker; returns when its old image is gone (pipes closed). */
void worker_exec(struct worker *w)
{
	struct wreq rq = { OP_EXEC, 0 };
	int64_t r;

	ck_assert(write(w->cmd, &rq, sizeof(rq)) == sizeof(rq));
	ck_assert_msg(read(w->rep, &r, sizeof(r)) == 0, "worker did not exec");
	usleep(100000);
	ck_assert_msg(waitpid(w->pid, NULL, WNOHANG) == 0, "worker died at execve");
}

