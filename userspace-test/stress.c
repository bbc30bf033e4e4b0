// SPDX-License-Identifier: GPL-2.0
// stress.c - bounded stress run of /dev/secretmem (threads, forks, kills, many fds, limits, memcg, fault injection), then checks that nothing leaked.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"

#define SYSFS_DEV	"/sys/class/misc/" SECRETMEM_DEVICE_NAME "/"
#define SYSFS_PARAMS	"/sys/module/" SECRETMEM_MODULE_NAME "/parameters/"
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_GROUP	CG_ROOT "/smstress"
#define FAULT_DIR	"/sys/kernel/debug/"

#define MAX_PAGES_MAP	512	/* 2 MiB: the largest random mapping */
#define A_LIVE		4	/* live mappings per phase-A thread */
#define MAX_THREADS	16
#define BIG_MAP		(64UL << 20)	/* phase C: the mapping killed mid-way */
#define MEMCG_MAX	(32UL << 20)	/* phase F: memory.max of the group */

/* ---- options, counters, failure ---- */

static double opt_seconds = 60;
static int opt_threads = 4;
static uint64_t opt_seed;
static const char *opt_phases = "abcdefg";

static atomic_ulong n_iter, n_mmaps, n_forks, n_kills, n_faults, n_enomem, n_eagain;
static atomic_ulong n_munmaps, n_partial, n_mprotects, n_mremaps, n_fixed;

static struct pattern pat;
static atomic_int failed;
static char fail_msg[512];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: one per thread, seeded from the run's seed. */
struct rng {
	uint64_t s;
};

static void rng_init(struct rng *r, uint64_t salt)
{
	r->s = (opt_seed ^ (salt * 0x9e3779b97f4a7c15ULL)) | 1;
}

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static unsigned long rnd_range(struct rng *r, unsigned long lo, unsigned long hi)
{
	return lo + rnd(r) % (hi - lo + 1);
}

/* Mostly small mappings, some up to 2 MiB. */
static size_t rnd_pages(struct rng *r, size_t max)
{
	if (rnd(r) & 1)
		return rnd_range(r, 1, max < 16 ? max : 16);
	return rnd_range(r, 1, max);
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long counter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS_DEV "%s", name);
	return read_long_file(path);
}

/* Wait up to ms for pages and regions to reach 0; 0 on success. */
static int counters_settle(long ms)
{
	double end = now() + ms / 1000.0;

	do {
		if (counter("pages") == 0 && counter("regions") == 0)
			return 0;
		msleep(20);
	} while (now() < end);
	return -1;
}

static void check_idle(const char *phase)
{
	long vl;

	if (counters_settle(5000))
		fail("after phase %s: pages=%ld regions=%ld, expected 0", phase,
		     counter("pages"), counter("regions"));
	vl = proc_status_kb(0, "VmLck");
	if (vl != 0)
		fail("after phase %s: VmLck %ld kB, expected 0", phase, vl);
}

