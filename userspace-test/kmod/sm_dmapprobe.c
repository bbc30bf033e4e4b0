// SPDX-License-Identifier: GPL-2.0
/*
 * sm_dmapprobe - a TEST-ONLY module for the secretmem test suite (x86_64).
 *
 * It reports the raw x86_64 direct-map entries of RAM frames, from outside
 * the secretmem module, so that a test can check the exact bits the module
 * leaves, and it makes reference entries with the kernel's own cpa code on
 * pages it allocates itself.  It is loaded only in the QEMU test guests;
 * it is never installed on a host nor part of DKMS or a package.
 *
 * debugfs, /sys/kernel/debug/sm_dmapprobe/ (root only).  An entry is shown
 * as "level raw decoded flags": lookup_address() level (1 = 4 KiB, 2 =
 * 2 MiB, 3 = 1 GiB, 0 = no entry), the raw 64-bit value, the frame that
 * pte_pfn() / pmd_pfn() / pud_pfn() decodes from it (for a large entry the
 * first frame of the large page) and raw & ~PTE_PFN_MASK.
 *
 *   snapshot    write anything: record (level, raw) of every RAM frame;
 *               read: "pfns N snapshot 0|1"
 *   diff        read: "pfn level raw decoded old_level old_raw" for each RAM
 *               frame whose (level, raw) differs from the snapshot
 *   nonpresent  read: "pfn level raw decoded" for each RAM frame whose
 *               direct-map entry is not present
 *   entry       write "PFN [COUNT]"; read: "pfn level raw decoded flags" for
 *               COUNT frames from PFN
 *   uva         write "ADDR [COUNT]" (user address, decimal); read, in
 *               the same process: "pfn level raw decoded flags" for the
 *               frame behind each of COUNT pages (pfn -1: not mapped)
 *   kref4k      read: a reference made by set_direct_map_invalid_noflush()
 *               and set_direct_map_default_noflush() on a page of ours
 *               (then the original entry is written back: "fixup 1")
 *   kref2m      read: a reference made by set_memory_ro() + set_memory_np()
 *               and set_memory_p() + set_memory_rw() on a 2 MiB page of ours
 *   hold        write 1: take a page of ours out with
 *               set_direct_map_invalid_noflush() and keep it out; write 0:
 *               put it back and free it; read: "pfn N" or "none"
 *   symbols     read: the kernel functions found through kprobes
 *
 * Kernel functions that are not exported are found by registering a kprobe
 * on them and reading its address (as module/secretmem_dmap.c does), then
 * called through a pointer.  On a CPU that enforces IBT that could oops on
 * a sealed function: the probe refuses to call them there (QEMU does not
 * emulate IBT).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pfn.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/cpufeature.h>
#include <asm/pgtable.h>
#include <asm/tlbflush.h>

#ifndef CONFIG_X86_64
#error "sm_dmapprobe is x86_64 only"
#endif

#define DPR_2M_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define DPR_2M_PAGES	(PMD_SIZE / PAGE_SIZE)
#define DPR_2M_TRIES	8
#define DPR_MAX_COUNT	(64 * 1024)

struct dpr_ent {
	u64 raw;
	u8 level;
};

/* Kernel functions found through kprobes (NULL: not found or not safe). */
static struct {
	int (*invalid)(struct page *page);
	int (*deflt)(struct page *page);
	int (*mem_np)(unsigned long addr, int numpages);
	int (*mem_p)(unsigned long addr, int numpages);
	int (*mem_ro)(unsigned long addr, int numpages);
	int (*mem_rw)(unsigned long addr, int numpages);
	int (*pages_p)(struct page *page, int numpages);
	/* 7.2 exports __flush_tlb_all() only to KVM: resolved like the rest */
	void (*flush_tlb_all)(void);
} dpr_fn;

