// SPDX-License-Identifier: GPL-2.0
// test_lost.c - a direct-map entry changed behind the module's back (fault_restore_nth): the chunk is lost, never scrubbed or freed.

#include "sm_test.h"

/* Late (after limits): a lost chunk stays lost, and blocks hibernation, until reboot. */
SM_FILE("lost", 135, 900);

/* Pool off (every teardown restores to the allocator), hook off after. */
static void lost_setup(void)
{
	pool_off();
}

static void lost_teardown(void)
{
	write_long_file(SM_PARAM_FAULT_RESTORE, 0);
	pool_restore();
}

static SM_FIXTURE(fix_lost, lost_setup, lost_teardown);

/* With the hook off, teardowns lose nothing. */
SM_TEST_FIX(test_restore_unchanged_entry_loses_nothing, fix_lost)
{
	long lost = counter("lost_pages");
	int fd = dev_open();
	size_t len[] = { PAGE_SZ, 16 * PAGE_SZ, 2UL << 20, (2UL << 20) + PAGE_SZ };
	size_t i;

	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		volatile uint8_t *p = sm_mmap(fd, len[i]);

		p[0] = 1;
		p[len[i] - 1] = 1;
		ck_assert(!munmap((void *)p, len[i]));
	}
	close(fd);
	ck_assert_msg(counter("lost_pages") == lost, "lost_pages %ld, was %ld",
		      counter("lost_pages"), lost);
}

/*
 * The module's hook makes the first page restore of a teardown find its
 * entry changed: the chunk must be marked lost, neither scrubbed where it
 * may be out of the direct map (clear_page() would oops) nor freed, the
 * region's counters must still go back, the kernel must not warn, the
 * secret must stay unreadable through /proc/kcore, and hibernation must be
 * refused while pages are lost (the image writer would map and copy them).
 * Writing the hook again retries lost chunks: this one's entries are
 * intact, so it comes back, zeroed, and hibernation is allowed again.
 */
SM_TEST_FIX(test_restore_changed_entry_loses_chunk, fix_lost)
{
	struct holder_opts o = { .kind = MEM_SECRET, .pages = 4 };
	long lost, now, pages, regions, taint = kernel_bad_taint();
	struct pattern ps;
	struct holder hs;
	struct kcore k;
	uint64_t pa = 0;
	char err[256];
	int r, snap;

	if (access(SM_PARAM_FAULT_RESTORE, F_OK))
		ck_abort_msg("no %s: module without the restore fault hook", SM_PARAM_FAULT_RESTORE);
	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	lost = counter("lost_pages");
	pages = counter("pages");
	regions = counter("regions");

	pattern_new(&ps);
	ck_assert_msg(!holder_start(&hs, &o, &ps, err, sizeof(err)),
		      "secretmem holder: %s", err);
	ck_assert(!write_long_file(SM_PARAM_FAULT_RESTORE, 1));
	holder_exit(&hs);

	now = counter("lost_pages");
	ck_assert_msg(now > lost && now <= lost + 4,
		      "lost_pages %ld, was %ld: the chunk (1-4 pages) was not marked lost",
		      now, lost);
	ck_assert_msg(counter("pages") == pages && counter("regions") == regions,
		      "pages %ld regions %ld after teardown, expected %ld %ld",
		      counter("pages"), counter("regions"), pages, regions);
	ck_assert_msg(kernel_bad_taint() == taint, "the kernel warned or oopsed (see dmesg)");
	r = kcore_scan(&k, &ps, &pa);
	snap = access(SM_SNAPSHOT, F_OK) ? -1 : snapshot_try(O_RDONLY);

	/* any write of the hook retries: the entries are intact */
	ck_assert(!write_long_file(SM_PARAM_FAULT_RESTORE, 0));
	ck_assert_msg(r == 0, "the lost chunk's secret is READABLE via /proc/kcore at 0x%llx",
		      (unsigned long long)pa);
	if (snap >= 0)
		ck_assert_msg(snap == EPERM, "open(/dev/snapshot) with %ld lost pages: %s, "
			      "expected EPERM (hibernation refused)", now - lost,
			      snap ? strerror(snap) : "succeeded");
	ck_assert_msg(counter("lost_pages") == lost,
		      "lost_pages %ld after the retry, was %ld before: intact entries not recovered",
		      counter("lost_pages"), lost);
	r = kcore_scan(&k, &ps, &pa);
	kcore_close(&k);
	ck_assert_msg(r == 0, "the recovered chunk's secret is READABLE via /proc/kcore at "
		      "0x%llx: not zeroed before it was freed", (unsigned long long)pa);
	if (snap >= 0)
		ck_assert_msg(!snapshot_try(O_RDONLY), "hibernation still refused after the retry");
	ck_assert_msg(kernel_bad_taint() == taint, "the kernel warned or oopsed (see dmesg)");
}
