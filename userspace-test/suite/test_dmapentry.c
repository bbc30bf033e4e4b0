// SPDX-License-Identifier: GPL-2.0
// test_dmapentry.c - Check tests: the raw direct-map entries the module leaves, compared with the kernel's own.
/*
 * The entries are read from outside the module by the test-only probe
 * userspace-test/kmod/sm_dmapprobe.ko (debugfs, x86_64), which the tests
 * load themselves.  What "right" means is what the kernel's cpa code
 * (arch/x86/mm/pat/set_memory.c) writes for a page it makes not present
 * with mask_clr = _PAGE_PRESENT | _PAGE_RW (__set_pages_np()):
 *
 *   4 KiB (__change_page_attr):  pfn_pte(pfn, prot & ~(P|RW), GLOBAL cleared
 *	by pgprot_clear_protnone_bits()); pfn_pte() inverts the frame of a
 *	non-present entry (L1TF, pgtable-invert.h).  Since 6.6 (the shadow
 *	stack series) __set_pages_np() clears _PAGE_DIRTY with RW, and so
 *	does set_memory_ro(): 6.12 leaves P|RW|DIRTY|GLOBAL clear.
 *   2 MiB (__should_split_large_page, whole large page): the same, and PSE
 *	stays clear (it is only set again when present); built with
 *	pfn_pte(), so the inverted frame also sets bits 12..20.
 *
 * pte_pfn() / pmd_pfn() undo the inversion: they must give back the frame.
 * Each test also checks these formulas against the probe's reference
 * entries made by the kernel's own helpers.
 */
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "sm_test.h"

SM_FILE("dmapentry", 120, 900);

#define DPR		"/sys/kernel/debug/sm_dmapprobe/"
#define DPR_KO		"/lib/modules/sm_dmapprobe.ko"

/* x86_64 entry bits (arch/x86/include/asm/pgtable_types.h). */
#define P_PRESENT	0x001ULL
#define P_RW		0x002ULL
#define P_ACCESSED	0x020ULL
#define P_DIRTY		0x040ULL
#define P_PSE		0x080ULL	/* large page; _PAGE_PAT in a 4 KiB entry */
#define P_GLOBAL	0x100ULL
#define P_PAT_LARGE	0x1000ULL
#define PFN_MASK	0x000ffffffffff000ULL	/* PTE_PFN_MASK, 52-bit physical */
#define PMD_FRAME_MASK	0x000fffffffe00000ULL	/* PHYSICAL_PMD_PAGE_MASK */
#define PUD_FRAME_MASK	0x000fffffc0000000ULL
/* Set by the CPU on access: a present entry may gain them at any time. */
#define P_HW_AD		(P_ACCESSED | P_DIRTY)
#define PMD_PAGES	512UL

#define SINGLE_PAGES	4
/* 8 chunks: some land under 2 MiB direct-map entries even after splits */
#define BIG_LEN		(16UL << 20)

struct ent {
	long pfn;
	unsigned int level;
	uint64_t raw;
	unsigned long decoded;
	uint64_t flags;
};

struct diff {
	unsigned long pfn;
	unsigned int level, old_level;
	uint64_t raw, old_raw;
	unsigned long decoded;
};

struct kref {
	bool ok;
	char why[160];
	unsigned long pfn;
	struct ent orig, ro, np, restored;
	int listed;
	char restore[64];
};

/* ---- entry arithmetic ---- */

static uint64_t inv_frame(unsigned long pfn)
{
	return ~((uint64_t)pfn << 12) & PFN_MASK;
}

/* protval_large_2_4k(): PSE (the 4 KiB PAT bit) goes, PAT moves to bit 7. */
static uint64_t large_2_4k(uint64_t v)
{
	return (v & ~(P_PSE | P_PAT_LARGE)) | ((v & P_PAT_LARGE) >> 5);
}

/*
 * The flags of the 4 KiB entry @pfn has (or would get from cpa's split,
 * __split_large_page()) given its entry @raw at @level.
 */
