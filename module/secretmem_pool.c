// SPDX-License-Identifier: GPL-2.0
/* A pool of zeroed pages kept out of the direct map, one per memory cgroup. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "secretmem_internal.h"

/*
 * The pool keeps pages of two sizes: 2 MiB chunks, for the whole 2 MiB
 * pieces of a mapping, and single pages, for the rest.  Every page in it
 * is zeroed, in one of two states:
 *
 * ready: out of the direct map, every CPU's TLB flushed.  An mmap() served
 *	from ready pages changes nothing in the direct map and flushes
 *	nothing.
 * spare: back in the direct map, where teardown put it to scrub it
 *	(restore -> zero, as always; there is no other safe way to write a
 *	page nobody maps).  Its entry already exists at its final size, so
 *	taking it out again needs no split.
 *
 * Single pages are made ready in batches of up to 512: the spare ones plus,
 * when they are too few, one 2 MiB chunk (a spare one, else a fresh one)
 * cut into single pages (one split of one 2 MiB direct-map page), all
 * taken out with one TLB flush.
 * Spare 2 MiB chunks are made ready in batches of up to SM_BIG_BATCH when
 * they cover what an mmap() lacks; otherwise that mmap() takes them out
 * with its new chunks, in its one flush.
 *
 * Pages are charged to the memory cgroup of the task that allocated them
 * (__GFP_ACCOUNT); modules cannot move a charge, so each cgroup has a pool
 * of its own and no task is served pages charged to another cgroup.  The
 * shrinker is not memory-cgroup aware (that needs list_lru and shrinker
 * bits a module cannot set on 6.1), so a cgroup's own reclaim cannot empty
 * its pool: a cgroup below the root keeps at most SM_PMD_PAGES pages, so
 * that pooled pages cannot push it into its limit by more than one batch.
 *
 * Bounds: pool_max_pages pages over all pools (writing a lower value
 * frees the excess at once; 0 turns the pool off); a shrinker gives pages
 * back under memory pressure; all of it goes back after SM_POOL_IDLE with
 * no pool activity, before hibernation, and at unload.  Pages leave the
 * pool by restore -> free; they are already zero.
 */

#define SM_POOL_IDLE	(5 * HZ)
#define SM_BIG_BATCH	64	/* spare 2 MiB chunks made ready at once */

enum { SM_SMALL, SM_BIG, SM_SIZES };
enum { SM_READY, SM_SPARE, SM_STATES };

struct sm_pool {
	struct list_head node;		/* in sm_pools */
	struct mem_cgroup *memcg;	/* whose pages these are (a reference) */
	unsigned long users;		/* regions that will give pages back */
	bool limited;			/* a cgroup below the root: SM_PMD_PAGES at most */
	unsigned long nr_pages;		/* pages on the lists */
	unsigned long nr[SM_SIZES][SM_STATES];	/* chunks on each list */
	/*
	 * Pages linked by page->lru; the pages of a ready chunk keep the
	 * direct-map entries to put back in page->private (secretmem_dmap.c).
	 */
	struct list_head lists[SM_SIZES][SM_STATES];
};

/*
 * Guards sm_pools and everything in each pool; never held across a call
 * that allocates, sleeps or changes the direct map.
 */
static DEFINE_SPINLOCK(sm_pool_lock);
static LIST_HEAD(sm_pools);

/* ULONG_MAX until init picks the default. */
unsigned long sm_pool_max = ULONG_MAX;

static void sm_pool_idle_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(sm_pool_idle_work, sm_pool_idle_fn);
static unsigned long sm_pool_last_use;	/* jiffies */
static struct shrinker *sm_shrinker;

static unsigned int sm_size_order(int size)
{
	return size == SM_BIG ? SM_PMD_ORDER : 0;
}

static bool sm_pool_empty(struct sm_pool *pool)
{
	return !pool->nr_pages;
}

static void sm_pool_free(struct sm_pool *pool)
{
	mem_cgroup_put(pool->memcg);
	kfree(pool);
}