static DEFINE_MUTEX(dpr_lock);
static unsigned long dpr_max_pfn;
static unsigned long *dpr_ram;		/* bitmap: page_is_ram() */
static struct dpr_ent *dpr_snap;	/* by pfn */
static bool dpr_snap_valid;
static struct page *dpr_held;
static unsigned long dpr_entry_pfn, dpr_entry_count = 1;
static unsigned long dpr_uva_addr, dpr_uva_count = 1;
static struct dentry *dpr_dir;

/* ---- reading entries ---- */

static void dpr_read(unsigned long pfn, struct dpr_ent *e)
{
	unsigned int level;
	pte_t *ptep = lookup_address((unsigned long)__va(PFN_PHYS(pfn)), &level);

	if (!ptep) {
		e->raw = 0;
		e->level = 0;
		return;
	}
	e->raw = pte_val(READ_ONCE(*ptep));
	e->level = level;
}

static bool dpr_present(const struct dpr_ent *e)
{
	return e->level && (e->raw & _PAGE_PRESENT);
}

/* What the kernel's own decoder gives for the entry (the inversion undone). */
static unsigned long dpr_decode(const struct dpr_ent *e)
{
	switch (e->level) {
	case PG_LEVEL_4K:
		return pte_pfn(__pte(e->raw));
	case PG_LEVEL_2M:
		return pmd_pfn(__pmd(e->raw));
	case PG_LEVEL_1G:
		return pud_pfn(__pud(e->raw));
	default:
		return 0;
	}
}

static void dpr_show_ent(struct seq_file *m, const char *name,
			 const struct dpr_ent *e)
{
	seq_printf(m, "%s %u 0x%016llx %lu 0x%016llx\n", name, e->level,
		   e->raw, dpr_decode(e), e->raw & ~(u64)PTE_PFN_MASK);
}

static void dpr_flush_ipi(void *unused)
{
	if (dpr_fn.flush_tlb_all)
		dpr_fn.flush_tlb_all();
}

static void dpr_flush_all(void)
{
	on_each_cpu(dpr_flush_ipi, NULL, 1);
}

/* ---- resolving kernel functions ---- */

static bool dpr_is_symbol_start(unsigned long addr, const char *name)
{
	char buf[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);

	sprint_symbol(buf, addr);
	return !strncmp(buf, name, len) && !strncmp(buf + len, "+0x0/", 5);
}

/* With IBT a kprobe sits 4 bytes in, behind ENDBR64 (or its NOP). */
static void *dpr_resolve(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (register_kprobe(&kp))
		return NULL;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	if (addr && dpr_is_symbol_start(addr, name))
		return (void *)addr;
	if (addr > 4 && dpr_is_symbol_start(addr - 4, name))
		return (void *)(addr - 4);
	pr_info("%s: kprobe at %pS is not the start of the function\n",
		name, (void *)addr);
	return NULL;
}

static void dpr_resolve_all(void)
{
#ifdef X86_FEATURE_IBT
	if (cpu_feature_enabled(X86_FEATURE_IBT)) {
		pr_info("IBT is enforced: no indirect calls into the kernel, no references\n");
		return;
	}
#endif
	dpr_fn.invalid = dpr_resolve("set_direct_map_invalid_noflush");
	dpr_fn.deflt = dpr_resolve("set_direct_map_default_noflush");
	dpr_fn.mem_np = dpr_resolve("set_memory_np");
	dpr_fn.mem_p = dpr_resolve("set_memory_p");	/* static on 6.1 */
	dpr_fn.mem_ro = dpr_resolve("set_memory_ro");
	dpr_fn.mem_rw = dpr_resolve("set_memory_rw");
	dpr_fn.pages_p = dpr_resolve("__set_pages_p");	/* static */
	dpr_fn.flush_tlb_all = dpr_resolve("__flush_tlb_all");
}

