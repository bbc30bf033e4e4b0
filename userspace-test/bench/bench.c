// SPDX-License-Identifier: GPL-2.0
// bench.c - times /dev/secretmem against memfd_secret(2) and anonymous mmap+mlock: map latency, throughput, direct-map cost.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "sm_lib.h"

#ifndef __NR_memfd_secret
#define __NR_memfd_secret	447
#endif

#define KIB		1024UL
#define MIB		(1024UL * 1024UL)

#define RW_SIZE		(16 * MIB)	/* throughput mapping */
#define FRAG_SIZE	(64 * MIB)	/* fragmentation, large variant */
#define FRAG_SMALL	512		/* fragmentation, number of 4 KiB maps */
#define MAX_REPS	64

enum backend { B_DEV, B_MEMFD, B_ANON, NR_BACKENDS };

static const char *const bkey[NR_BACKENDS] = {
	"secretmem", "memfd_secret", "anon_mlock",
};
static const char *const blabel[NR_BACKENDS] = {
	"/dev/secretmem", "memfd_secret", "anon+mlock",
};

/* 0 if the backend can be used at all, else the errno of the probe. */
static int avail_err[NR_BACKENDS];
static bool quick;

/* /dev/secretmem mappings ask for SECRETMEM_FLAG_UNCACHED (throughput row). */
static bool dev_uncached;

/* Step that failed last (for n/a reasons). */
static const char *fail_step = "";

/* ---- module counters (sysfs of the misc device) ---- */

enum { C_TLB, C_CHG, C_SPL, NR_CTRS };
static const char *const ctr_name[NR_CTRS] = {
	"tlb_flushes", "dmap_changes", "dmap_splits",
};

struct ctrs {
	long v[NR_CTRS];
	bool ok;	/* all of them could be read */
};

static void ctrs_read(struct ctrs *c)
{
	int i;

	c->ok = true;
	for (i = 0; i < NR_CTRS; i++) {
		c->v[i] = sm_counter(ctr_name[i]);
		if (c->v[i] < 0) {
			c->v[i] = 0;
			c->ok = false;
		}
	}
}

/* Add after - before to @sum; false if either side was unreadable. */
static bool ctrs_add(long *sum, const struct ctrs *before,
		     const struct ctrs *after)
{
	int i;

	if (!before->ok || !after->ok)
		return false;
	for (i = 0; i < NR_CTRS; i++)
		sum[i] += after->v[i] - before->v[i];
	return true;
}

static void print_pool(const char *when)
{
	long v = sm_counter("pool_pages");

	if (v >= 0) {
		printf("  module pool_pages %s: %ld\n", when, v);
		printf("BENCH test=pool when=%s pool_pages=%ld\n", when, v);
	}
}

/* ---- /proc/meminfo direct map ---- */

struct dmap {
	long k4, m2;	/* DirectMap4k, DirectMap2M in kB */
	bool ok;
};

static void dmap_read(struct dmap *d)
{
	d->k4 = meminfo_kb("DirectMap4k");
	d->m2 = meminfo_kb("DirectMap2M");
	d->ok = d->k4 >= 0 && d->m2 >= 0;
	if (!d->ok)
		d->k4 = d->m2 = 0;
}

/* ---- mappings ---- */

struct map {
	char *p;
	size_t len;
};

/*
 * Open (or create) the backing fd, mmap, close the fd: the mapping keeps
 * the file.  Anonymous memory is mlock()ed instead.
 */
static int map_create(enum backend b, size_t len, struct map *m)
{
	int fd = -1, err = 0;
	void *p;

	switch (b) {
	case B_DEV:
		fd = sm_dev_open();
		if (fd < 0) {
			fail_step = "open";
			return -errno;
		}
		if (dev_uncached &&
		    ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &(__u64){ SECRETMEM_FLAG_UNCACHED })) {
			err = -errno;
			fail_step = "set_flags";
			close(fd);
			return err;
		}
		break;
	case B_MEMFD:
		fd = syscall(__NR_memfd_secret, 0);
		if (fd < 0) {
			fail_step = "memfd_secret";
			return -errno;
		}
		if (ftruncate(fd, len)) {
			err = -errno;
			fail_step = "ftruncate";
			close(fd);
			return err;
		}
		break;
	default:
		break;
	}
	if (b == B_ANON)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		fail_step = "mmap";
	}
	if (fd >= 0)
		close(fd);
	if (err)
		return err;
	if (b == B_ANON && mlock(p, len)) {
		err = -errno;
		fail_step = "mlock";
		munmap(p, len);
		return err;
	}
	m->p = p;
	m->len = len;
	return 0;
}