/*
 * Drain all of it after SM_POOL_IDLE with no further activity.  The hot
 * path only stamps the time; the work re-arms itself while there is use.
 */
static void sm_pool_touch(void)
{
	WRITE_ONCE(sm_pool_last_use, jiffies);
	if (!delayed_work_pending(&sm_pool_idle_work))
		queue_delayed_work(sm_system_wq, &sm_pool_idle_work, SM_POOL_IDLE);
}

/* Is @memcg a cgroup below the root, whose own reclaim the shrinker misses? */
static bool sm_memcg_limited(struct mem_cgroup *memcg)
{
#ifdef CONFIG_MEMCG
	return memcg && memcg->css.parent;
#else
	return false;
#endif
}

static struct sm_pool *sm_pool_find(struct mem_cgroup *memcg)
{
	struct sm_pool *pool;

	list_for_each_entry(pool, &sm_pools, node)
		if (pool->memcg == memcg)
			return pool;
	return NULL;
}

/*
 * The memory cgroup that __GFP_ACCOUNT charges the calling task's
 * allocations to, with a reference: as get_obj_cgroup_from_current() in
 * mm/memcontrol.c picks it, the task's active memcg (set_active_memcg())
 * if any, else the task's own cgroup (not its mm owner's, which differs
 * for CLONE_VM without CLONE_THREAD), or the nearest ancestor that can
 * still be charged.
 */
static struct mem_cgroup *sm_charge_memcg(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	if (mem_cgroup_disabled())
		return NULL;
	rcu_read_lock();
	memcg = current->active_memcg;
	if (!memcg)
		memcg = mem_cgroup_from_task(current);
	while (memcg && !css_tryget(&memcg->css))
		memcg = parent_mem_cgroup(memcg);
	rcu_read_unlock();
	return memcg;
#else
	return NULL;
#endif
}

/**
 * sm_pool_get - the pool of the calling task's memory cgroup
 *
 * Return: the pool, with a user reference for the region that will give
 * its pages back, or NULL when the pool is off or no memory is left.
 */
struct sm_pool *sm_pool_get(void)
{
	struct mem_cgroup *memcg;
	struct sm_pool *pool, *new;
	int i, j;

	if (!READ_ONCE(sm_pool_max))
		return NULL;
#ifdef CONFIG_MEMCG
	/*
	 * The common case: the task's memcg has a pool already.  That pool
	 * holds a reference on it, so sm_charge_memcg() would pick this very
	 * memcg (css_tryget() succeeds on a css with references): no
	 * reference of our own is needed to find it.
	 */
	if (!mem_cgroup_disabled()) {
		rcu_read_lock();
		memcg = current->active_memcg ?: mem_cgroup_from_task(current);
		spin_lock(&sm_pool_lock);
		pool = sm_pool_find(memcg);
		if (pool)
			pool->users++;
		spin_unlock(&sm_pool_lock);
		rcu_read_unlock();
		if (pool)
			return pool;
	}
#endif
	memcg = sm_charge_memcg();
	spin_lock(&sm_pool_lock);
	pool = sm_pool_find(memcg);
	if (pool)
		pool->users++;
	spin_unlock(&sm_pool_lock);
	if (pool) {
		mem_cgroup_put(memcg);
		return pool;
	}

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new) {
		mem_cgroup_put(memcg);
		return NULL;
	}
	new->memcg = memcg;
	new->limited = sm_memcg_limited(memcg);
	new->users = 1;
	for (i = 0; i < SM_SIZES; i++)
		for (j = 0; j < SM_STATES; j++)
			INIT_LIST_HEAD(&new->lists[i][j]);

	spin_lock(&sm_pool_lock);
	pool = sm_pool_find(memcg);
	if (pool)
		pool->users++;
	else
		list_add(&new->node, &sm_pools);
	spin_unlock(&sm_pool_lock);
	if (pool) {
		sm_pool_free(new);
		return pool;
	}
	return new;
}

