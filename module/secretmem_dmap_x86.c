// SPDX-License-Identifier: GPL-2.0
/* Takes pages out of the kernel direct map and puts them back. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/pgtable.h>
#include <asm/set_memory.h>
#include <asm/tlbflush.h>
#ifdef CONFIG_X86_KERNEL_IBT
#include <asm/ibt.h>
#include <asm/msr.h>
#endif

#include "compat.h"
#include "secretmem_internal.h"

/*
 * Two methods, because Debian's 6.1 and 6.12 kernels export neither
 * set_direct_map_invalid_noflush() nor set_direct_map_default_noflush():
 *
 * "kernel": the kernel's own helpers, found at load time through a kprobe
 *	(register, read its address, unregister; kallsyms_lookup_name is never
 *	called).  They are then called through a pointer.  On a CPU that
 *	enforces Indirect Branch Tracking, an indirect call to a function
 *	whose ENDBR64 was sealed at boot (every function nobody takes the
 *	address of, as here) raises #CP and oopses.  So this method is used
 *	only when IBT is not enforced on this machine, or when each target
 *	still starts with an intact ENDBR64.  QEMU does not emulate IBT, so
 *	no test can show this; it is decided by reading the CPU state and the
 *	target's first instruction, below.
 *
 * "pte" (preferred by "auto"): exported primitives only, no indirect call
 *	into the kernel.  A 2 MiB chunk whose direct-map entry is a 2 MiB page
 *	leaves as that one entry: no split, no new 4 KiB entries.  Any other
 *	page needs a 4 KiB entry: the large page around it is split by a
 *	cache-mode round trip (set_pages_array_uc() then set_pages_array_wb(),
 *	both exported; the memtype bookkeeping is undone by the second call).
 *	The entry is found with lookup_address() and rewritten to exactly
 *	what the kernel's cpa code would write (see sm_np_pte()): the frame
 *	bits of a non-present entry are inverted, as the L1TF mitigation
 *	requires, and the original entry is put back at restore.
 *
 * Both flush every CPU's TLB with on_each_cpu() + __flush_tlb_all() (where
 * it is not exported, 7.2: the same primitives, see compat.h), once per
 * sm_dmap_remove() call.  Putting a page back needs no flush: x86 does
 * not cache non-present entries.
 */

enum sm_dmap_method { SM_DMAP_NONE, SM_DMAP_KERNEL, SM_DMAP_PTE };

static enum sm_dmap_method sm_method;
static int (*sm_set_invalid)(struct page *page);
static int (*sm_set_default)(struct page *page);

const char *sm_dmap_method_name(void)
{
	switch (sm_method) {
	case SM_DMAP_KERNEL:
		return "kernel";
	case SM_DMAP_PTE:
		return "pte";
	default:
		return "none";
	}
}

#ifdef CONFIG_X86_KERNEL_IBT
static bool sm_ibt_enforced(void)
{
	u64 cet = 0;

	if (cpu_feature_enabled(X86_FEATURE_IBT))
		return true;
	if (!(__read_cr4() & X86_CR4_CET))
		return false;
	/* CR4.CET is on: IBT is enforced unless S_CET says otherwise. */
	if (sm_rdmsr_safe(MSR_IA32_S_CET, &cet))
		return true;
	return cet & CET_ENDBR_EN;
}
#endif

/* Does this CPU enforce indirect branch tracking in the kernel? */
bool sm_dmap_ibt_enforced(void)
{
#ifdef CONFIG_X86_KERNEL_IBT
	return sm_ibt_enforced();
#else
	return false;
#endif
}

/* May the function at @fn be called through a pointer on this machine? */
static bool sm_indirect_call_safe(unsigned long fn)
{
#ifdef CONFIG_X86_KERNEL_IBT
	u32 insn;

	if (!sm_ibt_enforced())
		return true;
	if (copy_from_kernel_nofault(&insn, (void *)fn, sizeof(insn)))
		return false;
	/* gen_endbr() builds the opcode without embedding it in our text. */
	return insn == gen_endbr();
#else
	/* A kernel built without IBT support never turns enforcement on. */
	return true;
#endif
}

