// SPDX-License-Identifier: GPL-2.0
// phase_e.c - phase E: RLIMIT_MEMLOCK exhaustion as an unprivileged user, max_pages exhaustion by racing threads.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "stress.h"

struct e_report {
	unsigned long mmaps, eagain, maxlck_kb;
	int err;		/* errno of an unexpected failure, or 0 */
	char msg[160];
};

#define E_LIMIT		(256UL << 10)
#define E_LIVE		16

static void __attribute__((noreturn)) memlock_child(int wfd, double end)
{
	struct rlimit rl = { E_LIMIT, E_LIMIT };
	struct e_report rep = { 0 };
	uint8_t *live[E_LIVE] = { 0 };
	size_t lpages[E_LIVE] = { 0 };
	struct rng r;
	long vl;
	int fd, k;

	child_setup();
	rng_init(&r, 0xe);
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
		snprintf(rep.msg, sizeof(rep.msg), "dropping privileges: %s", strerror(errno));
		goto out;
	}
	fd = sm_dev_open();
	if (fd < 0) {
		snprintf(rep.msg, sizeof(rep.msg), "open as uid 65534: %s", strerror(errno));
		goto out;
	}
	while (sm_now() < end && rep.mmaps + rep.eagain < 20000) {
		k = rnd(&r) % E_LIVE;
		if (live[k]) {
			if (!page_ok(live[k], lpages[k] - 1, 0xe0 + k)) {
				snprintf(rep.msg, sizeof(rep.msg), "uid 65534 mapping corrupt");
				goto out;
			}
			munmap(live[k], lpages[k] * PAGE_SZ);
			live[k] = NULL;
			continue;
		}
		lpages[k] = rnd_range(&r, 1, 24);
		live[k] = mmap(NULL, lpages[k] * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (live[k] == MAP_FAILED) {
			live[k] = NULL;
			if (errno == EAGAIN) {
				rep.eagain++;
				continue;
			}
			if (errno == ENOMEM)
				continue;
			rep.err = errno;
			snprintf(rep.msg, sizeof(rep.msg), "mmap of %zu pages as uid 65534: %s",
				 lpages[k], strerror(errno));
			goto out;
		}
		rep.mmaps++;
		fill(live[k], lpages[k], 0xe0 + k);
		vl = proc_status_kb(0, "VmLck");
		if (vl > (long)rep.maxlck_kb)
			rep.maxlck_kb = vl;
		if (vl > (long)(E_LIMIT >> 10)) {
			snprintf(rep.msg, sizeof(rep.msg), "VmLck %ld kB over the %lu kB limit",
				 vl, E_LIMIT >> 10);
			goto out;
		}
	}
	for (k = 0; k < E_LIVE; k++)
		if (live[k])
			munmap(live[k], lpages[k] * PAGE_SZ);
	vl = proc_status_kb(0, "VmLck");
	if (vl != 0)
		snprintf(rep.msg, sizeof(rep.msg), "VmLck %ld kB after unmapping all", vl);
out:
	if (write(wfd, &rep, sizeof(rep)) < 0)
		_exit(2);
	_exit(rep.msg[0] ? 1 : 0);
}

struct budget {
	double end;
	long limit;
	atomic_long held;	/* pages of successful mmaps, never above the truth */
	atomic_ulong over, enomem, mmaps;
};

