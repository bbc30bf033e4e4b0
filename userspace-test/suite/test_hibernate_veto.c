// SPDX-License-Identifier: GPL-2.0
// test_hibernate_veto.c - the hibernation veto: /dev/snapshot opens while nothing is mapped, EPERM while a region exists.

#include "sm_test.h"

SM_FILE("hibernation", 115, 900);

/* ---- hibernation veto ---- */

static void expect_snapshot_ok(const char *when)
{
	int err = snapshot_try(O_RDONLY);

	ck_assert_msg(!err, "%s: open(%s, O_RDONLY) failed: %s (secretmem pages in use: %ld)",
		      when, SM_SNAPSHOT, strerror(err), sm_counter("pages"));
}

SM_TEST(test_hibernation_allowed_when_nothing_mapped)
{
	SNAPSHOT_OR_SKIP();
	ck_assert_msg(sm_counter("pages") <= 0, "%ld secret pages in use before the test",
		      sm_counter("pages"));
	expect_snapshot_ok("nothing mapped");
}
END_TEST

SM_TEST(test_hibernation_allowed_with_unmapped_fd)
{
	int fd;

	SNAPSHOT_OR_SKIP();
	fd = dev_open();
	expect_snapshot_ok("an fd open, nothing mapped");
	set_flags(fd, SM_FLAG_SETTABLE);
	expect_snapshot_ok("an fd with flags set, nothing mapped");
	close(fd);
}
END_TEST

/* /dev/kmsg positioned at the end, or -1 */
static int kmsg_open_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Append the records logged since kmsg_open_end() to buf (NUL-terminated). */
static void kmsg_collect(int fd, char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n;

	buf[0] = 0;
	while (used < size - 1) {
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		used += n;
		buf[used] = 0;
	}
}

SM_TEST(test_hibernation_refused_while_mapped)
{
	const char *hib = "refusing to hibernate", *res = "refusing to restore";
	int fd, kfd, err_rd, err_wr, hib0 = -1, res0 = -1;
	bool hib_seen, res_seen;
	uint8_t *p;

	SNAPSHOT_OR_SKIP();
	expect_snapshot_ok("before mapping");

	kfd = kmsg_open_end();
	if (kfd < 0) {
		hib0 = klog_count(hib);
		res0 = klog_count(res);
	}
	fd = dev_open();
	p = sm_mmap(fd, 16 * PAGE_SZ);
	close(fd);
	memset(p, 0x3c, 16 * PAGE_SZ);
	err_rd = snapshot_try(O_RDONLY);	/* hibernate: PM_HIBERNATION_PREPARE */
	err_wr = snapshot_try(O_WRONLY);	/* restore: PM_RESTORE_PREPARE */
	if (kfd >= 0) {
		char *log = malloc(64 << 10);

		ck_assert(log);
		kmsg_collect(kfd, log, 64 << 10);
		close(kfd);
		hib_seen = strstr(log, hib) != NULL;
		res_seen = strstr(log, res) != NULL;
		free(log);
	} else {
		hib_seen = klog_count(hib) > hib0;
		res_seen = klog_count(res) > res0;
	}
	ck_assert(!munmap(p, 16 * PAGE_SZ));
	ck_assert_msg(err_rd == EPERM,
		      "open(%s, O_RDONLY) with a region mapped: %s, expected EPERM",
		      SM_SNAPSHOT, err_rd ? strerror(err_rd) : "succeeded (hibernation NOT refused)");
	ck_assert_msg(err_wr == EPERM,
		      "open(%s, O_WRONLY) with a region mapped: %s, expected EPERM",
		      SM_SNAPSHOT, err_wr ? strerror(err_wr) : "succeeded (restore NOT refused)");
	ck_assert_msg(hib_seen, "no \"%s\" line from the module in the kernel log", hib);
	ck_assert_msg(res_seen, "no \"%s\" line from the module in the kernel log", res);
	expect_snapshot_ok("after munmap");
}
END_TEST