/* Is @addr exactly the start of function @name? */
static bool sm_is_symbol_start(unsigned long addr, const char *name)
{
	char buf[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);

	sprint_symbol(buf, addr);
	return !strncmp(buf, name, len) && !strncmp(buf + len, "+0x0/", 5);
}

/*
 * Find a kernel function by registering a kprobe on it.  With IBT the
 * kprobe sits behind the ENDBR (or the NOP that sealed it), so the start is
 * checked by name and, if need be, taken 4 bytes earlier.
 */
static unsigned long sm_resolve(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (!IS_ENABLED(CONFIG_KPROBES) || register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	if (addr && sm_is_symbol_start(addr, name))
		return addr;
	if (addr > 4 && sm_is_symbol_start(addr - 4, name))
		return addr - 4;
	return 0;
}

static int sm_kernel_method_init(void)
{
	unsigned long inv = sm_resolve("set_direct_map_invalid_noflush");
	unsigned long def = sm_resolve("set_direct_map_default_noflush");

	if (!inv || !def) {
		pr_info("kernel direct-map helpers not found (kprobes %s)\n",
			IS_ENABLED(CONFIG_KPROBES) ? "on" : "off");
		return -ENOENT;
	}
	if (!sm_indirect_call_safe(inv) || !sm_indirect_call_safe(def)) {
		pr_info("IBT is enforced and the kernel's direct-map helpers have no ENDBR: calling them would oops\n");
		return -EPERM;
	}
	sm_set_invalid = (void *)inv;
	sm_set_default = (void *)def;
	return 0;
}

#ifdef SM_HAVE_TLB_FLUSH_ALL_LOCAL
static int sm_flush_init(void)
{
	return 0;
}

static void sm_flush_ipi(void *unused)
{
	sm_flush_tlb_all_local();
}
#else
/*
 * No exported or inline way to flush every TLB entry (see compat.h): the
 * kernel's own __flush_tlb_all(), found and checked like the kernel
 * method's helpers.  Without it the module does not load: a page taken
 * out of the direct map could stay readable through a stale TLB entry.
 */
static void (*sm_kernel_flush_tlb_all)(void);

static int sm_flush_init(void)
{
	unsigned long fn = sm_resolve("__flush_tlb_all");

	if (!fn || !sm_indirect_call_safe(fn)) {
		pr_err("no safe way to flush the TLB on this kernel (__flush_tlb_all %s): refusing to load\n",
		       fn ? "cannot be called under IBT" : "not found");
		return -EOPNOTSUPP;
	}
	sm_kernel_flush_tlb_all = (void *)fn;
	return 0;
}

static void sm_flush_ipi(void *unused)
{
	sm_kernel_flush_tlb_all();
}
#endif

void sm_dmap_flush(void)
{
	on_each_cpu(sm_flush_ipi, NULL, 1);
	atomic_long_inc(&sm_stats.tlb_flushes);
}

#ifndef SM_HAVE_FREE_UID
void (*sm_free_uid_fn)(struct user_struct *up);
#endif

/* Kernel functions the module needs but the kernel does not export. */
static int sm_compat_init(void)
{
#ifndef SM_HAVE_FREE_UID
	unsigned long fn = sm_resolve("free_uid");

	if (!fn || !sm_indirect_call_safe(fn)) {
		pr_err("free_uid() is not exported and %s: refusing to load\n",
		       fn ? "cannot be called under IBT" : "was not found");
		return -EOPNOTSUPP;
	}
	sm_free_uid_fn = (void *)fn;
#endif
	return 0;
}

/* The direct-map entry of @page and its level, or NULL. */
static pte_t *sm_lookup(struct page *page, unsigned int *level)
{
	return lookup_address((unsigned long)page_address(page), level);
}

static bool sm_page_is_mapped(struct page *page)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(page, &level);

	return !ptep || (pte_flags(*ptep) & _PAGE_PRESENT);
}

/* Is @page present and writable in the direct map? */
static bool sm_page_writable(struct page *page)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(page, &level);
	pteval_t want = _PAGE_PRESENT | _PAGE_RW;

	return ptep && (pte_flags(*ptep) & want) == want;
}