static void *budget_main(void *arg)
{
	struct budget *b = arg;
	uint8_t *live[8] = { 0 };
	size_t lp[8] = { 0 };
	struct rng r;
	int fd, k;

	rng_init(&r, (uint64_t)(uintptr_t)&r);
	fd = sm_dev_open();
	if (fd < 0)
		return NULL;
	while (sm_now() < b->end && !atomic_load(&failed)) {
		k = rnd(&r) % 8;
		atomic_fetch_add(&n_iter, 1);
		if (live[k]) {
			atomic_fetch_sub(&b->held, lp[k]);	/* before: held <= allocated */
			munmap(live[k], lp[k] * PAGE_SZ);
			atomic_fetch_add(&n_munmaps, 1);
			live[k] = NULL;
			continue;
		}
		lp[k] = rnd_range(&r, 1, 64);
		live[k] = mmap(NULL, lp[k] * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (live[k] == MAP_FAILED) {
			live[k] = NULL;
			if (errno != ENOMEM)
				fail("phase E: mmap under max_pages: %s, expected ENOMEM",
				     strerror(errno));
			atomic_fetch_add(&b->enomem, 1);
			atomic_fetch_add(&n_enomem, 1);
			continue;
		}
		atomic_fetch_add(&n_mmaps, 1);
		atomic_fetch_add(&b->mmaps, 1);
		fill(live[k], lp[k], 0xbd);
		/*
		 * (The sysfs counter itself may read above the cap for a moment:
		 * a reservation is added, then taken back if over.)
		 */
		if (atomic_fetch_add(&b->held, lp[k]) + (long)lp[k] > b->limit)
			atomic_fetch_add(&b->over, 1);
	}
	for (k = 0; k < 8; k++) {
		if (!live[k])
			continue;
		atomic_fetch_sub(&b->held, lp[k]);
		munmap(live[k], lp[k] * PAGE_SZ);
	}
	close(fd);
	return NULL;
}

void phase_e(double secs)
{
	struct e_report rep = { 0 };
	struct budget b = { 0 };
	pthread_t tids[MAX_THREADS];
	int pfd[2], st, i, n = 0;
	char extra[256];
	struct snap s;
	ssize_t got;
	pid_t pid;

	snap_take(&s);
	/* (1) RLIMIT_MEMLOCK as nobody */
	if (pipe2(pfd, O_CLOEXEC)) {
		fail("pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		memlock_child(pfd[1], sm_now() + secs / 2);
	}
	close(pfd[1]);
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		close(pfd[0]);
		return;
	}
	atomic_fetch_add(&n_forks, 1);
	got = read(pfd[0], &rep, sizeof(rep));
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(rep) || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("phase E: uid 65534 child status 0x%x: %s", st,
		     got == sizeof(rep) ? rep.msg : "no report (crashed?)");
	atomic_fetch_add(&n_mmaps, rep.mmaps);
	atomic_fetch_add(&n_eagain, rep.eagain);
	atomic_fetch_add(&n_iter, rep.mmaps + rep.eagain);
	if (!rep.eagain)
		fail("phase E: no EAGAIN in %lu mmaps under a %lu KiB RLIMIT_MEMLOCK",
		     rep.mmaps, E_LIMIT >> 10);
	check_idle("e (memlock)");

	/* (2) max_pages: threads race for a small budget */
	if (!param_ok(0)) {
		printf("SM-SKIP stress-phase-e-max_pages: %s unreadable\n", params[0].path);
	} else {
		b.limit = 128;		/* the counters are 0 here (check_idle) */
		b.end = sm_now() + secs / 2;
		if (param_set(0, b.limit))
			fail("setting max_pages: %s", strerror(errno));
		for (i = 0; i < opt_threads && i < MAX_THREADS; i++, n++)
			if (pthread_create(&tids[i], NULL, budget_main, &b))
				break;
		for (i = 0; i < n; i++)
			pthread_join(tids[i], NULL);
		param_set(0, params[0].val);
		if (b.over)
			fail("phase E: the threads held more than max_pages=%ld %lu times",
			     b.limit, (unsigned long)b.over);
		if (!b.enomem)
			fail("phase E: no ENOMEM from %d threads racing for max_pages=%ld",
			     n, b.limit);
	}
	snprintf(extra, sizeof(extra), "memlock_mmaps=%lu memlock_eagain=%lu max_vmlck=%lukB "
		 "budget_mmaps=%lu budget_enomem=%lu", rep.mmaps, rep.eagain, rep.maxlck_kb,
		 (unsigned long)b.mmaps, (unsigned long)b.enomem);
	snap_print("e (RLIMIT_MEMLOCK as 65534, max_pages)", &s, extra);
	check_idle("e");
}

/* ---- phase F: a memory cgroup that runs out ---- */
