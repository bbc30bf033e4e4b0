// SPDX-License-Identifier: GPL-2.0
// phase_d.c - phase D: 1500 fds mapped and closed in random order.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "stress.h"

static void shuffle(int *a, int n, struct rng *r)
{
	int i, j, t;

	for (i = n - 1; i > 0; i--) {
		j = rnd(r) % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

void phase_d(double secs)
{
	double end = sm_now() + secs;
	int nfd = 1500, i, rounds = 0, *fds, *order;
	uint8_t **maps;
	size_t *pages;
	struct rlimit rl;
	char extra[96];
	struct rng r;
	struct snap s;

	snap_take(&s);
	rng_init(&r, 0xd);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)nfd + 64) {
		rl.rlim_cur = nfd + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			getrlimit(RLIMIT_NOFILE, &rl);
			nfd = (int)rl.rlim_cur - 64;
		}
	}
	fds = calloc(nfd, sizeof(*fds));
	order = calloc(nfd, sizeof(*order));
	maps = calloc(nfd, sizeof(*maps));
	pages = calloc(nfd, sizeof(*pages));
	if (!fds || !order || !maps || !pages) {
		fail("calloc");
		goto out;
	}
	while (sm_now() < end && rounds < 20 && !atomic_load(&failed)) {
		for (i = 0; i < nfd; i++) {
			fds[i] = sm_dev_open();
			if (fds[i] < 0) {
				fail("phase D: open #%d: %s", i, strerror(errno));
				nfd = i;
				break;
			}
			order[i] = i;
			maps[i] = NULL;
			if ((rnd(&r) & 1) || sm_now() > end)
				continue;	/* past the deadline: still open them all */
			pages[i] = rnd_range(&r, 1, 4);
			maps[i] = mmap(NULL, pages[i] * PAGE_SZ, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fds[i], 0);
			if (maps[i] == MAP_FAILED) {
				if (!expected_mmap_errno(errno, false))
					fail("phase D: mmap #%d: %s", i, strerror(errno));
				maps[i] = NULL;
				continue;
			}
			atomic_fetch_add(&n_mmaps, 1);
			fill(maps[i], pages[i], 0xd000 + i);
		}
		shuffle(order, nfd, &r);
		for (i = 0; i < nfd; i++)
			close(fds[order[i]]);
		shuffle(order, nfd, &r);
		for (i = 0; i < nfd; i++) {
			int k = order[i];

			if (!maps[k])
				continue;
			if (!page_ok(maps[k], pages[k] - 1, 0xd000 + k))
				fail("phase D: mapping #%d corrupt after its fd was closed", k);
			munmap(maps[k], pages[k] * PAGE_SZ);
			atomic_fetch_add(&n_munmaps, 1);
		}
		rounds++;
		atomic_fetch_add(&n_iter, 1);
		if (counters_settle(2000))
			fail("phase D: pages=%ld regions=%ld after closing %d fds",
			     sm_counter("pages"), sm_counter("regions"), nfd);
	}
out:
	free(fds);
	free(order);
	free(maps);
	free(pages);
	snprintf(extra, sizeof(extra), "fds=%d rounds=%d", nfd, rounds);
	snap_print("d (many fds)", &s, extra);
	check_idle("d");
}

/* ---- phase E: RLIMIT_MEMLOCK as uid 65534, then max_pages ---- */