/* "pte" method: may @chunk leave the direct map as one 2 MiB entry? */
static bool sm_pte_chunk_is_pmd(struct sm_chunk *chunk, unsigned int level)
{
	return sm_method == SM_DMAP_PTE && chunk->order == SM_PMD_ORDER &&
	       level == PG_LEVEL_2M;
}

/*
 * "pte" method: prepare the direct map around @chunks.  A 2 MiB chunk
 * inside a 1 GiB page gets that page split to 2 MiB ones, by a cache-mode
 * round trip over exactly its 2 MiB, and then leaves as one entry.  A
 * smaller chunk needs 4 KiB entries: one page per large page is enough for
 * cpa to split the large page it sits in, and a chunk is naturally aligned,
 * so it lies in one; chunks that follow each other in one 2 MiB range (a
 * pool refill) share one representative.  Memory left uncached when write
 * back cannot be restored is marked to be lost, never freed.
 */
static int sm_pte_split(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned long addr, last = 0;
	unsigned int i, j, n = 0, need = 0, level;
	struct page **reps;
	int ret = 0;

	for (i = 0; i < nr; i++) {
		addr = (unsigned long)page_address(chunks[i].page);
		if (!sm_lookup(chunks[i].page, &level) || level == PG_LEVEL_4K)
			continue;
		if (chunks[i].order != SM_PMD_ORDER) {
			need++;
			continue;
		}
		if (level == PG_LEVEL_2M)
			continue;
		/*
		 * cpa does not roll back what it changed before a failure:
		 * write-back goes back over the whole range either way.
		 */
		ret = set_memory_uc(addr, 1 << SM_PMD_ORDER);
		if (set_memory_wb(addr, 1 << SM_PMD_ORDER)) {
			pr_err("cannot restore write-back on 2 MiB, leaking it\n");
			chunks[i].leak = true;
			return -ENOMEM;
		}
		if (ret)
			return ret;
		atomic_long_inc(&sm_stats.dmap_splits);
	}
	if (!need)
		return 0;

	reps = kvmalloc_array(need, sizeof(*reps), GFP_KERNEL);
	if (!reps)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		addr = (unsigned long)page_address(chunks[i].page) & PMD_MASK;
		if (chunks[i].order == SM_PMD_ORDER ||
		    !sm_lookup(chunks[i].page, &level) || level == PG_LEVEL_4K ||
		    (n && addr == last))
			continue;
		reps[n++] = chunks[i].page;
		last = addr;
	}
	/* As above: back to write-back even when the first call failed. */
	ret = set_pages_array_uc(reps, n);
	if (set_pages_array_wb(reps, n)) {
		ret = -ENOMEM;
		pr_err("cannot restore write-back on %u pages, leaking their chunks\n", n);
		for (i = 0; i < nr; i++)
			for (j = 0; j < n; j++)
				if (chunks[i].page == reps[j])
					chunks[i].leak = true;
		goto out;
	}
	if (!ret)
		atomic_long_add(n, &sm_stats.dmap_splits);
out:
	kvfree(reps);
	return ret;
}

/*
 * The non-present entries the kernel's own cpa code (arch/x86/mm/pat/
 * set_memory.c) writes when set_direct_map_invalid_noflush() ->
 * __set_pages_np() clears its mask (SM_NP_CLEAR below), bit for bit:
 *
 * 4 KiB, as __change_page_attr() does: the old flags less the mask, then
 * pgprot_clear_protnone_bits() (a non-present entry with _PAGE_GLOBAL
 * reads as PROT_NONE), then pfn_pte(), which inverts the frame bits of a
 * non-present entry (pgtable-invert.h: on an L1TF-affected CPU a
 * speculative load through the entry then points at no real memory).
 *
 * 2 MiB, as __should_split_large_page() does for a request that covers a
 * whole large page: the flags converted to the 4 KiB layout
 * (pgprot_large_2_4k(), which drops _PAGE_PSE and moves the PAT bit), the
 * mask cleared, converted back (pgprot_4k_2_large()), protnone bits
 * cleared, _PAGE_PSE not set again since the entry is not present, and
 * pfn_pte() of the large page's first frame.
 *
 * pte_pfn()/pmd_pfn() decode both back to the real frame.
 */