static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_env, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static __attribute__((noinline)) void touch_pages(volatile char *p,
						  size_t len, char val)
{
	size_t off;

	for (off = 0; off < len; off += PAGE_SZ)
		p[off] = val;
}

/* Write one byte per page; a SIGBUS (memfd_secret fault failure) is -EFAULT. */
static int map_touch(const struct map *m, char val)
{
	if (sigsetjmp(bus_env, 1)) {
		bus_armed = 0;
		fail_step = "touch (SIGBUS)";
		return -EFAULT;
	}
	bus_armed = 1;
	touch_pages(m->p, m->len, val);
	bus_armed = 0;
	return 0;
}

/* One timed cycle: create + touch + munmap; nanoseconds in *ns. */
static int map_cycle(enum backend b, size_t len, uint64_t *ns)
{
	uint64_t t0 = sm_now_ns();
	struct map m;
	int err;

	err = map_create(b, len, &m);
	if (!err) {
		err = map_touch(&m, 1);
		munmap(m.p, m.len);
	}
	*ns = sm_now_ns() - t0;
	return err;
}

/* ---- statistics and formatting ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	if (n <= 0)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double minimum(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* Time in microseconds, human units, into a static ring of buffers. */
static const char *fmt_us(double us)
{
	static char buf[8][24];
	static int idx;
	char *s = buf[idx++ & 7];

	if (us < 1000)
		snprintf(s, sizeof(buf[0]), "%.1f us", us);
	else if (us < 1000000)
		snprintf(s, sizeof(buf[0]), "%.2f ms", us / 1000);
	else
		snprintf(s, sizeof(buf[0]), "%.2f s", us / 1000000);
	return s;
}

static const char *fmt_size(size_t len)
{
	static char buf[4][24];
	static int idx;
	char *s = buf[idx++ & 3];

	if (len >= MIB)
		snprintf(s, sizeof(buf[0]), "%zu MiB", len / MIB);
	else
		snprintf(s, sizeof(buf[0]), "%zu KiB", len / KIB);
	return s;
}

/* "n/a (...)" for a backend that failed with @err at fail step @step. */
static const char *na_text(enum backend b, int err, const char *step)
{
	static char buf[4][96];
	static int idx;
	char *s = buf[idx++ & 3];

	if (b == B_DEV && err == ENOENT && !strcmp(step, "open"))
		snprintf(s, sizeof(buf[0]), "n/a (no %s)", SECRETMEM_DEVICE_PATH);
	else
		snprintf(s, sizeof(buf[0]), "n/a (%s: %s)", step, sm_errname(err));
	return s;
}

/* The same as one token for BENCH lines. */
static const char *na_key(int err, const char *step)
{
	static char buf[4][64];
	static int idx;
	char *s = buf[idx++ & 3];
	char *c;

	snprintf(s, sizeof(buf[0]), "%s:%s", step, sm_errname(err));
	for (c = s; *c; c++)
		if (*c == ' ' || *c == '(' || *c == ')')
			*c = '_';
	return s;
}

/* ---- 1. map + touch + munmap latency ---- */

struct lat {
	int err;		/* 0, or errno that stopped the series */
	const char *step;
	int reps;
	double us[MAX_REPS];
	double med, min;
	long ctr[NR_CTRS];	/* module counter deltas over all reps */
	bool ctr_ok;
};

struct lat_size {
	size_t len;
	int max_reps, min_reps;
	double budget_s;	/* stop after this long once min_reps are done */
};