static uint64_t flags_4k(unsigned int level, uint64_t raw)
{
	switch (level) {
	case 1:
		return raw & ~PFN_MASK;
	case 2:
		return large_2_4k(raw & ~PMD_FRAME_MASK);
	default:
		return large_2_4k(raw & ~PUD_FRAME_MASK);
	}
}

/* Bits cpa clears to take a 4 KiB page out: P|RW|GLOBAL, and DIRTY on 6.6+. */
static uint64_t np_clear_4k(void)
{
	static int clears_dirty = -1;
	struct utsname u;
	int maj = 0, min = 0;

	if (clears_dirty < 0) {
		ck_assert(!uname(&u));
		ck_assert(sscanf(u.release, "%d.%d", &maj, &min) == 2);
		clears_dirty = maj > 6 || (maj == 6 && min >= 6);
	}
	return P_PRESENT | P_RW | P_GLOBAL | (clears_dirty ? P_DIRTY : 0);
}

/* For a whole 2 MiB page PSE stays clear too (set again only if present). */
static uint64_t np_clear_2m(void)
{
	return np_clear_4k() | P_PSE;
}

/*
 * A present entry after restore: @want, except that the CPU may have set
 * Accessed or Dirty since (the module zeroes pages through the direct map).
 */
static bool restored_as(uint64_t raw, uint64_t want)
{
	return !((raw ^ want) & ~P_HW_AD) && (raw & want & P_HW_AD) == (want & P_HW_AD);
}

/* ---- the probe ---- */

static char *slurp(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t r;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert(buf);
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert(buf);
		}
		r = read(fd, buf + len, cap - len - 1);
		ck_assert_msg(r >= 0, "read %s: %s", path, strerror(errno));
		if (!r)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static void dpr_write(const char *file, const char *fmt, ...)
{
	char path[128], val[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), DPR "%s", file);
	ck_assert_msg(!write_str(path, val), "writing \"%s\" to %s: %s", val, path,
		      strerror(errno));
}

/* Load the probe unless it is there; 0, or -1 with the reason to skip. */
static int dpr_load(char *why, size_t n)
{
	const char *ko = getenv("SM_DMAPPROBE_KO");
	int fd;

	if (!access(DPR "snapshot", F_OK))
		return 0;
	if (!ko)
		ko = DPR_KO;
	if (geteuid() != 0) {
		snprintf(why, n, "needs root to load %s", ko);
		return -1;
	}
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, n, "no probe module %s (x86_64 QEMU guests only): %s", ko,
			 strerror(errno));
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST) {
		snprintf(why, n, "finit_module(%s): %s", ko, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (access(DPR "snapshot", F_OK)) {
		snprintf(why, n, "probe loaded but %s missing (debugfs not mounted?)",
			 DPR "snapshot");
		return -1;
	}
	return 0;
}

#define PROBE_OR_SKIP() do {						\
	char _why[256];							\
	if (dpr_load(_why, sizeof(_why)))				\
		SKIP("%s", _why);					\
} while (0)

static bool parse_ent(const char *line, struct ent *e)
{
	unsigned long long raw, flags;

	if (sscanf(line, "%ld %u %llx %lu %llx", &e->pfn, &e->level, &raw, &e->decoded,
		   &flags) != 5)
		return false;
	e->raw = raw;
	e->flags = flags;
	return true;
}

/* Read @n entries from @file (entry or uva) after writing "@a @n" to it. */
static void dpr_entries(const char *file, unsigned long a, size_t n, struct ent *out)
{
	char path[128], *buf, *line, *save = NULL;
	size_t i = 0;

	dpr_write(file, "%lu %zu", a, n);
	snprintf(path, sizeof(path), DPR "%s", file);
	buf = slurp(path);
	for (line = strtok_r(buf, "\n", &save); line && i < n;
	     line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(parse_ent(line, &out[i++]), "%s: bad line \"%s\"", path, line);
	free(buf);
	ck_assert_msg(i == n, "%s: %zu lines for %zu entries", path, i, n);
}

static void dpr_snapshot(void)
{
	dpr_write("snapshot", "1");
}

/* The frames changed since the snapshot; *out is malloc'd. */
static size_t dpr_diff(struct diff **out)
{
	char *buf = slurp(DPR "diff"), *line, *save = NULL;
	size_t n = 0, cap = 1024;
	struct diff *d = malloc(cap * sizeof(*d));
	unsigned long long raw, old_raw;

	ck_assert(d);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			cap *= 2;
			d = realloc(d, cap * sizeof(*d));
			ck_assert(d);
		}
		ck_assert_msg(sscanf(line, "%lu %u %llx %lu %u %llx", &d[n].pfn, &d[n].level,
				     &raw, &d[n].decoded, &d[n].old_level, &old_raw) == 6,
			      "diff: bad line \"%s\"", line);
		d[n].raw = raw;
		d[n].old_raw = old_raw;
		n++;
	}
	free(buf);
	*out = d;
	return n;
}

