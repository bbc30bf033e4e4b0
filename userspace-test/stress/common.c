// SPDX-License-Identifier: GPL-2.0
// common.c - the stress program's shared state and helpers: options, counters, failure, random numbers, module parameters, the phase-A mapping threads, phase reports.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "stress.h"

/* ---- options, counters, failure ---- */

double opt_seconds = 60;
int opt_threads = 4;
uint64_t opt_seed;
const char *opt_phases = "abcdefg";

atomic_ulong n_iter, n_mmaps, n_forks, n_kills, n_faults, n_enomem, n_eagain;
atomic_ulong n_munmaps, n_partial, n_mprotects, n_mremaps, n_fixed;

struct pattern pat;
atomic_int failed;
char fail_msg[512];
pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

void fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	if (!atomic_load(&failed)) {
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
		va_end(ap);
		printf("stress: ERROR %s\n", fail_msg);
		fflush(stdout);
	}
	atomic_store(&failed, 1);
	pthread_mutex_unlock(&fail_lock);
}

void rng_init(struct rng *r, uint64_t salt)
{
	r->s = (opt_seed ^ (salt * 0x9e3779b97f4a7c15ULL)) | 1;
}

uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

unsigned long rnd_range(struct rng *r, unsigned long lo, unsigned long hi)
{
	return lo + rnd(r) % (hi - lo + 1);
}

/* Mostly small mappings, some up to 2 MiB. */
size_t rnd_pages(struct rng *r, size_t max)
{
	if (rnd(r) & 1)
		return rnd_range(r, 1, max < 16 ? max : 16);
	return rnd_range(r, 1, max);
}

/* Wait up to ms for pages and regions to reach 0; 0 on success. */
int counters_settle(long ms)
{
	double end = sm_now() + ms / 1000.0;

	do {
		if (sm_counter("pages") == 0 && sm_counter("regions") == 0)
			return 0;
		sm_msleep(20);
	} while (sm_now() < end);
	return -1;
}

void check_idle(const char *phase)
{
	long vl;

	if (counters_settle(5000))
		fail("after phase %s: pages=%ld regions=%ld, expected 0", phase,
		     sm_counter("pages"), sm_counter("regions"));
	vl = proc_status_kb(0, "VmLck");
	if (vl != 0)
		fail("after phase %s: VmLck %ld kB, expected 0", phase, vl);
}