static int dev_open(void)
{
	return open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

static void child_setup(void)
{
	signal(SIGSEGV, SIG_DFL);	/* the parent's crash reporter is not ours */
	signal(SIGBUS, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* ---- module parameters: saved at start, restored at every exit ---- */

static const char *const param_names[] = {
	"max_pages", "fault_alloc_nth", "fault_dmap_nth", "fault_map_nth",
	"pool_max_pages",
};
#define PARAM_POOL_MAX	4
#define NPARAMS	(sizeof(param_names) / sizeof(param_names[0]))
static char param_saved[NPARAMS][32];	/* text, for the signal handler too */
static long param_saved_val[NPARAMS];

static void param_path(size_t i, char *buf, size_t n)
{
	snprintf(buf, n, SYSFS_PARAMS "%s", param_names[i]);
}

static void params_save(void)
{
	char path[128];
	size_t i;

	for (i = 0; i < NPARAMS; i++) {
		param_path(i, path, sizeof(path));
		param_saved_val[i] = read_long_file(path);
		if (param_saved_val[i] >= 0)
			snprintf(param_saved[i], sizeof(param_saved[i]), "%ld\n",
				 param_saved_val[i]);
	}
}

static bool param_ok(size_t i)
{
	return param_saved_val[i] >= 0;
}

static int param_set(size_t i, long v)
{
	char path[128];

	if (!param_ok(i))
		return -1;
	param_path(i, path, sizeof(path));
	return write_long_file(path, v);
}

/* write(2) whose result does not matter (restoring on the way out). */
static void write_str_fd(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	(void)n;
}

/* Async-signal-safe: only open/write/close. */
static void params_restore_raw(void)
{
	char path[128];
	size_t i, n;
	int fd;

	for (i = 0; i < NPARAMS; i++) {
		if (!param_saved[i][0])
			continue;
		memcpy(path, SYSFS_PARAMS, sizeof(SYSFS_PARAMS) - 1);
		n = strlen(param_names[i]);
		memcpy(path + sizeof(SYSFS_PARAMS) - 1, param_names[i], n + 1);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		write_str_fd(fd, param_saved[i]);
		close(fd);
	}
}

/* fail_page_alloc / failslab: the knobs set during phase G, restored after. */
static const char *const fi_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "ignore-gfp-highmem", "min-order", "cache-filter",
};
#define NKNOBS	(sizeof(fi_knobs) / sizeof(fi_knobs[0]))

struct fi_attr {
	const char *dir;
	bool present;
	char saved[NKNOBS][32];
};

static struct fi_attr fi_attrs[] = {
	{ FAULT_DIR "fail_page_alloc/", false, { { 0 } } },
	{ FAULT_DIR "failslab/", false, { { 0 } } },
};
#define NFI	(sizeof(fi_attrs) / sizeof(fi_attrs[0]))

static void fi_restore_raw(void)
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

static void watchdog(int sig)
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
static uint64_t tag_of(uint64_t id, size_t i)
{
	return id << 20 ^ i ^ 0x5ec7e7000000000ULL;
}

static void fill(volatile uint8_t *p, size_t pages, uint64_t id)
{
	size_t i;

	pattern_fill_pages(&pat, p, pages * PAGE_SZ);
	for (i = 0; i < pages; i++)
		*(volatile uint64_t *)(p + i * PAGE_SZ) = tag_of(id, i);
}

static bool page_ok(const volatile uint8_t *p, size_t i, uint64_t id)
{
	return *(const volatile uint64_t *)(p + i * PAGE_SZ) == tag_of(id, i) &&
	       pattern_match_volatile(&pat, p + i * PAGE_SZ + PATTERN_OFFSET);
}

static bool all_zero(const volatile uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 64)
		if (*(const volatile uint64_t *)(p + i))
			return false;
	return true;
}

/* Count an mmap failure; true if the errno is one the module documents. */
static bool expected_mmap_errno(int err, bool armed)
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

static long fd_mapped_bytes(int fd)
{
	struct secretmem_info info = { .size = sizeof(info) };

	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info))
		return -1;
	return (long)info.mapped_bytes;
}

/* ---- phase A: threads mapping, splitting, protecting, moving, unmapping ---- */

enum { PG_GONE, PG_RW, PG_RO, PG_NONE };

struct amap {
	uint8_t *p;
	size_t pages;
	uint64_t id;
	bool live, split, priv;
	unsigned int gen;		/* private fd generation it came from */
	uint8_t st[MAX_PAGES_MAP];
};

struct athread {
	pthread_t tid;
	int idx;
	double end;
	unsigned long cap;
	int shared_fd;
	bool fixed_over;		/* phase G: MAP_FIXED over own mappings */
	size_t max_pages;
};

static atomic_int faults_armed;		/* phase G: some fault_*_nth is set */
/* Each phase-A thread's mappings, for the crash report. */
static struct amap *volatile thread_maps[MAX_THREADS];

static int prot_of(int st)
{
	return st == PG_RW ? PROT_READ | PROT_WRITE : st == PG_RO ? PROT_READ : PROT_NONE;
}

static void amap_verify(struct amap *m, const char *when)
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

static bool amap_any_live(struct amap *m)
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
static void amap_unmap(struct amap *m, size_t s, size_t e)
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

static void amap_drop(struct amap *m)
{
	if (m->live)
		amap_unmap(m, 0, m->pages);
	atomic_fetch_add(&n_munmaps, 1);
	m->live = false;
}

