// SPDX-License-Identifier: GPL-2.0
// phase_g.c - phase G: random fault injection (module hooks, fail_page_alloc) while the pool is resized at random.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "stress.h"

struct toggler {
	double end;
	atomic_int stop;
	unsigned long toggles;
};

static void *toggler_main(void *arg)
{
	struct toggler *t = arg;
	static const long pool_sizes[] = { 0, 1, 64, 512, 4096 };
	struct rng r;
	long v[3];
	int i;

	rng_init(&r, 0x6);
	while (!atomic_load(&t->stop) && sm_now() < t->end) {
		for (i = 0; i < 3; i++)
			v[i] = rnd(&r) % 3 ? 0 : (long)rnd_range(&r, 1, i == 1 ? 64 : 6);
		atomic_store(&faults_armed, v[0] || v[1] || v[2]);
		for (i = 0; i < 3; i++)
			param_set(1 + i, v[i]);
		/* Resize (and so drain) the pool while mmaps and teardowns run. */
		if (param_ok(PARAM_POOL_MAX) && rnd(&r) % 4 == 0)
			param_set(PARAM_POOL_MAX, pool_sizes[rnd(&r) % 5]);
		t->toggles++;
		sm_msleep(rnd_range(&r, 1, 30));
	}
	for (i = 0; i < 3; i++)
		param_set(1 + i, 0);
	if (param_ok(PARAM_POOL_MAX))
		param_set(PARAM_POOL_MAX, params[PARAM_POOL_MAX].val);
	sm_msleep(5);
	atomic_store(&faults_armed, 0);
	return NULL;
}

static bool fi_setup(void)
{
	static const char *const set[NKNOBS] = {
		"20", "1", "-1", "0", "0", "Y", "N", "N", "0", "N",
	};
	char path[256];
	bool any = false;
	size_t a, k;
	int fd;
	ssize_t n;

	for (a = 0; a < NFI; a++) {
		snprintf(path, sizeof(path), "%sprobability", fi_attrs[a].dir);
		if (access(path, W_OK))
			continue;
		fi_attrs[a].present = true;
		any = true;
		for (k = 0; k < NKNOBS; k++) {
			snprintf(path, sizeof(path), "%s%s", fi_attrs[a].dir, fi_knobs[k]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, fi_attrs[a].saved[k], sizeof(fi_attrs[a].saved[k]) - 1);
			close(fd);
			if (n <= 0) {
				fi_attrs[a].saved[k][0] = 0;
				continue;
			}
			fi_attrs[a].saved[k][n] = 0;
		}
		/* probability last: nothing fails before the filters are in place */
		for (k = NKNOBS; k-- > 0;) {
			snprintf(path, sizeof(path), "%s%s", fi_attrs[a].dir, fi_knobs[k]);
			if (!access(path, W_OK))
				write_str(path, set[k]);
		}
	}
	return any;
}

static void make_it_fail_off(int mif)
{
	int i;

	for (i = 0; i < 1000 && pwrite(mif, "0", 1, 0) != 1; i++)
		;
	if (i == 1000)
		fail("cannot clear /proc/thread-self/make-it-fail");
}

void phase_g(double secs)
{
	struct toggler t = { .end = sm_now() + secs / 2 };
	unsigned long fi_mmaps = 0, fi_fail = 0, fi_other = 0;
	pthread_t tid;
	char extra[256];
	struct rng r;
	struct snap s;
	size_t pages;
	double end;
	uint8_t *p;
	int fd, mif, err, nthr;
	bool hooks = param_ok(1) && param_ok(2) && param_ok(3);

	snap_take(&s);
	/* (1) the module's hooks, toggled while threads map (and MAP_FIXED over) */
	if (hooks) {
		if (pthread_create(&tid, NULL, toggler_main, &t)) {
			fail("pthread_create: %s", strerror(errno));
			return;
		}
		nthr = opt_threads > 2 ? 2 : opt_threads;
		run_threads(nthr, secs / 2, 100000, true, 256);
		atomic_store(&t.stop, 1);
		pthread_join(tid, NULL);
	}
	else
		printf("SM-SKIP stress-phase-g-hooks: %s, %s or %s missing: module without fault hooks\n",
		       params[1].path, params[2].path, params[3].path);
	check_idle("g (module hooks)");

	/* (2) fail_page_alloc / failslab for this thread only, around mmap */
	rng_init(&r, 0x67);
	if (access("/proc/thread-self/make-it-fail", W_OK) || !fi_setup()) {
		printf("SM-SKIP stress-phase-g-fail_page_alloc: /proc/thread-self/make-it-fail "
		       "or fail_page_alloc/failslab missing (kernel without FAULT_INJECTION)\n");
		snprintf(extra, sizeof(extra), "hooks=%s toggles=%lu fail_page_alloc=absent",
			 hooks ? "yes" : "absent", t.toggles);
		goto out;
	}
	fd = sm_dev_open();
	/* opened once: an open() itself may fail while make-it-fail is 1 */
	mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	end = sm_now() + secs / 2;
	while (fd >= 0 && mif >= 0 && sm_now() < end && fi_mmaps + fi_fail < 5000 &&
	       !atomic_load(&failed)) {
		pages = rnd_pages(&r, 128);
		atomic_fetch_add(&n_iter, 1);
		if (pwrite(mif, "1", 1, 0) != 1)
			break;
		p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		err = errno;
		make_it_fail_off(mif);
		if (p == MAP_FAILED) {
			if (err == ENOMEM || err == EINTR || err == EAGAIN) {
				fi_fail++;
				atomic_fetch_add(&n_faults, 1);
			} else {
				fi_other++;
				fail("phase G: mmap under fail_page_alloc: %s", strerror(err));
			}
			continue;
		}
		fi_mmaps++;
		atomic_fetch_add(&n_mmaps, 1);
		if (!sm_all_zero(p, pages * PAGE_SZ))
			fail("phase G: region mapped under fail_page_alloc not zeroed");
		fill(p, pages, 0x6f);
		if (!page_ok(p, pages - 1, 0x6f))
			fail("phase G: region mapped under fail_page_alloc corrupt");
		munmap(p, pages * PAGE_SZ);
		atomic_fetch_add(&n_munmaps, 1);
	}
	if (mif >= 0) {
		make_it_fail_off(mif);
		close(mif);
	}
	fi_restore_raw();
	if (fd >= 0)
		close(fd);
	snprintf(extra, sizeof(extra), "hooks=%s toggles=%lu fail_page_alloc: mmaps=%lu "
		 "failed=%lu other=%lu", hooks ? "yes" : "absent", t.toggles, fi_mmaps,
		 fi_fail, fi_other);
out:
	snap_print("g (fault injection)", &s, extra);
	check_idle("g");
}

/* ---- main ---- */

/* A stray SIGSEGV/SIGBUS: say where (and in which known mapping), restore, exit. */
