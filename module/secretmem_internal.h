/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations shared by the files of the secretmem_dev module. */
#ifndef _SECRETMEM_INTERNAL_H
#define _SECRETMEM_INTERNAL_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>

/*
 * A run of physically contiguous pages, allocated with one alloc_pages()
 * call of the given order; the unit the direct-map layer works on.
 */
struct sm_chunk {
	struct page *page;
	unsigned int order;
	bool pmd;		/* out of the direct map as one 2 MiB entry */
	bool leak;		/* left uncached: must never be freed */
	bool lost;		/* could not be put back in the direct map: never touched again */
};

/* A chunk of this order may leave the direct map as one 2 MiB entry. */
#define SM_PMD_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define SM_PMD_PAGES	BIT(SM_PMD_ORDER)

/* Give a chunk's pages back to the allocator, unless it must be lost. */
static inline void sm_chunk_free(struct sm_chunk *chunk)
{
	if (!chunk->leak && !chunk->lost)
		__free_pages(chunk->page, chunk->order);
}

/* What an open /dev/secretmem holds (file->private_data). */
struct sm_file {
	struct mutex lock;	/* serialises flags against the first mmap */
	u64 flags;		/* SECRETMEM_FLAG_* */
	bool mmapped;		/* an mmap() made pages: flags are fixed */
	unsigned int mmaps_in_flight;	/* mmap() calls under way */
	atomic_long_t pages;	/* pages held by this fd's regions */
};

/* Module-wide counters, shown read-only in sysfs. */
struct sm_stats {
	atomic_long_t regions;		/* live regions */
	atomic_long_t pages;		/* pages allocated to regions */
	atomic_long_t peak_pages;	/* highest value of pages */
	atomic_long_t alloc_failures;	/* mmaps refused for lack of memory */
	atomic_long_t tlb_flushes;	/* kernel TLB flushes done by the module */
	atomic_long_t dmap_changes;	/* pages removed from or restored to the direct map */
	atomic_long_t dmap_splits;	/* large direct-map pages split by the module */
	atomic_long_t pool_pages;	/* zeroed pages kept by the pool */
	atomic_long_t lost_pages;	/* pages never given back (restore failed) */
};

extern struct sm_stats sm_stats;
extern unsigned long sm_max_pages;

/*
 * Fault injection for the test suite (root-only parameters): when N is not
 * 0, the Nth chunk allocation, direct-map removal of a page or chunk
 * mapping of each mmap() call fails as if the kernel had refused it; the
 * Nth page restore of each sm_dmap_restore() or sm_dmap_restore_scrub()
 * call finds its entry changed.
 */
struct sm_faults {
	unsigned int alloc_nth;
	unsigned int dmap_nth;
	unsigned int map_nth;
	unsigned int restore_nth;	/* the Nth restore of a teardown finds its entry changed */
};

extern struct sm_faults sm_faults;

/*
 * The direct-map layer, one file per architecture (Kbuild picks it):
 * secretmem_dmap_x86.c, secretmem_dmap_arm64.c.
 */
int sm_dmap_init(const char *method);
const char *sm_dmap_method_name(void);
int sm_dmap_remove(struct sm_chunk *chunks, unsigned int nr);
void sm_dmap_restore_chunk(struct sm_chunk *chunk, unsigned int *done);
void sm_dmap_restore(struct sm_chunk *chunks, unsigned int nr);
void sm_dmap_restore_scrub(struct sm_chunk *chunks, unsigned int nr);
void sm_dmap_flush(void);
bool sm_dmap_ibt_enforced(void);
int sm_dmap_set_uncached(struct sm_chunk *chunks, unsigned int nr, bool uc);
bool sm_dmap_has_alias(struct page *page, unsigned int order);
bool sm_dmap_chunk_is_pmd(struct page *page);
void sm_chunk_lose(struct sm_chunk *chunk, const char *why);
unsigned long sm_dmap_retry_lost(void);
#ifdef CONFIG_ARM64
/* SECRETMEM_PLAT_ bits only the arm64 layer knows. */
u64 sm_dmap_arch_platform(void);
#else
static inline u64 sm_dmap_arch_platform(void)
{
	return 0;
}
#endif

/* secretmem_pool.c: zeroed pages kept out of the direct map for reuse. */
struct sm_pool;
extern unsigned long sm_pool_max;
int sm_pool_init(void);
void sm_pool_exit(void);
struct sm_pool *sm_pool_get(void);
void sm_pool_put(struct sm_pool *pool);
unsigned int sm_pool_take(struct sm_pool *pool, unsigned int order, bool ready,
			  struct sm_chunk *chunks, unsigned int nr);
unsigned int sm_pool_take_small(struct sm_pool *pool, struct sm_chunk *chunks,
				unsigned int nr);
unsigned int sm_pool_take_big(struct sm_pool *pool, struct sm_chunk *chunks,
			      unsigned int nr);
void sm_pool_give(struct sm_pool *pool, struct sm_chunk *chunks, unsigned int nr);
unsigned long sm_pool_drain(unsigned long pages);

/* secretmem_mmap.c: the mmap path. */
int sm_mmap(struct file *file, struct vm_area_struct *vma);
struct page *sm_alloc_pages(gfp_t gfp, unsigned int order);
void sm_quarantine_free(void);
void sm_mmap_exit(void);

/* secretmem_main.c: is hibernation being prepared (no new secret pages)? */
bool sm_pm_blocked(void);
bool sm_pm_enter(void);
void sm_pm_exit(void);

#endif /* _SECRETMEM_INTERNAL_H */