static int dpr_symbols_show(struct seq_file *m, void *v)
{
	seq_printf(m, "set_direct_map_invalid_noflush %pS\n", dpr_fn.invalid);
	seq_printf(m, "set_direct_map_default_noflush %pS\n", dpr_fn.deflt);
	seq_printf(m, "set_memory_np %pS\n", dpr_fn.mem_np);
	seq_printf(m, "set_memory_p %pS\n", dpr_fn.mem_p);
	seq_printf(m, "set_memory_ro %pS\n", dpr_fn.mem_ro);
	seq_printf(m, "set_memory_rw %pS\n", dpr_fn.mem_rw);
	seq_printf(m, "__set_pages_p %pS\n", dpr_fn.pages_p);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dpr_symbols);

/* ---- snapshot, diff and the non-present list ---- */

enum dpr_list { DPR_LIST_NONPRESENT, DPR_LIST_DIFF };

struct dpr_iter {
	enum dpr_list which;
	unsigned long pfn;
	struct dpr_ent now;
};

/* Is @pfn listed in @which?  Fills @now.  Called with dpr_lock held. */
static bool dpr_listed(enum dpr_list which, unsigned long pfn,
		       struct dpr_ent *now)
{
	const struct dpr_ent *old;

	if (pfn >= dpr_max_pfn || !test_bit(pfn, dpr_ram))
		return false;
	dpr_read(pfn, now);
	if (which == DPR_LIST_NONPRESENT)
		return !dpr_present(now);
	if (!dpr_snap_valid)
		return false;
	old = &dpr_snap[pfn];
	return old->level != now->level || old->raw != now->raw;
}

static void *dpr_seq_find(struct seq_file *m, loff_t *pos)
{
	struct dpr_iter *it = m->private;
	unsigned long pfn;

	for (pfn = *pos; pfn < dpr_max_pfn; pfn++) {
		if (dpr_listed(it->which, pfn, &it->now)) {
			it->pfn = pfn;
			*pos = pfn;
			return it;
		}
		if (!(pfn & 4095))
			cond_resched();
	}
	*pos = dpr_max_pfn;
	return NULL;
}

static void *dpr_seq_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&dpr_lock);
	return dpr_seq_find(m, pos);
}

static void *dpr_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return dpr_seq_find(m, pos);
}

static void dpr_seq_stop(struct seq_file *m, void *v)
{
	mutex_unlock(&dpr_lock);
}

static int dpr_seq_show(struct seq_file *m, void *v)
{
	struct dpr_iter *it = v;

	seq_printf(m, "%lu %u 0x%016llx %lu", it->pfn, it->now.level,
		   it->now.raw, dpr_decode(&it->now));
	if (it->which == DPR_LIST_DIFF)
		seq_printf(m, " %u 0x%016llx", dpr_snap[it->pfn].level,
			   dpr_snap[it->pfn].raw);
	seq_putc(m, '\n');
	return 0;
}

static const struct seq_operations dpr_seq_ops = {
	.start = dpr_seq_start,
	.next = dpr_seq_next,
	.stop = dpr_seq_stop,
	.show = dpr_seq_show,
};