static const struct diff *diff_find(const struct diff *d, size_t n, unsigned long pfn)
{
	size_t lo = 0, hi = n;

	/* The probe lists frames in order. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d[mid].pfn == pfn)
			return &d[mid];
		if (d[mid].pfn < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool newly_nonpresent(const struct diff *d)
{
	return (d->old_level && (d->old_raw & P_PRESENT)) &&
	       (!d->level || !(d->raw & P_PRESENT));
}

static void dpr_kref(const char *file, struct kref *k)
{
	char path[128], *buf, *line, *save = NULL;
	struct ent *e;

	memset(k, 0, sizeof(*k));
	snprintf(path, sizeof(path), DPR "%s", file);
	buf = slurp(path);
	if (!strncmp(buf, "none", 4)) {
		snprintf(k->why, sizeof(k->why), "%s", buf);
		k->why[strcspn(k->why, "\n")] = '\0';
		free(buf);
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[16];
		int off = 0;

		if (sscanf(line, "pfn %lu", &k->pfn) == 1 ||
		    sscanf(line, "listed %d", &k->listed) == 1 ||
		    (!strncmp(line, "restore ", 8) &&
		     sscanf(line + 8, "%63s", k->restore) == 1))
			continue;
		ck_assert_msg(sscanf(line, "%15s %n", name, &off) == 1 && off,
			      "%s: bad line \"%s\"", path, line);
		if (!strcmp(name, "orig"))
			e = &k->orig;
		else if (!strcmp(name, "ro"))
			e = &k->ro;
		else if (!strcmp(name, "np"))
			e = &k->np;
		else if (!strcmp(name, "restored"))
			e = &k->restored;
		else
			continue;
		/* Same format as an entry line, with the name for the pfn. */
		ck_assert_msg(sscanf(line + off, "%u %llx %lu %llx", &e->level,
				     (unsigned long long *)&e->raw, &e->decoded,
				     (unsigned long long *)&e->flags) == 4,
			      "%s: bad line \"%s\"", path, line);
		e->pfn = k->pfn;
	}
	free(buf);
	k->ok = true;
}

#define KREF_OR_FAIL(file, k) do {					\
	dpr_kref((file), (k));						\
	ck_assert_msg((k)->ok, "probe %s: %s", (file), (k)->why);	\
} while (0)

static const char *dmap_method(void)
{
	static char m[32];
	FILE *f = fopen(SM_SYSFS_METHOD, "r");

	ck_assert_msg(f, "%s: %s", SM_SYSFS_METHOD, strerror(errno));
	ck_assert(fgets(m, sizeof(m), f));
	fclose(f);
	m[strcspn(m, "\n")] = '\0';
	return m;
}

/* ---- failures collected over many entries, reported at once ---- */

struct errs {
	char buf[2048];
	size_t len;
	int n;
};

static void err_add(struct errs *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n++ >= 6)
		return;
	if (e->len < sizeof(e->buf)) {
		va_start(ap, fmt);
		e->len += vsnprintf(e->buf + e->len, sizeof(e->buf) - e->len, fmt, ap);
		va_end(ap);
	}
	if (e->len < sizeof(e->buf))
		e->len += snprintf(e->buf + e->len, sizeof(e->buf) - e->len, "; ");
}

#define ERRS_ASSERT(e, what) \
	ck_assert_msg(!(e)->n, "%s (%s): %d wrong: %s", (what), dmap_method(), (e)->n, (e)->buf)

