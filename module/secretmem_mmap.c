// SPDX-License-Identifier: GPL-2.0
/* The mmap path: regions of secret pages and their VMAs. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <secretmem.h>
#include "compat.h"
#include "secretmem_internal.h"

/*
 * Largest chunk: 2 MiB, naturally aligned, so that the "pte" method can take
 * it out of the direct map as one entry, with no 4 KiB split.
 */
#define SM_MAX_ORDER	SM_PMD_ORDER

/*
 * Chunks a region keeps in itself: a small mapping (the common case) then
 * needs no chunk array of its own, one allocation and free fewer per mmap.
 */
#define SM_INLINE_CHUNKS	4

/*
 * One mmap() call makes one region.  A region is shared by the VMAs that
 * splitting (munmap or mprotect of a part) and mremap make of the first
 * one, and, for an fd with SECRETMEM_FLAG_INHERIT, by the copies fork()
 * makes of them in its children (->open with the child's mm); its pages go
 * back when the last of them closes, wherever that is.
 *
 * The mm that mapped it (the owner, smm's) is charged for it (RSS, VmLck)
 * while it has VMAs of it: its last one closing, or its exit, gives that
 * charge back.  Every other mm that maps it (a sharer) has the pages in its
 * RSS while it has VMAs of it, as every mapper of a shared file page has
 * (no VmLck: fork() does not inherit mlock either).  The user stays charged
 * until the pages go back.
 *
 * owner_vmas changes only for the owner's VMAs: under the owner's mmap_lock
 * held for write, or for read by the one munmap() that downgraded it (no
 * other writer can run then), or in its exit with mm_users at 0.  The
 * sharers' counts change under their own mmap_locks, so they are kept
 * under sharers_lock.  The owner's mm stays allocated (smm's mmgrab) until
 * the region is freed, so the pointer compare in sm_vma_is_owner() holds.
 */
struct sm_region {
	refcount_t vmas;		/* VMAs that map this region, in every mm */
	unsigned int owner_vmas;	/* of them, those in the owner's mm */
	bool owner_charged;		/* the owner's RSS and VmLck hold nr_pages */
	bool released;			/* the pages went back early, at the owner's exit */
	spinlock_t sharers_lock;	/* guards sharers */
	struct list_head sharers;	/* struct sm_sharer: the other mms that map it */
	struct sm_file *smf;		/* the fd mapped; its VMAs keep it open */
	struct sm_pool *pool;		/* where its pages go back, or NULL */
	struct sm_mm *smm;		/* the mm it is charged to (a reference) */
	struct list_head mm_node;	/* in smm->regions while it holds pages */
	struct user_struct *user;	/* the user charged for its pages (a reference) */
	bool uncached;			/* pages are UC- instead of write-back */
	unsigned long nr_pages;
	unsigned int nr_chunks;
	unsigned int nr_removed;	/* chunks[0..nr_removed) are out of the direct map */
	unsigned long max_chunks;	/* room in chunks[] */
	struct sm_chunk *chunks;	/* inline_chunks, or an array of its own */
	struct sm_chunk inline_chunks[SM_INLINE_CHUNKS];
};

/* An mm other than the owner that maps a region (fork() children), and its VMAs of it. */
struct sm_sharer {
	struct list_head node;
	struct mm_struct *mm;
	unsigned int vmas;
};

/*
 * One per mm that maps secret memory: an mmu notifier whose release hook
 * gives the mm's regions back at the very start of its teardown.
 *
 * Why: the pages count in the mm's RSS (so the OOM killer sees them), but
 * exit_mmap() sets MMF_OOM_SKIP after unmap_vmas() and before remove_vma()
 * reaches ->close: an OOM victim's secret pages would still be held when
 * the killer, seeing MMF_OOM_SKIP, picks a second victim.  ->release runs
 * first in exit_mmap(), with mm_users at 0, so nothing can fault, map or
 * unmap in this mm any more; it zaps the regions' PTEs, then releases
 * them as ->close would (mm/mmu_notifier.c: release may drop the
 * notifier with mmu_notifier_put()).  The notifier lives as long as the
 * mm (one reference until release, one per region), so registration
 * (mm_take_all_locks()) happens once per process.  Its ops live in this
 * module, so each notifier pins the module until it is freed: the module
 * unloads once every process that mapped it has exited (sm_mmap_exit()
 * then waits for the last SRCU-deferred free).
 */
