// SPDX-License-Identifier: GPL-2.0
/* The mmap path: regions of secret pages and their VMAs. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include <secretmem.h>
#include "compat.h"
#include "secretmem_internal.h"

/*
 * Largest chunk: 2 MiB, naturally aligned, so that the "pte" method can take
 * it out of the direct map as one entry, with no 4 KiB split.
 */
#define SM_MAX_ORDER	SM_PMD_ORDER

/*
 * One mmap() call makes one region.  A region is shared by the VMAs that
 * splitting (munmap or mprotect of a part) and mremap make of the first
 * one; its pages go back when the last of them closes.
 */
struct sm_region {
	refcount_t vmas;		/* VMAs that map this region */
	struct sm_file *smf;		/* the fd mapped; its VMAs keep it open */
	struct sm_pool *pool;		/* where its pages go back, or NULL */
	bool uncached;			/* pages are UC- instead of write-back */
	unsigned long nr_pages;
	unsigned int nr_chunks;
	unsigned int nr_removed;	/* chunks[0..nr_removed) are out of the direct map */
	unsigned long max_chunks;	/* room in chunks[] */
	struct sm_chunk *chunks;
};

/*
 * Room for the chunks of a region when the allocator does not fall back to
 * smaller orders: one per 2 MiB, one per page of the rest.
 */
