// SPDX-License-Identifier: GPL-2.0
/* Takes pages out of the arm64 linear map and puts them back. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/kernel.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/insn.h>
#include <asm/mmu.h>
#include <asm/tlbflush.h>

#include "compat.h"
#include "secretmem_internal.h"
#include <secretmem.h>

/*
 * The arm64 direct-map layer: one method, "kernel".
 *
 * The kernel's own helpers, set_direct_map_invalid_noflush() and
 * set_direct_map_default_noflush() (arch/arm64/mm/pageattr.c), do the
 * work; neither is exported on Debian's 6.1 or 6.12, so each is found at
 * load time by registering a kprobe on it and reading its address
 * (kallsyms_lookup_name is never called), then called through a pointer.
 * The module does what mm/secretmem.c does for memfd_secret(2), the
 * kernel's own user of these helpers: set_direct_map_invalid_noflush() on
 * each page, then flush_tlb_kernel_range() over it (secretmem_fault());
 * set_direct_map_default_noflush() and no flush to put a page back
 * (secretmem_free_folio(): the architecture never caches an invalid
 * entry in the TLB).  A batch is flushed once, after all its pages went
 * out (sm_dmap_flush_batch()).
 *
 * There is no "pte" method: arm64 has no exported lookup_address() and
 * init_mm is not exported, so a module cannot find a linear-map entry
 * without the kernel's helpers, and on arm64 a hand-made entry would have
 * to follow the break-before-make rules that only the kernel's own code
 * knows where it applies.  Nothing needs splitting either: the helpers
 * only work when the linear map is at page granularity
 * (can_set_direct_map(): rodata_full, the Debian default through
 * RODATA_FULL_DEFAULT_ENABLED, or debug_pagealloc, or late KFENCE), and
 * they then change one 4 KiB entry.  Otherwise (e.g. "rodata=on" on the
 * command line, where the linear map uses block mappings) they return 0
 * and do nothing.  That is why every removal is verified by reading the
 * page through the linear map, which must fault (copy_from_kernel_nofault()
 * returns -EFAULT), and why the module refuses to load when its self-test
 * can still read a removed page.
 *
 * Indirect calls and BTI.  When the kernel enforces Branch Target
 * Identification (CONFIG_ARM64_BTI_KERNEL on a CPU with BTI: the kernel
 * text is then mapped with the guarded-page bit, see map_kernel() in
 * arch/arm64/mm/mmu.c), an indirect call (BLR) must land on an instruction
 * that accepts it: "bti c" or "bti jc", or "paciasp"/"pacibsp" (which
 * act as "bti c" for a BLR, whatever SCTLR_EL1.BT1 says; Arm ARM, "PSTATE.BTYPE").
 * Anything else raises a Branch Target exception: an oops.  The compiler
 * emits a landing pad at every function that may be called indirectly;
 * a global function such as these helpers has one, but nothing in the
 * language guarantees it (the compiler may leave it out of a function
 * whose address it sees never escaping, as with LTO).  So, where BTI is
 * enforced, the module calls a resolved function only if its first
 * instruction is one of those.  The first instruction is the symbol's own
 * address: with -fpatchable-function-entry=N,M (ftrace with CALL_OPS) the
 * M NOPs before the symbol are not part of it, and GCC and clang put the
 * landing pad before the N-M NOPs that follow the symbol, so a kprobe may
 * report an address a few instructions in: the start is taken from
 * kallsyms (sm_resolve()) and the check reads the instruction there.  QEMU
 * enforces BTI under TCG, but Debian builds neither 6.1 nor 6.12 with
 * CONFIG_ARM64_BTI_KERNEL, so no test here reaches that branch; it is
 * right by this check.
 */

static bool sm_ready;
static bool sm_selftest;	/* at load: one message, from sm_dmap_init() */
static int (*sm_set_invalid)(struct page *page);
static int (*sm_set_default)(struct page *page);

const char *sm_dmap_method_name(void)
{
	return sm_ready ? "kernel" : "none";
}

/* x86's Indirect Branch Tracking: not on arm64. */
bool sm_dmap_ibt_enforced(void)
{
	return false;
}

/*
 * Does the kernel enforce BTI on its own text?  The same test as the
 * kernel's system_supports_bti_kernel() (6.12; 6.1 spells it out at its
 * users, e.g. map_kernel()): built for it and the CPU has it.
 */
static bool sm_bti_kernel(void)
{
	return IS_ENABLED(CONFIG_ARM64_BTI_KERNEL) && system_supports_bti();
}

