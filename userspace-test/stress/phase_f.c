// SPDX-License-Identifier: GPL-2.0
// phase_f.c - phase F: a memory cgroup with memory.max=32M runs out.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "stress.h"

static long cg_key(const char *file, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), CG_GROUP "/%s", file);
	return file_key_space(path, key);
}

struct f_report {
	unsigned long mib;
	int err;
};

static void __attribute__((noreturn)) memcg_child(int rfd, volatile struct f_report *rep)
{
	uint8_t *p;
	char go;
	int fd;

	child_setup();
	if (read(rfd, &go, 1) != 1)
		_exit(2);
	fd = sm_dev_open();
	if (fd < 0)
		_exit(3);
	for (rep->mib = 0; rep->mib < 4 * (MEMCG_MAX >> 20); rep->mib++) {
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			rep->err = errno;
			_exit(0);
		}
		fill(p, (1 << 20) / PAGE_SZ, 0xf0);
	}
	_exit(4);	/* never ran out: the memcg did not charge secretmem */
}

void phase_f(double secs)
{
	bool mounted = false, enabled = false;
	volatile struct f_report *rep;
	char extra[256] = "", why[200], buf[32];
	long oom_kill, peak;
	int pfd[2], st;
	struct snap s;
	pid_t pid;

	(void)secs;	/* bounded by the group's size */
	snap_take(&s);
	if (sm_memcg_enable(&mounted, &enabled, why, sizeof(why))) {
		snprintf(extra, sizeof(extra), "skipped: %s", why);
		printf("SM-SKIP stress-phase-f: %s\n", why);
		goto out_umount;
	}
	rmdir(CG_GROUP);
	if (mkdir(CG_GROUP, 0755)) {
		fail("phase F: mkdir %s: %s", CG_GROUP, strerror(errno));
		goto out_disable;
	}
	snprintf(buf, sizeof(buf), "%lu", MEMCG_MAX);
	if (write_str(CG_GROUP "/memory.max", buf)) {
		fail("phase F: memory.max: %s", strerror(errno));
		goto out_rmdir;
	}
	write_str(CG_GROUP "/memory.swap.max", "0");
	rep = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED || pipe2(pfd, O_CLOEXEC)) {
		fail("phase F: mmap/pipe: %s", strerror(errno));
		goto out_rmdir;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pfd[1]);
		memcg_child(pfd[0], rep);
	}
	close(pfd[0]);
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		close(pfd[1]);
		goto out_unmap;
	}
	atomic_fetch_add(&n_forks, 1);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write_str(CG_GROUP "/cgroup.procs", buf))
		fail("phase F: moving the child into the group: %s", strerror(errno));
	if (write(pfd[1], "g", 1) != 1)
		fail("phase F: pipe: %s", strerror(errno));
	close(pfd[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	oom_kill = cg_key("memory.events", "oom_kill");
	peak = read_long_file(CG_GROUP "/memory.peak");
	atomic_fetch_add(&n_mmaps, rep->mib);
	atomic_fetch_add(&n_iter, rep->mib);
	if (WIFEXITED(st) && !WEXITSTATUS(st) && rep->err == ENOMEM) {
		atomic_fetch_add(&n_enomem, 1);
		snprintf(extra, sizeof(extra), "outcome=ENOMEM after %lu MiB (memory.max %lu MiB, "
			 "peak %ld KiB, oom_kill %ld)", rep->mib, MEMCG_MAX >> 20,
			 peak >= 0 ? peak >> 10 : -1, oom_kill);
	} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		atomic_fetch_add(&n_kills, 1);
		snprintf(extra, sizeof(extra), "outcome=OOM-killed in the group after %lu MiB "
			 "(memory.max %lu MiB, peak %ld KiB, oom_kill %ld)", rep->mib,
			 MEMCG_MAX >> 20, peak >= 0 ? peak >> 10 : -1, oom_kill);
	} else {
		fail("phase F: memcg child status 0x%x, mmap errno %d after %lu MiB (exit 4: "
		     "never ran out of a %lu MiB group: not charged to the memcg)",
		     st, rep->err, rep->mib, MEMCG_MAX >> 20);
	}
	if (counters_settle(5000))
		fail("phase F: pages=%ld regions=%ld after the memcg child is gone",
		     sm_counter("pages"), sm_counter("regions"));
out_unmap:
	munmap((void *)rep, PAGE_SZ);
out_rmdir:
	if (rmdir(CG_GROUP))
		fail("phase F: rmdir %s: %s (charges left behind?)", CG_GROUP, strerror(errno));
out_disable:
	if (enabled)
		write_str(SM_CG_ROOT "/cgroup.subtree_control", "-memory");
out_umount:
	if (mounted)
		umount(SM_CG_ROOT);
	snap_print("f (memcg limit)", &s, extra);
	check_idle("f");
}

/* ---- phase G: fault injection ---- */
