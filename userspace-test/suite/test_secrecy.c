// SPDX-License-Identifier: GPL-2.0
// test_secrecy.c - secrecy probes, each with a control on anonymous memory: ptrace, /proc/PID/mem, process_vm_readv, vmsplice, core dumps, /proc/kcore.
#include <sys/stat.h>

#include "sm_test.h"

#define HOLD_PAGES	32
/* more copies in the control: a few freed pages get reused before a scan */
#define HOLD_PAGES_ANON	128

SM_FILE("secrecy", 20, 900);

static void start_holder(struct holder *h, enum mem_kind kind,
			 const struct pattern *p, bool core, const char *cwd)
{
	struct holder_opts o = {
		.kind = kind, .core = core, .cwd = cwd,
		.pages = kind == MEM_ANON ? HOLD_PAGES_ANON : HOLD_PAGES,
	};
	char err[256];

	ck_assert_msg(!holder_start(h, &o, p, err, sizeof(err)), "%s %s",
		      kind == MEM_ANON ? "control (anonymous memory):" :
		      "secretmem:", err);
}

static int kcore_scan_checked(struct kcore *k, const struct pattern *p,
			      uint64_t *pa)
{
	int r = kcore_scan(k, p, pa);

	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	return r;
}

/* Pages/regions counters are back to where they were (skipped if absent). */

typedef int (*remote_probe)(pid_t pid, uintptr_t addr, const struct pattern *p, int *err);

static void remote_probe_test(remote_probe probe, const char *name, int want_err)
{
	struct pattern pc, ps;
	struct holder h;
	int r, err = 0;

	pattern_new(&pc);
	pattern_new(&ps);

	start_holder(&h, MEM_ANON, &pc, false, NULL);
	r = probe(h.pid, h.secret, &pc, &err);
	holder_kill(&h, SIGKILL);
	ck_assert_msg(r != -2, "control: PTRACE_ATTACH failed: %s", strerror(err));
	ck_assert_msg(r != -1, "control: %s on anonymous memory failed: %s "
		      "(the probe cannot detect a leak)", name, strerror(err));
	ck_assert_msg(r == 1, "control: %s read anonymous memory but not the pattern", name);

	start_holder(&h, MEM_SECRET, &ps, false, NULL);
	r = probe(h.pid, h.secret, &ps, &err);
	holder_kill(&h, SIGKILL);
	ck_assert_msg(r != -2, "PTRACE_ATTACH failed: %s", strerror(err));
	ck_assert_msg(r != 1, "%s READ THE SECRET from secretmem", name);
	ck_assert_msg(r == -1, "%s read secretmem (no pattern seen, but it should fail)", name);
	ck_assert_msg(err == want_err, "%s on secretmem failed with %s, expected %s",
		      name, strerror(err), strerror(want_err));
}

SM_TEST(test_ptrace_peek_eio)
{
	remote_probe_test(probe_ptrace_peek, "ptrace(PTRACE_PEEKDATA)", EIO);
}
END_TEST

SM_TEST(test_proc_pid_mem_eio)
{
	remote_probe_test(probe_proc_mem, "pread(/proc/PID/mem)", EIO);
}
END_TEST

SM_TEST(test_process_vm_readv_efault)
{
	remote_probe_test(probe_vm_readv, "process_vm_readv", EFAULT);
}
END_TEST

SM_TEST(test_vmsplice_efault)
{
	struct pattern pc, ps;
	uint8_t *a, *s;
	int r, err = 0;

	pattern_new(&pc);
	pattern_new(&ps);
	a = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(a != MAP_FAILED);
	pattern_write(&pc, a);
	r = probe_vmsplice(a, &pc, &err);
	ck_assert_msg(r == 1, "control: vmsplice of anonymous memory: %s",
		      r < 0 ? strerror(err) : "pattern not seen in the pipe");
	munmap(a, PAGE_SZ);

	s = sm_map_pages(1);
	pattern_write(&ps, s);
	r = probe_vmsplice(s, &ps, &err);
	ck_assert_msg(r != 1, "vmsplice MOVED THE SECRET into a pipe");
	ck_assert_msg(r == -1, "vmsplice of secretmem succeeded");
	ck_assert_msg(err == EFAULT, "vmsplice of secretmem: %s, expected EFAULT",
		      strerror(err));
	munmap(s, PAGE_SZ);
}
END_TEST