/* Landing pads that accept a BLR (encodings: Arm ARM, HINT space). */
#define SM_INSN_BTI_C		0xd503245fU	/* hint #34 */
#define SM_INSN_BTI_JC		0xd50324dfU	/* hint #38 */
#define SM_INSN_PACIASP		0xd503233fU	/* hint #25 */
#define SM_INSN_PACIBSP		0xd503237fU	/* hint #27 */

/* May the function at @fn be called through a pointer on this machine? */
static bool sm_indirect_call_safe(unsigned long fn)
{
	__le32 raw;
	u32 insn;

	if (!sm_bti_kernel())
		return true;
	if (copy_from_kernel_nofault(&raw, (void *)fn, sizeof(raw)))
		return false;
	insn = le32_to_cpu(raw);	/* instructions are little-endian */
	return insn == SM_INSN_BTI_C || insn == SM_INSN_BTI_JC ||
	       insn == SM_INSN_PACIASP || insn == SM_INSN_PACIBSP;
}

/*
 * How far into function @name is @addr?  -1 if it is not in it.  Parses
 * sprint_symbol()'s "name+0xoff/0xsize".
 */
static long sm_symbol_offset(unsigned long addr, const char *name)
{
	char buf[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);
	unsigned long off;
	char *end;

	sprint_symbol(buf, addr);
	if (strncmp(buf, name, len) || strncmp(buf + len, "+0x", 3))
		return -1;
	end = strchr(buf + len + 3, '/');
	if (!end)
		return -1;
	*end = '\0';
	if (kstrtoul(buf + len + 3, 16, &off))
		return -1;
	return off;
}

/*
 * Find a kernel function by registering a kprobe on it.  The kprobe may sit
 * a few instructions into it (behind a landing pad or ftrace's NOPs): the
 * start is where kallsyms says the function begins, at most 4
 * instructions before.
 */
static unsigned long sm_resolve(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;
	long off;

	if (!IS_ENABLED(CONFIG_KPROBES) || register_kprobe(&kp))
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	if (!addr)
		return 0;
	off = sm_symbol_offset(addr, name);
	if (off < 0 || off > 4 * AARCH64_INSN_SIZE || off % AARCH64_INSN_SIZE)
		return 0;
	return addr - off;
}

#ifndef SM_HAVE_FREE_UID
void (*sm_free_uid_fn)(struct user_struct *up);
#endif

static int sm_kernel_method_init(void)
{
	unsigned long inv = sm_resolve("set_direct_map_invalid_noflush");
	unsigned long def = sm_resolve("set_direct_map_default_noflush");

	if (!inv || !def) {
		pr_err("the kernel's linear-map helpers were not found (kprobes %s)\n",
		       IS_ENABLED(CONFIG_KPROBES) ? "on" : "off");
		return -ENOENT;
	}
	if (!sm_indirect_call_safe(inv) || !sm_indirect_call_safe(def)) {
		pr_err("BTI is enforced and the kernel's linear-map helpers have no landing pad: calling them would oops\n");
		return -EPERM;
	}
	sm_set_invalid = (void *)inv;
	sm_set_default = (void *)def;
#ifndef SM_HAVE_FREE_UID
	inv = sm_resolve("free_uid");
	if (!inv || !sm_indirect_call_safe(inv)) {
		pr_err("free_uid() is not exported and cannot be called\n");
		return -EOPNOTSUPP;
	}
	sm_free_uid_fn = (void *)inv;
#endif
	return 0;
}

/* Can the kernel read @page through the linear map? */
static bool sm_page_readable(struct page *page)
{
	u8 byte;

	return !copy_from_kernel_nofault(&byte, page_address(page), 1);
}

/*
 * One flush for a batch, as flush_tlb_kernel_range() would do for each
 * chunk: by address when the batch is small, else the whole TLB (the
 * threshold flush_tlb_kernel_range() applies to one range: PTRS_PER_PTE
 * pages, named MAX_TLBI_OPS in 6.1 and MAX_DVM_OPS in 6.12).  TLBI ... IS
 * is broadcast to every CPU of the inner shareable domain: no IPI.
 */
static void sm_dmap_flush_batch(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned long pages = 0, addr;
	unsigned int i;

	for (i = 0; i < nr; i++)
		pages += 1UL << chunks[i].order;
	if (pages > PTRS_PER_PTE) {
		flush_tlb_all();
	} else {
		for (i = 0; i < nr; i++) {
			addr = (unsigned long)page_address(chunks[i].page);
			flush_tlb_kernel_range(addr, addr + (PAGE_SIZE << chunks[i].order));
		}
	}
	atomic_long_inc(&sm_stats.tlb_flushes);
}