/* Drop a region's reference; the last one frees an empty pool. */
void sm_pool_put(struct sm_pool *pool)
{
	bool gone;

	spin_lock(&sm_pool_lock);
	gone = !--pool->users && sm_pool_empty(pool);
	if (gone)
		list_del(&pool->node);
	spin_unlock(&sm_pool_lock);
	if (gone)
		sm_pool_free(pool);
}

/* A chunk from a pool list, described as sm_dmap_restore() expects. */
static void sm_pool_chunk(struct sm_chunk *chunk, struct page *page,
			  unsigned int order, bool ready)
{
	memset(chunk, 0, sizeof(*chunk));
	chunk->page = page;
	chunk->order = order;
	chunk->pmd = ready && order == SM_PMD_ORDER && sm_dmap_chunk_is_pmd(page);
}

/**
 * sm_pool_take - move pages of one size and state out of a pool
 * @pool: the caller's pool
 * @order: 0 for single pages, SM_PMD_ORDER for 2 MiB chunks
 * @ready: take ready pages (out of the direct map) rather than spare ones
 * @chunks: where to put them
 * @nr: how many chunks at most
 *
 * Return: the number of chunks taken; each is zeroed and described as
 * sm_dmap_restore() expects when @ready.
 */
unsigned int sm_pool_take(struct sm_pool *pool, unsigned int order, bool ready,
			  struct sm_chunk *chunks, unsigned int nr)
{
	int size = order ? SM_BIG : SM_SMALL;
	struct list_head *list = &pool->lists[size][ready ? SM_READY : SM_SPARE];
	unsigned int n = 0;
	struct page *page;

	if (!nr)
		return 0;
	spin_lock(&sm_pool_lock);
	while (n < nr && !list_empty(list)) {
		page = list_first_entry(list, struct page, lru);
		list_del(&page->lru);
		sm_pool_chunk(&chunks[n++], page, order, ready);
	}
	pool->nr[size][ready ? SM_READY : SM_SPARE] -= n;
	pool->nr_pages -= (unsigned long)n << order;
	atomic_long_sub((long)n << order, &sm_stats.pool_pages);
	spin_unlock(&sm_pool_lock);
	if (n)
		sm_pool_touch();
	return n;
}

/*
 * Put zeroed chunks on a pool's list; they must fit (checked by caller).
 * A chunk to be lost (left uncached) is never pooled.
 */
static void sm_pool_add(struct sm_pool *pool, int state, struct sm_chunk *c,
			unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		int size = c[i].order ? SM_BIG : SM_SMALL;

		if (c[i].leak || c[i].lost)
			continue;

		list_add(&c[i].page->lru, &pool->lists[size][state]);
		pool->nr[size][state]++;
		pool->nr_pages += 1UL << c[i].order;
		atomic_long_add(1L << c[i].order, &sm_stats.pool_pages);
	}
}

/* May @pool keep @pages more pages? */
static bool sm_pool_has_room(struct sm_pool *pool, unsigned long pages)
{
	unsigned long now = atomic_long_read(&sm_stats.pool_pages);

	/* Hibernation is being prepared: nothing comes into the pool. */
	if (sm_pm_blocked())
		return false;
	if (pool->limited && pool->nr_pages + pages > SM_PMD_PAGES)
		return false;
	return now + pages <= READ_ONCE(sm_pool_max);
}

/*
 * Make a batch of single pages ready: the spare ones and, if fewer than
 * @need, one 2 MiB chunk cut into single pages: a spare one (zeroed, in
 * the direct map) if the pool has one, else a fresh one if it has room.
 */