/* ---- mappings ---- */

struct singles {
	uint8_t *p[SINGLE_PAGES];
	unsigned long pfn[SINGLE_PAGES];
};

static void map_singles(struct singles *s)
{
	struct ent e;
	int i, fd = dev_open();

	for (i = 0; i < SINGLE_PAGES; i++) {
		s->p[i] = sm_mmap(fd, PAGE_SZ);
		s->p[i][0] = 0x5a;
		dpr_entries("uva", (unsigned long)s->p[i], 1, &e);
		ck_assert_msg(e.pfn >= 0, "page %d at %p: no frame found in the page table",
			      i, (void *)s->p[i]);
		s->pfn[i] = e.pfn;
	}
	close(fd);
}

static void unmap_singles(struct singles *s)
{
	int i;

	for (i = 0; i < SINGLE_PAGES; i++)
		ck_assert(!munmap(s->p[i], PAGE_SZ));
}

static bool is_single(const struct singles *s, unsigned long pfn)
{
	int i;

	for (i = 0; i < SINGLE_PAGES; i++)
		if (s->pfn[i] == pfn)
			return true;
	return false;
}

/*
 * Exactly the frames of our mapping left the direct map since the
 * snapshot: no more, no fewer.
 */
static void check_out_set(const struct diff *d, size_t n, bool (*ours)(const void *, unsigned long),
			  const void *arg, size_t expect)
{
	struct errs e = { .n = 0 };
	size_t i, found = 0;

	for (i = 0; i < n; i++) {
		if (!newly_nonpresent(&d[i]))
			continue;
		if (ours(arg, d[i].pfn))
			found++;
		else
			err_add(&e, "pfn %lu (not ours) left the direct map: 0x%016llx",
				d[i].pfn, (unsigned long long)d[i].raw);
	}
	ERRS_ASSERT(&e, "frames that left the direct map");
	ck_assert_msg(found == expect, "%zu of our %zu frames are listed as newly not present",
		      found, expect);
}

static bool singles_has(const void *arg, unsigned long pfn)
{
	return is_single(arg, pfn);
}

/* ---- tests ---- */

/*
 * The probe can see a removal and tell it from a present frame: the
 * kernel's own set_direct_map_invalid_noflush() on a page it holds is
 * listed as not present, with the inverted frame that pte_pfn() decodes;
 * a neighbouring frame nobody touched stays present; after the page goes
 * back, it is not listed any more.
 */
SM_TEST_FIX(test_dmapentry_probe_sees_kernel_removal, fix_pool_off)
{
	char *list, line[64];
	unsigned long pfn;
	struct ent e[2];
	struct kref k;

	PROBE_OR_SKIP();
	KREF_OR_FAIL("kref4k", &k);
	ck_assert_msg(k.listed == 1, "kref4k: the probe's listing missed the kernel's removal");

	dpr_write("hold", "1");
	list = slurp(DPR "hold");
	ck_assert_msg(sscanf(list, "pfn %lu", &pfn) == 1, "hold: \"%s\"", list);
	free(list);
	dpr_entries("entry", pfn, 2, e);
	list = slurp(DPR "nonpresent");
	snprintf(line, sizeof(line), "%lu 1 0x%016llx %lu", pfn, (unsigned long long)e[0].raw,
		 pfn);
	ck_assert_msg(strstr(list, line), "held pfn %lu (entry 0x%016llx, decodes to %lu) not "
		      "listed as \"%s\" in nonpresent", pfn, (unsigned long long)e[0].raw,
		      e[0].decoded, line);
	free(list);
	ck_assert_msg(e[0].decoded == pfn, "held pfn %lu: pte_pfn() decodes to %lu", pfn,
		      e[0].decoded);
	ck_assert_msg((e[0].raw & PFN_MASK) == inv_frame(pfn),
		      "held pfn %lu: the kernel's entry 0x%016llx has frame bits 0x%016llx, "
		      "expected inverted 0x%016llx", pfn, (unsigned long long)e[0].raw,
		      (unsigned long long)(e[0].raw & PFN_MASK),
		      (unsigned long long)inv_frame(pfn));
	ck_assert_msg(e[1].level && (e[1].raw & P_PRESENT) && e[1].decoded == pfn + 1,
		      "untouched neighbour pfn %lu: level %u entry 0x%016llx decodes to %lu",
		      pfn + 1, e[1].level, (unsigned long long)e[1].raw, e[1].decoded);

	dpr_write("hold", "0");
	dpr_entries("entry", pfn, 1, e);
	ck_assert_msg(e[0].raw & P_PRESENT, "held pfn %lu still not present after release", pfn);
	list = slurp(DPR "nonpresent");
	snprintf(line, sizeof(line), "\n%lu ", pfn);
	ck_assert_msg(!strstr(list, line) && strncmp(list, line + 1, strlen(line + 1)),
		      "pfn %lu still listed as not present after release", pfn);
	free(list);
}
END_TEST

