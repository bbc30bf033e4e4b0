// SPDX-License-Identifier: GPL-2.0
// phase_c.c - phase C: SIGKILL of holders in the middle of a 64 MiB mmap.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "stress.h"

enum { C_START, C_MMAP, C_FILL, C_MUNMAP };

static void __attribute__((noreturn)) big_holder(volatile int *state)
{
	uint8_t *p;
	int fd;

	child_setup();
	fd = sm_dev_open();
	if (fd < 0)
		_exit(2);
	for (;;) {
		*state = C_MMAP;
		p = mmap(NULL, BIG_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			if (errno != ENOMEM && errno != EINTR)
				_exit(3);
			continue;
		}
		*state = C_FILL;
		fill(p, BIG_MAP / PAGE_SZ, 0xb16);
		*state = C_MUNMAP;
		munmap(p, BIG_MAP);
	}
}

void phase_c(double secs)
{
	unsigned long in_state[4] = { 0 }, rounds = 0;
	double end = sm_now() + secs;
	volatile int *state;
	char extra[160];
	pid_t pids[2];
	struct rng r;
	struct snap s;
	int k, n, st;

	snap_take(&s);
	rng_init(&r, 0xc);
	state = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (state == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return;
	}
	while (sm_now() < end && rounds < 200 && !atomic_load(&failed)) {
		n = 1 + (rnd(&r) % 3 == 0);
		fflush(NULL);
		for (k = 0; k < n; k++) {
			state[k * 16] = C_START;
			pids[k] = fork();
			if (pids[k] == 0)
				big_holder(&state[k * 16]);
			if (pids[k] < 0) {
				fail("fork: %s", strerror(errno));
				n = k;
				break;
			}
			atomic_fetch_add(&n_forks, 1);
		}
		for (k = 0; k < n; k++) {
			sm_msleep(rnd_range(&r, 0, 1500));
			in_state[state[k * 16] & 3]++;
			kill(pids[k], SIGKILL);
			atomic_fetch_add(&n_kills, 1);
		}
		for (k = 0; k < n; k++) {
			while (waitpid(pids[k], &st, 0) < 0 && errno == EINTR)
				;
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
				fail("phase C: holder status 0x%x (exit 3: mmap failed with an "
				     "unexpected errno)", st);
		}
		rounds++;
		atomic_fetch_add(&n_iter, 1);
		if (counters_settle(5000)) {
			fail("phase C: pages=%ld regions=%ld 5 s after killing the holders",
			     sm_counter("pages"), sm_counter("regions"));
			break;
		}
	}
	munmap((void *)state, PAGE_SZ);
	snprintf(extra, sizeof(extra),
		 "rounds=%lu killed_before_mmap=%lu in_mmap=%lu in_fill=%lu in_munmap=%lu",
		 rounds, in_state[C_START], in_state[C_MMAP], in_state[C_FILL],
		 in_state[C_MUNMAP]);
	snap_print("c (SIGKILL of 64 MiB holders)", &s, extra);
	check_idle("c");
}

/* ---- phase D: many fds at once ---- */