static int sm_pool_refill(struct sm_pool *pool, unsigned int need)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT |
			  __GFP_NOWARN | __GFP_NORETRY;
	struct sm_chunk *batch, big;
	struct page *page = NULL;
	unsigned int n, i;
	int ret;

	batch = kvmalloc_array(2 * SM_PMD_PAGES, sizeof(*batch), GFP_KERNEL);
	if (!batch)
		return -ENOMEM;
	n = sm_pool_take(pool, 0, false, batch, SM_PMD_PAGES);
	if (n < need) {
		if (sm_pool_take(pool, SM_PMD_ORDER, false, &big, 1))
			page = big.page;
		else if (sm_pool_has_room(pool, n + SM_PMD_PAGES - need))
			page = sm_alloc_pages(gfp, SM_PMD_ORDER);
	}
	if (page) {
		split_page(page, SM_PMD_ORDER);
		for (i = 0; i < SM_PMD_PAGES; i++, n++) {
			memset(&batch[n], 0, sizeof(batch[n]));
			batch[n].page = page + i;
		}
	}
	ret = n ? sm_dmap_remove(batch, n) : -ENOMEM;
	if (ret) {
		/* All of them are zeroed and in the direct map. */
		for (i = 0; i < n; i++)
			sm_chunk_free(&batch[i]);
	} else {
		spin_lock(&sm_pool_lock);
		sm_pool_add(pool, SM_READY, batch, n);
		spin_unlock(&sm_pool_lock);
	}
	kvfree(batch);
	return ret;
}

/**
 * sm_pool_take_small - serve single ready pages, refilling when short
 * @pool: the caller's pool
 * @chunks: where to put them
 * @nr: how many, less than 512
 *
 * Return: the number served; the caller allocates the rest itself.
 */
unsigned int sm_pool_take_small(struct sm_pool *pool, struct sm_chunk *chunks,
				unsigned int nr)
{
	unsigned int n = sm_pool_take(pool, 0, true, chunks, nr);

	if (n < nr && !sm_pool_refill(pool, nr - n))
		n += sm_pool_take(pool, 0, true, chunks + n, nr - n);
	return n;
}

/* Make up to SM_BIG_BATCH spare 2 MiB chunks ready, if at least @need exist. */
static int sm_pool_ready_big(struct sm_pool *pool, unsigned int need)
{
	struct sm_chunk *batch;
	unsigned int n;
	bool enough;
	int ret;

	spin_lock(&sm_pool_lock);
	enough = need <= SM_BIG_BATCH && pool->nr[SM_BIG][SM_SPARE] >= need;
	spin_unlock(&sm_pool_lock);
	if (!enough)
		return -ENOENT;
	batch = kmalloc_array(SM_BIG_BATCH, sizeof(*batch), GFP_KERNEL);
	if (!batch)
		return -ENOMEM;
	n = sm_pool_take(pool, SM_PMD_ORDER, false, batch, SM_BIG_BATCH);
	ret = n ? sm_dmap_remove(batch, n) : -ENOENT;
	/* On failure they are back in the direct map, still zero and spare. */
	spin_lock(&sm_pool_lock);
	sm_pool_add(pool, ret ? SM_SPARE : SM_READY, batch, n);
	spin_unlock(&sm_pool_lock);
	kfree(batch);
	return ret;
}

/**
 * sm_pool_take_big - serve ready 2 MiB chunks, making spare ones ready
 * @pool: the caller's pool
 * @chunks: where to put them
 * @nr: how many
 *
 * Return: the number served; the caller takes spare ones or allocates the
 * rest itself.
 */
unsigned int sm_pool_take_big(struct sm_pool *pool, struct sm_chunk *chunks,
			      unsigned int nr)
{
	unsigned int n = sm_pool_take(pool, SM_PMD_ORDER, true, chunks, nr);

	if (n < nr && !sm_pool_ready_big(pool, nr - n))
		n += sm_pool_take(pool, SM_PMD_ORDER, true, chunks + n, nr - n);
	return n;
}

/**
 * sm_pool_give - keep a torn-down region's pages, or free them
 * @pool: the region's pool
 * @chunks: its chunks, back in the direct map and scrubbed
 * @nr: number of chunks
 *
 * Chunks of 2 MiB and single pages are kept as spare while the pool has
 * room; every other chunk is freed.
 */
