/* SPDX-License-Identifier: GPL-2.0 */
/* The one place where kernel-version differences are handled. */
#ifndef _SECRETMEM_COMPAT_H
#define _SECRETMEM_COMPAT_H

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/sched/user.h>
#include <linux/user_namespace.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <asm/tlbflush.h>
#ifdef CONFIG_X86
#include <asm/msr.h>
#endif

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

/* Remove every PTE of a VMA of PFN mappings (7.2 renamed the helper). */
static inline void sm_zap_vma(struct vm_area_struct *vma)
{
#ifdef SM_HAVE_ZAP_VMA_PTES
	zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
#elif defined(SM_HAVE_ZAP_SPECIAL_VMA_RANGE)
	zap_special_vma_range(vma, vma->vm_start, vma->vm_end - vma->vm_start);
#else
#error "secretmem_dev: neither zap_vma_ptes() nor zap_special_vma_range()"
#endif
}

/* cc_platform_has() came in 5.16; before it, the SME/SEV helpers. */
#ifdef SM_HAVE_CC_PLATFORM
#include <linux/cc_platform.h>
#else
#include <linux/mem_encrypt.h>
#define CC_ATTR_MEM_ENCRYPT		0
#define CC_ATTR_GUEST_MEM_ENCRYPT	1
static inline bool cc_platform_has(int attr)
{
	if (attr == CC_ATTR_GUEST_MEM_ENCRYPT)
		return sev_active();
	return mem_encrypt_active();
}
#endif

#ifdef CONFIG_X86
/* rdmsrl_safe() is rdmsrq_safe() since 6.16. */
static inline int sm_rdmsr_safe(u32 msr, u64 *val)
{
#ifdef SM_HAVE_RDMSRQ_SAFE
	return rdmsrq_safe(msr, val);
#else
	return rdmsrl_safe(msr, val);
#endif
}
#endif

/*
 * 5.10 does not export free_uid(): secretmem_dmap.c finds it by a kprobe at
 * load (sm_compat_init(); the module refuses to load without it).  5.10 has
 * no kernel IBT, and the address is checked like the kernel method's.
 */
#ifdef SM_HAVE_FREE_UID
static inline void sm_free_uid(struct user_struct *up)
{
	free_uid(up);
}
#else
extern void (*sm_free_uid_fn)(struct user_struct *up);
static inline void sm_free_uid(struct user_struct *up)
{
	sm_free_uid_fn(up);
}
#endif

/*
 * has_capability_noaudit(current, cap) without audit or PF_SUPERPRIV; 5.10
 * does not export it (nor security_capable()).  There the capability bit
 * of the task's own credentials in the initial namespace is read, as
 * cap_capable() does, without asking the LSMs: it only answers a query
 * (GET_INFO's memlock_left); charging still uses capable().
 */
static inline bool sm_has_cap_noaudit(int cap)
{
#ifdef SM_HAVE_HAS_CAPABILITY_NOAUDIT
	return has_capability_noaudit(current, cap);
#else
	const struct cred *cred = current_cred();

	return cred->user_ns == &init_user_ns && cap_raised(cred->cap_effective, cap);
#endif
}

/* system_wq warns "deprecated workqueue" in 7.2: system_percpu_wq is it. */
#ifdef SM_HAVE_SYSTEM_PERCPU_WQ
#define sm_system_wq system_percpu_wq
#else
#define sm_system_wq system_wq
#endif

/*
 * Flush this CPU's whole TLB, global entries and every PCID included, as
 * the kernel's __flush_tlb_all() does; called on each CPU from an IPI.
 *
 * Up to 7.1 __flush_tlb_all() is exported to GPL modules.  7.2 exports it
 * only to the KVM modules (EXPORT_SYMBOL_FOR_KVM in arch/x86/mm/tlb.c), so
 * there it is rebuilt from what a module may use.  7.2's version is
 *
 *	VM_WARN_ON_ONCE(preemptible());
 *	if (cpu_feature_enabled(X86_FEATURE_PGE))
 *		__flush_tlb_global();
 *	else
 *		flush_tlb_local();	(which is just __flush_tlb_local())
 *
 * and with CONFIG_PARAVIRT_XXL (Debian's amd64 kernels: Xen PV support)
 * __flush_tlb_global() and __flush_tlb_local() are inline calls through
 * pv_ops.mmu.flush_tlb_kernel/flush_tlb_user, and pv_ops is exported.
 * Natively these are native_flush_tlb_global() (INVPCID "all contexts
 * including globals", else the CR4.PGE toggle with interrupts off and the
 * cached cpu_tlbstate.cr4 - the kernel's own code, not a raw CR4 write of
 * ours) and native_flush_tlb_local(); under Xen PV the hypercalls.  With
 * PTI every PCID of both halves goes: INVPCID type 2 and the PGE toggle
 * flush all PCIDs, and the direct map is not in the user half at all.  So
 * the sequence below is the kernel's own, primitive for primitive.
 * SM_HAVE_PV_FLUSH_TLB is set by a compile+link test (modpost refuses the
 * link where those calls are not inline, i.e. without PARAVIRT_XXL).
 *
 * Without either, secretmem_dmap.c takes the kernel's __flush_tlb_all()
 * through a kprobe, IBT-checked like the kernel method's helpers, or
 * refuses to load.
 */
#if defined(SM_HAVE_FLUSH_TLB_ALL)
#define SM_HAVE_TLB_FLUSH_ALL_LOCAL 1
static inline void sm_flush_tlb_all_local(void)
{
	__flush_tlb_all();
}
#elif defined(SM_HAVE_PV_FLUSH_TLB)
#define SM_HAVE_TLB_FLUSH_ALL_LOCAL 1
static inline void sm_flush_tlb_all_local(void)
{
	VM_WARN_ON_ONCE(preemptible());
	if (cpu_feature_enabled(X86_FEATURE_PGE))
		__flush_tlb_global();
	else
		__flush_tlb_local();
}
#endif

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
	int ret;

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
#ifdef SM_HAVE_REGISTER_SHRINKER_NAME
	ret = register_shrinker(s, "%s", name);
#else
	ret = register_shrinker(s);	/* before 6.0: no name */
#endif
	if (ret) {
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
