// SPDX-License-Identifier: GPL-2.0
// test_limits_memlock.c - RLIMIT_MEMLOCK is the user's: shared by its processes, returned on every way out, CAP_IPC_LOCK exempt, GET_INFO memlock_left.

#include "sm_test.h"
#include "workers.h"

SM_FILE("limits", 130, 900);

/* ---- 1. RLIMIT_MEMLOCK per user ---- */

/*
 * Four processes of one unprivileged user, RLIMIT_MEMLOCK 64 KiB each, each
 * try to map the whole 64 KiB and hold it: only the first gets it, the
 * others get EAGAIN (the limit is the user's, not each process's).
 */
SM_TEST(test_memlock_per_user_not_per_process)
{
	struct worker w[4];
	int64_t r[4];
	int i, ok = 0;

	for (i = 0; i < 4; i++) {
		worker_start(&w[i], W_NOBODY, LIM);
		r[i] = worker_call(&w[i], OP_MAP, LIM);
		if (!r[i])
			ok++;
	}
	printf("%s: %d of 4 processes of uid 65534 each mapped the whole 64 KiB limit "
	       "(results: %s, %s, %s, %s)\n", tcase_name(), ok, sm_errname((int)(r[0])),
	       sm_errname((int)(r[1])), sm_errname((int)(r[2])), sm_errname((int)(r[3])));
	for (i = 0; i < 4; i++)
		worker_kill(&w[i]);
	ck_assert_msg(r[0] == 0, "first 64 KiB mmap of uid 65534: %s", sm_errname((int)(r[0])));
	for (i = 1; i < 4; i++)
		ck_assert_msg(r[i] == EAGAIN, "%d of 4 processes of one user each mapped its "
			      "whole 64 KiB RLIMIT_MEMLOCK (process %d: %s, expected EAGAIN): "
			      "the limit is per process, not per user", ok, i + 1, sm_errname((int)(r[i])));
}
END_TEST

/*
 * A maps 48 KiB of the user's 64 KiB: B (same uid) gets EAGAIN for 32 KiB,
 * maps 16 KiB, then EAGAIN for 4 KiB more; after A unmaps, B maps 32 KiB.
 * VmLck of each process still shows its own mappings.
 */
SM_TEST(test_memlock_shared_by_user_processes)
{
	struct worker a, b;
	int64_t r;

	worker_start(&a, W_NOBODY, LIM);
	worker_start(&b, W_NOBODY, LIM);
	r = worker_call(&a, OP_MAP, 48 * KB);
	ck_assert_msg(r == 0, "A: 48 KiB under a 64 KiB limit: %s", sm_errname((int)(r)));
	r = worker_call(&a, OP_VMLCK, 0);
	ck_assert_msg(r == 48, "A: VmLck %lld kB after mapping 48 KiB", (long long)r);
	r = worker_call(&b, OP_MAP, 32 * KB);
	ck_assert_msg(r == EAGAIN, "B: 32 KiB while A (same uid) holds 48 KiB of the 64 KiB "
		      "limit: %s, expected EAGAIN (the limit is per process)", sm_errname((int)(r)));
	r = worker_call(&b, OP_MAP, 16 * KB);
	ck_assert_msg(r == 0, "B: 16 KiB (48 + 16 = the limit): %s", sm_errname((int)(r)));
	r = worker_call(&b, OP_VMLCK, 0);
	ck_assert_msg(r == 16, "B: VmLck %lld kB after mapping 16 KiB", (long long)r);
	r = worker_call(&b, OP_MAP, 4 * KB);
	ck_assert_msg(r == EAGAIN, "B: 4 KiB past the user's limit: %s, expected EAGAIN",
		      sm_errname((int)(r)));
	worker_call(&a, OP_UNMAP, 0);
	r = worker_call(&a, OP_VMLCK, 0);
	ck_assert_msg(r == 0, "A: VmLck %lld kB after munmap", (long long)r);
	r = worker_call(&b, OP_MAP, 32 * KB);
	ck_assert_msg(r == 0, "B: 32 KiB after A unmapped its 48 KiB: %s (charge not given "
		      "back to the user)", sm_errname((int)(r)));
	r = worker_call(&b, OP_VMLCK, 0);
	ck_assert_msg(r == 48, "B: VmLck %lld kB after 16 + 32 KiB", (long long)r);
	worker_exit(&a);
	worker_exit(&b);
}
END_TEST

enum release_way { BY_MUNMAP, BY_EXIT, BY_EXEC, BY_SIGKILL, BY_UID_CHANGE_EXIT, NWAYS };

static const char *const way_name[NWAYS] = {
	"munmap", "exit", "execve", "SIGKILL", "uid change then exit",
};

/*
 * A holder maps the user's whole limit; while it holds it another process
 * of the user gets EAGAIN even for 4 KiB; once the holder has unmapped,
 * exited, exec'd, been killed, or changed its uid and exited, a fresh
 * process of the user maps the whole limit again: the charge went back to
 * the user it was taken from, whatever task tore the region down.
 */