/*
 * The mask __set_pages_np() clears.  Since 6.6 (the shadow-stack series:
 * a kernel entry that is Dirty but not writable would read as shadow
 * stack, so _PAGE_SAVED_DIRTY came in and __set_pages_np() and
 * set_memory_ro() clear _PAGE_DIRTY with _PAGE_RW) it is
 * _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY; before, _PAGE_PRESENT | _PAGE_RW.
 * The same series defines _PAGE_SAVED_DIRTY, which conftest.sh tests for.
 */
#ifdef SM_HAVE_PAGE_SAVED_DIRTY
#define SM_NP_CLEAR	(_PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY)
#else
#define SM_NP_CLEAR	(_PAGE_PRESENT | _PAGE_RW)
#endif

static pgprotval_t sm_clear_protnone_bits(pgprotval_t prot)
{
	if (!(prot & _PAGE_PRESENT))
		prot &= ~_PAGE_GLOBAL;
	return prot;
}

static pte_t sm_np_pte(pte_t old)
{
	pgprotval_t prot = pte_flags(old) & ~SM_NP_CLEAR;

	return pfn_pte(pte_pfn(old), __pgprot(sm_clear_protnone_bits(prot)));
}

static pte_t sm_np_pmd(pte_t old)
{
	pmd_t pmd = __pmd(pte_val(old));
	pgprotval_t prot = protval_large_2_4k(pmd_flags(pmd)) & ~SM_NP_CLEAR;

	prot = sm_clear_protnone_bits(protval_4k_2_large(prot));
	return pfn_pte(pmd_pfn(pmd), __pgprot(prot));
}

/*
 * "pte" method: while a page is out of the direct map, its page->private
 * (ours: the pages are allocated without __GFP_COMP) holds its original
 * entry, put back exactly at restore and then cleared; for a chunk out as
 * one 2 MiB entry, its first page holds that entry.
 */

/* "pte" method: take page @i of @chunk out of the direct map. */
static int sm_pte_remove(struct sm_chunk *chunk, unsigned long i)
{
	struct page *page = chunk->page + i;
	unsigned int level;
	pte_t *ptep = sm_lookup(page, &level);
	pte_t old;

	if (!ptep || level != PG_LEVEL_4K)
		return -EINVAL;
	old = *ptep;
	if (!(pte_flags(old) & _PAGE_PRESENT) || pte_pfn(old) != page_to_pfn(page))
		return -EFAULT;
	set_page_private(page, pte_val(old));
	set_pte_atomic(ptep, sm_np_pte(old));
	return 0;
}

/* "pte" method: put page @i back, if its entry is still the one we wrote. */
static int sm_pte_restore(struct sm_chunk *chunk, unsigned long i)
{
	struct page *page = chunk->page + i;
	pte_t orig = __pte(page_private(page));
	unsigned int level;
	pte_t *ptep = sm_lookup(page, &level);

	if (!ptep || level != PG_LEVEL_4K || !(pte_flags(orig) & _PAGE_PRESENT) ||
	    pte_val(*ptep) != pte_val(sm_np_pte(orig)))
		return -EFAULT;
	set_pte_atomic(ptep, orig);
	set_page_private(page, 0);
	return 0;
}

/* Take a 2 MiB chunk out as one entry, keeping the entry to put back. */
static int sm_pmd_remove(struct sm_chunk *chunk)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(chunk->page, &level);
	pte_t old;

	if (!ptep || level != PG_LEVEL_2M)
		return -EINVAL;
	old = *ptep;
	if (!(pte_flags(old) & _PAGE_PRESENT) ||
	    pmd_pfn(__pmd(pte_val(old))) != page_to_pfn(chunk->page))
		return -EFAULT;
	set_page_private(chunk->page, pte_val(old));
	chunk->pmd = true;
	set_pte_atomic(ptep, sm_np_pmd(old));
	return 0;
}

static int sm_pmd_restore(struct sm_chunk *chunk)
{
	pte_t orig = __pte(page_private(chunk->page));
	unsigned int level;
	pte_t *ptep = sm_lookup(chunk->page, &level);

	if (!ptep || level != PG_LEVEL_2M || !(pte_flags(orig) & _PAGE_PRESENT) ||
	    pte_val(*ptep) != pte_val(sm_np_pmd(orig)))
		return -EFAULT;
	set_pte_atomic(ptep, orig);
	set_page_private(chunk->page, 0);
	chunk->pmd = false;
	atomic_long_add(1 << SM_PMD_ORDER, &sm_stats.dmap_changes);
	return 0;
}