void child_setup(void)
{
	signal(SIGSEGV, SIG_DFL);	/* the parent's crash reporter is not ours */
	signal(SIGBUS, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* ---- module parameters: saved at start, restored at every exit ---- */

static const char *const param_paths[NPARAMS] = {
	SM_PARAM_MAX_PAGES, SM_PARAM_FAULT_ALLOC, SM_PARAM_FAULT_DMAP, SM_PARAM_FAULT_MAP,
	SM_PARAM_POOL_MAX,
};
struct sm_param params[NPARAMS];

void params_save(void)
{
	size_t i;

	for (i = 0; i < NPARAMS; i++)
		sm_param_save(&params[i], param_paths[i]);
}

bool param_ok(size_t i)
{
	return params[i].val >= 0;
}

int param_set(size_t i, long v)
{
	if (!param_ok(i))
		return -1;
	return write_long_file(params[i].path, v);
}

/* Async-signal-safe (sm_param_restore: open/write/close only). */
void params_restore_raw(void)
{
	size_t i;

	for (i = 0; i < NPARAMS; i++)
		sm_param_restore(&params[i]);
}

/* write(2) whose result does not matter (restoring on the way out). */
void write_str_fd(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	(void)n;
}

/* fail_page_alloc / failslab: the knobs set during phase G, restored after. */
const char *const fi_knobs[NKNOBS] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "ignore-gfp-highmem", "min-order", "cache-filter",
};

struct fi_attr fi_attrs[NFI] = {
	{ FAULT_DIR "fail_page_alloc/", false, { { 0 } } },
	{ FAULT_DIR "failslab/", false, { { 0 } } },
};

void fi_restore_raw(void)
{
	char path[256];
	size_t a, k, n;

	for (a = 0; a < NFI; a++) {
		if (!fi_attrs[a].present)
			continue;
		for (k = 0; k < NKNOBS; k++) {
			if (!fi_attrs[a].saved[k][0])
				continue;
			n = strlen(fi_attrs[a].dir);
			memcpy(path, fi_attrs[a].dir, n);
			memcpy(path + n, fi_knobs[k], strlen(fi_knobs[k]) + 1);
			write_str(path, fi_attrs[a].saved[k]);
		}
	}
}

void watchdog(int sig)
{
	static const char msg[] = "stress: FAIL watchdog: the run overran its time bound\n";

	(void)sig;
	params_restore_raw();
	fi_restore_raw();
	write_str_fd(1, msg);
	_exit(3);	/* children die with us (PR_SET_PDEATHSIG) */
}

/* ---- mapping helpers ---- */

/* Tag of page i of mapping id at offset 0; the pattern sits at PATTERN_OFFSET. */
uint64_t tag_of(uint64_t id, size_t i)
{
	return id << 20 ^ i ^ 0x5ec7e7000000000ULL;
}

void fill(volatile uint8_t *p, size_t pages, uint64_t id)
{
	size_t i;

	pattern_fill_pages(&pat, p, pages * PAGE_SZ);
	for (i = 0; i < pages; i++)
		*(volatile uint64_t *)(p + i * PAGE_SZ) = tag_of(id, i);
}

bool page_ok(const volatile uint8_t *p, size_t i, uint64_t id)
{
	return *(const volatile uint64_t *)(p + i * PAGE_SZ) == tag_of(id, i) &&
	       pattern_match_volatile(&pat, p + i * PAGE_SZ + PATTERN_OFFSET);
}

/* Count an mmap failure; true if the errno is one the module documents. */
bool expected_mmap_errno(int err, bool armed)
{
	switch (err) {
	case ENOMEM:
		if (armed)
			atomic_fetch_add(&n_faults, 1);
		else
			atomic_fetch_add(&n_enomem, 1);
		return true;
	case EAGAIN:
		atomic_fetch_add(&n_eagain, 1);
		return true;
	case EINTR:
		return true;
	default:
		return false;
	}
}

long fd_mapped_bytes(int fd)
{
	struct secretmem_info info = { .size = sizeof(info) };

	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info))
		return -1;
	return (long)info.mapped_bytes;
}

/* ---- phase A: threads mapping, splitting, protecting, moving, unmapping ---- */

atomic_int faults_armed;		/* phase G: some fault_*_nth is set */
/* Each phase-A thread's mappings, for the crash report. */
struct amap *volatile thread_maps[MAX_THREADS];

int prot_of(int st)
{
	return st == PG_RW ? PROT_READ | PROT_WRITE : st == PG_RO ? PROT_READ : PROT_NONE;
}

void amap_verify(struct amap *m, const char *when)
{
	size_t i;

	for (i = 0; i < m->pages; i++) {
		if (m->st[i] != PG_RW && m->st[i] != PG_RO)
			continue;
		if (!page_ok(m->p, i, m->id)) {
			fail("phase A: page %zu of mapping %#llx (%zu pages) corrupt %s",
			     i, (unsigned long long)m->id, m->pages, when);
			return;
		}
	}
}

bool amap_any_live(struct amap *m)
{
	size_t i;

	for (i = 0; i < m->pages; i++)
		if (m->st[i] != PG_GONE)
			return true;
	return false;
}

/*
 * Unmap the pages of [s, e) still mapped, run by run: a hole that an
 * earlier munmap made may hold another thread's mapping by now.
 */
void amap_unmap(struct amap *m, size_t s, size_t e)
{
	size_t i, j;

	for (i = s; i < e; i = j) {
		if (m->st[i] == PG_GONE) {
			j = i + 1;
			continue;
		}
		for (j = i; j < e && m->st[j] != PG_GONE; j++)
			;
		if (munmap(m->p + i * PAGE_SZ, (j - i) * PAGE_SZ)) {
			fail("munmap [%zu,%zu) of %zu pages: %s", i, j, m->pages,
			     strerror(errno));
			return;
		}
		memset(m->st + i, PG_GONE, j - i);
	}
}

void amap_drop(struct amap *m)
{
	if (m->live)
		amap_unmap(m, 0, m->pages);
	atomic_fetch_add(&n_munmaps, 1);
	m->live = false;
}

