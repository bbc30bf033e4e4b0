/* SPDX-License-Identifier: GPL-2.0 */
/* workers.h - children of a given privilege that map /dev/secretmem on command (the limits tests). */
#ifndef SM_WORKERS_H
#define SM_WORKERS_H

#include <stdint.h>
#include <sys/types.h>

#define KB		1024UL
#define MB		(1024UL * 1024UL)
/* The RLIMIT_MEMLOCK of the unprivileged workers. */
#define LIM		(64 * KB)

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

void worker_start(struct worker *w, enum w_priv priv, unsigned long memlock);
int64_t worker_call(struct worker *w, int op, unsigned long len);
void worker_exit(struct worker *w);
void worker_kill(struct worker *w);
void worker_exec(struct worker *w);

#endif /* SM_WORKERS_H */