static int sm_page_remove(struct sm_chunk *chunk, unsigned long i)
{
	if (sm_method == SM_DMAP_KERNEL)
		return sm_set_invalid(chunk->page + i);
	return sm_pte_remove(chunk, i);
}

/* Put page @i back; an error means its entry is not what we left. */
static int sm_page_restore(struct sm_chunk *chunk, unsigned long i)
{
	struct page *page = chunk->page + i;

	if (sm_method == SM_DMAP_KERNEL) {
		/* A helper that did nothing at removal left it present. */
		if (!sm_page_is_mapped(page) && sm_set_default(page))
			return -EFAULT;
		return sm_page_is_mapped(page) ? 0 : -EFAULT;
	}
	return sm_pte_restore(chunk, i);
}

/*
 * Lost chunks stay allocated, each on this list with a module reference:
 * the module then never unloads, so its hibernation veto (which counts
 * lost_pages) stays in force.  sm_dmap_retry_lost() gives one back if all
 * its entries turn out to be what the module left.
 */
struct sm_lost {
	struct list_head node;
	struct sm_chunk chunk;
};

static LIST_HEAD(sm_lost_list);
static DEFINE_MUTEX(sm_lost_lock);

/**
 * sm_chunk_lose - never touch or free @chunk again
 * @chunk: a chunk that could not be put back into the direct map
 * @why: what went wrong, for the log
 *
 * Its pages may be out of the direct map: scrubbing them would fault and
 * freeing them would hand the allocator pages nobody can use.  They stay
 * allocated, counted in lost_pages.
 */
void sm_chunk_lose(struct sm_chunk *chunk, const char *why)
{
	struct sm_lost *lost;

	if (chunk->lost)
		return;
	chunk->lost = true;
	atomic_long_add(1L << chunk->order, &sm_stats.lost_pages);
	pr_err_once("%s: %lu pages at pfn %#lx are lost for good\n", why,
		    1UL << chunk->order, page_to_pfn(chunk->page));
	__module_get(THIS_MODULE);
	/* Called from reclaim too (the pool's shrinker): no sleeping here. */
	lost = kmalloc(sizeof(*lost), GFP_NOWAIT | __GFP_NOWARN);
	if (!lost)
		return;
	lost->chunk = *chunk;
	if (mutex_trylock(&sm_lost_lock)) {
		list_add(&lost->node, &sm_lost_list);
		mutex_unlock(&sm_lost_lock);
	} else {
		kfree(lost);	/* stays lost for good, still counted and pinned */
	}
}

/* Is every page of @chunk present and writable in the direct map? */
static bool sm_chunk_back(struct sm_chunk *chunk)
{
	unsigned long i;

	for (i = 0; i < (1UL << chunk->order); i++)
		if (!sm_page_writable(chunk->page + i))
			return false;
	return true;
}

static int sm_page_restore(struct sm_chunk *chunk, unsigned long i);
static int sm_pmd_restore(struct sm_chunk *chunk);

/*
 * Put back what still carries the module's own entry; true if the whole
 * chunk is then back (pages restored before have page->private 0 with
 * the "pte" method, and are present).
 */
static bool sm_lost_recover(struct sm_chunk *chunk)
{
	unsigned long i;

	if (chunk->pmd)
		return !sm_pmd_restore(chunk) && sm_chunk_back(chunk);
	for (i = 0; i < (1UL << chunk->order); i++)
		if (page_private(chunk->page + i) ||
		    (sm_method == SM_DMAP_KERNEL && !sm_page_is_mapped(chunk->page + i)))
			sm_page_restore(chunk, i);
	return sm_chunk_back(chunk);
}

/**
 * sm_dmap_retry_lost - give back lost chunks whose entries are intact
 *
 * A chunk is lost when its entry did not look as the module left it (or
 * the fault_restore_nth hook said so).  If every entry of it now is what
 * the module wrote, it is put back, zeroed and freed after all.
 *
 * Return: the number of pages given back.
 */