void amap_partial_munmap(struct amap *m, struct rng *r)
{
	size_t s = rnd_range(r, 0, m->pages - 1);
	size_t n = rnd_range(r, 1, m->pages - s > m->pages / 2 + 1 ?
			     m->pages / 2 + 1 : m->pages - s);

	amap_unmap(m, s, s + n);
	m->split = true;
	atomic_fetch_add(&n_partial, 1);
	if (!amap_any_live(m))
		m->live = false;	/* last VMA gone: the region is freed */
}

void amap_mprotect(struct amap *m, struct rng *r)
{
	size_t s = rnd_range(r, 0, m->pages - 1), e, i, j;
	int st = (int)rnd_range(r, PG_RW, PG_NONE);

	e = rnd_range(r, s + 1, m->pages);
	for (i = s; i < e; i = j) {
		if (m->st[i] == PG_GONE) {
			j = i + 1;
			continue;
		}
		for (j = i; j < e && m->st[j] != PG_GONE; j++)
			;
		if (mprotect(m->p + i * PAGE_SZ, (j - i) * PAGE_SZ, prot_of(st))) {
			fail("mprotect [%zu,%zu) of %zu pages to %d: %s", i, j, m->pages,
			     prot_of(st), strerror(errno));
			return;
		}
		memset(m->st + i, st, j - i);
	}
	if (s || e != m->pages)
		m->split = true;
	atomic_fetch_add(&n_mprotects, 1);
}

void amap_mremap(struct amap *m)
{
	size_t len = m->pages * PAGE_SZ;
	void *dst, *q;

	if (m->split)
		return;		/* several VMAs: mremap would say EFAULT */
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (dst == MAP_FAILED)
		return;
	q = mremap(m->p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q != dst) {
		fail("mremap move of %zu pages: %s", m->pages, strerror(errno));
		munmap(dst, len);
		return;
	}
	m->p = q;
	atomic_fetch_add(&n_mremaps, 1);
}