void sm_pool_give(struct sm_pool *pool, struct sm_chunk *chunks, unsigned int nr)
{
	unsigned int i, kept = 0;

	spin_lock(&sm_pool_lock);
	for (i = 0; i < nr; i++) {
		struct sm_chunk *c = &chunks[i];

		if (c->leak || c->lost || (c->order && c->order != SM_PMD_ORDER) ||
		    !sm_pool_has_room(pool, 1UL << c->order))
			continue;
		sm_pool_add(pool, SM_SPARE, c, 1);
		c->page = NULL;
		kept++;
	}
	spin_unlock(&sm_pool_lock);
	for (i = 0; i < nr; i++)
		if (chunks[i].page)
			sm_chunk_free(&chunks[i]);
	if (kept)
		sm_pool_touch();
}

/* Take one chunk out of any pool, preferring spare ones; false if none. */
static bool sm_pool_pop(struct sm_chunk *chunk, bool *ready)
{
	struct sm_pool *pool, *gone = NULL;
	int size, state;

	spin_lock(&sm_pool_lock);
	list_for_each_entry(pool, &sm_pools, node) {
		for (state = SM_STATES - 1; state >= 0; state--) {
			for (size = 0; size < SM_SIZES; size++) {
				struct list_head *list = &pool->lists[size][state];
				struct page *page;

				if (list_empty(list))
					continue;
				page = list_first_entry(list, struct page, lru);
				list_del(&page->lru);
				sm_pool_chunk(chunk, page, sm_size_order(size),
					      state == SM_READY);
				*ready = state == SM_READY;
				pool->nr[size][state]--;
				pool->nr_pages -= 1UL << chunk->order;
				atomic_long_sub(1L << chunk->order, &sm_stats.pool_pages);
				if (!pool->users && sm_pool_empty(pool)) {
					list_del(&pool->node);
					gone = pool;
				}
				goto found;
			}
		}
	}
	spin_unlock(&sm_pool_lock);
	return false;
found:
	spin_unlock(&sm_pool_lock);
	if (gone)
		sm_pool_free(gone);
	return true;
}

/**
 * sm_pool_drain - give pooled pages back to the allocator
 * @pages: how many pages at least, ULONG_MAX for all
 *
 * Return: the number of pages freed.
 */
unsigned long sm_pool_drain(unsigned long pages)
{
	unsigned long freed = 0;
	struct sm_chunk chunk;
	bool ready;

	while (freed < pages && sm_pool_pop(&chunk, &ready)) {
		/* Already zero: restore -> free.  No flush is needed. */
		if (ready)
			sm_dmap_restore(&chunk, 1);
		sm_chunk_free(&chunk);
		freed += 1UL << chunk.order;
		cond_resched();
	}
	return freed;
}

static void sm_pool_idle_fn(struct work_struct *work)
{
	unsigned long idle_at = READ_ONCE(sm_pool_last_use) + SM_POOL_IDLE;

	if (time_before(jiffies, idle_at)) {
		queue_delayed_work(sm_system_wq, &sm_pool_idle_work, idle_at - jiffies);
		return;
	}
	sm_pool_drain(ULONG_MAX);
}

static unsigned long sm_pool_count(struct shrinker *s, struct shrink_control *sc)
{
	return atomic_long_read(&sm_stats.pool_pages) ?: SHRINK_EMPTY;
}

static unsigned long sm_pool_scan(struct shrinker *s, struct shrink_control *sc)
{
	return sm_pool_drain(sc->nr_to_scan) ?: SHRINK_STOP;
}

/* Default size: 1/8 of RAM, at most 256 MiB. */
int sm_pool_init(void)
{
	if (sm_pool_max == ULONG_MAX)
		sm_pool_max = min(totalram_pages() / 8, 65536UL);
	sm_shrinker = sm_shrinker_create("secretmem_dev-pool", sm_pool_count,
					 sm_pool_scan);
	return sm_shrinker ? 0 : -ENOMEM;
}

/* At unload no region is left; every pooled page goes back. */
void sm_pool_exit(void)
{
	sm_shrinker_destroy(sm_shrinker);
	cancel_delayed_work_sync(&sm_pool_idle_work);
	sm_pool_drain(ULONG_MAX);
	WARN_ON_ONCE(!list_empty(&sm_pools));
}
