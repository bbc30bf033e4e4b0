// SPDX-License-Identifier: GPL-2.0
// frag.c - part 3 of the benchmark: what mappings do to the direct map (DirectMap4k/2M, splits).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

/* ---- 3. direct-map fragmentation ---- */

struct frag {
	const char *variant;	/* "64MiB" or "512x4KiB" */
	enum backend b;
	int err;
	const char *step;
	double units;		/* MiB mapped, or number of small pages */
	struct dmap before, mapped, pre_unmap, after;
	struct ctrs c_before, c_mapped, c_pre_unmap, c_after;
	struct map *maps;
	int nmaps;
};

/* Map and touch the step's memory and keep it; d/c readings around it. */
static void frag_map(struct frag *f)
{
	int i, n = !strcmp(f->variant, "64MiB") ? 1 : FRAG_SMALL;
	size_t len = n == 1 ? FRAG_SIZE : PAGE_SZ;
	int err = 0;

	f->units = n == 1 ? (double)FRAG_SIZE / MIB : FRAG_SMALL;
	f->maps = calloc(n, sizeof(*f->maps));
	if (!f->maps) {
		f->err = ENOMEM;
		f->step = "calloc";
		return;
	}
	ctrs_read(&f->c_before);
	dmap_read(&f->before);
	for (i = 0; i < n; i++) {
		err = map_create(f->b, len, &f->maps[i]);
		if (err)
			break;
		f->nmaps++;
		err = map_touch(&f->maps[i], 1);
		if (err)
			break;
	}
	dmap_read(&f->mapped);
	ctrs_read(&f->c_mapped);
	if (err) {
		f->err = -err;
		f->step = fail_step;
	}
}

static void frag_unmap(struct frag *f)
{
	int i;

	ctrs_read(&f->c_pre_unmap);
	dmap_read(&f->pre_unmap);
	for (i = 0; i < f->nmaps; i++)
		munmap(f->maps[i].p, f->maps[i].len);
	dmap_read(&f->after);
	ctrs_read(&f->c_after);
	free(f->maps);
	f->maps = NULL;
}

static void frag_report(const struct frag *f)
{
	const char *unit = !strcmp(f->variant, "64MiB") ? "MiB" : "page";
	long d_map = f->mapped.k4 - f->before.k4;
	long d2_map = f->mapped.m2 - f->before.m2;
	long d_unmap = f->after.k4 - f->pre_unmap.k4;
	long d2_unmap = f->after.m2 - f->pre_unmap.m2;
	long cm[NR_CTRS] = { 0 }, cu[NR_CTRS] = { 0 };
	bool cok;
	int i;

	if (f->err) {
		printf("    %-16s %-9s %s\n", blabel[f->b], f->variant,
		       na_text(f->b, f->err, f->step));
		printf("BENCH test=dmap variant=%s backend=%s status=na reason=%s\n",
		       f->variant, bkey[f->b], na_key(f->err, f->step));
		return;
	}
	if (!f->before.ok) {
		printf("    %-16s %-9s n/a (no DirectMap4k/2M in /proc/meminfo)\n",
		       blabel[f->b], f->variant);
		printf("BENCH test=dmap variant=%s backend=%s status=na reason=no_meminfo_directmap\n",
		       f->variant, bkey[f->b]);
		return;
	}
	printf("    %-16s %-9s %+10ld %10.1f/%-4s %+10ld %+10ld %+10ld\n",
	       blabel[f->b], f->variant, d_map, d_map / f->units, unit, d2_map,
	       d_unmap, d2_unmap);
	printf("BENCH test=dmap variant=%s backend=%s status=ok dm4k_before_kb=%ld dm4k_mapped_kb=%ld dm4k_pre_unmap_kb=%ld dm4k_after_kb=%ld dm2m_before_kb=%ld dm2m_mapped_kb=%ld dm2m_after_kb=%ld dm4k_change_map_kb=%ld dm4k_change_unmap_kb=%ld dm4k_kb_per_%s=%.1f",
	       f->variant, bkey[f->b], f->before.k4, f->mapped.k4,
	       f->pre_unmap.k4, f->after.k4,
	       f->before.m2, f->mapped.m2, f->after.m2, d_map, d_unmap,
	       !strcmp(unit, "MiB") ? "mib" : "page", d_map / f->units);
	if (!strcmp(unit, "page"))
		printf(" dm4k_change_per_512_pages_kb=%ld", d_map);
	cok = f->b == B_DEV && ctrs_add(cm, &f->c_before, &f->c_mapped) &&
	      ctrs_add(cu, &f->c_pre_unmap, &f->c_after);
	if (cok)
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s_map=%ld %s_unmap=%ld", ctr_name[i], cm[i],
			       ctr_name[i], cu[i]);
	printf("\n");
	if (cok) {
		printf("    %-16s %-9s counters on map/unmap:", "", "");
		for (i = 0; i < NR_CTRS; i++)
			printf(" %s %ld/%ld", ctr_name[i], cm[i], cu[i]);
		printf("\n");
	}
}

void bench_frag(void)
{
	struct frag f[] = {
		{ .variant = "512x4KiB", .b = B_DEV },
		{ .variant = "64MiB", .b = B_DEV },
		{ .variant = "512x4KiB", .b = B_MEMFD },
		{ .variant = "64MiB", .b = B_MEMFD },
		{ .variant = "64MiB", .b = B_ANON },
	};
	const int n = ARRAY_SIZE(f);
	int i;

	printf("\n[1] direct-map fragmentation (/proc/meminfo DirectMap4k/2M, kB); runs first:\n");
	printf("    splits of 2 MiB direct-map pages are permanent, so only the first row starts\n");
	printf("    from a boot-fresh direct map.  Order: /dev/secretmem (512 x 4 KiB, then 64 MiB),\n");
	printf("    memfd_secret (same), anon+mlock (control).  Every step stays mapped until all\n");
	printf("    are done (no step reuses frames freed by another), then unmap in reverse order.\n");
	fflush(stdout);
	for (i = 0; i < n; i++) {
		f[i].err = avail_err[f[i].b];
		f[i].step = f[i].b == B_DEV ? "open" : "memfd_secret";
		if (!f[i].err)
			frag_map(&f[i]);
		if (f[i].b == B_ANON && f[i].maps)	/* control: unmap now */
			frag_unmap(&f[i]);
	}
	for (i = n - 1; i >= 0; i--)
		if (f[i].maps)
			frag_unmap(&f[i]);

	printf("\n    %-16s %-9s %10s %15s %10s %10s %10s\n", "backend", "variant",
	       "4k:map", "4k per unit", "2M:map", "4k:unmap", "2M:unmap");
	for (i = 0; i < n; i++)
		frag_report(&f[i]);
	fflush(stdout);
}