unsigned long sm_dmap_retry_lost(void)
{
	struct sm_lost *lost, *next;
	unsigned long freed = 0, i, n;

	mutex_lock(&sm_lost_lock);
	list_for_each_entry_safe(lost, next, &sm_lost_list, node) {
		if (!sm_lost_recover(&lost->chunk))
			continue;
		n = 1UL << lost->chunk.order;
		for (i = 0; i < n; i++)
			clear_page(page_address(lost->chunk.page + i));
		list_del(&lost->node);
		__free_pages(lost->chunk.page, lost->chunk.order);
		atomic_long_sub(n, &sm_stats.lost_pages);
		kfree(lost);
		module_put(THIS_MODULE);
		freed += n;
	}
	mutex_unlock(&sm_lost_lock);
	return freed;
}

/*
 * Test hook: does the restore of this page (the @done-th of one
 * sm_dmap_restore() or sm_dmap_restore_scrub() call) find its entry
 * changed?  @done is NULL for the partly removed chunk of a failed removal.
 */
static bool sm_restore_fault(unsigned int *done)
{
	return done && ++*done == READ_ONCE(sm_faults.restore_nth);
}

/* Put back pages [0, @n) of @chunk; false if any will not go back. */
static bool sm_restore_pages(struct sm_chunk *chunk, unsigned long n,
			     unsigned int *done)
{
	unsigned long i;
	bool back = true;

	for (i = 0; i < n; i++) {
		if (sm_restore_fault(done) || sm_page_restore(chunk, i)) {
			back = false;
			continue;
		}
		atomic_long_inc(&sm_stats.dmap_changes);
	}
	return back;
}

/*
 * A lost chunk's pages that did go back into the direct map still hold
 * the secret and are readable there: zero them now (the caller never
 * touches a lost chunk again).
 */
static void sm_scrub_restored(struct sm_chunk *chunk, unsigned long n)
{
	unsigned long i;

	/* Present but not writable (changed by someone): leave it. */
	for (i = 0; i < n; i++)
		if (sm_page_writable(chunk->page + i))
			clear_page(page_address(chunk->page + i));
}

/*
 * Put back @chunk (pages [0, @n) of a 4 KiB-mapped one); a chunk that will
 * not go back is zeroed where it did and only then lost: once on the lost
 * list, sm_dmap_retry_lost() may free it at any time.
 */
static void sm_restore_chunk(struct sm_chunk *chunk, unsigned long n,
			     unsigned int *done)
{
	bool back;

	if (chunk->pmd)
		back = !sm_restore_fault(done) && !sm_pmd_restore(chunk);
	else
		back = sm_restore_pages(chunk, n, done);
	if (back && !chunk->lost)
		return;
	sm_scrub_restored(chunk, 1UL << chunk->order);
	if (!back)
		sm_chunk_lose(chunk, chunk->pmd ?
			      "2 MiB direct-map entry changed behind the module" :
			      "direct-map entry changed behind the module");
}

/*
 * One chunk of sm_dmap_restore() (secretmem_mmap.c): @done counts that
 * call's page restores, for the fault_restore_nth hook.
 */
void sm_dmap_restore_chunk(struct sm_chunk *chunk, unsigned int *done)
{
	sm_restore_chunk(chunk, 1UL << chunk->order, done);
}

/**
 * sm_dmap_remove - take every page of @chunks out of the direct map
 * @chunks: chunks of pages the caller owns, not mapped anywhere else
 * @nr: number of chunks
 *
 * Checks each entry afterwards and flushes the kernel TLB once on every
 * CPU.  On failure nothing is left out of the direct map.
 *
 * Return: 0, or a negative errno.
 */