static void bench_latency(void)
{
	struct lat_size sizes[] = {
		{ 4 * KIB,	31, 5, 10 },
		{ 64 * KIB,	31, 5, 10 },
		{ 2 * MIB,	31, 5, 20 },
		{ 64 * MIB,	7, 3, 60 },
	};
	const int nsizes = ARRAY_SIZE(sizes);
	static struct lat res[4][NR_BACKENDS];
	int si, b, r, i;

	printf("\n[2] mmap + touch (1 byte per 4 KiB) + munmap, median of reps\n");
	printf("    timed: /dev/secretmem open+mmap+close fd; memfd_secret()+ftruncate+mmap+close fd;\n");
	printf("    anon mmap+mlock; then touch and munmap.  Backends interleaved per rep,\n");
	printf("    in an order that rotates from rep to rep.\n");
	fflush(stdout);

	for (si = 0; si < nsizes; si++) {
		struct lat_size *sz = &sizes[si];
		uint64_t t_start = sm_now_ns();

		if (quick) {
			sz->max_reps = sz->len >= 64 * MIB ? 3 : 7;
			sz->min_reps = 3;
			sz->budget_s /= 4;
		}
		for (b = 0; b < NR_BACKENDS; b++) {
			res[si][b].err = avail_err[b];
			res[si][b].step = b == B_DEV ? "open" : "memfd_secret";
			res[si][b].ctr_ok = true;
		}
		for (r = 0; r < sz->max_reps; r++) {
			bool any = false;
			int k;

			/* Rotate the order: each backend follows each other one alike. */
			for (k = 0; k < NR_BACKENDS; k++) {
				struct lat *l;
				struct ctrs c0, c1;
				uint64_t ns;
				int err;

				b = (k + r) % NR_BACKENDS;
				l = &res[si][b];
				if (l->err)
					continue;
				any = true;
				if (b == B_DEV)
					ctrs_read(&c0);
				err = map_cycle(b, sz->len, &ns);
				if (b == B_DEV) {
					ctrs_read(&c1);
					if (!ctrs_add(l->ctr, &c0, &c1))
						l->ctr_ok = false;
				}
				if (err) {
					l->err = -err;
					l->step = fail_step;
					continue;
				}
				l->us[l->reps++] = ns / 1000.0;
			}
			if (!any)
				break;
			if (r + 1 >= sz->min_reps &&
			    (sm_now_ns() - t_start) / 1e9 >= sz->budget_s)
				break;
		}
		for (b = 0; b < NR_BACKENDS; b++) {
			struct lat *l = &res[si][b];

			if (l->err || !l->reps) {
				if (!l->err)
					l->err = EINVAL;
				continue;
			}
			l->med = median(l->us, l->reps);
			l->min = minimum(l->us, l->reps);
		}
		printf("    %s done in %.1f s\n", fmt_size(sz->len),
		       (sm_now_ns() - t_start) / 1e9);
		fflush(stdout);
	}

	printf("\n    %-8s %-24s %-24s %-24s %9s %9s %9s\n", "size", blabel[B_DEV],
	       blabel[B_MEMFD], blabel[B_ANON], "sm/memfd", "sm/anon",
	       "memfd/anon");
	for (si = 0; si < nsizes; si++) {
		char cell[NR_BACKENDS][64], ratio[3][16];
		struct lat *l = res[si];

		for (b = 0; b < NR_BACKENDS; b++) {
			if (l[b].err)
				snprintf(cell[b], sizeof(cell[b]), "%s",
					 na_text(b, l[b].err, l[b].step));
			else
				snprintf(cell[b], sizeof(cell[b]), "%s (n=%d)",
					 fmt_us(l[b].med), l[b].reps);
		}
#define RATIO(dst, x, y) \
	((x).err || (y).err ? snprintf(dst, sizeof(dst), "n/a") : \
	 snprintf(dst, sizeof(dst), "%.2f", (x).med / (y).med))
		RATIO(ratio[0], l[B_DEV], l[B_MEMFD]);
		RATIO(ratio[1], l[B_DEV], l[B_ANON]);
		RATIO(ratio[2], l[B_MEMFD], l[B_ANON]);
#undef RATIO
		printf("    %-8s %-24s %-24s %-24s %9s %9s %9s\n",
		       fmt_size(sizes[si].len), cell[B_DEV], cell[B_MEMFD],
		       cell[B_ANON], ratio[0], ratio[1], ratio[2]);
	}

	printf("\n    /dev/secretmem module counters (change per MiB mapped / per mmap)\n");
	printf("    %-8s %-26s %-26s %-26s\n", "size", ctr_name[C_TLB],
	       ctr_name[C_CHG], ctr_name[C_SPL]);
	for (si = 0; si < nsizes; si++) {
		struct lat *l = &res[si][B_DEV];
		/* The failed rep still mapped (or tried): count attempts. */
		int maps = l->reps + (l->err && l->reps ? 1 : 0);
		double mib = (double)maps * sizes[si].len / MIB;
		char cell[NR_CTRS][32];

		if (!maps || !l->ctr_ok) {
			printf("    %-8s n/a\n", fmt_size(sizes[si].len));
			continue;
		}
		for (i = 0; i < NR_CTRS; i++)
			snprintf(cell[i], sizeof(cell[i]), "%.2f / %.2f",
				 l->ctr[i] / mib, (double)l->ctr[i] / maps);
		printf("    %-8s %-26s %-26s %-26s\n", fmt_size(sizes[si].len),
		       cell[C_TLB], cell[C_CHG], cell[C_SPL]);
	}

	for (si = 0; si < nsizes; si++) {
		struct lat *l = res[si];

		for (b = 0; b < NR_BACKENDS; b++) {
			if (l[b].err) {
				printf("BENCH test=map size=%zu backend=%s status=na reason=%s\n",
				       sizes[si].len, bkey[b],
				       na_key(l[b].err, l[b].step));
				continue;
			}
			printf("BENCH test=map size=%zu backend=%s status=ok reps=%d median_us=%.1f min_us=%.1f",
			       sizes[si].len, bkey[b], l[b].reps, l[b].med,
			       l[b].min);
			if (b == B_DEV && l[b].ctr_ok) {
				double mib = (double)l[b].reps * sizes[si].len / MIB;

				for (i = 0; i < NR_CTRS; i++)
					printf(" %s_per_mib=%.3f %s_per_mmap=%.3f",
					       ctr_name[i], l[b].ctr[i] / mib,
					       ctr_name[i],
					       (double)l[b].ctr[i] / l[b].reps);
			}
			printf("\n");
		}
		printf("BENCH test=map size=%zu", sizes[si].len);
		if (!l[B_DEV].err && !l[B_MEMFD].err)
			printf(" ratio_secretmem_memfd=%.3f",
			       l[B_DEV].med / l[B_MEMFD].med);
		else
			printf(" ratio_secretmem_memfd=na");
		if (!l[B_DEV].err && !l[B_ANON].err)
			printf(" ratio_secretmem_anon=%.3f",
			       l[B_DEV].med / l[B_ANON].med);
		else
			printf(" ratio_secretmem_anon=na");
		if (!l[B_MEMFD].err && !l[B_ANON].err)
			printf(" ratio_memfd_anon=%.3f",
			       l[B_MEMFD].med / l[B_ANON].med);
		else
			printf(" ratio_memfd_anon=na");
		printf("\n");
	}
	fflush(stdout);
}