/*
 * The formulas these tests use are the kernel's: its own helpers on the
 * probe's pages give exactly the inverted frame with P, RW, GLOBAL (and
 * for 2 MiB PSE) cleared, and decode back to the frame.
 */
SM_TEST_FIX(test_dmapentry_kernel_refs_follow_cpa, fix_pool_off)
{
	uint64_t want;
	char *sym;
	struct kref k;

	PROBE_OR_SKIP();
	sym = slurp(DPR "symbols");
	printf("%s: kernel functions found:\n%s", tcase_name(), sym);
	free(sym);
	KREF_OR_FAIL("kref4k", &k);
	ck_assert_msg(k.np.level == 1, "kref4k: level %u after removal", k.np.level);
	want = inv_frame(k.pfn) | (flags_4k(k.orig.level, k.orig.raw) & ~np_clear_4k());
	printf("%s: 4 KiB pfn %lu: orig %u 0x%016llx, np 0x%016llx (expected 0x%016llx), "
	       "restored 0x%016llx\n", tcase_name(), k.pfn, k.orig.level,
	       (unsigned long long)k.orig.raw, (unsigned long long)k.np.raw,
	       (unsigned long long)want, (unsigned long long)k.restored.raw);
	ck_assert_msg(k.np.raw == want, "kref4k pfn %lu: kernel wrote 0x%016llx, the formula "
		      "gives 0x%016llx", k.pfn, (unsigned long long)k.np.raw,
		      (unsigned long long)want);
	ck_assert_msg(k.np.decoded == k.pfn, "kref4k: pte_pfn() gives %lu for pfn %lu",
		      k.np.decoded, k.pfn);
	if ((flags_4k(k.orig.level, k.orig.raw) & P_GLOBAL) && !(k.restored.raw & P_GLOBAL))
		printf("NOTE: %s: set_direct_map_default_noflush() does not give _PAGE_GLOBAL "
		       "back (__set_pages_p sets P|RW only)\n", tcase_name());
	if ((flags_4k(k.orig.level, k.orig.raw) & P_DIRTY) && !(k.restored.raw & P_DIRTY))
		printf("NOTE: %s: nor _PAGE_DIRTY, which its removal cleared\n", tcase_name());

	dpr_kref("kref2m", &k);
	if (!k.ok)
		SKIP("no 2 MiB reference: %s", k.why);
	printf("%s: 2 MiB pfn %lu: orig %u 0x%016llx, np %u 0x%016llx, restored %u 0x%016llx "
	       "(%s)\n", tcase_name(), k.pfn, k.orig.level, (unsigned long long)k.orig.raw,
	       k.np.level, (unsigned long long)k.np.raw, k.restored.level,
	       (unsigned long long)k.restored.raw, k.restore);
	ck_assert_msg(k.np.level == 2, "kref2m: level %u after set_memory_np (split?)",
		      k.np.level);
	want = inv_frame(k.pfn) | ((k.orig.raw & ~PMD_FRAME_MASK) & ~np_clear_2m());
	ck_assert_msg(k.np.raw == want, "kref2m pfn %lu: kernel wrote 0x%016llx, the formula "
		      "gives 0x%016llx", k.pfn, (unsigned long long)k.np.raw,
		      (unsigned long long)want);
	ck_assert_msg(k.np.decoded == k.pfn, "kref2m: pmd_pfn() gives %lu for pfn %lu",
		      k.np.decoded, k.pfn);
	ck_assert_msg(k.listed == 1, "kref2m: the probe's listing missed the removal");
}
END_TEST