struct sm_mm {
	struct mmu_notifier mn;
	spinlock_t lock;		/* guards regions */
	struct list_head regions;	/* regions still holding pages */
	bool fresh;			/* just allocated: take the mm's reference */
};

static void sm_region_owner_uncharge(struct sm_region *region);
static void sm_region_release_all(struct sm_region *region);
static const struct vm_operations_struct sm_vm_ops;

static struct mmu_notifier *sm_mm_alloc(struct mm_struct *mm)
{
	struct sm_mm *smm = kzalloc(sizeof(*smm), GFP_KERNEL_ACCOUNT);

	if (!smm)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&smm->lock);
	INIT_LIST_HEAD(&smm->regions);
	smm->fresh = true;
	/* The open device file pins the module now; this pin outlives it. */
	__module_get(THIS_MODULE);
	return &smm->mn;
}

/* Called from an SRCU callback; sm_mmap_exit() waits for it to return. */
static void sm_mm_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct sm_mm, mn));
	module_put(THIS_MODULE);
}

static void sm_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct sm_mm *smm = container_of(mn, struct sm_mm, mn);
	struct vm_area_struct *vma;
	struct sm_region *region;

	/* No page goes back while a PTE still points at it. */
	mmap_read_lock(mm);
	for (vma = find_vma(mm, 0); vma; vma = find_vma(mm, vma->vm_end))
		if (vma->vm_ops == &sm_vm_ops)
			sm_zap_vma(vma);
	mmap_read_unlock(mm);

	/*
	 * A region that only this mm maps goes back now.  One that a fork()
	 * child maps too (SECRETMEM_FLAG_INHERIT) keeps its pages for the
	 * child; this mm's charge ends here.  Equal counts cannot change
	 * under us: a VMA of another mm could only come from a fork() of a
	 * mm that has one, and this mm can no longer fork; and another mm's
	 * VMA leaves the count only after its PTEs are zapped and flushed
	 * (tlb_finish_mmu() before remove_vma()).
	 */
	spin_lock(&smm->lock);
	while (!list_empty(&smm->regions)) {
		region = list_first_entry(&smm->regions, struct sm_region, mm_node);
		list_del_init(&region->mm_node);
		spin_unlock(&smm->lock);
		sm_region_owner_uncharge(region);
		if (refcount_read(&region->vmas) == region->owner_vmas) {
			sm_region_release_all(region);
			region->released = true;
		}
		spin_lock(&smm->lock);
	}
	spin_unlock(&smm->lock);
	mmu_notifier_put(mn);	/* the mm's own reference */
}

static const struct mmu_notifier_ops sm_mm_ops = {
	.release = sm_mm_release,
	.alloc_notifier = sm_mm_alloc,
	.free_notifier = sm_mm_free,
};

/* The notifier of @mm, with a reference for a new region; mmap_lock held for write. */
static struct sm_mm *sm_mm_get(struct mm_struct *mm)
{
	struct mmu_notifier *mn = mmu_notifier_get_locked(&sm_mm_ops, mm);
	struct sm_mm *smm;

	/*
	 * Registration (mm_take_all_locks()) gives up with -EINTR on any
	 * pending signal; mmap(2) never fails with EINTR: restart it unless
	 * the signal is fatal.  Everything done so far is undone first.
	 */
	if (mn == ERR_PTR(-EINTR) && !fatal_signal_pending(current))
		return ERR_PTR(-ERESTARTNOINTR);
	if (IS_ERR(mn))
		return ERR_CAST(mn);
	smm = container_of(mn, struct sm_mm, mn);
	if (smm->fresh) {
		/* The mm's reference, dropped by sm_mm_release(). */
		smm->fresh = false;
		mmu_notifier_get_locked(&sm_mm_ops, mm);
	}
	return smm;
}

/* At unload: wait for notifiers freed after their mm went away. */
void sm_mmap_exit(void)
{
	mmu_notifier_synchronize();
	sm_quarantine_free();
}

/*
 * Frames that the kernel also maps elsewhere (sm_dmap_has_alias()) are
 * never used for secrets.  They are kept here, not freed, so that the
 * allocator does not hand them out again, and freed at unload.
 */