/* Abort a holder of the given kind; 1 = core has the pattern, 0 = not, -1 = no core. */
static int core_probe(enum mem_kind kind, const struct pattern *p, const char *dir,
		      char *why, size_t whylen)
{
	char path[256];
	struct holder h;
	uint64_t where;
	struct stat st;
	int status, fd, r;

	start_holder(&h, kind, p, true, dir);
	if (core_path(h.pid, "smholder", dir, path, sizeof(path), why, whylen)) {
		holder_kill(&h, SIGKILL);
		return -2;
	}
	unlink(path);
	status = holder_abort(&h);
	if (!WIFSIGNALED(status) || !WCOREDUMP(status)) {
		snprintf(why, whylen, "holder status 0x%x: no core dumped", status);
		unlink(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !st.st_size) {
		snprintf(why, whylen, "core file %s missing or empty: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	r = scan_fd(fd, 0, 0, p, &where);
	close(fd);
	unlink(path);
	if (r < 0)
		snprintf(why, whylen, "reading core file %s: %s", path, strerror(errno));
	return r;
}

SM_TEST(test_coredump_no_pattern)
{
	char dir[] = "/tmp/smcore.XXXXXX", why[512] = "";
	struct pattern pc, ps;
	int r;

	pattern_new(&pc);
	pattern_new(&ps);
	ck_assert_msg(mkdtemp(dir), "mkdtemp: %s", strerror(errno));

	r = core_probe(MEM_ANON, &pc, dir, why, sizeof(why));
	if (r == -2 || r == -1) {
		rmdir(dir);
		SKIP("control core dump not possible: %s", why);
	}
	ck_assert_msg(r == 1, "control: core of anonymous memory lacks the pattern "
		      "(the probe cannot detect a leak) %s", why);

	r = core_probe(MEM_SECRET, &ps, dir, why, sizeof(why));
	rmdir(dir);
	ck_assert_msg(r != 1, "the core dump CONTAINS THE SECRET");
	ck_assert_msg(r == 0, "secretmem holder: %s", why);
}
END_TEST

/* ---- /proc/kcore ---- */

/*
 * Control first, then a secretmem holder of @pages pages with a fresh
 * pattern: a scan of every RAM segment of /proc/kcore must not find it.
 */
static void kcore_secret_not_found(size_t pages)
{
	struct holder_opts o = { .kind = MEM_SECRET, .pages = pages };
	struct pattern ps;
	struct holder hs;
	struct kcore k;
	uint64_t pa = 0;
	char err[256];
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	pattern_new(&ps);
	ck_assert_msg(!holder_start(&hs, &o, &ps, err, sizeof(err)),
		      "secretmem holder of %zu pages: %s", pages, err);
	r = kcore_scan_checked(&k, &ps, &pa);
	holder_kill(&hs, SIGKILL);
	kcore_close(&k);
	ck_assert_msg(r == 0, "the secret is READABLE via /proc/kcore at phys 0x%llx",
		      (unsigned long long)pa);
}

SM_TEST(test_kcore_no_pattern_while_mapped)
{
	kcore_secret_not_found(HOLD_PAGES);
}
END_TEST

/*
 * A region of 4 MiB and a page: two 2 MiB chunks, which the pte method takes
 * out of the direct map as single 2 MiB entries, and a 4 KiB one.  A kcore
 * read of either kind of entry must find nothing.
 */
SM_TEST(test_kcore_no_pattern_in_2mib_chunks)
{
	kcore_secret_not_found(2 * 512 + 1);
}
END_TEST

enum release { REL_MUNMAP, REL_EXIT, REL_SIGKILL };

static const char *const release_name[] = { "munmap", "exit", "SIGKILL" };

static void release_holder(struct holder *h, enum release how)
{
	int st;

	switch (how) {
	case REL_MUNMAP:
		ck_assert_msg(!holder_unmap(h), "holder munmap failed");
		break;
	case REL_EXIT:
		st = holder_exit(h);
		ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "holder status 0x%x", st);
		break;
	case REL_SIGKILL:
		st = holder_kill(h, SIGKILL);
		ck_assert_msg(WIFSIGNALED(st), "holder status 0x%x", st);
		break;
	}
}

static void kcore_after_free_test(enum release how, bool control)
{
	long pages0, regions0, taint0;
	struct pattern pc, ps;
	struct holder h;
	struct kcore k;
	uint64_t pa = 0;
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	pattern_new(&pc);
	pattern_new(&ps);
	taint0 = kernel_bad_taint();
	pages0 = sm_counter("pages");
	regions0 = sm_counter("regions");

	if (control && file_has("/proc/cmdline", "init_on_free=1")) {
		printf("NOTE: %s: init_on_free=1, no after-free control\n", tcase_name());
		control = false;
	}
	if (control) {
		start_holder(&h, MEM_ANON, &pc, false, NULL);
		release_holder(&h, how);
		r = kcore_scan_checked(&k, &pc, &pa);
		if (how != REL_MUNMAP)
			holder_kill(&h, SIGKILL);
		else
			holder_exit(&h);
		ck_assert_msg(r == 1, "control: no stale copy of a pattern in freed "
			      "anonymous memory after %s (does the kernel scrub freed "
			      "pages, e.g. init_on_free?): the scan cannot detect a leak",
			      release_name[how]);
	}

	start_holder(&h, MEM_SECRET, &ps, false, NULL);
	if (!quick) {
		/* test_kcore_no_pattern_while_mapped covers this too */
		r = kcore_scan_checked(&k, &ps, &pa);
		ck_assert_msg(r == 0, "the secret is READABLE via /proc/kcore at phys "
			      "0x%llx while mapped", (unsigned long long)pa);
	}
	release_holder(&h, how);
	r = kcore_scan_checked(&k, &ps, &pa);
	if (how == REL_MUNMAP) {
		assert_counters(pages0, regions0, "after munmap");
		holder_exit(&h);
	}
	kcore_close(&k);
	ck_assert_msg(r == 0, "a trace of the secret is in RAM at phys 0x%llx after %s "
		      "(pages not scrubbed?)", (unsigned long long)pa, release_name[how]);
	assert_counters(pages0, regions0, "after the holder is gone");
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE (check dmesg)");
}

SM_TEST(test_kcore_no_trace_after_munmap)
{
	kcore_after_free_test(REL_MUNMAP, true);
}
END_TEST

SM_TEST(test_kcore_no_trace_after_exit)
{
	kcore_after_free_test(REL_EXIT, !quick);
}
END_TEST

SM_TEST(test_kcore_no_trace_after_sigkill)
{
	kcore_after_free_test(REL_SIGKILL, false);
}
END_TEST

/* ---- memory comes back ---- */