/* ---- 2. sequential throughput in a fresh child ---- */

enum { OP_READ, OP_WRITE, OP_COPY, NR_OPS };

#define RW_MAX	3	/* mappings measured side by side */

struct rw_res {
	int err;
	char step[32];
	double mbs[NR_OPS];	/* median over passes, 10^6 bytes per second */
};

/*
 * Mappings measured in one child, pass by pass, in a rotating order, so
 * that the emulator's slow drifts hit every mapping alike; ratio[i] is the
 * median over passes of mapping i's rate over mapping ref's.
 */
struct rw_group {
	int n, ref, passes;
	enum backend b[RW_MAX];
	bool uc[RW_MAX];
	struct rw_res res[RW_MAX];
	double ratio[RW_MAX][NR_OPS];
};

static volatile uint64_t sink;

static __attribute__((noinline)) uint64_t read_pass(const uint64_t *p,
						    size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		sum += p[i];
	return sum;
}

/* Time one pass of each operation over @m, in ns. */
static void rw_pass(const struct map *m, int fill, double t[NR_OPS])
{
	uint64_t t0;

	t0 = sm_now_ns();
	memset(m->p, fill, m->len);
	__asm__ volatile("" ::: "memory");
	t[OP_WRITE] = sm_now_ns() - t0;

	t0 = sm_now_ns();
	sink += read_pass((const uint64_t *)m->p, m->len);
	t[OP_READ] = sm_now_ns() - t0;

	t0 = sm_now_ns();
	memcpy(m->p + m->len / 2, m->p, m->len / 2);
	__asm__ volatile("" ::: "memory");
	t[OP_COPY] = sm_now_ns() - t0;
}