static DEFINE_SPINLOCK(sm_quarantine_lock);
static LIST_HEAD(sm_quarantine);

void sm_quarantine_free(void)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &sm_quarantine, lru) {
		list_del(&page->lru);
		__free_pages(page, page_private(page));
	}
}

/**
 * sm_alloc_pages - allocate pages that may hold secrets
 * @gfp: allocation flags
 * @order: order of the chunk
 *
 * Like alloc_pages(), but never returns a chunk with a second kernel
 * mapping.
 *
 * Return: the first page, or NULL.
 */
struct page *sm_alloc_pages(gfp_t gfp, unsigned int order)
{
	struct page *page;

	/*
	 * No fixed number of tries: the frames with a second mapping can come
	 * in a run (up to 511 after the image's end in its last 2 MiB page),
	 * and 8 tries made a 4 KiB mmap fail with ENOMEM on 5.10.  Each try
	 * quarantines one such frame for good, so the loop ends.
	 */
	for (;;) {
		page = alloc_pages(gfp, order);
		if (!page || !sm_dmap_has_alias(page, order))
			return page;
		set_page_private(page, order);
		spin_lock(&sm_quarantine_lock);
		list_add(&page->lru, &sm_quarantine);
		spin_unlock(&sm_quarantine_lock);
		if (fatal_signal_pending(current))
			return NULL;
		cond_resched();
	}
}

/*
 * RLIMIT_MEMLOCK per user, as io_uring and perf charge it: all secret
 * pages of one user (user_struct->locked_vm) over all its processes stay
 * within the limit, checked and charged in one atomic step.  With
 * CAP_IPC_LOCK, or an unlimited limit, the pages are charged but not
 * limited, as user_shm_lock() does.
 */
static int sm_charge_user(struct user_struct *user, unsigned long nr,
			  bool unlimited)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	long cur = atomic_long_read(&user->locked_vm);

	do {
		if (!unlimited && (unsigned long)cur + nr > limit)
			return -EAGAIN;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + nr));
	return 0;
}

/*
 * Room for the chunks of a region when the allocator does not fall back to
 * smaller orders: one per 2 MiB, one per page of the rest.
 */
static unsigned long sm_chunks_expected(unsigned long nr_pages)
{
	return (nr_pages >> SM_PMD_ORDER) + (nr_pages & (SM_PMD_PAGES - 1));
}

/* Free @region's chunk array unless it is the inline one. */
static void sm_chunks_free(struct sm_region *region)
{
	if (region->chunks != region->inline_chunks)
		kvfree(region->chunks);
	region->chunks = NULL;
}

/* Room for @nr chunks: the inline array when they fit. */
static int sm_chunks_alloc(struct sm_region *region, unsigned long nr)
{
	if (nr <= SM_INLINE_CHUNKS) {
		region->chunks = region->inline_chunks;
		region->max_chunks = SM_INLINE_CHUNKS;
		return 0;
	}
	region->chunks = kvmalloc_array(nr, sizeof(*region->chunks),
					GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!region->chunks)
		return -ENOMEM;
	region->max_chunks = nr;
	return 0;
}

/* Make room for @more chunks beyond nr_chunks. */
static int sm_chunks_grow(struct sm_region *region, unsigned long more)
{
	unsigned long want = region->nr_chunks + more;
	struct sm_chunk *chunks;

	if (want <= region->max_chunks)
		return 0;
	chunks = kvmalloc_array(want, sizeof(*chunks),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!chunks)
		return -ENOMEM;
	memcpy(chunks, region->chunks, region->nr_chunks * sizeof(*chunks));
	sm_chunks_free(region);
	region->chunks = chunks;
	region->max_chunks = want;
	return 0;
}

static void sm_update_peak(long now)
{
	long peak = atomic_long_read(&sm_stats.peak_pages);

	while (now > peak) {
		long old = atomic_long_cmpxchg(&sm_stats.peak_pages, peak, now);

		if (old == peak)
			break;
		peak = old;
	}
}

/*
 * Take @nr pages of the module-wide budget (max_pages).  The counter never
 * shows more than the budget, even for a moment.
 */
