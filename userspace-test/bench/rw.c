// SPDX-License-Identifier: GPL-2.0
// rw.c - part 2 of the benchmark: sequential read/write/copy throughput in a fresh child.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "bench.h"

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

void bench_rw(void)
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