static void rw_child(struct rw_group *g)
{
	static double t[MAX_REPS][RW_MAX][NR_OPS];
	const double bytes[NR_OPS] = { RW_SIZE, RW_SIZE, RW_SIZE / 2 };
	double v[MAX_REPS];
	struct map m[RW_MAX];
	int i, k, op, pass, err;

	for (i = 0; i < g->n; i++) {
		dev_uncached = g->uc[i];
		err = map_create(g->b[i], RW_SIZE, &m[i]);
		if (!err)
			err = map_touch(&m[i], 1);
		if (err) {
			g->res[i].err = -err;
			snprintf(g->res[i].step, sizeof(g->res[i].step), "%s", fail_step);
		}
	}
	dev_uncached = false;
	usleep(100000);
	for (pass = 0; pass < g->passes; pass++) {
		for (k = 0; k < g->n; k++) {
			i = (k + pass) % g->n;
			if (!g->res[i].err)
				rw_pass(&m[i], pass + 1, t[pass][i]);
		}
	}
	for (i = 0; i < g->n; i++) {
		if (g->res[i].err)
			continue;
		for (op = 0; op < NR_OPS; op++) {
			for (pass = 0; pass < g->passes; pass++)
				v[pass] = t[pass][i][op];
			g->res[i].mbs[op] = bytes[op] / median(v, g->passes) * 1e3;
			if (g->res[g->ref].err)
				continue;
			for (pass = 0; pass < g->passes; pass++)
				v[pass] = t[pass][g->ref][op] / t[pass][i][op];
			g->ratio[i][op] = median(v, g->passes);
		}
		munmap(m[i].p, m[i].len);
	}
}

/* Run rw_child() in a fresh process; its results come back through a pipe. */
static void run_rw(struct rw_group *g)
{
	int pfd[2], status, i;
	pid_t pid;
	ssize_t n;

	for (i = 0; i < g->n; i++)
		memset(&g->res[i], 0, sizeof(g->res[i]));
	if (pipe(pfd)) {
		g->res[0].err = errno;
		snprintf(g->res[0].step, sizeof(g->res[0].step), "pipe");
		goto fail_all;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		g->res[0].err = errno;
		snprintf(g->res[0].step, sizeof(g->res[0].step), "fork");
		close(pfd[0]);
		close(pfd[1]);
		goto fail_all;
	}
	if (!pid) {
		close(pfd[0]);
		rw_child(g);
		if (write(pfd[1], g, sizeof(*g)) != sizeof(*g))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], g, sizeof(*g));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (n == sizeof(*g))
		return;
	g->res[0].err = EPIPE;
	if (WIFSIGNALED(status))
		snprintf(g->res[0].step, sizeof(g->res[0].step), "child signal %d",
			 WTERMSIG(status));
	else
		snprintf(g->res[0].step, sizeof(g->res[0].step), "child");
fail_all:
	for (i = 1; i < g->n; i++)
		g->res[i] = g->res[0];
}

/* The cost of SECRETMEM_FLAG_UNCACHED: uncached and write-back side by side. */
static void bench_rw_uncached(int passes)
{
	struct rw_group g = {
		.n = 2, .ref = 1, .passes = passes,
		.b = { B_DEV, B_DEV }, .uc = { true, false },
	};
	const struct rw_res *uc = &g.res[0];

	if (avail_err[B_DEV])
		return;
	run_rw(&g);
	if (uc->err || g.res[1].err) {
		const struct rw_res *e = uc->err ? uc : &g.res[1];

		printf("    %-16s %s\n", "secretmem UC", na_text(B_DEV, e->err, e->step));
		printf("BENCH test=rw size=%zu backend=secretmem_uc status=na reason=%s\n",
		       RW_SIZE, na_key(e->err, e->step));
		return;
	}
	printf("    %-16s %12.0f %12.0f %12.0f\n", "secretmem UC",
	       uc->mbs[OP_READ], uc->mbs[OP_WRITE], uc->mbs[OP_COPY]);
	printf("    uncached/write-back (same passes): read %.2f  write %.2f  copy %.2f\n",
	       g.ratio[0][OP_READ], g.ratio[0][OP_WRITE], g.ratio[0][OP_COPY]);
	printf("BENCH test=rw size=%zu backend=secretmem_uc status=ok passes=%d read_mbs=%.0f write_mbs=%.0f copy_mbs=%.0f ratio_read_uc_wb=%.3f ratio_write_uc_wb=%.3f ratio_copy_uc_wb=%.3f\n",
	       RW_SIZE, passes, uc->mbs[OP_READ], uc->mbs[OP_WRITE], uc->mbs[OP_COPY],
	       g.ratio[0][OP_READ], g.ratio[0][OP_WRITE], g.ratio[0][OP_COPY]);
}