static bool sm_reserve_pages(unsigned long nr)
{
	unsigned long max = READ_ONCE(sm_max_pages);
	long now = atomic_long_read(&sm_stats.pages);

	do {
		if (nr > max || (unsigned long)now > max - nr)
			return false;
	} while (!atomic_long_try_cmpxchg(&sm_stats.pages, &now, now + nr));
	sm_update_peak(now + nr);
	return true;
}

/* Zero every page of @chunks but lost ones; they are in the direct map. */
static void sm_scrub(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned long j;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		/* Out of the direct map for good: clear_page() would fault. */
		if (chunks[i].lost)
			continue;
		for (j = 0; j < (1UL << chunks[i].order); j++)
			clear_page(page_address(chunks[i].page + j));
		cond_resched();
	}
}

/* Restore @chunks in order; with @scrub, zero each one once it is back. */
static void sm_restore_chunks(struct sm_chunk *chunks, unsigned int nr, bool scrub)
{
	unsigned int i, done = 0;

	for (i = 0; i < nr; i++) {
		sm_dmap_restore_chunk(&chunks[i], &done);
		if (scrub)
			sm_scrub(&chunks[i], 1);	/* skips a lost chunk */
		cond_resched();
	}
}

/**
 * sm_dmap_restore - put every page of @chunks back into the direct map
 * @chunks: chunks that sm_dmap_remove() took out
 * @nr: number of chunks
 *
 * No TLB flush is needed to make a page present again.  A chunk that does
 * not come back (x86: its entry is not what the module left; arm64: a page
 * still does not read) is marked lost (sm_chunk_lose()): callers never
 * scrub or free a lost chunk.
 */
void sm_dmap_restore(struct sm_chunk *chunks, unsigned int nr)
{
	sm_restore_chunks(chunks, nr, false);
}

/**
 * sm_dmap_restore_scrub - sm_dmap_restore(), each chunk scrubbed as soon as it is back
 * @chunks: chunks that sm_dmap_remove() took out
 * @nr: number of chunks
 */
void sm_dmap_restore_scrub(struct sm_chunk *chunks, unsigned int nr)
{
	sm_restore_chunks(chunks, nr, true);
}

/*
 * Allocate @region's pages, zeroed, in chunks as large as the remaining
 * size and the allocator allow.  Pages already out of the direct map come
 * first and are counted in nr_removed.  On failure the caller releases
 * what was taken (sm_region_release()).
 */
static int sm_alloc_chunks(struct sm_region *region)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT | __GFP_NOWARN;
	unsigned long left = region->nr_pages;
	struct sm_chunk *chunks = region->chunks;
	unsigned int order = SM_MAX_ORDER, tries = 0, n;
	struct page *page;
	int ret;

	if (region->pool) {
		/* Ready pages: 2 MiB chunks, then single pages for the rest. */
		n = sm_pool_take_big(region->pool, chunks, left >> SM_PMD_ORDER);
		left -= (unsigned long)n << SM_PMD_ORDER;
		region->nr_chunks = n;
		n = sm_pool_take_small(region->pool, chunks + region->nr_chunks,
				       left & (SM_PMD_PAGES - 1));
		left -= n;
		region->nr_chunks += n;
		region->nr_removed = region->nr_chunks;
		/* Spare 2 MiB chunks go out below with the new ones. */
		n = sm_pool_take(region->pool, SM_PMD_ORDER, false,
				 chunks + region->nr_chunks, left >> SM_PMD_ORDER);
		left -= (unsigned long)n << SM_PMD_ORDER;
		region->nr_chunks += n;
	}

	while (left) {
		if (fatal_signal_pending(current))
			return -EINTR;
		while ((1UL << order) > left)
			order--;
		if (++tries == READ_ONCE(sm_faults.alloc_nth))
			page = NULL;
		else
			page = sm_alloc_pages(order ? gfp | __GFP_NORETRY :
					      gfp | __GFP_RETRY_MAYFAIL, order);
		if (!page) {
			if (!order)
				return -ENOMEM;
			order--;
			continue;
		}
		/* A fallback to smaller orders: room for one chunk per page. */
		if (region->nr_chunks == region->max_chunks) {
			ret = sm_chunks_grow(region, left);
			if (ret) {
				__free_pages(page, order);
				return ret;
			}
			chunks = region->chunks;
		}
		memset(&chunks[region->nr_chunks], 0, sizeof(*chunks));
		chunks[region->nr_chunks].page = page;
		chunks[region->nr_chunks].order = order;
		region->nr_chunks++;
		left -= 1UL << order;
		cond_resched();
	}
	return 0;
}