static int dpr_list_open(struct inode *inode, struct file *file)
{
	struct dpr_iter *it;

	it = __seq_open_private(file, &dpr_seq_ops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->which = (enum dpr_list)(uintptr_t)inode->i_private;
	return 0;
}

static const struct file_operations dpr_list_fops = {
	.owner = THIS_MODULE,
	.open = dpr_list_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = seq_release_private,
};

static int dpr_snapshot_show(struct seq_file *m, void *v)
{
	mutex_lock(&dpr_lock);
	seq_printf(m, "pfns %lu snapshot %d\n", dpr_max_pfn, dpr_snap_valid);
	mutex_unlock(&dpr_lock);
	return 0;
}

static int dpr_snapshot_open(struct inode *inode, struct file *file)
{
	return single_open(file, dpr_snapshot_show, NULL);
}

static ssize_t dpr_snapshot_write(struct file *file, const char __user *buf,
				  size_t len, loff_t *ppos)
{
	unsigned long pfn;

	mutex_lock(&dpr_lock);
	for (pfn = 0; pfn < dpr_max_pfn; pfn++) {
		if (test_bit(pfn, dpr_ram))
			dpr_read(pfn, &dpr_snap[pfn]);
		if (!(pfn & 4095))
			cond_resched();
	}
	dpr_snap_valid = true;
	mutex_unlock(&dpr_lock);
	return len;
}

static const struct file_operations dpr_snapshot_fops = {
	.owner = THIS_MODULE,
	.open = dpr_snapshot_open,
	.read = seq_read,
	.write = dpr_snapshot_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* ---- single entries: by frame, by user address ---- */

/* Parse "A [B]" from user space; B defaults to 1. */
static int dpr_parse2(const char __user *ubuf, size_t len, unsigned long *a,
		      unsigned long *b)
{
	char buf[64];
	int n;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	*b = 1;
	n = sscanf(buf, "%lu %lu", a, b);
	if (n < 1 || !*b || *b > DPR_MAX_COUNT)
		return -EINVAL;
	return 0;
}

static int dpr_entry_show(struct seq_file *m, void *v)
{
	struct dpr_ent e;
	unsigned long i, pfn;
	char name[24];

	mutex_lock(&dpr_lock);
	for (i = 0; i < dpr_entry_count; i++) {
		pfn = dpr_entry_pfn + i;
		if (pfn >= dpr_max_pfn || !test_bit(pfn, dpr_ram)) {
			seq_printf(m, "%lu 0 0x0 0 0x0\n", pfn);
			continue;
		}
		dpr_read(pfn, &e);
		snprintf(name, sizeof(name), "%lu", pfn);
		dpr_show_ent(m, name, &e);
	}
	mutex_unlock(&dpr_lock);
	return 0;
}

static int dpr_entry_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, dpr_entry_show, NULL,
				64 * (dpr_entry_count + 1));
}

static ssize_t dpr_entry_write(struct file *file, const char __user *buf,
			       size_t len, loff_t *ppos)
{
	unsigned long pfn, count;
	int ret = dpr_parse2(buf, len, &pfn, &count);

	if (ret)
		return ret;
	mutex_lock(&dpr_lock);
	dpr_entry_pfn = pfn;
	dpr_entry_count = count;
	mutex_unlock(&dpr_lock);
	return len;
}

static const struct file_operations dpr_entry_fops = {
	.owner = THIS_MODULE,
	.open = dpr_entry_open,
	.read = seq_read,
	.write = dpr_entry_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* The frame a 4 KiB user PTE of @mm maps at @addr, or -1.  mmap_lock held. */
static long dpr_user_pfn(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;
	pte_t pte;
	struct vm_area_struct *vma = find_vma(mm, addr);

	if (!vma || vma->vm_start > addr)
		return -1;
	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return -1;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return -1;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		return -1;
	pmd = pmd_offset(pud, addr);
	if (pmd_none(*pmd) || pmd_bad(*pmd))
		return -1;
	pte = READ_ONCE(*pte_offset_kernel(pmd, addr));
	if (!pte_present(pte))
		return -1;
	return pte_pfn(pte);
}

static int dpr_uva_show(struct seq_file *m, void *v)
{
	struct mm_struct *mm = current->mm;
	unsigned long i, addr, count;
	struct dpr_ent e;
	char name[24];
	long pfn;

	if (!mm)
		return -EINVAL;
	mutex_lock(&dpr_lock);
	addr = dpr_uva_addr;
	count = dpr_uva_count;
	mutex_unlock(&dpr_lock);
	mmap_read_lock(mm);
	for (i = 0; i < count; i++) {
		pfn = dpr_user_pfn(mm, addr + i * PAGE_SIZE);
		if (pfn < 0 || pfn >= dpr_max_pfn) {
			seq_printf(m, "%ld 0 0x0 0 0x0\n", pfn);
			continue;
		}
		dpr_read(pfn, &e);
		snprintf(name, sizeof(name), "%ld", pfn);
		dpr_show_ent(m, name, &e);
	}
	mmap_read_unlock(mm);
	return 0;
}

static int dpr_uva_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, dpr_uva_show, NULL,
				64 * (dpr_uva_count + 1));
}