static unsigned long sm_chunks_expected(unsigned long nr_pages)
{
	return (nr_pages >> SM_PMD_ORDER) + (nr_pages & (SM_PMD_PAGES - 1));
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
	kvfree(region->chunks);
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

/* Zero every page of @chunks; they must be in the direct map. */
static void sm_scrub(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned long j;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		for (j = 0; j < (1UL << chunks[i].order); j++)
			clear_page(page_address(chunks[i].page + j));
		cond_resched();
	}
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
			page = alloc_pages(order ? gfp | __GFP_NORETRY :
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
 * keep in the pool.
 */
static void sm_region_release(struct sm_region *region, bool uncached)
{
	unsigned int i;

	sm_dmap_restore(region->chunks, region->nr_removed);
	region->nr_removed = 0;
	if (uncached)
		sm_dmap_set_uncached(region->chunks, region->nr_chunks, false);
	sm_scrub(region->chunks, region->nr_chunks);
	if (region->pool) {
		sm_pool_give(region->pool, region->chunks, region->nr_chunks);
		sm_pool_put(region->pool);
	} else {
		for (i = 0; i < region->nr_chunks; i++)
			sm_chunk_free(&region->chunks[i]);
	}
	region->nr_chunks = 0;
}

static void sm_region_kfree(struct sm_region *region)
{
	kvfree(region->chunks);
	kfree(region);
}

static void sm_region_free(struct sm_region *region)
{
	sm_region_release(region, region->uncached);
	atomic_long_sub(region->nr_pages, &region->smf->pages);
	atomic_long_sub(region->nr_pages, &sm_stats.pages);
	atomic_long_dec(&sm_stats.regions);
	sm_region_kfree(region);
}

/*
 * Give back the RLIMIT_MEMLOCK charge.  Neither account_locked_vm() (takes
 * mmap_lock) nor __account_locked_vm() (asserts it is held for write) fits
 * ->close: munmap calls it with mmap_lock downgraded to read, exit, mremap
 * and MAP_FIXED with it held for write.  Both exclude every writer of
 * locked_vm (all hold mmap_lock for write), and only the one munmap that
 * downgraded can be closing VMAs under the read lock, so the plain update
 * below is serialised.  The mm is the VMA's own: the one charged at mmap
 * time, never current->mm, which differs after execve() or when another
 * task drops the last reference to this mm.
 */
static void sm_uncharge(struct mm_struct *mm, unsigned long pages)
{
	unsigned long locked = READ_ONCE(mm->locked_vm);

	WRITE_ONCE(mm->locked_vm, locked - min(locked, pages));
}

static void sm_vm_open(struct vm_area_struct *vma)
{
	struct sm_region *region = vma->vm_private_data;

	refcount_inc(&region->vmas);
}

static void sm_vm_close(struct vm_area_struct *vma)
{
	struct sm_region *region = vma->vm_private_data;

	if (!refcount_dec_and_test(&region->vmas))
		return;
	sm_uncharge(vma->vm_mm, region->nr_pages);
	sm_region_free(region);
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

/* The fd's flags are fixed from its first mmap() call on. */
static bool sm_file_uncached(struct sm_file *smf)
{
	bool uc;

	mutex_lock(&smf->lock);
	smf->mmapped = true;
	uc = smf->flags & SECRETMEM_FLAG_UNCACHED;
	mutex_unlock(&smf->lock);
	return uc;
}

/**
 * sm_mmap - ->mmap of /dev/secretmem: a new region of secret pages
 * @file: the open device
 * @vma: the new VMA; mmap_lock is held for write
 *
 * Return: 0, or -EINVAL (MAP_PRIVATE, offset), -EPERM (PROT_EXEC),
 * -EAGAIN (RLIMIT_MEMLOCK), -ENOMEM (max_pages or no memory), -EINTR.
 */
int sm_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long nr_pages = vma_pages(vma);
	struct mm_struct *mm = vma->vm_mm;
	struct sm_file *smf = file->private_data;
	struct sm_region *region;
	bool uncached, uc_set = false;
	int ret;

	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	uncached = sm_file_uncached(smf);

	if (!sm_reserve_pages(nr_pages)) {
		atomic_long_inc(&sm_stats.alloc_failures);
		return -ENOMEM;
	}
	if (__account_locked_vm(mm, nr_pages, true, current,
				capable(CAP_IPC_LOCK))) {
		ret = -EAGAIN;
		goto out_unreserve;
	}

	ret = -ENOMEM;
	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		goto out_uncharge;
	region->max_chunks = sm_chunks_expected(nr_pages);
	region->chunks = kvmalloc_array(region->max_chunks, sizeof(*region->chunks),
					GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!region->chunks) {
		kfree(region);
		goto out_uncharge;
	}
	region->nr_pages = nr_pages;
	region->smf = smf;
	region->uncached = uncached;
	refcount_set(&region->vmas, 1);
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
		if (ret)
			goto out_release;
		region->nr_removed = region->nr_chunks;
	}

	/*
	 * VM_DONTCOPY: a child of fork() gets nothing.  VM_IO with VM_PFNMAP
	 * (remap_pfn_range sets both too, with VM_DONTEXPAND|VM_DONTDUMP) keeps
	 * GUP, ptrace, /proc/PID/mem and madvise(MADV_DODUMP/DOFORK) off and
	 * stops mmap_region() from merging this VMA into a neighbour.
	 * No VM_MAYEXEC: mprotect(PROT_EXEC) fails with EACCES.
	 */
	sm_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTDUMP |
			VM_DONTEXPAND | VM_NORESERVE);
	sm_vm_flags_clear(vma, VM_MAYEXEC);
	ret = sm_map_chunks(vma, region);
	if (ret)
		goto out_unmap;

	vma->vm_ops = &sm_vm_ops;
	vma->vm_private_data = region;
	atomic_long_add(nr_pages, &smf->pages);
	atomic_long_inc(&sm_stats.regions);
	return 0;

out_unmap:
	/* No page goes back while a PTE still points at it. */
	zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
out_release:
	sm_region_release(region, uc_set);
	sm_region_kfree(region);
	if (ret == -ENOMEM)
		atomic_long_inc(&sm_stats.alloc_failures);
out_uncharge:
	__account_locked_vm(mm, nr_pages, false, current, false);
out_unreserve:
	atomic_long_sub(nr_pages, &sm_stats.pages);
	return ret;
}