/*
 * Give back every page of @region; no PTE of any process maps them any
 * more (the core mm zapped them before ->close, or sm_mmap() did).  The
 * order: restore the direct map -> write-back again -> scrub -> free, or
 * keep in the pool.  A write-back region all out of the direct map (every
 * region but one whose mmap() failed part way) is restored and scrubbed
 * chunk by chunk, so that no more than one chunk's secrets are readable
 * through the direct map at any time (secretmem_free_folio() does the same
 * folio by folio); an uncached one needs all of it write-back first.
 */
static void sm_region_release(struct sm_region *region, bool uncached)
{
	unsigned int i;

	if (!uncached && region->nr_removed == region->nr_chunks) {
		sm_dmap_restore_scrub(region->chunks, region->nr_chunks);
	} else {
		sm_dmap_restore(region->chunks, region->nr_removed);
		if (uncached)
			sm_dmap_set_uncached(region->chunks, region->nr_chunks, false);
		sm_scrub(region->chunks, region->nr_chunks);
	}
	region->nr_removed = 0;
	if (region->pool) {
		sm_pool_give(region->pool, region->chunks, region->nr_chunks);
		sm_pool_put(region->pool);
	} else {
		for (i = 0; i < region->nr_chunks; i++)
			sm_chunk_free(&region->chunks[i]);
	}
	region->nr_chunks = 0;
}

/* Drop what a region holds besides its pages; the pages are gone. */
static void sm_region_kfree(struct sm_region *region)
{
	if (region->user)
		sm_free_uid(region->user);
	if (region->smm)
		mmu_notifier_put(&region->smm->mn);
	sm_chunks_free(region);
	kfree(region);
}

/*
 * Give back the RLIMIT_MEMLOCK charge of the mm (VmLck).  Neither
 * account_locked_vm() (takes mmap_lock) nor __account_locked_vm() (asserts
 * it is held for write) fits here: munmap calls ->close with mmap_lock
 * downgraded to read, exit, mremap and MAP_FIXED with it held for write,
 * and ->release runs with mm_users at 0.  Each excludes every writer of
 * locked_vm (all hold mmap_lock for write, on a live mm), and only the one
 * munmap that downgraded can be closing VMAs under the read lock, so the
 * plain update below is serialised.  The mm is the one charged at mmap
 * time, never current->mm, which differs after execve() or when another
 * task drops the last reference to this mm.
 */
static void sm_uncharge(struct mm_struct *mm, unsigned long pages)
{
	unsigned long locked = READ_ONCE(mm->locked_vm);

	WRITE_ONCE(mm->locked_vm, locked - min(locked, pages));
}

/*
 * Give back the owner's charge for @region (RSS, VmLck), once: when the
 * owner's last VMA of it closes, or at the owner's exit.  Either runs with
 * the owner's mmap_lock held or its mm_users at 0 (see sm_uncharge()).
 */
static void sm_region_owner_uncharge(struct sm_region *region)
{
	struct mm_struct *mm = region->smm->mn.mm;

	if (!region->owner_charged)
		return;
	region->owner_charged = false;
	sm_mm_rss_add(mm, -(long)region->nr_pages);
	sm_uncharge(mm, region->nr_pages);
}

/*
 * Give back @region's pages and the charges that last as long as they do:
 * the user's locked_vm, the fd's and the module's counters.  Called once:
 * by the last ->close, or by ->release at the owner's exit when no other
 * mm maps the region.  The owner's charge is gone already.
 */
static void sm_region_release_all(struct sm_region *region)
{
	sm_region_release(region, region->uncached);
	atomic_long_sub(region->nr_pages, &region->user->locked_vm);
	atomic_long_sub(region->nr_pages, &region->smf->pages);
	atomic_long_sub(region->nr_pages, &sm_stats.pages);
	atomic_long_dec(&sm_stats.regions);
}

/* Take @region off its mm's list; true if it was still there. */
static bool sm_region_unlink(struct sm_region *region)
{
	struct sm_mm *smm = region->smm;
	bool mine;

	spin_lock(&smm->lock);
	mine = !list_empty(&region->mm_node);
	list_del_init(&region->mm_node);
	spin_unlock(&smm->lock);
	return mine;
}