/*
 * Single pages leave the direct map as the 4 KiB entry the kernel's cpa
 * writes: inverted frame, P|RW|GLOBAL cleared, decoding to the frame; and
 * exactly those frames leave.
 */
SM_TEST_FIX(test_dmapentry_4k_out_as_kernel_nonpresent_pte, fix_pool_off)
{
	struct errs e = { .n = 0 };
	const struct diff *dd;
	struct singles s;
	struct diff *d;
	struct kref k;
	uint64_t want;
	size_t n;
	int i;

	PROBE_OR_SKIP();
	KREF_OR_FAIL("kref4k", &k);
	dpr_snapshot();
	map_singles(&s);
	n = dpr_diff(&d);
	check_out_set(d, n, singles_has, &s, SINGLE_PAGES);
	for (i = 0; i < SINGLE_PAGES; i++) {
		dd = diff_find(d, n, s.pfn[i]);
		ck_assert(dd);
		want = inv_frame(dd->pfn) |
		       (flags_4k(dd->old_level, dd->old_raw) & ~np_clear_4k());
		printf("%s: pfn %lu: was %u 0x%016llx, now %u 0x%016llx (expected 0x%016llx), "
		       "decodes to %lu\n", tcase_name(), dd->pfn, dd->old_level,
		       (unsigned long long)dd->old_raw, dd->level, (unsigned long long)dd->raw,
		       (unsigned long long)want, dd->decoded);
		if (dd->level != 1)
			err_add(&e, "pfn %lu: level %u, not a 4 KiB entry", dd->pfn, dd->level);
		else if (dd->raw != want || (dd->raw & ~PFN_MASK) != k.np.flags ||
			 dd->decoded != dd->pfn)
			err_add(&e, "pfn %lu: 0x%016llx (flags 0x%llx, frame bits 0x%llx, "
				"pte_pfn %lu), expected 0x%016llx (kernel's flags 0x%llx, "
				"inverted frame 0x%llx)", dd->pfn, (unsigned long long)dd->raw,
				(unsigned long long)(dd->raw & ~PFN_MASK),
				(unsigned long long)(dd->raw & PFN_MASK), dd->decoded,
				(unsigned long long)want, (unsigned long long)k.np.flags,
				(unsigned long long)inv_frame(dd->pfn));
	}
	free(d);
	unmap_singles(&s);
	ERRS_ASSERT(&e, "4 KiB direct-map entries of secret pages");
}
END_TEST

/*
 * After munmap every changed entry is present again and each of our
 * frames has its original entry: the same 4 KiB entry, or, where a 2 MiB
 * page was split for it, the 4 KiB entry cpa's split made
 * (pfn << 12 | protval_large_2_4k(2 MiB flags)).  With dmap_method=kernel
 * the reference is what the kernel's own restore gives (it does not set
 * _PAGE_GLOBAL again).
 */
