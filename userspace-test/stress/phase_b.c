// SPDX-License-Identifier: GPL-2.0
// phase_b.c - phase B: a fork storm while mappings exist and threads churn.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "stress.h"

struct churn {
	double end;
	atomic_int stop;
};

/* Changes the mm (mmap/munmap) while the main thread forks. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	struct rng r;
	size_t pages;
	uint8_t *p;
	int fd = sm_dev_open();

	rng_init(&r, 0xb0b);
	if (fd < 0)
		return NULL;
	while (!atomic_load(&c->stop) && sm_now() < c->end) {
		pages = rnd_pages(&r, 64);
		p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			if (!expected_mmap_errno(errno, false))
				fail("phase B churn mmap: %s", strerror(errno));
			continue;
		}
		atomic_fetch_add(&n_mmaps, 1);
		fill(p, pages, 0xc4);
		if (!page_ok(p, pages - 1, 0xc4))
			fail("phase B churn mapping corrupt");
		munmap(p, pages * PAGE_SZ);
		atomic_fetch_add(&n_munmaps, 1);
	}
	close(fd);
	return NULL;
}

static volatile uintptr_t fork_target;

/*
 * The child's fault on the parent's address: SEGV_MAPERR there (no VMA at
 * all) is the expected end.  Caught rather than left to kill the child so
 * that 2000 children do not flood the kernel log with segfault reports.
 */
static void fork_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	_exit(sig == SIGSEGV && si->si_code == SEGV_MAPERR &&
	      (uintptr_t)si->si_addr == fork_target ? 0 : 7);
}

/* Child of the storm: exit 0 after the expected fault; 2..7 are failures. */
static void __attribute__((noreturn)) fork_child(uint8_t *target, int own_pages)
{
	struct sigaction sa = { .sa_sigaction = fork_segv, .sa_flags = SA_SIGINFO };
	volatile uint8_t *q;
	int fd;

	child_setup();
	fork_target = (uintptr_t)target;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (proc_status_kb(0, "VmLck") != 0)
		_exit(4);		/* the parent's charge leaked into the child */
	if (own_pages) {
		fd = sm_dev_open();
		if (fd < 0)
			_exit(5);
		q = mmap(NULL, own_pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED && errno != ENOMEM)
			_exit(6);
		if (q != MAP_FAILED) {
			if (!sm_all_zero(q, own_pages * PAGE_SZ))
				_exit(2);
			fill(q, own_pages, 0xcc);
		}
	}
	(void)*(volatile uint8_t *)target;	/* must die here: VM_DONTCOPY */
	_exit(3);
}

void phase_b(double secs)
{
	static const size_t held_pages[] = { 1, 16, 256, 512 };
	uint8_t *held[4];
	unsigned long segv = 0, bad = 0, n = 0;
	struct churn c = { .end = sm_now() + secs };
	int inflight = 0, st, fd, i, lastbad = 0;
	pthread_t churn_tid;
	char extra[160];
	struct rng r;
	struct snap s;
	pid_t pid;

	snap_take(&s);
	rng_init(&r, 0xb);
	fd = sm_dev_open();
	if (fd < 0) {
		fail("open: %s", strerror(errno));
		return;
	}
	for (i = 0; i < 4; i++) {
		held[i] = mmap(NULL, held_pages[i] * PAGE_SZ, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
		if (held[i] == MAP_FAILED) {
			fail("phase B: mmap of %zu pages: %s", held_pages[i], strerror(errno));
			while (i--)
				munmap(held[i], held_pages[i] * PAGE_SZ);
			close(fd);
			return;
		}
		atomic_fetch_add(&n_mmaps, 1);
		fill(held[i], held_pages[i], 0xb0 + i);
	}
	close(fd);
	if (pthread_create(&churn_tid, NULL, churn_main, &c))
		fail("pthread_create: %s", strerror(errno));
	fflush(NULL);
	while ((sm_now() < c.end && n < 2000 && !atomic_load(&failed)) || inflight) {
		if (inflight < 8 && sm_now() < c.end && n < 2000 && !atomic_load(&failed)) {
			i = rnd(&r) % 4;
			pid = fork();
			if (pid == 0)
				fork_child(held[i] + rnd_range(&r, 0, held_pages[i] - 1) * PAGE_SZ,
					   rnd(&r) & 1 ? (int)rnd_range(&r, 1, 16) : 0);
			if (pid < 0) {
				fail("fork: %s", strerror(errno));
				continue;
			}
			inflight++;
			n++;
			atomic_fetch_add(&n_forks, 1);
			atomic_fetch_add(&n_iter, 1);
			continue;
		}
		pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			fail("waitpid: %s", strerror(errno));
			break;
		}
		inflight--;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			segv++;
		} else {
			bad++;
			lastbad = st;
		}
	}
	atomic_store(&c.stop, 1);
	pthread_join(churn_tid, NULL);
	if (bad)
		fail("phase B: %lu of %lu fork children did not fault (SEGV_MAPERR) on the "
		     "parent's region (last status 0x%x; exit 3: read it, 7: other signal or "
		     "address, 4: VmLck inherited, 2: own region not zero)", bad, n, lastbad);
	for (i = 0; i < 4; i++) {
		size_t k;

		for (k = 0; k < held_pages[i]; k++)
			if (!page_ok(held[i], k, 0xb0 + i)) {
				fail("phase B: parent's page %zu of %zu changed during the fork storm",
				     k, held_pages[i]);
				break;
			}
		munmap(held[i], held_pages[i] * PAGE_SZ);
		atomic_fetch_add(&n_munmaps, 1);
	}
	snprintf(extra, sizeof(extra), "children=%lu segv_maperr=%lu", n, segv);
	snap_print("b (fork storm)", &s, extra);
	check_idle("b");
}

/* ---- phase C: SIGKILL of holders in the middle of a large mmap ---- */
