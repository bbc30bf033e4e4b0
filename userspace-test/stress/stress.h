/* SPDX-License-Identifier: GPL-2.0 */
/* stress.h - what the stress program's phases share (common.c): options, counters, failure, mappings, reports. */
#ifndef SM_STRESS_H
#define SM_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "probe.h"
#include "sm_lib.h"

#define CG_GROUP	SM_CG_ROOT "/smstress"
#define FAULT_DIR	"/sys/kernel/debug/"

#define MAX_PAGES_MAP	512	/* 2 MiB: the largest random mapping */
#define A_LIVE		4	/* live mappings per phase-A thread */
#define MAX_THREADS	16
#define BIG_MAP		(64UL << 20)	/* phase C: the mapping killed mid-way */
#define MEMCG_MAX	(32UL << 20)	/* phase F: memory.max of the group */

/* ---- options, counters, failure ---- */

extern double opt_seconds;
extern int opt_threads;
extern uint64_t opt_seed;
extern const char *opt_phases;

extern atomic_ulong n_iter, n_mmaps, n_forks, n_kills, n_faults, n_enomem, n_eagain;
extern atomic_ulong n_munmaps, n_partial, n_mprotects, n_mremaps, n_fixed;

extern struct pattern pat;
extern atomic_int failed;
extern char fail_msg[512];

/* xorshift64*: one per thread, seeded from the run's seed. */
struct rng {
	uint64_t s;
};

/* ---- module parameters: saved at start, restored at every exit ---- */

/* max_pages, fault_alloc_nth, fault_dmap_nth, fault_map_nth, pool_max_pages */
#define PARAM_POOL_MAX	4
#define NPARAMS		5
extern struct sm_param params[NPARAMS];

#define NKNOBS		10
extern const char *const fi_knobs[NKNOBS];

struct fi_attr {
	const char *dir;
	bool present;
	char saved[NKNOBS][32];
};

#define NFI		2
extern struct fi_attr fi_attrs[NFI];

/* ---- mappings ---- */

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

extern atomic_int faults_armed;		/* phase G: some fault_*_nth is set */
/* Each phase-A thread's mappings, for the crash report. */
extern struct amap *volatile thread_maps[MAX_THREADS];

/* ---- snapshot of counters for a phase's report line ---- */

struct snap {
	unsigned long iter, mmaps, forks, kills, faults, enomem, eagain;
	unsigned long munmaps, partial, mprotects, mremaps, fixed;
	double t;
};

void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rng_init(struct rng *r, uint64_t salt);
uint64_t rnd(struct rng *r);
unsigned long rnd_range(struct rng *r, unsigned long lo, unsigned long hi);
size_t rnd_pages(struct rng *r, size_t max);
int counters_settle(long ms);
void check_idle(const char *phase);
void child_setup(void);
void params_save(void);
bool param_ok(size_t i);
int param_set(size_t i, long v);
void params_restore_raw(void);
void write_str_fd(int fd, const char *s);
void fi_restore_raw(void);
void watchdog(int sig);
uint64_t tag_of(uint64_t id, size_t i);
void fill(volatile uint8_t *p, size_t pages, uint64_t id);
bool page_ok(const volatile uint8_t *p, size_t i, uint64_t id);
bool expected_mmap_errno(int err, bool armed);
long fd_mapped_bytes(int fd);
int prot_of(int st);
void amap_verify(struct amap *m, const char *when);
bool amap_any_live(struct amap *m);
void amap_unmap(struct amap *m, size_t s, size_t e);
void amap_drop(struct amap *m);
void amap_partial_munmap(struct amap *m, struct rng *r);
void amap_mprotect(struct amap *m, struct rng *r);
void amap_mremap(struct amap *m);
void *athread_main(void *arg);
int run_threads(int n, double secs, unsigned long cap, bool fixed_over, size_t max_pages);
void snap_take(struct snap *s);
void snap_print(const char *phase, const struct snap *s, const char *extra);

/* One file each: phase_a.c ... phase_g.c. */
void phase_a(double secs);
void phase_b(double secs);
void phase_c(double secs);
void phase_d(double secs);
void phase_e(double secs);
void phase_f(double secs);
void phase_g(double secs);

#endif /* SM_STRESS_H */