void sm_dmap_flush(void)
{
	flush_tlb_all();
	atomic_long_inc(&sm_stats.tlb_flushes);
}

/*
 * Put @page back, always through the kernel's helper, as
 * secretmem_free_folio() does (it is idempotent: valid, writable, not
 * read-only).  Whether the page reads is no guide beforehand: until the
 * batch's flush (a removal that fails part way is rolled back before it),
 * a stale TLB entry still reads a page whose entry is already invalid.
 * Afterwards it is: the entry is valid again, so a read that faults means
 * the page is not back (the helper failed or someone else changed it).
 */
static int sm_page_restore(struct page *page)
{
	if (sm_set_default(page))
		return -EFAULT;
	return sm_page_readable(page) ? 0 : -EFAULT;
}

/*
 * Lost chunks stay allocated, each on this list with a module reference,
 * as in the x86 layer: the module then never unloads, so its hibernation
 * veto (which counts lost_pages) stays in force.
 */
struct sm_lost {
	struct list_head node;
	struct sm_chunk chunk;
};

static LIST_HEAD(sm_lost_list);
static DEFINE_MUTEX(sm_lost_lock);

/**
 * sm_chunk_lose - never touch or free @chunk again
 * @chunk: a chunk that could not be put back into the linear map
 * @why: what went wrong, for the log
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

/* Put back every page of a lost chunk; true if all of them read again. */
static bool sm_lost_recover(struct sm_chunk *chunk)
{
	unsigned long i, n = 1UL << chunk->order;
	bool back = true;

	for (i = 0; i < n; i++)
		if (sm_page_restore(chunk->page + i))
			back = false;
	return back;
}

/**
 * sm_dmap_retry_lost - give back lost chunks that can be put back now
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

/* Test hook: see the x86 layer (fault_restore_nth). */
static bool sm_restore_fault(unsigned int *done)
{
	return done && ++*done == READ_ONCE(sm_faults.restore_nth);
}

/*
 * Put back pages [0, @n) of @chunk; lose the chunk if any will not go
 * back, after zeroing the pages of it that did go back (they still hold
 * the secret and are readable).  Only the pages whose restore was checked
 * are zeroed: on the rollback of a failed removal (no flush yet) a read
 * probe of a page still out would go through a stale TLB entry, and
 * clear_page() has no fault fixup.  The chunk goes on the lost list only
 * at the end: sm_dmap_retry_lost() may free a listed chunk at any time.
 */
static void sm_restore_chunk(struct sm_chunk *chunk, unsigned long n,
			     unsigned int *done)
{
	DECLARE_BITMAP(back, SM_PMD_PAGES);
	unsigned long i;
	bool bad = false;

	bitmap_zero(back, SM_PMD_PAGES);
	for (i = 0; i < n; i++) {
		if (sm_restore_fault(done) || sm_page_restore(chunk->page + i)) {
			bad = true;
			continue;
		}
		__set_bit(i, back);
		atomic_long_inc(&sm_stats.dmap_changes);
	}
	if (!bad && !chunk->lost)
		return;
	for_each_set_bit(i, back, n)
		clear_page(page_address(chunk->page + i));
	if (bad)
		sm_chunk_lose(chunk, "linear-map entry could not be restored");
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
 * sm_dmap_remove - take every page of @chunks out of the linear map
 * @chunks: chunks of pages the caller owns, not mapped anywhere else
 * @nr: number of chunks
 *
 * Flushes once for the batch, then checks that no page can be read
 * through the linear map any more.  On failure nothing is left out.
 *
 * Return: 0, or a negative errno.
 */
int sm_dmap_remove(struct sm_chunk *chunks, unsigned int nr)
{
	unsigned long j = 0, n, done = 0;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < nr; i++) {
		chunks[i].pmd = false;
		n = 1UL << chunks[i].order;
		for (j = 0; j < n; j++) {
			if (++done == READ_ONCE(sm_faults.dmap_nth))
				ret = -ENOMEM;
			else
				ret = sm_set_invalid(chunks[i].page + j);
			if (ret)
				goto fail;
			atomic_long_inc(&sm_stats.dmap_changes);
		}
		cond_resched();
	}
	sm_dmap_flush_batch(chunks, nr);

	/* After the flush, no page may still read: the helpers can do nothing. */
	for (i = 0; i < nr; i++) {
		n = 1UL << chunks[i].order;
		for (j = 0; j < n; j++) {
			if (sm_page_readable(chunks[i].page + j)) {
				ret = -EFAULT;
				i = nr;
				break;
			}
		}
	}
	if (!ret)
		return 0;
	if (!sm_selftest)
		pr_warn_ratelimited("a page is still readable through the linear map after removal\n");
	sm_dmap_restore(chunks, nr);
	return ret;

fail:
	pr_warn_ratelimited("cannot remove a page from the linear map: %d\n", ret);
	/*
	 * Pages [0, j) of chunk i and all of the chunks before it went out;
	 * putting them back needs no flush.
	 */
	sm_restore_chunk(&chunks[i], j, NULL);
	sm_dmap_restore(chunks, i);
	return ret;
}