int sm_dmap_remove(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned int i, level;
	unsigned long j, n, done = 0;
	int ret = 0;

	if (sm_method == SM_DMAP_PTE) {
		ret = sm_pte_split(chunks, nr);
		if (ret)
			return ret;
	}

	for (i = 0; i < nr; i++) {
		n = 1UL << chunks[i].order;
		j = 0;
		if (!sm_lookup(chunks[i].page, &level)) {
			ret = -EFAULT;
			goto fail;
		}
		if (sm_pte_chunk_is_pmd(&chunks[i], level)) {
			if (++done == READ_ONCE(sm_faults.dmap_nth))
				ret = -ENOMEM;
			else
				ret = sm_pmd_remove(&chunks[i]);
			if (ret)
				goto fail;
			atomic_long_add(n, &sm_stats.dmap_changes);
			if (sm_page_is_mapped(chunks[i].page)) {
				ret = -EFAULT;
				goto fail;
			}
			continue;
		}
		/* The kernel's helper splits a large page as it goes. */
		if (sm_method == SM_DMAP_KERNEL && level != PG_LEVEL_4K)
			atomic_long_inc(&sm_stats.dmap_splits);
		for (j = 0; j < n; j++) {
			if (++done == READ_ONCE(sm_faults.dmap_nth))
				ret = -ENOMEM;
			else
				ret = sm_page_remove(&chunks[i], j);
			if (ret)
				goto fail;
			atomic_long_inc(&sm_stats.dmap_changes);
			if (sm_page_is_mapped(chunks[i].page + j)) {
				ret = -EFAULT;
				j++;	/* its entry changed: put it back too */
				goto fail;
			}
		}
		cond_resched();
	}
	sm_dmap_flush();
	return 0;

fail:
	pr_warn_ratelimited("cannot remove a page from the direct map: %d\n", ret);
	sm_restore_chunk(&chunks[i], j, NULL);
	sm_dmap_restore(chunks, i);
	return ret;
}

/**
 * sm_dmap_set_uncached - set the cache mode of every page of @chunks
 * @chunks: chunks of pages the caller owns, still in the direct map
 * @nr: number of chunks
 * @uc: true for uncached (UC-), false to go back to write-back
 *
 * Changes the direct-map alias and the pages' PAT memtype, which
 * remap_pfn_range() then uses for the user mapping.  Going to UC- either
 * succeeds for every chunk or puts write-back back on all of them,
 * including the one that failed part way (cpa keeps what it changed
 * before an error); a chunk that will not go back is marked to leak.
 *
 * Return: 0, or a negative errno.
 */
int sm_dmap_set_uncached(struct sm_chunk *chunks, unsigned int nr, bool uc)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		unsigned long addr = (unsigned long)page_address(chunks[i].page);
		int n = 1 << chunks[i].order;

		if (!uc) {
			if (set_memory_wb(addr, n)) {
				pr_err("cannot restore write-back on %d pages, leaking them\n", n);
				chunks[i].leak = true;
			}
			continue;
		}
		ret = set_memory_uc(addr, n);
		if (ret) {
			sm_dmap_set_uncached(chunks, i + 1, false);
			return ret;
		}
	}
	return 0;
}

/* Can the kernel read the first and the last page of @chunk? */
static bool sm_chunk_readable(struct sm_chunk *chunk)
{
	unsigned long last = (1UL << chunk->order) - 1;
	u8 byte;

	return !copy_from_kernel_nofault(&byte, page_address(chunk->page), 1) ||
	       !copy_from_kernel_nofault(&byte, page_address(chunk->page + last), 1);
}

/*
 * Take a chunk of @order out and back in: after removal the kernel must
 * fail to read it, after restore it must be mapped again.  1 when no
 * chunk of that order is free (nothing to test).
 */
static int sm_dmap_selftest_one(unsigned int order)
{
	gfp_t gfp = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN;
	struct sm_chunk chunk = { .order = order };
	int ret;

	chunk.page = alloc_pages(order ? gfp | __GFP_NORETRY : gfp, order);
	if (!chunk.page)
		return order ? 1 : -ENOMEM;
	ret = sm_dmap_remove(&chunk, 1);
	if (!ret) {
		if (sm_chunk_readable(&chunk)) {
			pr_err("self-test: a removed page can still be read\n");
			ret = -EFAULT;
		}
		sm_dmap_restore(&chunk, 1);
		if (!chunk.lost && !sm_chunk_back(&chunk))
			sm_chunk_lose(&chunk, "self-test: page not restored");
		if (chunk.lost)
			ret = -EFAULT;
	}
	sm_chunk_free(&chunk);
	return ret;
}