static void amap_partial_munmap(struct amap *m, struct rng *r)
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

static void amap_mprotect(struct amap *m, struct rng *r)
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

static void amap_mremap(struct amap *m)
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

static void *athread_main(void *arg)
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
	priv_fd = dev_open();
	if (priv_fd < 0) {
		fail("open %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
		free(maps);
		return NULL;
	}
	for (it = 0; it < t->cap && now() < t->end && !atomic_load(&failed); it++) {
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
			if (!all_zero(m->p, m->pages * PAGE_SZ)) {
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
			if (!all_zero(q, m->pages * PAGE_SZ))
				fail("MAP_FIXED region over an old one is not zeroed");
			m->id = rnd(&r) >> 24;
			m->priv = true;
			m->gen = gen;
			memset(m->st, PG_RW, m->pages);
			fill(m->p, m->pages, m->id);
		} else if (op < 12 && !(rnd(&r) % 8)) {
			/* a new private fd; the old one's mappings keep its file */
			close(priv_fd);
			priv_fd = dev_open();
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

static int run_threads(int n, double secs, unsigned long cap, bool fixed_over,
		       size_t max_pages)
{
	struct athread th[MAX_THREADS];
	int shared_fd, i, started = 0;

	shared_fd = dev_open();
	if (shared_fd < 0) {
		fail("open %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		th[i] = (struct athread){
			.idx = i, .end = now() + secs, .cap = cap,
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

struct snap {
	unsigned long iter, mmaps, forks, kills, faults, enomem, eagain;
	unsigned long munmaps, partial, mprotects, mremaps, fixed;
	double t;
};

static void snap_take(struct snap *s)
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
	s->t = now();
}

static void snap_print(const char *phase, const struct snap *s, const char *extra)
{
	printf("stress: phase %s: %.1fs iterations=%lu mmaps=%lu munmaps=%lu partial=%lu "
	       "mprotects=%lu mremaps=%lu fixed=%lu forks=%lu kills=%lu injected_faults=%lu "
	       "enomem=%lu eagain=%lu%s%s\n",
	       phase, now() - s->t, n_iter - s->iter, n_mmaps - s->mmaps,
	       n_munmaps - s->munmaps, n_partial - s->partial, n_mprotects - s->mprotects,
	       n_mremaps - s->mremaps, n_fixed - s->fixed, n_forks - s->forks,
	       n_kills - s->kills, n_faults - s->faults, n_enomem - s->enomem,
	       n_eagain - s->eagain, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

static void phase_a(double secs)
{
	struct snap s;
	char extra[64];

	snap_take(&s);
	run_threads(opt_threads, secs, 200000, false, MAX_PAGES_MAP);
	snprintf(extra, sizeof(extra), "threads=%d", opt_threads);
	snap_print("a (threads map/split/mprotect/mremap/unmap)", &s, extra);
	check_idle("a");
}

/* ---- phase B: fork storm while holding mappings ---- */

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
	int fd = dev_open();

	rng_init(&r, 0xb0b);
	if (fd < 0)
		return NULL;
	while (!atomic_load(&c->stop) && now() < c->end) {
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
		fd = dev_open();
		if (fd < 0)
			_exit(5);
		q = mmap(NULL, own_pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED && errno != ENOMEM)
			_exit(6);
		if (q != MAP_FAILED) {
			if (!all_zero(q, own_pages * PAGE_SZ))
				_exit(2);
			fill(q, own_pages, 0xcc);
		}
	}
	(void)*(volatile uint8_t *)target;	/* must die here: VM_DONTCOPY */
	_exit(3);
}

static void phase_b(double secs)
{
	static const size_t held_pages[] = { 1, 16, 256, 512 };
	uint8_t *held[4];
	unsigned long segv = 0, bad = 0, n = 0;
	struct churn c = { .end = now() + secs };
	int inflight = 0, st, fd, i, lastbad = 0;
	pthread_t churn_tid;
	char extra[160];
	struct rng r;
	struct snap s;
	pid_t pid;

	snap_take(&s);
	rng_init(&r, 0xb);
	fd = dev_open();
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
	while ((now() < c.end && n < 2000 && !atomic_load(&failed)) || inflight) {
		if (inflight < 8 && now() < c.end && n < 2000 && !atomic_load(&failed)) {
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

enum { C_START, C_MMAP, C_FILL, C_MUNMAP };

static void __attribute__((noreturn)) big_holder(volatile int *state)
{
	uint8_t *p;
	int fd;

	child_setup();
	fd = dev_open();
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

static void phase_c(double secs)
{
	unsigned long in_state[4] = { 0 }, rounds = 0;
	double end = now() + secs;
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
	while (now() < end && rounds < 200 && !atomic_load(&failed)) {
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
			msleep(rnd_range(&r, 0, 1500));
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
			     counter("pages"), counter("regions"));
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

static void phase_d(double secs)
{
	double end = now() + secs;
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
	while (now() < end && rounds < 20 && !atomic_load(&failed)) {
		for (i = 0; i < nfd; i++) {
			fds[i] = dev_open();
			if (fds[i] < 0) {
				fail("phase D: open #%d: %s", i, strerror(errno));
				nfd = i;
				break;
			}
			order[i] = i;
			maps[i] = NULL;
			if ((rnd(&r) & 1) || now() > end)
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
			     counter("pages"), counter("regions"), nfd);
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
	fd = dev_open();
	if (fd < 0) {
		snprintf(rep.msg, sizeof(rep.msg), "open as uid 65534: %s", strerror(errno));
		goto out;
	}
	while (now() < end && rep.mmaps + rep.eagain < 20000) {
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
	fd = dev_open();
	if (fd < 0)
		return NULL;
	while (now() < b->end && !atomic_load(&failed)) {
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

static void phase_e(double secs)
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
		memlock_child(pfd[1], now() + secs / 2);
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
	if (param_ok(0)) {
		b.limit = 128;		/* the counters are 0 here (check_idle) */
		b.end = now() + secs / 2;
		if (param_set(0, b.limit))
			fail("setting max_pages: %s", strerror(errno));
		for (i = 0; i < opt_threads && i < MAX_THREADS; i++, n++)
			if (pthread_create(&tids[i], NULL, budget_main, &b))
				break;
		for (i = 0; i < n; i++)
			pthread_join(tids[i], NULL);
		param_set(0, param_saved_val[0]);
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

static long cg_key(const char *file, const char *key)
{
	char path[256], line[128];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), CG_GROUP "/%s", file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

struct f_report {
	unsigned long mib;
	int err;
};

static void __attribute__((noreturn)) memcg_child(int rfd, volatile struct f_report *rep)
{
	uint8_t *p;
	char go;
	int fd;

	child_setup();
	if (read(rfd, &go, 1) != 1)
		_exit(2);
	fd = dev_open();
	if (fd < 0)
		_exit(3);
	for (rep->mib = 0; rep->mib < 4 * (MEMCG_MAX >> 20); rep->mib++) {
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			rep->err = errno;
			_exit(0);
		}
		fill(p, (1 << 20) / PAGE_SZ, 0xf0);
	}
	_exit(4);	/* never ran out: the memcg did not charge secretmem */
}

static void phase_f(double secs)
{
	bool mounted = false, enabled = false;
	volatile struct f_report *rep;
	char extra[256] = "", buf[32];
	long oom_kill, peak;
	int pfd[2], st;
	struct snap s;
	pid_t pid;

	(void)secs;	/* bounded by the group's size */
	snap_take(&s);
	if (access(CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CG_ROOT, 0755);
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(extra, sizeof(extra), "skipped: mount cgroup2: %s", strerror(errno));
			goto out;
		}
		mounted = true;
	}
	if (!file_has(CG_ROOT "/cgroup.controllers", "memory")) {
		snprintf(extra, sizeof(extra), "skipped: no memory controller");
		goto out_umount;
	}
	if (!file_has(CG_ROOT "/cgroup.subtree_control", "memory")) {
		if (write_str(CG_ROOT "/cgroup.subtree_control", "+memory")) {
			snprintf(extra, sizeof(extra), "skipped: enabling +memory: %s",
				 strerror(errno));
			goto out_umount;
		}
		enabled = true;
	}
	rmdir(CG_GROUP);
	if (mkdir(CG_GROUP, 0755)) {
		fail("phase F: mkdir %s: %s", CG_GROUP, strerror(errno));
		goto out_disable;
	}
	snprintf(buf, sizeof(buf), "%lu", MEMCG_MAX);
	if (write_str(CG_GROUP "/memory.max", buf)) {
		fail("phase F: memory.max: %s", strerror(errno));
		goto out_rmdir;
	}
	write_str(CG_GROUP "/memory.swap.max", "0");
	rep = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED || pipe2(pfd, O_CLOEXEC)) {
		fail("phase F: mmap/pipe: %s", strerror(errno));
		goto out_rmdir;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pfd[1]);
		memcg_child(pfd[0], rep);
	}
	close(pfd[0]);
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		close(pfd[1]);
		goto out_unmap;
	}
	atomic_fetch_add(&n_forks, 1);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write_str(CG_GROUP "/cgroup.procs", buf))
		fail("phase F: moving the child into the group: %s", strerror(errno));
	if (write(pfd[1], "g", 1) != 1)
		fail("phase F: pipe: %s", strerror(errno));
	close(pfd[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	oom_kill = cg_key("memory.events", "oom_kill");
	peak = read_long_file(CG_GROUP "/memory.peak");
	atomic_fetch_add(&n_mmaps, rep->mib);
	atomic_fetch_add(&n_iter, rep->mib);
	if (WIFEXITED(st) && !WEXITSTATUS(st) && rep->err == ENOMEM) {
		atomic_fetch_add(&n_enomem, 1);
		snprintf(extra, sizeof(extra), "outcome=ENOMEM after %lu MiB (memory.max %lu MiB, "
			 "peak %ld KiB, oom_kill %ld)", rep->mib, MEMCG_MAX >> 20,
			 peak >= 0 ? peak >> 10 : -1, oom_kill);
	} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		atomic_fetch_add(&n_kills, 1);
		snprintf(extra, sizeof(extra), "outcome=OOM-killed in the group after %lu MiB "
			 "(memory.max %lu MiB, peak %ld KiB, oom_kill %ld)", rep->mib,
			 MEMCG_MAX >> 20, peak >= 0 ? peak >> 10 : -1, oom_kill);
	} else {
		fail("phase F: memcg child status 0x%x, mmap errno %d after %lu MiB (exit 4: "
		     "never ran out of a %lu MiB group: not charged to the memcg)",
		     st, rep->err, rep->mib, MEMCG_MAX >> 20);
	}
	if (counters_settle(5000))
		fail("phase F: pages=%ld regions=%ld after the memcg child is gone",
		     counter("pages"), counter("regions"));
out_unmap:
	munmap((void *)rep, PAGE_SZ);
out_rmdir:
	if (rmdir(CG_GROUP))
		fail("phase F: rmdir %s: %s (charges left behind?)", CG_GROUP, strerror(errno));
out_disable:
	if (enabled)
		write_str(CG_ROOT "/cgroup.subtree_control", "-memory");
out_umount:
	if (mounted)
		umount(CG_ROOT);
out:
	snap_print("f (memcg limit)", &s, extra);
	check_idle("f");
}

/* ---- phase G: fault injection ---- */

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
	while (!atomic_load(&t->stop) && now() < t->end) {
		for (i = 0; i < 3; i++)
			v[i] = rnd(&r) % 3 ? 0 : (long)rnd_range(&r, 1, i == 1 ? 64 : 6);
		atomic_store(&faults_armed, v[0] || v[1] || v[2]);
		for (i = 0; i < 3; i++)
			param_set(1 + i, v[i]);
		/* Resize (and so drain) the pool while mmaps and teardowns run. */
		if (param_ok(PARAM_POOL_MAX) && rnd(&r) % 4 == 0)
			param_set(PARAM_POOL_MAX, pool_sizes[rnd(&r) % 5]);
		t->toggles++;
		msleep(rnd_range(&r, 1, 30));
	}
	for (i = 0; i < 3; i++)
		param_set(1 + i, 0);
	if (param_ok(PARAM_POOL_MAX))
		param_set(PARAM_POOL_MAX, param_saved_val[PARAM_POOL_MAX]);
	msleep(5);
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

static void phase_g(double secs)
{
	struct toggler t = { .end = now() + secs / 2 };
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
	check_idle("g (module hooks)");

	/* (2) fail_page_alloc / failslab for this thread only, around mmap */
	rng_init(&r, 0x67);
	if (access("/proc/thread-self/make-it-fail", W_OK) || !fi_setup()) {
		snprintf(extra, sizeof(extra), "hooks=%s toggles=%lu fail_page_alloc=absent",
			 hooks ? "yes" : "absent", t.toggles);
		goto out;
	}
	fd = dev_open();
	/* opened once: an open() itself may fail while make-it-fail is 1 */
	mif = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	end = now() + secs / 2;
	while (fd >= 0 && mif >= 0 && now() < end && fi_mmaps + fi_fail < 5000 &&
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
		if (!all_zero(p, pages * PAGE_SZ))
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
static void crash(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	char buf[256];
	int t, k;

	(void)uc;
	snprintf(buf, sizeof(buf), "stress: FAIL signal %d at address %#lx (code %d)\n",
		 sig, (unsigned long)a, si->si_code);
	write_str_fd(1, buf);
	for (t = 0; t < MAX_THREADS; t++) {
		struct amap *m = thread_maps[t];

		for (k = 0; m && k < A_LIVE; k++) {
			uintptr_t s = (uintptr_t)m[k].p;

			if (!m[k].live || a < s || a >= s + m[k].pages * PAGE_SZ)
				continue;
			snprintf(buf, sizeof(buf), "stress: in thread %d mapping %d: %zu pages at "
				 "%#lx, page %lu state %d, split %d\n", t, k, m[k].pages,
				 (unsigned long)s, (unsigned long)((a - s) / PAGE_SZ),
				 m[k].st[(a - s) / PAGE_SZ], m[k].split);
			write_str_fd(1, buf);
		}
	}
	params_restore_raw();
	fi_restore_raw();
	_exit(4);
}

static long directmap_kb(void)
{
	long a = meminfo_kb("DirectMap4k"), b = meminfo_kb("DirectMap2M"),
	     c = meminfo_kb("DirectMap1G");

	return (a > 0 ? a : 0) + (b > 0 ? b : 0) + (c > 0 ? c : 0);
}

static void usage(void)
{
	printf("usage: stress [-d seconds] [-t threads] [-s seed] [-p phases]\n"
	       "  phases: letters of abcdefg (default all); env STRESS_SECONDS,\n"
	       "  STRESS_THREADS, STRESS_SEED, STRESS_PHASES set the same.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		char id;
		double share;
		void (*fn)(double secs);
	} phases[] = {
		{ 'a', 0.25, phase_a }, { 'b', 0.12, phase_b }, { 'c', 0.15, phase_c },
		{ 'd', 0.08, phase_d }, { 'e', 0.12, phase_e }, { 'f', 0.10, phase_f },
		{ 'g', 0.18, phase_g },
	};
	long dm0, dm1, taint0, v;
	struct sigaction sa = { .sa_handler = watchdog }, sa_crash = { 0 };
	double t0;
	char why[256], path[128];
	struct kcore k;
	uint64_t pa = 0;
	size_t i;
	int c, r;

	if (getenv("STRESS_SECONDS"))
		opt_seconds = atof(getenv("STRESS_SECONDS"));
	if (getenv("STRESS_THREADS"))
		opt_threads = atoi(getenv("STRESS_THREADS"));
	if (getenv("STRESS_SEED"))
		opt_seed = strtoull(getenv("STRESS_SEED"), NULL, 0);
	if (getenv("STRESS_PHASES"))
		opt_phases = getenv("STRESS_PHASES");
	while ((c = getopt(argc, argv, "d:t:s:p:h")) != -1) {
		switch (c) {
		case 'd': opt_seconds = atof(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 's': opt_seed = strtoull(optarg, NULL, 0); break;
		case 'p': opt_phases = optarg; break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (opt_seconds <= 0)
		opt_seconds = 60;
	if (opt_threads < 1)
		opt_threads = 1;
	if (opt_threads > MAX_THREADS)
		opt_threads = MAX_THREADS;
	if (!opt_seed)
		opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (access(SECRETMEM_DEVICE_PATH, R_OK | W_OK) || counter("pages") < 0) {
		printf("stress: FAIL %s or its sysfs counters missing (module %s loaded?)\n",
		       SECRETMEM_DEVICE_PATH, SECRETMEM_MODULE_NAME);
		return 1;
	}
	params_save();
	sigaction(SIGALRM, &sa, NULL);
	sa_crash.sa_sigaction = crash;
	sa_crash.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa_crash, NULL);
	sigaction(SIGBUS, &sa_crash, NULL);
	alarm((unsigned int)(opt_seconds * 3) + 300);
	pattern_new(&pat);
	/* fault in the kcore scan buffer now, before anything is freed */
	if (kcore_open(&k, why, sizeof(why)))
		k.fd = -1;
	dm0 = directmap_kb();
	taint0 = kernel_bad_taint();
	t0 = now();
	printf("stress: start seconds=%.0f threads=%d seed=%#llx phases=%s pages=%ld "
	       "regions=%ld directmap=%ld kB\n", opt_seconds, opt_threads,
	       (unsigned long long)opt_seed, opt_phases, counter("pages"), counter("regions"),
	       dm0);
	if (counter("pages") || counter("regions"))
		fail("pages/regions not 0 at start: another user of %s?", SECRETMEM_DEVICE_PATH);

	for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && !atomic_load(&failed); i++)
		if (strchr(opt_phases, phases[i].id))
			phases[i].fn(opt_seconds * phases[i].share);

	/* ---- the end: everything back ---- */
	params_restore_raw();
	fi_restore_raw();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		fail("a child was left unreaped");
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		fail("children still running at the end");
	for (i = 0; i < NPARAMS; i++) {
		if (!param_ok(i))
			continue;
		param_path(i, path, sizeof(path));
		v = read_long_file(path);
		if (v != param_saved_val[i])
			fail("parameter %s is %ld, was %ld", param_names[i], v, param_saved_val[i]);
	}
	if (counters_settle(5000))
		fail("pages=%ld regions=%ld at the end", counter("pages"), counter("regions"));
	v = proc_status_kb(0, "VmLck");
	if (v != 0)
		fail("VmLck %ld kB at the end", v);
	dm1 = directmap_kb();
	if (dm1 != dm0)
		fail("DirectMap4k+2M+1G went %ld -> %ld kB", dm0, dm1);
	if (param_ok(PARAM_POOL_MAX)) {
		/* The pool within its bound, and every page of it freeable. */
		v = counter("pool_pages");
		if (v > param_saved_val[PARAM_POOL_MAX])
			fail("pool holds %ld pages, pool_max_pages %ld", v,
			     param_saved_val[PARAM_POOL_MAX]);
		param_set(PARAM_POOL_MAX, 0);
		v = counter("pool_pages");
		param_set(PARAM_POOL_MAX, param_saved_val[PARAM_POOL_MAX]);
		if (v != 0)
			fail("pool holds %ld pages with pool_max_pages=0", v);
		dm1 = directmap_kb();
		if (dm1 != dm0)
			fail("DirectMap4k+2M+1G went %ld -> %ld kB after the pool drained",
			     dm0, dm1);
	}
	if (kernel_bad_taint() != taint0)
		fail("kernel taint gained WARN/DIE (check dmesg)");
	if (k.fd >= 0) {
		r = kcore_scan(&k, &pat, &pa);
		kcore_close(&k);
		if (r < 0)
			fail("reading /proc/kcore: %s", strerror(errno));
		else if (r > 0)
			fail("the stress pattern is in RAM at phys %#llx after all regions were freed",
			     (unsigned long long)pa);
	} else {
		printf("stress: kcore scan skipped: %s\n", why);
	}
	alarm(0);
	printf("stress: %.1fs total\n", now() - t0);
	if (atomic_load(&failed)) {
		printf("stress: FAIL %s\n", fail_msg);
		return 1;
	}
	printf("stress: PASS iterations=%lu mmaps=%lu forks=%lu kills=%lu injected_faults=%lu "
	       "enomem=%lu eagain=%lu\n", (unsigned long)n_iter, (unsigned long)n_mmaps,
	       (unsigned long)n_forks, (unsigned long)n_kills, (unsigned long)n_faults,
	       (unsigned long)n_enomem, (unsigned long)n_eagain);
	return 0;
}
