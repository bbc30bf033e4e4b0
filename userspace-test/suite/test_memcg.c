// SPDX-License-Identifier: GPL-2.0
// test_memcg.c - the pool serves a task pages charged to the memory cgroup its own allocations are charged to.
#include <sched.h>
#include <sys/stat.h>

#include "sm_test.h"

SM_FILE("memcg", 137, 900);

#define MC_OWNER	SM_CG_ROOT "/smmc_owner"
#define MC_OTHER	SM_CG_ROOT "/smmc_other"
#define MC_POOL_SIZE	16384L

/* A fresh, empty pool of a known size; drained, the old size and no cgroups after. */
static void mc_setup(void)
{
	pool_off();
	write_long_file(SM_PARAM_POOL_MAX, MC_POOL_SIZE);
}

static void mc_teardown(void)
{
	write_long_file(SM_PARAM_POOL_MAX, 0);
	pool_restore();
	rmdir(MC_OTHER);
	rmdir(MC_OWNER);
}

static SM_FIXTURE(fix_mc, mc_setup, mc_teardown);

/* Move process @pid into cgroup @dir: 0 or -1. */
static int mc_move(const char *dir, pid_t pid)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return write_str(path, buf);
}

static long mc_current(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	return read_long_file(path);
}

/* Map and touch @pages secret pages, then unmap them or (hold) keep them in *keep: 0, or an errno. */
static int mc_map_cycle(size_t pages, bool hold, volatile uint8_t **keep)
{
	int fd = sm_dev_open();
	volatile uint8_t *p;

	if (fd < 0)
		return errno;
	p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return errno;
	p[0] = 1;
	if (keep && hold) {
		*keep = p;
		return 0;
	}
	return munmap((void *)p, pages * PAGE_SZ) ? errno : 0;
}

struct mc_sibling {
	int go[2];		/* owner -> sibling: "you are in the other cgroup" */
	int done[2];		/* sibling -> owner: result */
	volatile uint8_t *held;
};

/* A task that shares the owner's mm but is a process of its own. */
static int mc_sibling_fn(void *arg)
{
	struct mc_sibling *s = arg;
	int rc;
	char c;

	if (read(s->go[0], &c, 1) != 1)
		return 1;
	rc = mc_map_cycle(1, true, &s->held);
	c = (char)rc;
	if (write(s->done[1], &c, 1) != 1)
		return 1;
	/* hold the page until the owner has looked */
	if (read(s->go[0], &c, 1) != 1)
		return 1;
	return munmap((void *)s->held, PAGE_SZ) ? 1 : 0;
}

/*
 * The owner process, in cgroup "owner", fills the pool (one 4 KiB mmap
 * makes a batch of ready pages charged to "owner").  A task made with
 * CLONE_VM but not CLONE_THREAD shares its mm, so the mm's owner (what
 * get_mem_cgroup_from_mm() looks at) stays the owner process, but it is
 * moved into cgroup "other": everything it allocates is charged there, so
 * its secret page must come from "other"'s pool, freshly charged to
 * "other", and the owner's pooled pages must stay where they are.
 */
static int mc_owner(char *msg, size_t n)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct mc_sibling s = { .held = NULL };
	long pool0, pool1, other0, other1;
	pid_t sib;
	int rc, st;
	char c = 0;

	if (mc_move(MC_OWNER, getpid()))
		CFAIL("moving into %s: %s", MC_OWNER, strerror(errno));
	rc = mc_map_cycle(1, false, NULL);
	if (rc)
		CFAIL("owner's mmap: %s", strerror(rc));
	pool0 = read_long_file(SM_SYSFS_POOL_PAGES);
	if (pool0 <= 0)
		CFAIL("the owner's mmap left %ld pages in the pool: cannot test", pool0);
	if (pipe(s.go) || pipe(s.done))
		CFAIL("pipe: %s", strerror(errno));
	sib = clone(mc_sibling_fn, stack + sizeof(stack), CLONE_VM | SIGCHLD, &s);
	if (sib < 0)
		CFAIL("clone(CLONE_VM): %s", strerror(errno));
	if (mc_move(MC_OTHER, sib)) {
		kill(sib, SIGKILL);
		CFAIL("moving the CLONE_VM sibling into %s: %s", MC_OTHER, strerror(errno));
	}
	other0 = mc_current(MC_OTHER);
	if (write(s.go[1], &c, 1) != 1 || read(s.done[0], &c, 1) != 1) {
		kill(sib, SIGKILL);
		CFAIL("talking to the sibling: %s", strerror(errno));
	}
	pool1 = read_long_file(SM_SYSFS_POOL_PAGES);
	other1 = mc_current(MC_OTHER);
	if (write(s.go[1], &c, 1) != 1)
		kill(sib, SIGKILL);
	waitpid(sib, &st, 0);
	if (c)
		CFAIL("the sibling's mmap failed: %s", strerror(c));
	if (pool1 < pool0)
		CFAIL("the pool went from %ld to %ld pages: the sibling in %s was served pages "
		      "charged to %s (its mm owner's cgroup)", pool0, pool1, MC_OTHER, MC_OWNER);
	if (other1 - other0 < (long)PAGE_SZ)
		CFAIL("memory.current of %s rose by %ld bytes while its task holds a secret page: "
		      "the page is charged elsewhere", MC_OTHER, other1 - other0);
	printf("test_pool_serves_task_memcg_not_mm_owner: pool %ld -> %ld pages, %s +%ld kB\n",
	       pool0, pool1, MC_OTHER, (other1 - other0) >> 10);
	return 0;
}

static int mc_owner_child(void *arg, char *msg, size_t n)
{
	(void)arg;
	return mc_owner(msg, n);
}

SM_TEST_FIX(test_pool_serves_task_memcg_not_mm_owner, fix_mc)
{
	if (read_long_file(SM_PARAM_POOL_MAX) <= 0)
		SKIP("the pool is off");
	memcg_or_skip();
	rmdir(MC_OTHER);
	rmdir(MC_OWNER);
	ck_assert_msg(!mkdir(MC_OWNER, 0755) && !mkdir(MC_OTHER, 0755), "mkdir: %s",
		      strerror(errno));
	run_child(mc_owner_child, NULL);
}
END_TEST