static ssize_t dpr_uva_write(struct file *file, const char __user *buf,
			     size_t len, loff_t *ppos)
{
	unsigned long addr, count;
	int ret = dpr_parse2(buf, len, &addr, &count);

	if (ret)
		return ret;
	mutex_lock(&dpr_lock);
	dpr_uva_addr = addr & PAGE_MASK;
	dpr_uva_count = count;
	mutex_unlock(&dpr_lock);
	return len;
}

static const struct file_operations dpr_uva_fops = {
	.owner = THIS_MODULE,
	.open = dpr_uva_open,
	.read = seq_read,
	.write = dpr_uva_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* ---- references made by the kernel's own code ---- */

/*
 * After recording what the kernel's restore gives, write the original
 * entry back if it differs but sits at the same level (the kernel's
 * restore drops _PAGE_GLOBAL, and on 6.6+ _PAGE_DIRTY): the probe's own
 * references leave no trace in the direct map for the tests that follow.
 */
static bool dpr_fixup(unsigned long pfn, const struct dpr_ent *orig)
{
	unsigned int level;
	pte_t *ptep = lookup_address((unsigned long)__va(PFN_PHYS(pfn)), &level);

	if (!ptep || level != orig->level || pte_val(*ptep) == orig->raw ||
	    !(orig->raw & _PAGE_PRESENT))
		return false;
	set_pte(ptep, __pte(orig->raw));
	dpr_flush_all();
	return true;
}

static int dpr_kref4k_show(struct seq_file *m, void *v)
{
	struct dpr_ent orig, np, rest, tmp;
	struct page *page;
	unsigned long pfn;
	bool listed, fixed;
	int ret;

	if (!dpr_fn.invalid || !dpr_fn.deflt) {
		seq_puts(m, "none set_direct_map helpers not found\n");
		return 0;
	}
	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	pfn = page_to_pfn(page);
	mutex_lock(&dpr_lock);
	dpr_read(pfn, &orig);
	ret = dpr_fn.invalid(page);
	if (ret) {
		mutex_unlock(&dpr_lock);
		__free_page(page);
		seq_printf(m, "none set_direct_map_invalid_noflush: %d\n", ret);
		return 0;
	}
	dpr_flush_all();
	dpr_read(pfn, &np);
	listed = dpr_listed(DPR_LIST_NONPRESENT, pfn, &tmp);
	ret = dpr_fn.deflt(page);
	dpr_read(pfn, &rest);
	if (ret || !dpr_present(&rest)) {
		mutex_unlock(&dpr_lock);
		pr_err("kref4k: pfn %lu not restored (%d), leaking it\n", pfn, ret);
		return -EIO;
	}
	fixed = dpr_fixup(pfn, &orig);
	mutex_unlock(&dpr_lock);
	__free_page(page);

	seq_printf(m, "pfn %lu\n", pfn);
	dpr_show_ent(m, "orig", &orig);
	dpr_show_ent(m, "np", &np);
	dpr_show_ent(m, "restored", &rest);
	seq_printf(m, "listed %d\n", listed);
	seq_printf(m, "fixup %d\n", fixed);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dpr_kref4k);

/* An order-9 page whose direct-map entry is one present 2 MiB entry. */
static struct page *dpr_alloc_2m(void)
{
	struct page *tries[DPR_2M_TRIES], *found = NULL;
	struct dpr_ent e;
	int i, n;

	for (n = 0; n < DPR_2M_TRIES; n++) {
		tries[n] = alloc_pages(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY,
				       DPR_2M_ORDER);
		if (!tries[n])
			break;
		dpr_read(page_to_pfn(tries[n]), &e);
		if (e.level == PG_LEVEL_2M && dpr_present(&e)) {
			found = tries[n];
			break;
		}
	}
	for (i = 0; i < n; i++)
		__free_pages(tries[i], DPR_2M_ORDER);
	return found;
}

/* Put a 2 MiB page of ours back; 0 and how in *how, or -EIO. */
static int dpr_restore_2m(struct page *page, const struct dpr_ent *orig,
			  const char **how)
{
	unsigned long addr = (unsigned long)page_address(page);
	unsigned long pfn = page_to_pfn(page);
	unsigned int level;
	struct dpr_ent e;
	pte_t *ptep;
	int ret = -ENOENT;

	if (dpr_fn.mem_p && dpr_fn.mem_rw) {
		*how = "set_memory_p+set_memory_rw";
		ret = dpr_fn.mem_p(addr, DPR_2M_PAGES);
		if (!ret)
			ret = dpr_fn.mem_rw(addr, DPR_2M_PAGES);
	} else if (dpr_fn.pages_p) {
		*how = "__set_pages_p";
		ret = dpr_fn.pages_p(page, DPR_2M_PAGES);
	}
	dpr_read(pfn, &e);
	if (!ret && dpr_present(&e))
		return 0;
	/* No kernel helper (or it failed): write the saved entry back. */
	ptep = lookup_address(addr, &level);
	if (!ptep || level != PG_LEVEL_2M)
		return -EIO;
	*how = "saved";
	set_pte(ptep, __pte(orig->raw));
	dpr_flush_all();
	return 0;
}

static int dpr_kref2m_show(struct seq_file *m, void *v)
{
	struct dpr_ent orig, ro, np, rest, tmp;
	const char *how = "none";
	unsigned long addr, pfn;
	struct page *page;
	bool listed, fixed;
	int ret;

	if (!dpr_fn.mem_np || !dpr_fn.mem_ro) {
		seq_puts(m, "none set_memory_np or set_memory_ro not found\n");
		return 0;
	}
	mutex_lock(&dpr_lock);
	page = dpr_alloc_2m();
	if (!page) {
		mutex_unlock(&dpr_lock);
		seq_puts(m, "none no free 2 MiB page mapped by a 2 MiB entry\n");
		return 0;
	}
	pfn = page_to_pfn(page);
	addr = (unsigned long)page_address(page);
	dpr_read(pfn, &orig);
	ret = dpr_fn.mem_ro(addr, DPR_2M_PAGES);
	dpr_read(pfn, &ro);
	if (!ret)
		ret = dpr_fn.mem_np(addr, DPR_2M_PAGES);
	dpr_read(pfn, &np);
	listed = dpr_listed(DPR_LIST_NONPRESENT, pfn, &tmp);
	if (dpr_restore_2m(page, &orig, &how)) {
		mutex_unlock(&dpr_lock);
		pr_err("kref2m: pfn %lu not restored, leaking 2 MiB\n", pfn);
		return -EIO;
	}
	dpr_read(pfn, &rest);
	fixed = dpr_fixup(pfn, &orig);
	mutex_unlock(&dpr_lock);
	__free_pages(page, DPR_2M_ORDER);

	if (ret) {
		seq_printf(m, "none set_memory_ro/np: %d\n", ret);
		return 0;
	}
	seq_printf(m, "pfn %lu\n", pfn);
	dpr_show_ent(m, "orig", &orig);
	dpr_show_ent(m, "ro", &ro);
	dpr_show_ent(m, "np", &np);
	dpr_show_ent(m, "restored", &rest);
	seq_printf(m, "listed %d\n", listed);
	seq_printf(m, "restore %s\n", how);
	seq_printf(m, "fixup %d\n", fixed);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dpr_kref2m);

/* ---- a page held out of the direct map: the control ---- */

static void dpr_hold_release(void)
{
	struct dpr_ent e;

	if (!dpr_held)
		return;
	dpr_fn.deflt(dpr_held);
	dpr_read(page_to_pfn(dpr_held), &e);
	if (dpr_present(&e))
		__free_page(dpr_held);
	else
		pr_err("hold: pfn %lu not restored, leaking it\n",
		       page_to_pfn(dpr_held));
	dpr_held = NULL;
}

static int dpr_hold_show(struct seq_file *m, void *v)
{
	mutex_lock(&dpr_lock);
	if (dpr_held)
		seq_printf(m, "pfn %lu\n", page_to_pfn(dpr_held));
	else
		seq_puts(m, "none\n");
	mutex_unlock(&dpr_lock);
	return 0;
}

static int dpr_hold_open(struct inode *inode, struct file *file)
{
	return single_open(file, dpr_hold_show, NULL);
}

static ssize_t dpr_hold_write(struct file *file, const char __user *buf,
			      size_t len, loff_t *ppos)
{
	unsigned long on, unused;
	struct page *page;
	int ret = dpr_parse2(buf, len, &on, &unused);

	if (ret)
		return ret;
	if (!dpr_fn.invalid || !dpr_fn.deflt)
		return -EOPNOTSUPP;
	mutex_lock(&dpr_lock);
	dpr_hold_release();
	if (on) {
		page = alloc_page(GFP_KERNEL);
		ret = page ? dpr_fn.invalid(page) : -ENOMEM;
		if (ret && page)
			__free_page(page);
		if (!ret) {
			dpr_flush_all();
			dpr_held = page;
		}
	}
	mutex_unlock(&dpr_lock);
	return ret ? ret : len;
}

static const struct file_operations dpr_hold_fops = {
	.owner = THIS_MODULE,
	.open = dpr_hold_open,
	.read = seq_read,
	.write = dpr_hold_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/* ---- module ---- */

static int __init dpr_init(void)
{
	unsigned long pfn;

	/* x86_64: high_memory is the end of the direct map of RAM. */
	dpr_max_pfn = PFN_DOWN(__pa(high_memory - 1)) + 1;
	dpr_ram = bitmap_zalloc(dpr_max_pfn, GFP_KERNEL);
	dpr_snap = vzalloc(array_size(dpr_max_pfn, sizeof(*dpr_snap)));
	if (!dpr_ram || !dpr_snap) {
		bitmap_free(dpr_ram);
		vfree(dpr_snap);
		return -ENOMEM;
	}
	for (pfn = 0; pfn < dpr_max_pfn; pfn++) {
		if (page_is_ram(pfn))
			__set_bit(pfn, dpr_ram);
		if (!(pfn & 4095))
			cond_resched();
	}
	dpr_resolve_all();

	dpr_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("snapshot", 0600, dpr_dir, NULL, &dpr_snapshot_fops);
	debugfs_create_file("diff", 0400, dpr_dir,
			    (void *)(uintptr_t)DPR_LIST_DIFF, &dpr_list_fops);
	debugfs_create_file("nonpresent", 0400, dpr_dir,
			    (void *)(uintptr_t)DPR_LIST_NONPRESENT,
			    &dpr_list_fops);
	debugfs_create_file("entry", 0600, dpr_dir, NULL, &dpr_entry_fops);
	debugfs_create_file("uva", 0600, dpr_dir, NULL, &dpr_uva_fops);
	debugfs_create_file("kref4k", 0400, dpr_dir, NULL, &dpr_kref4k_fops);
	debugfs_create_file("kref2m", 0400, dpr_dir, NULL, &dpr_kref2m_fops);
	debugfs_create_file("hold", 0600, dpr_dir, NULL, &dpr_hold_fops);
	debugfs_create_file("symbols", 0400, dpr_dir, NULL, &dpr_symbols_fops);
	pr_info("loaded (test only): %lu pfns, %u RAM\n", dpr_max_pfn,
		bitmap_weight(dpr_ram, dpr_max_pfn));
	return 0;
}

static void __exit dpr_exit(void)
{
	debugfs_remove_recursive(dpr_dir);
	mutex_lock(&dpr_lock);
	dpr_hold_release();
	mutex_unlock(&dpr_lock);
	vfree(dpr_snap);
	bitmap_free(dpr_ram);
}

module_init(dpr_init);
module_exit(dpr_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only probe of raw x86_64 direct-map entries (secretmem test suite)");