/* Is @vma in the mm that mapped its region (not a fork() child's copy)? */
static bool sm_vma_is_owner(struct vm_area_struct *vma)
{
	struct sm_region *region = vma->vm_private_data;

	return vma->vm_mm == region->smm->mn.mm;
}

/* The sharer entry of @mm in @region, or NULL; sharers_lock held. */
static struct sm_sharer *sm_sharer_find(struct sm_region *region, struct mm_struct *mm)
{
	struct sm_sharer *sh;

	list_for_each_entry(sh, &region->sharers, node)
		if (sh->mm == mm)
			return sh;
	return NULL;
}

/* One more VMA of @region in @mm, not the owner; its first puts the pages in mm's RSS. */
static void sm_sharer_add(struct sm_region *region, struct mm_struct *mm)
{
	struct sm_sharer *sh, *new = NULL;

	for (;;) {
		spin_lock(&region->sharers_lock);
		sh = sm_sharer_find(region, mm);
		if (sh) {
			sh->vmas++;
			spin_unlock(&region->sharers_lock);
			kfree(new);
			return;
		}
		if (new)
			break;
		spin_unlock(&region->sharers_lock);
		/* ->open cannot fail: a few bytes, as vm_area_dup() just took. */
		new = kmalloc(sizeof(*new), GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	}
	new->mm = mm;
	new->vmas = 1;
	list_add(&new->node, &region->sharers);
	spin_unlock(&region->sharers_lock);
	sm_mm_rss_add(mm, region->nr_pages);
}

/* One VMA of @region in the sharer @mm fewer; its last takes the pages out of mm's RSS. */
static void sm_sharer_del(struct sm_region *region, struct mm_struct *mm)
{
	struct sm_sharer *sh;

	spin_lock(&region->sharers_lock);
	sh = sm_sharer_find(region, mm);
	if (WARN_ON_ONCE(!sh)) {
		spin_unlock(&region->sharers_lock);
		return;
	}
	if (--sh->vmas) {
		spin_unlock(&region->sharers_lock);
		return;
	}
	list_del(&sh->node);
	spin_unlock(&region->sharers_lock);
	sm_mm_rss_add(mm, -(long)region->nr_pages);
	kfree(sh);
}

/*
 * A new VMA of the region: a split or mremap() in an mm that maps it (its
 * mmap_lock held for write), or fork() copying a VMA of an fd with
 * SECRETMEM_FLAG_INHERIT into a child (dup_mmap(): vm_mm is the child's,
 * whose mmap_lock it holds).  The region is never freed while this runs:
 * the VMA copied holds it.
 */
static void sm_vm_open(struct vm_area_struct *vma)
{
	struct sm_region *region = vma->vm_private_data;

	refcount_inc(&region->vmas);
	if (sm_vma_is_owner(vma))
		region->owner_vmas++;
	else
		sm_sharer_add(region, vma->vm_mm);
}

/*
 * The owner's last VMA of the region gives back the owner's charge; the
 * last VMA of all, in any mm, gives back the pages (unless the owner's
 * exit did already).
 */
static void sm_vm_close(struct vm_area_struct *vma)
{
	struct sm_region *region = vma->vm_private_data;

	if (!sm_vma_is_owner(vma)) {
		sm_sharer_del(region, vma->vm_mm);
	} else if (!--region->owner_vmas) {
		sm_region_unlink(region);
		sm_region_owner_uncharge(region);
	}
	if (!refcount_dec_and_test(&region->vmas))
		return;
	if (!region->released)
		sm_region_release_all(region);
	sm_region_kfree(region);
}

static const struct vm_operations_struct sm_vm_ops = {
	.open = sm_vm_open,
	.close = sm_vm_close,
};

/*
 * Map @size bytes of PFNs from @pfn at @addr.  remap_pfn_range() over the
 * whole VMA marks it VM_PAT, and if it then fails to allocate a page table
 * its own cleanup warns (untrack_pfn() finds no PTE at vm_start; seen on 6.1
 * with fail_page_alloc).  So the whole VMA is never mapped in one call: its
 * first page goes in with vmf_insert_pfn().  The memtype of RAM pages comes
 * from the pages themselves either way.
 */
static int sm_map_range(struct vm_area_struct *vma, unsigned long addr,
			unsigned long pfn, unsigned long size)
{
	if (size == vma->vm_end - vma->vm_start) {
		if (vmf_insert_pfn(vma, addr, pfn) != VM_FAULT_NOPAGE)
			return -ENOMEM;
		addr += PAGE_SIZE;
		pfn++;
		size -= PAGE_SIZE;
		if (!size)
			return 0;
	}
	return remap_pfn_range(vma, addr, pfn, size, vma->vm_page_prot);
}

/* Map every chunk, in order, from the start of @vma. */
static int sm_map_chunks(struct vm_area_struct *vma, struct sm_region *region)
{
	unsigned long addr = vma->vm_start, size;
	unsigned int i;
	int ret;

	for (i = 0; i < region->nr_chunks; i++) {
		size = PAGE_SIZE << region->chunks[i].order;
		if (i + 1 == READ_ONCE(sm_faults.map_nth))
			return -ENOMEM;
		ret = sm_map_range(vma, addr, page_to_pfn(region->chunks[i].page),
				   size);
		if (ret)
			return ret;
		addr += size;
	}
	return 0;
}

/*
 * The fd's flags are fixed once an mmap() made pages: an mmap() under way
 * holds them (SET_FLAGS gets EBUSY), one that fails before any page was
 * made leaves them free.
 */
static u64 sm_file_begin(struct sm_file *smf)
{
	u64 flags;

	mutex_lock(&smf->lock);
	smf->mmaps_in_flight++;
	flags = smf->flags;
	mutex_unlock(&smf->lock);
	return flags;
}

static void sm_file_end(struct sm_file *smf, bool made_pages)
{
	mutex_lock(&smf->lock);
	smf->mmaps_in_flight--;
	if (made_pages)
		smf->mmapped = true;
	mutex_unlock(&smf->lock);
}

/**
 * sm_mmap - ->mmap of /dev/secretmem: a new region of secret pages
 * @file: the open device
 * @vma: the new VMA; mmap_lock is held for write
 *
 * The order: refuse while hibernation is being prepared (and keep it from
 * starting until the end), reserve the module-wide budget, charge the user
 * and the mm (RLIMIT_MEMLOCK), take the mm's notifier, allocate (or take
 * from the pool) and zero, take out of the direct map, map; then count the
 * pages in the mm's RSS.  Every failure undoes what was done, in reverse.
 *
 * Return: 0, or -EINVAL (MAP_PRIVATE, offset), -EPERM (PROT_EXEC),
 * -EBUSY (hibernation under way), -EAGAIN (RLIMIT_MEMLOCK), -ENOMEM
 * (max_pages or no memory), -EINTR (fatal signal), -ERESTARTNOINTR (a
 * signal interrupted the mm's first registration: the call restarts).
 */
int sm_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long nr_pages = vma_pages(vma);
	struct mm_struct *mm = vma->vm_mm;
	struct sm_file *smf = file->private_data;
	struct user_struct *user;
	struct sm_region *region;
	bool uncached, uc_set = false, lock_ok = false;
	struct sm_mm *smm;
	u64 flags;
	int ret;

	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (!sm_pm_enter())
		return -EBUSY;
	flags = sm_file_begin(smf);
	uncached = flags & SECRETMEM_FLAG_UNCACHED;

	if (!sm_reserve_pages(nr_pages)) {
		atomic_long_inc(&sm_stats.alloc_failures);
		ret = -ENOMEM;
		goto out_end;
	}
	/*
	 * CAP_IPC_LOCK is asked for only when the limit would be exceeded,
	 * as user_shm_lock() does, so that an mmap within the limit is never
	 * audited as a capability use.
	 */
	user = get_uid(current_user());
	ret = sm_charge_user(user, nr_pages, rlimit(RLIMIT_MEMLOCK) == RLIM_INFINITY);
	if (ret == -EAGAIN && capable(CAP_IPC_LOCK)) {
		lock_ok = true;
		ret = sm_charge_user(user, nr_pages, true);
	}
	if (ret)
		goto out_put_user;
	if (!lock_ok && ((READ_ONCE(mm->locked_vm) + nr_pages) << PAGE_SHIFT) >
	    rlimit(RLIMIT_MEMLOCK))
		lock_ok = capable(CAP_IPC_LOCK);
	if (__account_locked_vm(mm, nr_pages, true, current, lock_ok)) {
		ret = -EAGAIN;
		goto out_uncharge_user;
	}
	smm = sm_mm_get(mm);
	if (IS_ERR(smm)) {
		ret = PTR_ERR(smm);
		goto out_uncharge;
	}

	ret = -ENOMEM;
	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		goto out_put_smm;
	if (sm_chunks_alloc(region, sm_chunks_expected(nr_pages))) {
		kfree(region);
		goto out_put_smm;
	}
	region->nr_pages = nr_pages;
	region->smf = smf;
	region->uncached = uncached;
	INIT_LIST_HEAD(&region->mm_node);
	spin_lock_init(&region->sharers_lock);
	INIT_LIST_HEAD(&region->sharers);
	refcount_set(&region->vmas, 1);
	region->owner_vmas = 1;
	/* UC- pages take a memtype change each: they never come from the pool. */
	if (!uncached)
		region->pool = sm_pool_get();

	ret = sm_alloc_chunks(region);
	if (ret)
		goto out_release;
	if (uncached) {
		/* Undoes itself on failure. */
		ret = sm_dmap_set_uncached(region->chunks, region->nr_chunks, true);
		if (ret)
			goto out_release;
		uc_set = true;
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	}
	/* One flush for all new chunks; none when all came ready. */
	if (region->nr_chunks > region->nr_removed) {
		ret = sm_dmap_remove(region->chunks + region->nr_removed,
				     region->nr_chunks - region->nr_removed);
		if (ret) {
			ret = -ENOMEM;
			goto out_release;
		}
		region->nr_removed = region->nr_chunks;
	}

	/*
	 * VM_DONTCOPY: a child of fork() gets nothing, unless the fd asked
	 * for SECRETMEM_FLAG_INHERIT: then dup_mmap() copies the VMA and its
	 * PTEs (copy_page_range() copies a VM_PFNMAP VMA's special PTEs as
	 * they are; no VM_PAT: the VMA is never mapped by one remap_pfn_range()
	 * call) and calls ->open.  VM_IO with VM_PFNMAP (remap_pfn_range sets
	 * both too, with VM_DONTEXPAND|VM_DONTDUMP) keeps GUP, ptrace,
	 * /proc/PID/mem and madvise(MADV_DODUMP/DOFORK) off and stops
	 * mmap_region() from merging this VMA into a neighbour.
	 * No VM_MAYEXEC: mprotect(PROT_EXEC) fails with EACCES.
	 */
	sm_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTDUMP | VM_DONTEXPAND |
			VM_NORESERVE);
	if (!(flags & SECRETMEM_FLAG_INHERIT))
		sm_vm_flags_set(vma, VM_DONTCOPY);
	sm_vm_flags_clear(vma, VM_MAYEXEC);
	ret = sm_map_chunks(vma, region);
	if (ret)
		goto out_unmap;

	/* The pages count in the mm's RSS, as memfd_secret's (RssFile). */
	sm_mm_rss_add(mm, nr_pages);
	region->smm = smm;
	region->owner_charged = true;
	region->user = user;
	spin_lock(&smm->lock);
	list_add(&region->mm_node, &smm->regions);
	spin_unlock(&smm->lock);
	vma->vm_ops = &sm_vm_ops;
	vma->vm_private_data = region;
	atomic_long_add(nr_pages, &smf->pages);
	atomic_long_inc(&sm_stats.regions);
	sm_file_end(smf, true);
	sm_pm_exit();
	return 0;

out_unmap:
	/* No page goes back while a PTE still points at it. */
	sm_zap_vma(vma);
out_release:
	sm_region_release(region, uc_set);
	sm_region_kfree(region);
	if (ret == -ENOMEM)
		atomic_long_inc(&sm_stats.alloc_failures);
out_put_smm:
	mmu_notifier_put(&smm->mn);
out_uncharge:
	__account_locked_vm(mm, nr_pages, false, current, false);
out_uncharge_user:
	atomic_long_sub(nr_pages, &user->locked_vm);
out_put_user:
	sm_free_uid(user);
	atomic_long_sub(nr_pages, &sm_stats.pages);
out_end:
	sm_file_end(smf, false);
	sm_pm_exit();
	return ret;
}