SM_TEST(test_memlock_charge_returned_to_user)
{
	struct worker h, p;
	int64_t r;
	int way;

	for (way = 0; way < NWAYS; way++) {
		worker_start(&h, way == BY_UID_CHANGE_EXIT ? W_NOBODY_SUID0 : W_NOBODY, LIM);
		r = worker_call(&h, OP_MAP, LIM);
		ck_assert_msg(r == 0, "[%s] holder: 64 KiB: %s", way_name[way], sm_errname((int)(r)));
		worker_start(&p, W_NOBODY, LIM);
		r = worker_call(&p, OP_MAP, 4 * KB);
		ck_assert_msg(r == EAGAIN, "[%s] 4 KiB while another process of the user holds "
			      "its whole 64 KiB limit: %s, expected EAGAIN", way_name[way],
			      sm_errname((int)(r)));
		switch (way) {
		case BY_MUNMAP:
			worker_call(&h, OP_UNMAP, 0);
			break;
		case BY_EXIT:
			worker_exit(&h);
			break;
		case BY_EXEC:
			worker_exec(&h);
			break;
		case BY_SIGKILL:
			worker_kill(&h);
			break;
		case BY_UID_CHANGE_EXIT:
			r = worker_call(&h, OP_SETUID, 0);
			ck_assert_msg(r == 0, "holder: changing to uid 65533: %s", sm_errname((int)(r)));
			worker_exit(&h);
			break;
		}
		r = worker_call(&p, OP_MAP, LIM);
		ck_assert_msg(r == 0, "[%s] the whole 64 KiB after the holder let go: %s (the "
			      "charge stayed with the user%s)", way_name[way], sm_errname((int)(r)),
			      way == BY_UID_CHANGE_EXIT ? ", or went to the holder's new uid" : "");
		worker_exit(&p);
		if (way == BY_MUNMAP || way == BY_EXEC)
			worker_kill(&h);
	}
	/* Nothing left charged: a fresh process maps the whole limit. */
	worker_start(&p, W_NOBODY, LIM);
	r = worker_call(&p, OP_MAP, LIM);
	worker_exit(&p);
	ck_assert_msg(r == 0, "fresh process of uid 65534 after all holders left: %s",
		      sm_errname((int)(r)));
	ck_assert_msg(counters_idle(2000), "pages %ld regions %ld after the test",
		      counter("pages"), counter("regions"));
}
END_TEST

/*
 * CAP_IPC_LOCK lifts the limit, as for mlock: root with RLIMIT_MEMLOCK
 * 64 KiB maps 1 MiB; so does a uid-65534 process holding CAP_IPC_LOCK.
 */
SM_TEST(test_memlock_cap_ipc_lock_exempt)
{
	struct worker w, p;
	int64_t r;

	worker_start(&w, W_ROOT, LIM);
	r = worker_call(&w, OP_MAP, 1 * MB);
	worker_exit(&w);
	ck_assert_msg(r == 0, "root with RLIMIT_MEMLOCK 64 KiB: 1 MiB: %s", sm_errname((int)(r)));

	worker_start(&w, W_NOBODY_IPC_LOCK, LIM);
	r = worker_call(&w, OP_MAP, 1 * MB);
	ck_assert_msg(r == 0, "uid 65534 with CAP_IPC_LOCK, RLIMIT_MEMLOCK 64 KiB: 1 MiB: %s",
		      sm_errname((int)(r)));
	/* Not asserted: whether the exempt mapping counts against the user. */
	worker_start(&p, W_NOBODY, LIM);
	r = worker_call(&p, OP_MAP, LIM);
	printf("%s: while a CAP_IPC_LOCK process of uid 65534 holds 1 MiB, a plain one "
	       "mapping 64 KiB: %s\n", tcase_name(), sm_errname((int)(r)));
	worker_exit(&p);
	worker_exit(&w);
}
END_TEST

/*
 * GET_INFO's memlock_left is the user's: it drops by 16 KiB in one process
 * of uid 65534 when another process of that uid maps 16 KiB.
 */
SM_TEST(test_get_info_memlock_left_per_user)
{
	struct worker a, b;
	int64_t l0, l1, r;

	worker_start(&a, W_NOBODY, LIM);
	worker_start(&b, W_NOBODY, LIM);
	l0 = worker_call(&a, OP_INFO, 0);
	ck_assert_msg(l0 >= 0, "GET_INFO in A: %s", strerror((int)-l0));
	r = worker_call(&b, OP_MAP, 16 * KB);
	ck_assert_msg(r == 0, "B: 16 KiB: %s", sm_errname((int)(r)));
	l1 = worker_call(&a, OP_INFO, 0);
	printf("%s: memlock_left in A %lld -> %lld bytes after B mapped 16 KiB\n", tcase_name(),
	       (long long)l0, (long long)l1);
	worker_exit(&a);
	worker_exit(&b);
	ck_assert_msg(l0 == (int64_t)LIM, "memlock_left %lld in a fresh uid-65534 process with "
		      "RLIMIT_MEMLOCK 64 KiB (leftover charge of the user?)", (long long)l0);
	ck_assert_msg(l0 - l1 == 16 * KB, "memlock_left in A went %lld -> %lld bytes when B "
		      "(same uid) mapped 16 KiB, expected a drop of 16384", (long long)l0,
		      (long long)l1);
}
END_TEST