void *athread_main(void *arg)
{
	struct athread *t = arg;
	struct amap *maps = calloc(A_LIVE, sizeof(*maps));
	unsigned int gen = 0;
	unsigned long it;
	long want, got;
	struct rng r;
	int priv_fd, k, fd;

	if (!maps) {
		fail("calloc: %s", strerror(errno));
		return NULL;
	}
	rng_init(&r, 0xa000 + t->idx);
	thread_maps[t->idx] = maps;
	priv_fd = sm_dev_open();
	if (priv_fd < 0) {
		fail("open %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
		free(maps);
		return NULL;
	}
	for (it = 0; it < t->cap && sm_now() < t->end && !atomic_load(&failed); it++) {
		struct amap *m = &maps[rnd(&r) % A_LIVE];
		unsigned int op = rnd(&r) % 16;

		atomic_fetch_add(&n_iter, 1);
		if (!m->live) {
			bool armed = atomic_load(&faults_armed);

			m->pages = rnd_pages(&r, t->max_pages);
			m->priv = rnd(&r) & 1;
			fd = m->priv ? priv_fd : t->shared_fd;
			m->p = mmap(NULL, m->pages * PAGE_SZ, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
			if (m->p == MAP_FAILED) {
				if (!expected_mmap_errno(errno, armed || atomic_load(&faults_armed)))
					fail("mmap of %zu pages: %s", m->pages, strerror(errno));
				continue;
			}
			atomic_fetch_add(&n_mmaps, 1);
			if (!sm_all_zero(m->p, m->pages * PAGE_SZ)) {
				fail("a new mapping of %zu pages is not zeroed", m->pages);
				munmap(m->p, m->pages * PAGE_SZ);
				continue;
			}
			m->id = rnd(&r) >> 24;
			m->live = true;
			m->split = false;
			m->gen = gen;
			memset(m->st, PG_RW, m->pages);
			fill(m->p, m->pages, m->id);
			continue;
		}
		if (op < 3) {
			amap_verify(m, "before munmap");
			amap_drop(m);
		} else if (op < 6) {
			amap_partial_munmap(m, &r);
		} else if (op < 9) {
			amap_mprotect(m, &r);
		} else if (op < 10) {
			amap_mremap(m);
		} else if (op < 11 && t->fixed_over && !m->split) {
			/* phase G: a new region in place of this one (hooks may fail it) */
			bool armed = atomic_load(&faults_armed);
			void *q = mmap(m->p, m->pages * PAGE_SZ, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, priv_fd, 0);

			atomic_fetch_add(&n_fixed, 1);
			if (q == MAP_FAILED) {
				if (!expected_mmap_errno(errno, armed || atomic_load(&faults_armed)))
					fail("MAP_FIXED mmap: %s", strerror(errno));
				/*
				 * The kernel leaves a hole where the old mapping
				 * was (another thread may map into it at once, so
				 * no check here); a region left behind would show
				 * in the counters at the end of the phase.
				 */
				m->live = false;
				continue;
			}
			atomic_fetch_add(&n_mmaps, 1);
			if (!sm_all_zero(q, m->pages * PAGE_SZ))
				fail("MAP_FIXED region over an old one is not zeroed");
			m->id = rnd(&r) >> 24;
			m->priv = true;
			m->gen = gen;
			memset(m->st, PG_RW, m->pages);
			fill(m->p, m->pages, m->id);
		} else if (op < 12 && !(rnd(&r) % 8)) {
			/* a new private fd; the old one's mappings keep its file */
			close(priv_fd);
			priv_fd = sm_dev_open();
			if (priv_fd < 0) {
				fail("reopen %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
				break;
			}
			gen++;
		} else {
			amap_verify(m, "while live");
		}
		/* the private fd holds exactly this thread's live regions of it */
		if (!(it % 8)) {
			want = 0;
			for (k = 0; k < A_LIVE; k++)
				if (maps[k].live && maps[k].priv && maps[k].gen == gen)
					want += maps[k].pages * PAGE_SZ;
			got = fd_mapped_bytes(priv_fd);
			if (got >= 0 && got != want)
				fail("private fd reports %ld mapped bytes, its live regions hold %ld",
				     got, want);
		}
	}
	for (k = 0; k < A_LIVE; k++) {
		if (!maps[k].live)
			continue;
		amap_verify(&maps[k], "at the end");
		amap_drop(&maps[k]);
	}
	close(priv_fd);
	thread_maps[t->idx] = NULL;
	free(maps);
	return NULL;
}

int run_threads(int n, double secs, unsigned long cap, bool fixed_over,
		       size_t max_pages)
{
	struct athread th[MAX_THREADS];
	int shared_fd, i, started = 0;

	shared_fd = sm_dev_open();
	if (shared_fd < 0) {
		fail("open %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		th[i] = (struct athread){
			.idx = i, .end = sm_now() + secs, .cap = cap,
			.shared_fd = shared_fd, .fixed_over = fixed_over,
			.max_pages = max_pages,
		};
		if (pthread_create(&th[i].tid, NULL, athread_main, &th[i])) {
			fail("pthread_create: %s", strerror(errno));
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	close(shared_fd);
	return 0;
}

/* ---- snapshot of counters for a phase's report line ---- */

void snap_take(struct snap *s)
{
	s->iter = n_iter;
	s->mmaps = n_mmaps;
	s->forks = n_forks;
	s->kills = n_kills;
	s->faults = n_faults;
	s->enomem = n_enomem;
	s->eagain = n_eagain;
	s->munmaps = n_munmaps;
	s->partial = n_partial;
	s->mprotects = n_mprotects;
	s->mremaps = n_mremaps;
	s->fixed = n_fixed;
	s->t = sm_now();
}

void snap_print(const char *phase, const struct snap *s, const char *extra)
{
	printf("stress: phase %s: %.1fs iterations=%lu mmaps=%lu munmaps=%lu partial=%lu "
	       "mprotects=%lu mremaps=%lu fixed=%lu forks=%lu kills=%lu injected_faults=%lu "
	       "enomem=%lu eagain=%lu%s%s\n",
	       phase, sm_now() - s->t, n_iter - s->iter, n_mmaps - s->mmaps,
	       n_munmaps - s->munmaps, n_partial - s->partial, n_mprotects - s->mprotects,
	       n_mremaps - s->mremaps, n_fixed - s->fixed, n_forks - s->forks,
	       n_kills - s->kills, n_faults - s->faults, n_enomem - s->enomem,
	       n_eagain - s->eagain, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}
