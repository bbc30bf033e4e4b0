/* SPDX-License-Identifier: GPL-2.0 */
/* bench.h - what the benchmark's parts share (common.c): backends, mappings, counters, statistics. */
#ifndef SM_BENCH_H
#define SM_BENCH_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

extern const char *const bkey[NR_BACKENDS];
extern const char *const blabel[NR_BACKENDS];
/* 0 if the backend can be used at all, else the errno of the probe. */
extern int avail_err[NR_BACKENDS];
extern bool quick;
/* /dev/secretmem mappings ask for SECRETMEM_FLAG_UNCACHED (throughput row). */
extern bool dev_uncached;
/* Step that failed last (for n/a reasons). */
extern const char *fail_step;

enum { C_TLB, C_CHG, C_SPL, NR_CTRS };
extern const char *const ctr_name[NR_CTRS];

struct ctrs {
	long v[NR_CTRS];
	bool ok;	/* all of them could be read */
};

struct dmap {
	long k4, m2;	/* DirectMap4k, DirectMap2M in kB */
	bool ok;
};

struct map {
	char *p;
	size_t len;
};

void ctrs_read(struct ctrs *c);
bool ctrs_add(long *sum, const struct ctrs *before, const struct ctrs *after);
void print_pool(const char *when);
void dmap_read(struct dmap *d);
int map_create(enum backend b, size_t len, struct map *m);
void on_sigbus(int sig);
int map_touch(const struct map *m, char val);
int map_cycle(enum backend b, size_t len, uint64_t *ns);
int cmp_double(const void *a, const void *b);
double median(const double *v, int n);
double minimum(const double *v, int n);
const char *fmt_us(double us);
const char *fmt_size(size_t len);
const char *na_text(enum backend b, int err, const char *step);
const char *na_key(int err, const char *step);

/* latency.c, rw.c, frag.c, alloc.c */
void bench_alloc(void);
void bench_latency(void);
void bench_rw(void);
void bench_frag(void);

#endif /* SM_BENCH_H */
