// SPDX-License-Identifier: GPL-2.0
// test_counters.c - the sysfs counters: pages and regions, readable without addresses, tracking mmap, allocation failures.
#include <ctype.h>
#include <sys/stat.h>

#include "sm_test.h"

SM_FILE("counters", 70, 300);

SM_TEST(test_sysfs_counters)
{
	long pages0, regions0, v;
	uint8_t *a, *b;

	pages0 = sm_counter("pages");
	regions0 = sm_counter("regions");
	if (pages0 < 0 && regions0 < 0)
		SKIP("%s and %s missing", SM_SYSFS_PAGES, SM_SYSFS_REGIONS);
	if (pages0 > 0 || regions0 > 0)
		printf("NOTE: %s: counters not 0 at start (pages %ld, regions %ld)\n",
		       tcase_name(), pages0, regions0);

	a = sm_map_pages(4);
	b = sm_map_pages(8);
	if (pages0 >= 0) {
		v = sm_counter("pages");
		ck_assert_msg(v == pages0 + 12, "pages %ld with 12 mapped, was %ld", v, pages0);
	}
	if (regions0 >= 0) {
		v = sm_counter("regions");
		ck_assert_msg(v == regions0 + 2, "regions %ld with 2 mapped, was %ld",
			      v, regions0);
	}
	ck_assert(!munmap(a, 4 * PAGE_SZ));
	if (pages0 >= 0) {
		v = sm_counter("pages");
		ck_assert_msg(v == pages0 + 8, "pages %ld after freeing 4 of 12, was %ld",
			      v, pages0);
	}
	ck_assert(!munmap(b + 2 * PAGE_SZ, 2 * PAGE_SZ));
	ck_assert(!munmap(b, 2 * PAGE_SZ));
	ck_assert(!munmap(b + 4 * PAGE_SZ, 4 * PAGE_SZ));
	assert_counters(pages0, regions0, "after unmapping everything");
	if (pages0 >= 0)
		ck_assert_msg(sm_counter("pages") == 0,
			      "%ld pages in use with no users", sm_counter("pages"));
	if (regions0 >= 0)
		ck_assert_msg(sm_counter("regions") == 0,
			      "%ld regions with no users", sm_counter("regions"));
}
END_TEST

/* ---- module unload (runs last) ---- */

/* ---- sysfs counters ---- */

static const char *const counter_names[] = {
	"regions", "pages", "peak_pages", "alloc_failures", "tlb_flushes",
	"dmap_changes", "dmap_splits",
};

#define NCOUNTERS	(sizeof(counter_names) / sizeof(counter_names[0]))

/* Whole content of a small sysfs file, trailing newline kept. */
static void read_attr(const char *name, char *buf, size_t n)
{
	char path[256];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), SM_SYSFS_DEV "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	r = read(fd, buf, n - 1);
	close(fd);
	ck_assert_msg(r > 0, "%s: read: %s", path, r < 0 ? strerror(errno) : "empty");
	buf[r] = 0;
}

SM_TEST(test_counters_readable_no_addresses)
{
	const char *method = getenv("SECRETMEM_METHOD");
	char buf[128], path[256];
	struct stat st;
	size_t i, j, len;

	for (i = 0; i < NCOUNTERS + 1; i++) {
		const char *name = i < NCOUNTERS ? counter_names[i] : "dmap_method";

		snprintf(path, sizeof(path), SM_SYSFS_DEV "/%s", name);
		ck_assert_msg(!stat(path, &st), "%s: %s", path, strerror(errno));
		ck_assert_msg(!(st.st_mode & 0222), "%s is writable (mode %03o)", path,
			      st.st_mode & 0777);
		read_attr(name, buf, sizeof(buf));
		len = strlen(buf);
		ck_assert_msg(len >= 2 && buf[len - 1] == '\n', "%s: '%s' is not one line",
			      path, buf);
		if (i == NCOUNTERS) {
			buf[len - 1] = 0;
			ck_assert_msg(!strcmp(buf, "kernel") || !strcmp(buf, "pte"),
				      "%s is '%s', expected kernel or pte", path, buf);
			if (method && (!strcmp(method, "kernel") || !strcmp(method, "pte")))
				ck_assert_msg(!strcmp(buf, method),
					      "%s is '%s' but the module was loaded with "
					      "dmap_method=%s", path, buf, method);
			continue;
		}
		/* a small decimal number: no pointer, no hex, no sign */
		for (j = 0; j < len - 1; j++)
			ck_assert_msg(isdigit((unsigned char)buf[j]), "%s: '%s' is not decimal",
				      path, buf);
		ck_assert_msg(len - 1 <= 12, "%s: %s is too large for a counter "
			      "(a kernel address?)", path, buf);
	}
}
END_TEST