static void bench_rw(void)
{
	struct rw_group g = {
		.n = NR_BACKENDS, .ref = B_ANON, .passes = quick ? 3 : 15,
		.b = { B_DEV, B_MEMFD, B_ANON },
	};
	long ctr[NR_CTRS] = { 0 };
	struct ctrs c0, c1;
	bool ctr_ok;
	int b, i;

	printf("\n[3] sequential throughput over a %zu MiB mapping, MB/s (10^6 B/s), median of %d passes\n",
	       RW_SIZE / MIB, g.passes);
	printf("    all backends mapped in one fresh fork()ed child: map, touch, sleep 100 ms,\n");
	printf("    then per pass each backend in turn (rotating order): write = memset,\n");
	printf("    read = 64-bit sum, copy = memcpy first half -> second half.  Ratios are\n");
	printf("    medians of the per-pass ratios.\n");
	fflush(stdout);
	for (b = 0; b < NR_BACKENDS; b++)
		if (avail_err[b])
			g.b[b] = B_ANON;	/* measured, reported as not available */
	ctrs_read(&c0);
	run_rw(&g);
	ctrs_read(&c1);
	ctr_ok = ctrs_add(ctr, &c0, &c1);
	for (b = 0; b < NR_BACKENDS; b++) {
		if (avail_err[b] && !g.res[b].err) {
			g.res[b].err = avail_err[b];
			snprintf(g.res[b].step, sizeof(g.res[b].step), "%s",
				 b == B_DEV ? "open" : "memfd_secret");
		}
	}

	printf("\n    %-16s %12s %12s %12s\n", "backend", "read", "write", "copy");
	for (b = 0; b < NR_BACKENDS; b++) {
		const struct rw_res *r = &g.res[b];

		if (r->err) {
			printf("    %-16s %s\n", blabel[b], na_text(b, r->err, r->step));
			printf("BENCH test=rw size=%zu backend=%s status=na reason=%s\n",
			       RW_SIZE, bkey[b], na_key(r->err, r->step));
			continue;
		}
		printf("    %-16s %12.0f %12.0f %12.0f\n", blabel[b],
		       r->mbs[OP_READ], r->mbs[OP_WRITE], r->mbs[OP_COPY]);
		printf("BENCH test=rw size=%zu backend=%s status=ok passes=%d read_mbs=%.0f write_mbs=%.0f copy_mbs=%.0f\n",
		       RW_SIZE, bkey[b], g.passes, r->mbs[OP_READ], r->mbs[OP_WRITE],
		       r->mbs[OP_COPY]);
	}
	if (!g.res[B_DEV].err && !g.res[B_ANON].err) {
		printf("    secretmem/anon: read %.2f  write %.2f  copy %.2f\n",
		       g.ratio[B_DEV][OP_READ], g.ratio[B_DEV][OP_WRITE], g.ratio[B_DEV][OP_COPY]);
		printf("BENCH test=rw ratio_read_secretmem_anon=%.3f ratio_write_secretmem_anon=%.3f ratio_copy_secretmem_anon=%.3f\n",
		       g.ratio[B_DEV][OP_READ], g.ratio[B_DEV][OP_WRITE], g.ratio[B_DEV][OP_COPY]);
	} else {
		printf("BENCH test=rw ratio_read_secretmem_anon=na ratio_write_secretmem_anon=na ratio_copy_secretmem_anon=na\n");
	}
	bench_rw_uncached(g.passes);
	if (!g.res[B_MEMFD].err && !g.res[B_ANON].err)
		printf("BENCH test=rw ratio_read_memfd_anon=%.3f ratio_write_memfd_anon=%.3f ratio_copy_memfd_anon=%.3f\n",
		       g.ratio[B_MEMFD][OP_READ], g.ratio[B_MEMFD][OP_WRITE],
		       g.ratio[B_MEMFD][OP_COPY]);
	if (!g.res[B_DEV].err && ctr_ok) {
		double mib = (double)RW_SIZE / MIB;

		printf("    /dev/secretmem counters per MiB:");
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s %.2f", ctr_name[i], ctr[i] / mib);
		printf("\n");
		printf("BENCH test=rw backend=secretmem");
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s_per_mib=%.3f", ctr_name[i], ctr[i] / mib);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- 3. direct-map fragmentation ---- */

struct frag {
	const char *variant;	/* "64MiB" or "512x4KiB" */
	enum backend b;
	int err;
	const char *step;
	double units;		/* MiB mapped, or number of small pages */
	struct dmap before, mapped, pre_unmap, after;
	struct ctrs c_before, c_mapped, c_pre_unmap, c_after;
	struct map *maps;
	int nmaps;
};

/* Map and touch the step's memory and keep it; d/c readings around it. */
static void frag_map(struct frag *f)
{
	int i, n = !strcmp(f->variant, "64MiB") ? 1 : FRAG_SMALL;
	size_t len = n == 1 ? FRAG_SIZE : PAGE_SZ;
	int err = 0;

	f->units = n == 1 ? (double)FRAG_SIZE / MIB : FRAG_SMALL;
	f->maps = calloc(n, sizeof(*f->maps));
	if (!f->maps) {
		f->err = ENOMEM;
		f->step = "calloc";
		return;
	}
	ctrs_read(&f->c_before);
	dmap_read(&f->before);
	for (i = 0; i < n; i++) {
		err = map_create(f->b, len, &f->maps[i]);
		if (err)
			break;
		f->nmaps++;
		err = map_touch(&f->maps[i], 1);
		if (err)
			break;
	}
	dmap_read(&f->mapped);
	ctrs_read(&f->c_mapped);
	if (err) {
		f->err = -err;
		f->step = fail_step;
	}
}

static void frag_unmap(struct frag *f)
{
	int i;

	ctrs_read(&f->c_pre_unmap);
	dmap_read(&f->pre_unmap);
	for (i = 0; i < f->nmaps; i++)
		munmap(f->maps[i].p, f->maps[i].len);
	dmap_read(&f->after);
	ctrs_read(&f->c_after);
	free(f->maps);
	f->maps = NULL;
}

static void frag_report(const struct frag *f)
{
	const char *unit = !strcmp(f->variant, "64MiB") ? "MiB" : "page";
	long d_map = f->mapped.k4 - f->before.k4;
	long d2_map = f->mapped.m2 - f->before.m2;
	long d_unmap = f->after.k4 - f->pre_unmap.k4;
	long d2_unmap = f->after.m2 - f->pre_unmap.m2;
	long cm[NR_CTRS] = { 0 }, cu[NR_CTRS] = { 0 };
	bool cok;
	int i;

	if (f->err) {
		printf("    %-16s %-9s %s\n", blabel[f->b], f->variant,
		       na_text(f->b, f->err, f->step));
		printf("BENCH test=dmap variant=%s backend=%s status=na reason=%s\n",
		       f->variant, bkey[f->b], na_key(f->err, f->step));
		return;
	}
	if (!f->before.ok) {
		printf("    %-16s %-9s n/a (no DirectMap4k/2M in /proc/meminfo)\n",
		       blabel[f->b], f->variant);
		printf("BENCH test=dmap variant=%s backend=%s status=na reason=no_meminfo_directmap\n",
		       f->variant, bkey[f->b]);
		return;
	}
	printf("    %-16s %-9s %+10ld %10.1f/%-4s %+10ld %+10ld %+10ld\n",
	       blabel[f->b], f->variant, d_map, d_map / f->units, unit, d2_map,
	       d_unmap, d2_unmap);
	printf("BENCH test=dmap variant=%s backend=%s status=ok dm4k_before_kb=%ld dm4k_mapped_kb=%ld dm4k_pre_unmap_kb=%ld dm4k_after_kb=%ld dm2m_before_kb=%ld dm2m_mapped_kb=%ld dm2m_after_kb=%ld dm4k_change_map_kb=%ld dm4k_change_unmap_kb=%ld dm4k_kb_per_%s=%.1f",
	       f->variant, bkey[f->b], f->before.k4, f->mapped.k4,
	       f->pre_unmap.k4, f->after.k4,
	       f->before.m2, f->mapped.m2, f->after.m2, d_map, d_unmap,
	       !strcmp(unit, "MiB") ? "mib" : "page", d_map / f->units);
	if (!strcmp(unit, "page"))
		printf(" dm4k_change_per_512_pages_kb=%ld", d_map);
	cok = f->b == B_DEV && ctrs_add(cm, &f->c_before, &f->c_mapped) &&
	      ctrs_add(cu, &f->c_pre_unmap, &f->c_after);
	if (cok)
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s_map=%ld %s_unmap=%ld", ctr_name[i], cm[i],
			       ctr_name[i], cu[i]);
	printf("\n");
	if (cok) {
		printf("    %-16s %-9s counters on map/unmap:", "", "");
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s %ld/%ld", ctr_name[i], cm[i], cu[i]);
		printf("\n");
	}
}

static void bench_frag(void)
{
	struct frag f[] = {
		{ .variant = "512x4KiB", .b = B_DEV },
		{ .variant = "64MiB", .b = B_DEV },
		{ .variant = "512x4KiB", .b = B_MEMFD },
		{ .variant = "64MiB", .b = B_MEMFD },
		{ .variant = "64MiB", .b = B_ANON },
	};
	const int n = ARRAY_SIZE(f);
	int i;

	printf("\n[1] direct-map fragmentation (/proc/meminfo DirectMap4k/2M, kB); runs first:\n");
	printf("    splits of 2 MiB direct-map pages are permanent, so only the first row starts\n");
	printf("    from a boot-fresh direct map.  Order: /dev/secretmem (512 x 4 KiB, then 64 MiB),\n");
	printf("    memfd_secret (same), anon+mlock (control).  Every step stays mapped until all\n");
	printf("    are done (no step reuses frames freed by another), then unmap in reverse order.\n");
	fflush(stdout);
	for (i = 0; i < n; i++) {
		f[i].err = avail_err[f[i].b];
		f[i].step = f[i].b == B_DEV ? "open" : "memfd_secret";
		if (!f[i].err)
			frag_map(&f[i]);
		if (f[i].b == B_ANON && f[i].maps)	/* control: unmap now */
			frag_unmap(&f[i]);
	}
	for (i = n - 1; i >= 0; i--)
		if (f[i].maps)
			frag_unmap(&f[i]);

	printf("\n    %-16s %-9s %10s %15s %10s %10s %10s\n", "backend", "variant",
	       "4k:map", "4k per unit", "2M:map", "4k:unmap", "2M:unmap");
	for (i = 0; i < n; i++)
		frag_report(&f[i]);
	fflush(stdout);
}

/* ---- main ---- */

static void probe_backends(void)
{
	int fd;

	fd = sm_dev_open();
	if (fd < 0)
		avail_err[B_DEV] = errno;
	else
		close(fd);
	fd = syscall(__NR_memfd_secret, 0);
	if (fd < 0)
		avail_err[B_MEMFD] = errno;
	else
		close(fd);
	avail_err[B_ANON] = 0;
}

int main(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa;
	struct utsname u;
	char method[32] = "n/a";
	const char *q = getenv("BENCH_QUICK");
	uint64_t t0 = sm_now_ns();
	struct dmap d;
	FILE *f;
	int b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	quick = q && *q && strcmp(q, "0");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		printf("warning: setrlimit(RLIMIT_MEMLOCK, infinity): %s\n",
		       strerror(errno));
	probe_backends();

	uname(&u);
	f = fopen(SM_SYSFS_METHOD, "re");
	if (f) {
		if (fscanf(f, "%31s", method) != 1)
			snprintf(method, sizeof(method), "?");
		fclose(f);
	}
	dmap_read(&d);
	printf("secretmem bench: kernel %s %s, %ld CPUs, %s%s\n", u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       quick ? "BENCH_QUICK" : "full run",
	       ", times from CLOCK_MONOTONIC");
	for (b = 0; b < NR_BACKENDS; b++)
		printf("  %-16s %s\n", blabel[b], avail_err[b] ?
		       na_text(b, avail_err[b],
			       b == B_DEV ? "open" : "memfd_secret") : "ok");
	printf("  module dmap_method: %s\n", method);
	if (d.ok)
		printf("  DirectMap4k %ld kB, DirectMap2M %ld kB at start\n",
		       d.k4, d.m2);
	printf("BENCH kernel=%s machine=%s cpus=%ld quick=%d dmap_method=%s secretmem=%s memfd_secret=%s\n",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), quick,
	       method, avail_err[B_DEV] ? "na" : "ok",
	       avail_err[B_MEMFD] ? "na" : "ok");
	print_pool("start");

	bench_frag();
	print_pool("after_dmap");
	bench_latency();
	print_pool("after_map");
	bench_rw();

	print_pool("end");
	printf("\nBENCH total_s=%.1f\n", (sm_now_ns() - t0) / 1e9);
	return 0;
}
