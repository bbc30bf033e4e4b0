// SPDX-License-Identifier: GPL-2.0
// test_uncached.c - uncached mappings (SECRETMEM_FLAG_UNCACHED): PAT entries, contents, /proc/kcore.

#include "sm_test.h"

#define PAT_LIST	"/sys/kernel/debug/x86/pat_memtype_list"

SM_FILE("uncached", 50, 900);

/* ---- uncached mappings ---- */

static long pat_uc_entries(void)
{
	char line[256];
	long n = 0;
	FILE *f;

	f = fopen(PAT_LIST, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "uncached-minus"))
			n++;
	fclose(f);
	return n;
}

SM_TEST(test_uncached_mapping_rw)
{
	const size_t len = 64 << 10;
	long pages0 = sm_counter("pages"), regions0 = sm_counter("regions"), pat0, pat1;
	long taint0 = kernel_bad_taint(), off;
	struct secretmem_info info;
	volatile uint64_t *q;
	size_t i;
	int fd = dev_open();

	UNCACHED_OR_SKIP();

	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	pat0 = pat_uc_entries();
	q = sm_mmap(fd, len);
	pat1 = pat_uc_entries();
	get_info(fd, &info);
	ck_assert_msg(info.mapped_bytes == len && (info.protections & SECRETMEM_PROT_UNCACHED),
		      "UC fd: mapped_bytes %llu protections 0x%llx",
		      (unsigned long long)info.mapped_bytes,
		      (unsigned long long)info.protections);
	off = sm_first_nonzero(q, len);
	ck_assert_msg(off < 0, "uncached mapping not zeroed at offset %ld", off);
	for (i = 0; i < len / 8; i++)
		q[i] = i * 0x9e3779b97f4a7c15ULL ^ 0x5555;
	for (i = 0; i < len / 8; i++)
		ck_assert_msg(q[i] == (i * 0x9e3779b97f4a7c15ULL ^ 0x5555),
			      "uncached mapping: word %zu reads back 0x%llx", i,
			      (unsigned long long)q[i]);
	if (pages0 >= 0)
		ck_assert_msg(sm_counter("pages") == pages0 + (long)(len / PAGE_SZ),
			      "pages %ld with a 16-page UC region, was %ld",
			      sm_counter("pages"), pages0);
	ck_assert(!munmap((void *)q, len));
	close(fd);
	if (pages0 >= 0)
		ck_assert_msg(sm_counter("pages") == pages0, "pages %ld after munmap, was %ld",
			      sm_counter("pages"), pages0);
	if (regions0 >= 0)
		ck_assert_msg(sm_counter("regions") == regions0, "regions %ld after munmap, was %ld",
			      sm_counter("regions"), regions0);
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
	if (pat0 < 0)
		printf("NOTE: %s: %s absent (debugfs or CONFIG_X86_PAT): memtype not checked\n",
		       tcase_name(), PAT_LIST);
	else
		printf("NOTE: %s: %s lists %ld uncached-minus ranges before, %ld while mapped "
		       "(RAM memtypes live in page flags, not this list: not asserted)\n",
		       tcase_name(), PAT_LIST, pat0, pat1);
}
END_TEST

SM_TEST(test_uncached_kcore_no_pattern)
{
	const size_t pages = 32, len = pages * PAGE_SZ;
	struct pattern ps;
	struct kcore k;
	uint64_t pa = 0;
	uint8_t *p;
	int r, fd;

	UNCACHED_OR_SKIP();

	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	pattern_new(&ps);
	fd = dev_open();
	set_flags(fd, SECRETMEM_FLAG_UNCACHED);
	p = sm_mmap(fd, len);
	close(fd);
	pattern_fill_pages(&ps, p, len);
	ck_assert(pattern_match_volatile(&ps, p + PATTERN_OFFSET));
	r = kcore_scan(&k, &ps, &pa);
	ck_assert(!munmap(p, len));
	kcore_close(&k);
	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	ck_assert_msg(r == 0, "the UNCACHED secret is READABLE via /proc/kcore at phys 0x%llx",
		      (unsigned long long)pa);
}
END_TEST
