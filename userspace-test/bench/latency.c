// SPDX-License-Identifier: GPL-2.0
// latency.c - part 1 of the benchmark: map + touch + munmap latency per backend and size.
#include <errno.h>
#include <stdio.h>

#include "bench.h"

/* ---- 1. map + touch + munmap latency ---- */

struct lat {
	int err;		/* 0, or errno that stopped the series */
	const char *step;
	int reps;
	double us[MAX_REPS];
	double ph[NR_PHASES][MAX_REPS];	/* the same reps, phase by phase */
	double mtu[MAX_REPS];	/* mmap + touch + munmap of the same reps */
	double med, min, mtu_med;
	double ph_med[NR_PHASES];
	long ctr[NR_CTRS];	/* module counter deltas over all reps */
	bool ctr_ok;
};

struct lat_size {
	size_t len;
	int max_reps, min_reps;
	double budget_s;	/* stop after this long once min_reps are done */
};

/* The median of each phase, per backend, and secretmem's against the others. */
static void print_phases(size_t len, const struct lat *l)
{
	int b, i;

	printf("\n    %s cycle by phase, median of the same reps (the medians of the phases\n"
	       "    need not add up to the median of the whole), and /dev/secretmem's phase / the other's:\n",
	       fmt_size(len));
	printf("    %-8s", "phase");
	for (b = 0; b < NR_BACKENDS; b++)
		printf(" %-16s", blabel[b]);
	printf(" %9s %9s\n", "sm/memfd", "sm/anon");
	for (i = 0; i <= NR_PHASES; i++) {
		char r[2][16];

		printf("    %-8s", i < NR_PHASES ? phase_name[i] : "total");
		for (b = 0; b < NR_BACKENDS; b++) {
			if (l[b].err)
				printf(" %-16s", "n/a");
			else
				printf(" %-16s", fmt_us(i < NR_PHASES ?
							l[b].ph_med[i] : l[b].med));
		}
		for (b = B_MEMFD; b <= B_ANON; b++) {
			double x = i < NR_PHASES ? l[B_DEV].ph_med[i] : l[B_DEV].med;
			double y = i < NR_PHASES ? l[b].ph_med[i] : l[b].med;

			if (l[B_DEV].err || l[b].err || y <= 0)
				snprintf(r[b - B_MEMFD], sizeof(r[0]), "n/a");
			else
				snprintf(r[b - B_MEMFD], sizeof(r[0]), "%.2f", x / y);
		}
		printf(" %9s %9s\n", r[0], r[1]);
	}
	/*
	 * The pages' whole life without the fd's: /dev/secretmem gives them
	 * back in munmap, so its close only frees the file (VFS work that
	 * anonymous memory has no counterpart of); memfd_secret frees them
	 * at close, so against it only the whole cycle is a fair comparison.
	 */
	printf("    %-8s", "m+t+u");
	for (b = 0; b < NR_BACKENDS; b++)
		printf(" %-16s", l[b].err ? "n/a" : fmt_us(l[b].mtu_med));
	printf(" %9s", "-");
	if (l[B_DEV].err || l[B_ANON].err || l[B_ANON].mtu_med <= 0)
		printf(" %9s\n", "n/a");
	else
		printf(" %9.2f\n", l[B_DEV].mtu_med / l[B_ANON].mtu_med);
	printf("    (m+t+u: mmap + touch + munmap, the median of their sum per rep: the cycle of a\n"
	       "    program that keeps one /dev/secretmem fd open, as libsecretmem does)\n");
}

void bench_latency(void)
{
	struct lat_size sizes[] = {
		{ 4 * KIB,	201, 5, 10 },
		{ 64 * KIB,	101, 5, 10 },
		{ 2 * MIB,	31, 5, 20 },
		{ 64 * MIB,	7, 3, 60 },
	};
	const int nsizes = ARRAY_SIZE(sizes);
	static struct lat res[4][NR_BACKENDS];
	int si, b, r, i;

	printf("\n[2] mmap + touch (1 byte per 4 KiB) + munmap, median of reps\n");
	printf("    timed, in this order: open (/dev/secretmem: open; memfd_secret: memfd_secret()+ftruncate;\n");
	printf("    anon: nothing), mmap (anon: mmap+mlock), touch, munmap, close fd.  Backends interleaved per rep,\n");
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
				uint64_t ns[NR_PHASES + 1];
				int p;
				int err;

				b = (k + r) % NR_BACKENDS;
				l = &res[si][b];
				if (l->err)
					continue;
				any = true;
				if (b == B_DEV)
					ctrs_read(&c0);
				err = map_cycle(b, sz->len, ns);
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
				for (p = 0; p < NR_PHASES; p++)
					l->ph[p][l->reps] = ns[p] / 1000.0;
				l->mtu[l->reps] = (ns[P_MMAP] + ns[P_TOUCH] +
						   ns[P_MUNMAP]) / 1000.0;
				l->us[l->reps++] = ns[NR_PHASES] / 1000.0;
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
			for (i = 0; i < NR_PHASES; i++)
				l->ph_med[i] = median(l->ph[i], l->reps);
			l->mtu_med = median(l->mtu, l->reps);
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

	print_phases(sizes[0].len, res[0]);

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
		for (b = 0; b < NR_BACKENDS; b++) {
			if (l[b].err)
				continue;
			printf("BENCH test=phase size=%zu backend=%s", sizes[si].len,
			       bkey[b]);
			for (i = 0; i < NR_PHASES; i++)
				printf(" %s_us=%.1f", phase_name[i], l[b].ph_med[i]);
			printf(" mtu_us=%.1f\n", l[b].mtu_med);
		}
		if (!l[B_DEV].err && !l[B_ANON].err && l[B_ANON].mtu_med > 0)
			printf("BENCH test=map_fd_open size=%zu ratio_secretmem_anon=%.3f\n",
			       sizes[si].len, l[B_DEV].mtu_med / l[B_ANON].mtu_med);
	}
	fflush(stdout);
}