SM_TEST_FIX(test_counters_track_mmap, fix_pool_off)
{
	static const size_t sizes[] = { 16, 64, 1 };
	long r0, p0, t0, d0, s0, v, total = 0;
	void *maps[3];
	size_t i;
	int fd;

	r0 = counter("regions");
	p0 = counter("pages");
	t0 = counter("tlb_flushes");
	d0 = counter("dmap_changes");
	s0 = counter("dmap_splits");
	for (i = 0; i < 3; i++) {
		fd = dev_open();
		maps[i] = sm_mmap(fd, sizes[i] * PAGE_SZ);
		close(fd);
		memset(maps[i], 0x11, sizes[i] * PAGE_SZ);
		total += sizes[i];
		v = counter("tlb_flushes");
		ck_assert_msg(v == t0 + (long)i + 1,
			      "tlb_flushes %ld after %zu mmap calls, was %ld",
			      v, i + 1, t0);
	}
	v = counter("regions");
	ck_assert_msg(v == r0 + 3, "regions %ld with 3 regions mapped, was %ld", v, r0);
	v = counter("pages");
	ck_assert_msg(v == p0 + total, "pages %ld with %ld mapped, was %ld", v, total, p0);
	v = counter("dmap_changes");
	ck_assert_msg(v >= d0 + total, "dmap_changes %ld after taking %ld pages out, was %ld",
		      v, total, d0);
	v = counter("peak_pages");
	ck_assert_msg(v >= p0 + total, "peak_pages %ld below the %ld pages now in use",
		      v, p0 + total);
	v = counter("dmap_splits");
	ck_assert_msg(v >= s0, "dmap_splits went down: %ld -> %ld", s0, v);
	for (i = 0; i < 3; i++)
		ck_assert(!munmap(maps[i], sizes[i] * PAGE_SZ));
	v = counter("dmap_changes");
	ck_assert_msg(v >= d0 + 2 * total, "dmap_changes %ld after taking out and putting "
		      "back %ld pages, was %ld", v, total, d0);
	ck_assert_msg(counter("regions") == 0, "%ld regions with no users",
		      counter("regions"));
	ck_assert_msg(counter("pages") == 0, "%ld pages in use with no users",
		      counter("pages"));
	v = counter("peak_pages");
	ck_assert_msg(v >= p0 + total, "peak_pages %ld fell below the peak %ld after munmap",
		      v, p0 + total);
}
END_TEST

SM_TEST_FIX(test_counters_alloc_failures_on_refusal, fix_max_pages)
{
	long used, af0, r0, v;
	void *p;
	int fd;

	if (geteuid() != 0)
		SKIP("needs root to lower max_pages");
	af0 = counter("alloc_failures");
	r0 = counter("regions");
	used = counter("pages");
	ck_assert_msg(!write_long_file(SM_PARAM_MAX_PAGES, used + 16), "writing %s: %s",
		      SM_PARAM_MAX_PAGES, strerror(errno));
	fd = dev_open();
	errno = 0;
	p = mmap(NULL, 32 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		munmap(p, 32 * PAGE_SZ);
	ck_assert_msg(p == MAP_FAILED, "32 pages with max_pages 16 free: mmap succeeded");
	ck_assert_msg(errno == ENOMEM, "32 pages over max_pages: %s, expected ENOMEM",
		      strerror(errno));
	v = counter("alloc_failures");
	ck_assert_msg(v == af0 + 1, "alloc_failures %ld after a refused mmap, was %ld", v, af0);
	ck_assert_msg(counter("pages") == used, "pages %ld after a refused mmap, was %ld",
		      counter("pages"), used);
	ck_assert_msg(counter("regions") == r0, "regions %ld after a refused mmap, was %ld",
		      counter("regions"), r0);
	/* one that fits is not a failure */
	p = sm_mmap(fd, 8 * PAGE_SZ);
	ck_assert(!munmap(p, 8 * PAGE_SZ));
	close(fd);
	v = counter("alloc_failures");
	ck_assert_msg(v == af0 + 1, "alloc_failures %ld after a fitting mmap, expected %ld",
		      v, af0 + 1);
}
END_TEST