/*
 * The module refuses to load if the chosen method does not really work
 * here: a single page and, when one is free, a 2 MiB chunk (the "pte"
 * method's one-entry path) go out and back in.
 */
static int sm_dmap_selftest(void)
{
	int ret = sm_dmap_selftest_one(0);

	if (ret)
		return ret;
	ret = sm_dmap_selftest_one(SM_PMD_ORDER);
	if (ret == 1)
		pr_info("self-test: no free 2 MiB chunk, tested single pages only\n");
	return ret == 1 ? 0 : ret;
}

/*
 * Did a 2 MiB chunk that is out of the direct map go out as one entry?
 * Its first page keeps the saved entry (0 with the kernel method); a
 * present 2 MiB entry has _PAGE_PSE, while in a 4 KiB entry that bit is
 * the PAT bit, which no write-back page (the only kind pooled) has.
 */
bool sm_dmap_chunk_is_pmd(struct page *page)
{
	return page_private(page) & _PAGE_PSE;
}

/**
 * sm_dmap_has_alias - does the kernel map part of a chunk a second time?
 * @page: first page of the chunk
 * @order: its order
 *
 * On x86_64 the kernel image is mapped twice: in the direct map and at
 * __START_KERNEL_map, from phys_base on (KERNEL_IMAGE_SIZE).  Frames in
 * that range that the allocator hands out (freed __init memory, the rest
 * of the image's last 2 MiB page) may still have a present entry there,
 * which neither method removes: such chunks are never used for secrets.
 *
 * Return: true if any page of the chunk has a present second mapping.
 */
bool sm_dmap_has_alias(struct page *page, unsigned int order)
{
	phys_addr_t start = page_to_phys(page);
	phys_addr_t end = start + (PAGE_SIZE << order);
	phys_addr_t pa, lo = phys_base, hi = phys_base + KERNEL_IMAGE_SIZE;
	unsigned int level;
	pte_t *ptep;

	if (end <= lo || start >= hi)
		return false;
	for (pa = max(start, lo); pa < min(end, hi); ) {
		ptep = lookup_address(__START_KERNEL_map + (pa - phys_base), &level);
		if (ptep && (pte_flags(*ptep) & _PAGE_PRESENT))
			return true;
		/*
		 * A non-present entry: skip what it covers.  No entry: level
		 * names the table above the empty one; skip what that covers.
		 */
		if (!ptep)
			level = level == PG_LEVEL_NONE ? PG_LEVEL_1G : level - 1;
		if (level > PG_LEVEL_1G)
			level = PG_LEVEL_1G;
		pa = (pa & page_level_mask(level)) + page_level_size(level);
	}
	return false;
}

static int sm_dmap_try(enum sm_dmap_method method)
{
	int ret = 0;

	if (method == SM_DMAP_KERNEL)
		ret = sm_kernel_method_init();
	if (ret)
		return ret;
	sm_method = method;
	ret = sm_dmap_selftest();
	if (ret) {
		pr_err("direct-map method \"%s\" failed its self-test (%d)\n",
		       sm_dmap_method_name(), ret);
		sm_method = SM_DMAP_NONE;
	}
	return ret;
}

/**
 * sm_dmap_init - choose how to change the direct map on this machine
 * @method: "auto" (pte, else kernel), "kernel" or "pte"
 *
 * Return: 0 when a method that works here was chosen and tested.
 */
int sm_dmap_init(const char *method)
{
	if (!IS_ENABLED(CONFIG_X86_64)) {
		pr_err("only x86_64 is supported\n");
		return -EOPNOTSUPP;
	}
	if (sm_flush_init() || sm_compat_init())
		return -EOPNOTSUPP;
	if (!strcmp(method, "kernel"))
		return sm_dmap_try(SM_DMAP_KERNEL);
	if (!strcmp(method, "pte"))
		return sm_dmap_try(SM_DMAP_PTE);
	if (strcmp(method, "auto")) {
		pr_err("dmap_method=%s: use auto, kernel or pte\n", method);
		return -EINVAL;
	}
	if (!sm_dmap_try(SM_DMAP_PTE))
		return 0;
	return sm_dmap_try(SM_DMAP_KERNEL);
}
