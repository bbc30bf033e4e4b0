/* SPDX-License-Identifier: GPL-2.0 */
/* The one place where kernel-version differences are handled. */
#ifndef _SECRETMEM_COMPAT_H
#define _SECRETMEM_COMPAT_H

#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/*
 * Feature macros come from compat_autoconf.h, which conftest.sh writes by
 * compiling a small test against the target kernel's headers.
 */
#include "compat_autoconf.h"

/* An exiting mm gives its secret pages back in an mmu notifier's ->release. */
#ifndef CONFIG_MMU_NOTIFIER
#error "secretmem_dev needs CONFIG_MMU_NOTIFIER"
#endif

/* vm_flags became read-only in 6.3; writers go through vm_flags_set(). */
#ifdef SM_HAVE_VM_FLAGS_SET
static inline void sm_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}

static inline void sm_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_clear(vma, flags);
}
#else
static inline void sm_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void sm_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* Remove every PTE of a VMA of PFN mappings. */
static inline void sm_zap_vma(struct vm_area_struct *vma)
{
	zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
}

/*
 * Add to the mm's MM_FILEPAGES counter (RssFile, and so VmRSS and the OOM
 * badness): an atomic before 6.2, a percpu counter since.  add_mm_counter()
 * itself calls a tracepoint helper that is not exported.
 */
static inline void sm_mm_rss_add(struct mm_struct *mm, long pages)
{
#ifdef SM_HAVE_PERCPU_RSS_STAT
	percpu_counter_add(&mm->rss_stat[MM_FILEPAGES], pages);
#else
	atomic_long_add(pages, &mm->rss_stat.count[MM_FILEPAGES]);
#endif
}

typedef unsigned long (*sm_shrink_fn)(struct shrinker *s,
				     struct shrink_control *sc);

/* Shrinkers are allocated by the kernel since 6.7. */
static inline struct shrinker *sm_shrinker_create(const char *name,
						  sm_shrink_fn count,
						  sm_shrink_fn scan)
{
#ifdef SM_HAVE_SHRINKER_ALLOC
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	shrinker_register(s);
	return s;
#else
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
	return s;
#endif
}

static inline void sm_shrinker_destroy(struct shrinker *s)
{
#ifdef SM_HAVE_SHRINKER_ALLOC
	shrinker_free(s);
#else
	unregister_shrinker(s);
	kfree(s);
#endif
}

#endif /* _SECRETMEM_COMPAT_H */