/* No uncached secret memory on arm64 (SET_FLAGS refuses it before this). */
int sm_dmap_set_uncached(struct sm_chunk *chunks, unsigned int nr, bool uc)
{
	return uc ? -EOPNOTSUPP : 0;
}

/*
 * Pages the allocator hands out have no second kernel mapping on arm64:
 * the kernel image's own alias (in the vmalloc area) of memory it frees,
 * the __init sections, is unmapped by free_initmem() (vunmap_range()), and
 * the rest of the image is never given to the allocator.
 */
bool sm_dmap_has_alias(struct page *page, unsigned int order)
{
	return false;
}

/* Every page leaves as its own 4 KiB entry: never one 2 MiB entry. */
bool sm_dmap_chunk_is_pmd(struct page *page)
{
	return false;
}

/* Did the self-test at load take a page out of the linear map? */
static bool sm_linear_pages;

u64 sm_dmap_arch_platform(void)
{
	u64 plat = 0;

	if (sm_linear_pages)
		plat |= SECRETMEM_PLAT_LINEAR_MAP_PAGES;
	if (sm_bti_kernel())
		plat |= SECRETMEM_PLAT_BTI;
	if (system_supports_mte())
		plat |= SECRETMEM_PLAT_MTE;
	if (arm64_kernel_unmapped_at_el0())
		plat |= SECRETMEM_PLAT_KPTI;
	return plat;
}

/*
 * Take a chunk of @order out and back in: after removal the kernel must
 * fail to read any of it, after restore read all of it.  1 when no chunk
 * of that order is free (nothing to test).
 */
static int sm_dmap_selftest_one(unsigned int order)
{
	gfp_t gfp = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN;
	struct sm_chunk chunk = { .order = order };
	unsigned long i;
	int ret;

	chunk.page = alloc_pages(order ? gfp | __GFP_NORETRY : gfp, order);
	if (!chunk.page)
		return order ? 1 : -ENOMEM;
	ret = sm_dmap_remove(&chunk, 1);
	if (!ret) {
		sm_dmap_restore(&chunk, 1);
		for (i = 0; !chunk.lost && i < (1UL << order); i++)
			if (!sm_page_readable(chunk.page + i))
				sm_chunk_lose(&chunk, "self-test: page not restored");
		if (chunk.lost)
			ret = -EFAULT;
	}
	sm_chunk_free(&chunk);
	return ret;
}

/**
 * sm_dmap_init - check that pages can leave the linear map on this machine
 * @method: "auto" or "kernel" (the only method on arm64)
 *
 * Return: 0 when the kernel's helpers were found, may be called and pass
 * the self-test; else the module must not load.
 */
int sm_dmap_init(const char *method)
{
	int ret;

	if (strcmp(method, "auto") && strcmp(method, "kernel")) {
		pr_err("dmap_method=%s: arm64 has only auto or kernel\n", method);
		return -EINVAL;
	}
	ret = sm_kernel_method_init();
	if (ret)
		return ret;
	sm_ready = true;
	sm_selftest = true;
	ret = sm_dmap_selftest_one(0);
	if (!ret) {
		ret = sm_dmap_selftest_one(SM_PMD_ORDER);
		if (ret == 1)
			ret = 0;
	}
	sm_selftest = false;
	if (ret) {
		sm_ready = false;
		pr_err("a page taken out of the linear map can still be read: the linear map is not page-granular (rodata=on instead of rodata=full?)\n");
		return -EOPNOTSUPP;
	}
	sm_linear_pages = true;
	return 0;
}