SM_TEST_FIX(test_dmapentry_4k_restored_after_munmap, fix_pool_off)
{
	struct errs e = { .n = 0 };
	const struct diff *dd;
	bool kernel = !strcmp(dmap_method(), "kernel");
	struct singles s;
	struct diff *d;
	struct kref k;
	uint64_t want;
	size_t i, n;

	PROBE_OR_SKIP();
	KREF_OR_FAIL("kref4k", &k);
	dpr_snapshot();
	map_singles(&s);
	unmap_singles(&s);
	n = dpr_diff(&d);
	for (i = 0; i < n; i++)
		if (!d[i].level || !(d[i].raw & P_PRESENT))
			err_add(&e, "pfn %lu still not present: %u 0x%016llx", d[i].pfn,
				d[i].level, (unsigned long long)d[i].raw);
	for (i = 0; i < SINGLE_PAGES; i++) {
		dd = diff_find(d, n, s.pfn[i]);
		if (!dd)
			continue;	/* unchanged: identical to the original */
		want = ((uint64_t)dd->pfn << 12) | flags_4k(dd->old_level, dd->old_raw);
		if (kernel)
			want = ((uint64_t)dd->pfn << 12) | k.restored.flags;
		printf("%s: pfn %lu: was %u 0x%016llx, now %u 0x%016llx (expected 0x%016llx)\n",
		       tcase_name(), dd->pfn, dd->old_level, (unsigned long long)dd->old_raw,
		       dd->level, (unsigned long long)dd->raw, (unsigned long long)want);
		if (dd->level != 1 || !restored_as(dd->raw, want))
			err_add(&e, "pfn %lu: %u 0x%016llx after munmap, expected 1 0x%016llx "
				"(was %u 0x%016llx)%s", dd->pfn, dd->level,
				(unsigned long long)dd->raw, (unsigned long long)want,
				dd->old_level, (unsigned long long)dd->old_raw,
				(dd->raw ^ want) == P_GLOBAL ?
				" - only _PAGE_GLOBAL differs" : "");
	}
	free(d);
	ERRS_ASSERT(&e, "direct-map entries after munmap");
}
END_TEST

struct big {
	uint8_t *p;
	unsigned long pfn[BIG_LEN / PAGE_SZ];
	unsigned long chunk[BIG_LEN / PAGE_SZ / PMD_PAGES];	/* first pfns */
	int nchunks;
};

static int cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static bool big_has(const void *arg, unsigned long pfn)
{
	const struct big *b = arg;
	size_t n = BIG_LEN / PAGE_SZ;

	return bsearch(&pfn, b->pfn, n, sizeof(pfn), cmp_ul);
}

/* Map and touch BIG_LEN; find its naturally aligned 2 MiB runs of frames. */
static void map_big(struct big *b)
{
	static struct ent ents[BIG_LEN / PAGE_SZ];
	size_t i, n = BIG_LEN / PAGE_SZ;
	int fd = dev_open();

	b->p = sm_mmap(fd, BIG_LEN);
	close(fd);
	for (i = 0; i < BIG_LEN; i += PAGE_SZ)
		b->p[i] = 0x5b;
	dpr_entries("uva", (unsigned long)b->p, n, ents);
	for (i = 0; i < n; i++) {
		ck_assert_msg(ents[i].pfn >= 0, "page %zu of the mapping: no frame", i);
		b->pfn[i] = ents[i].pfn;
	}
	qsort(b->pfn, n, sizeof(b->pfn[0]), cmp_ul);
	b->nchunks = 0;
	for (i = 0; i + PMD_PAGES <= n; i++)
		if (!(b->pfn[i] % PMD_PAGES) && b->pfn[i + PMD_PAGES - 1] == b->pfn[i] + PMD_PAGES - 1)
			b->chunk[b->nchunks++] = b->pfn[i];
}

#define PTE_METHOD_OR_SKIP() do {					\
	if (strcmp(dmap_method(), "pte"))				\
		SKIP("dmap_method=%s takes pages out one by one as 4 KiB entries " \
		     "(test_dmapentry_4k_* cover those)", dmap_method()); \
} while (0)

/*
 * pte method: a 2 MiB chunk whose direct-map entry was a 2 MiB page
 * leaves as that one entry, exactly as cpa makes a whole large page not
 * present: inverted frame (bits 12..20 set), P|RW|GLOBAL|PSE cleared,
 * pmd_pfn() giving the first frame back.
 */
