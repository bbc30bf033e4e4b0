// SPDX-License-Identifier: GPL-2.0
/* Takes pages out of the kernel direct map and puts them back. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
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
 *	The entry is found with lookup_address() and its present bit cleared
 *	or set with set_pte(), as the kernel's own cpa code does: _PAGE_GLOBAL
 *	is cleared with _PAGE_PRESENT so that the non-present entry is not
 *	read as PROT_NONE.
 *
 * Both flush every CPU's TLB with on_each_cpu() + __flush_tlb_all(), once
 * per sm_dmap_remove() call.  Putting a page back needs no flush: x86 does
 * not cache non-present entries.
 */

enum sm_dmap_method { SM_DMAP_NONE, SM_DMAP_KERNEL, SM_DMAP_PTE };

static enum sm_dmap_method sm_method;
static int (*sm_set_invalid)(struct page *page);
static int (*sm_set_default)(struct page *page);

/* Bits the kernel's cpa code clears to make a direct-map PTE not present. */
#define SM_PTE_CLEAR	(_PAGE_PRESENT | _PAGE_RW | _PAGE_GLOBAL)

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
	if (rdmsrl_safe(MSR_IA32_S_CET, &cet))
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

static void sm_flush_ipi(void *unused)
{
	__flush_tlb_all();
}

void sm_dmap_flush(void)
{
	on_each_cpu(sm_flush_ipi, NULL, 1);
	atomic_long_inc(&sm_stats.tlb_flushes);
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
		ret = set_memory_uc(addr, 1 << SM_PMD_ORDER);
		if (ret)
			return ret;
		ret = set_memory_wb(addr, 1 << SM_PMD_ORDER);
		if (ret) {
			pr_err("cannot restore write-back on 2 MiB, leaking it\n");
			chunks[i].leak = true;
			return ret;
		}
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
	ret = set_pages_array_uc(reps, n);
	if (ret)
		goto out;
	ret = set_pages_array_wb(reps, n);
	if (ret) {
		pr_err("cannot restore write-back on %u pages, leaking their chunks\n", n);
		for (i = 0; i < nr; i++)
			for (j = 0; j < n; j++)
				if (chunks[i].page == reps[j])
					chunks[i].leak = true;
		goto out;
	}
	atomic_long_add(n, &sm_stats.dmap_splits);
out:
	kvfree(reps);
	return ret;
}

static int sm_pte_set(struct page *page, bool present)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(page, &level);
	pteval_t set;

	if (!ptep || level != PG_LEVEL_4K)
		return -EINVAL;
	if (present) {
		set = _PAGE_PRESENT | _PAGE_RW |
		      (_PAGE_GLOBAL & __default_kernel_pte_mask);
		set_pte(ptep, pte_set_flags(*ptep, set));
	} else {
		set_pte(ptep, pte_clear_flags(*ptep, SM_PTE_CLEAR));
	}
	return 0;
}

/*
 * Take a 2 MiB chunk out as one entry, keeping the entry to put back.  As
 * cpa does for a large page it makes not present, _PAGE_PSE goes too, so
 * that the entry is neither read as present (pmd_present() counts PSE) nor
 * as PROT_NONE.
 */
static int sm_pmd_remove(struct sm_chunk *chunk)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(chunk->page, &level);

	if (!ptep || level != PG_LEVEL_2M)
		return -EINVAL;
	chunk->pmd_entry = pte_val(*ptep);
	chunk->pmd = true;
	set_pte(ptep, pte_clear_flags(*ptep, SM_PTE_CLEAR | _PAGE_PSE));
	return 0;
}

static void sm_pmd_restore(struct sm_chunk *chunk)
{
	unsigned int level;
	pte_t *ptep = sm_lookup(chunk->page, &level);

	/* Cannot fail: nothing else changes the entry of a page we own. */
	if (WARN_ON_ONCE(!ptep || level != PG_LEVEL_2M))
		return;
	set_pte(ptep, __pte(chunk->pmd_entry));
	chunk->pmd = false;
	atomic_long_add(1 << SM_PMD_ORDER, &sm_stats.dmap_changes);
}

static int sm_page_remove(struct page *page)
{
	if (sm_method == SM_DMAP_KERNEL)
		return sm_set_invalid(page);
	return sm_pte_set(page, false);
}

static int sm_page_restore(struct page *page)
{
	if (sm_method == SM_DMAP_KERNEL)
		return sm_set_default(page);
	return sm_pte_set(page, true);
}

static void sm_restore_pages(struct page *page, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		/* Cannot fail: the entry is a 4 KiB PTE since removal. */
		if (WARN_ON_ONCE(sm_page_restore(page + i)))
			continue;
		atomic_long_inc(&sm_stats.dmap_changes);
	}
}

/**
 * sm_dmap_restore - put every page of @chunks back into the direct map
 * @chunks: chunks that sm_dmap_remove() took out
 * @nr: number of chunks
 *
 * No TLB flush is needed to make a page present again.
 */
void sm_dmap_restore(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (chunks[i].pmd)
			sm_pmd_restore(&chunks[i]);
		else
			sm_restore_pages(chunks[i].page, 1UL << chunks[i].order);
		cond_resched();
	}
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
				ret = sm_page_remove(chunks[i].page + j);
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
	if (chunks[i].pmd)
		sm_pmd_restore(&chunks[i]);
	else
		sm_restore_pages(chunks[i].page, j);
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
 * succeeds for every chunk or changes nothing.
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
			sm_dmap_set_uncached(chunks, i, false);
			return ret;
		}
	}
	return 0;
}

/*
 * Take one page out and back in, checking the entry each time: the module
 * refuses to load if the chosen method does not really work here.
 */
static int sm_dmap_selftest(void)
{
	struct sm_chunk chunk = { .order = 0 };
	int ret;

	chunk.page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!chunk.page)
		return -ENOMEM;
	ret = sm_dmap_remove(&chunk, 1);
	if (!ret) {
		sm_dmap_restore(&chunk, 1);
		if (!sm_page_is_mapped(chunk.page)) {
			/* Still out of the direct map: never free it. */
			pr_err("self-test: page not restored, leaking it\n");
			return -EFAULT;
		}
	}
	sm_chunk_free(&chunk);
	return ret;
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