SM_TEST_FIX(test_dmapentry_2m_out_as_kernel_nonpresent_pmd, fix_pool_off)
{
	struct errs e = { .n = 0 };
	const struct diff *dd;
	int i, checked = 0;
	static struct big b;
	struct diff *d;
	struct kref k;
	uint64_t want;
	size_t n;

	PROBE_OR_SKIP();
	PTE_METHOD_OR_SKIP();
	dpr_kref("kref2m", &k);
	dpr_snapshot();
	map_big(&b);
	n = dpr_diff(&d);
	check_out_set(d, n, big_has, &b, BIG_LEN / PAGE_SZ);
	for (i = 0; i < b.nchunks; i++) {
		dd = diff_find(d, n, b.chunk[i]);
		ck_assert(dd);
		if (dd->old_level != 2)
			continue;	/* was not one 2 MiB entry: goes out as 4 KiB */
		checked++;
		want = inv_frame(dd->pfn) | ((dd->old_raw & ~PMD_FRAME_MASK) & ~np_clear_2m());
		printf("%s: 2 MiB at pfn %lu: was 0x%016llx, now %u 0x%016llx (expected "
		       "0x%016llx), decodes to %lu\n", tcase_name(), dd->pfn,
		       (unsigned long long)dd->old_raw, dd->level, (unsigned long long)dd->raw,
		       (unsigned long long)want, dd->decoded);
		if (dd->level != 2)
			err_add(&e, "2 MiB chunk at pfn %lu: level %u, not one 2 MiB entry",
				dd->pfn, dd->level);
		else if (dd->raw != want || dd->decoded != dd->pfn ||
			 (k.ok && (dd->raw & ~PFN_MASK) != k.np.flags))
			err_add(&e, "2 MiB chunk at pfn %lu: 0x%016llx (flags 0x%llx, frame bits "
				"0x%llx, pmd_pfn %lu), expected 0x%016llx (kernel 2 MiB flags "
				"0x%llx)", dd->pfn, (unsigned long long)dd->raw,
				(unsigned long long)(dd->raw & ~PFN_MASK),
				(unsigned long long)(dd->raw & PFN_MASK), dd->decoded,
				(unsigned long long)want,
				(unsigned long long)(k.ok ? k.np.flags : 0));
	}
	free(d);
	ck_assert(!munmap(b.p, BIG_LEN));
	if (!checked)
		SKIP("none of %d 2 MiB chunks had a 2 MiB direct-map entry before", b.nchunks);
	ERRS_ASSERT(&e, "2 MiB direct-map entries of secret chunks");
}
END_TEST

/* pte method: after munmap a 2 MiB chunk's entry is its original, bit for bit. */
SM_TEST_FIX(test_dmapentry_2m_restored_after_munmap, fix_pool_off)
{
	struct errs e = { .n = 0 };
	const struct diff *dd;
	static struct big b;
	struct ent now;
	int i, checked = 0;
	struct diff *d;
	size_t n;

	PROBE_OR_SKIP();
	PTE_METHOD_OR_SKIP();
	dpr_snapshot();
	map_big(&b);
	n = dpr_diff(&d);
	ck_assert(!munmap(b.p, BIG_LEN));
	for (i = 0; i < b.nchunks; i++) {
		dd = diff_find(d, n, b.chunk[i]);
		if (!dd || dd->old_level != 2 || dd->level != 2)
			continue;	/* only chunks that went out as one 2 MiB entry */
		checked++;
		dpr_entries("entry", dd->pfn, 1, &now);
		printf("%s: 2 MiB at pfn %lu: was 0x%016llx, out 0x%016llx, now %u 0x%016llx\n",
		       tcase_name(), dd->pfn, (unsigned long long)dd->old_raw,
		       (unsigned long long)dd->raw, now.level, (unsigned long long)now.raw);
		if (now.level != 2 || !restored_as(now.raw, dd->old_raw))
			err_add(&e, "2 MiB chunk at pfn %lu: %u 0x%016llx after munmap, was "
				"2 0x%016llx", dd->pfn, now.level, (unsigned long long)now.raw,
				(unsigned long long)dd->old_raw);
	}
	free(d);
	n = dpr_diff(&d);
	for (i = 0; i < (int)n; i++)
		if (!d[i].level || !(d[i].raw & P_PRESENT))
			err_add(&e, "pfn %lu still not present: %u 0x%016llx", d[i].pfn,
				d[i].level, (unsigned long long)d[i].raw);
	free(d);
	if (!checked && !e.n)
		SKIP("none of %d 2 MiB chunks went out as one 2 MiB entry", b.nchunks);
	ERRS_ASSERT(&e, "2 MiB direct-map entries after munmap");
}
END_TEST
