// SPDX-License-Identifier: GPL-2.0
/* The Check suite's shared layer: skips, the baseline, fixtures, asserting helpers, children. */
#include <setjmp.h>
#include <stdarg.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "probe.h"
#include "sm_test.h"

/* ---- skips ---- */

unsigned int *sm_skip_count;
static bool baseline_armed;

static void baseline_setup(void);
static void baseline_teardown(void);

void sm_skip(const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* a skip does not excuse a leak: the checked teardown still runs */
	if (baseline_armed)
		baseline_teardown();
	printf("SM-SKIP %s: %s\n", tcase_name(), why);
	fflush(stdout);
	if (sm_skip_count)
		__atomic_add_fetch(sm_skip_count, 1, __ATOMIC_SEQ_CST);
	exit(EXIT_SUCCESS);	/* what Check's own child does after a test */
}

void memcg_or_skip(void)
{
	char why[256];

	if (sm_memcg_enable(NULL, NULL, why, sizeof(why)))
		SKIP("%s", why);
}

/* ---- the baseline ---- */

struct baseline sm_base;

void baseline_take(struct baseline *b)
{
	b->pages = counter("pages");
	b->regions = counter("regions");
	b->vmlck = vmlck();
	b->taint = kernel_bad_taint();
}

void expect_held(const struct baseline *b, long pages, long regions,
		 const char *when)
{
	long v;

	v = counter("pages");
	ck_assert_msg(v == b->pages + pages, "%s: pages counter %ld, expected %ld",
		      when, v, b->pages + pages);
	v = counter("regions");
	ck_assert_msg(v == b->regions + regions, "%s: regions counter %ld, expected %ld",
		      when, v, b->regions + regions);
	v = vmlck();
	ck_assert_msg(v == b->vmlck + pages * 4, "%s: VmLck %ld kB, expected %ld kB",
		      when, v, b->vmlck + pages * 4);
}

void baseline_check(const struct baseline *b, const char *when)
{
	expect_held(b, 0, 0, when);
	ck_assert_msg(kernel_bad_taint() == b->taint,
		      "%s: kernel taint gained WARN/DIE (check dmesg)", when);
}

/* The checked fixture of SM_TEST_BASE tests (runner.c adds it). */
static void baseline_setup(void)
{
	baseline_take(&sm_base);
	baseline_armed = true;
}

static void baseline_teardown(void)
{
	baseline_armed = false;
	baseline_check(&sm_base, "at the end of the test (baseline fixture)");
}

const struct sm_fixture sm_baseline_fixture = { baseline_setup, baseline_teardown };

/* ---- unchecked fixtures ---- */

static struct sm_param saved_pool_max, saved_max_pages;

void pool_off(void)
{
	sm_param_save(&saved_pool_max, SM_PARAM_POOL_MAX);
	if (saved_pool_max.val > 0)
		write_long_file(SM_PARAM_POOL_MAX, 0);
}

void pool_restore(void)
{
	sm_param_restore(&saved_pool_max);
}

SM_FIXTURE(fix_pool_off, pool_off, pool_restore);

static void max_pages_save(void)
{
	sm_param_save(&saved_max_pages, SM_PARAM_MAX_PAGES);
}

static void max_pages_restore(void)
{
	sm_param_restore(&saved_max_pages);
}

SM_FIXTURE(fix_max_pages, max_pages_save, max_pages_restore);

/* The fault tests count allocations and MemFree: no pool in between. */
static void faults_off_pool_off(void)
{
	sm_faults_off();
	pool_off();
}

static void faults_off_pool_restore(void)
{
	sm_faults_off();
	pool_restore();
}

SM_FIXTURE(fix_faults_pool_off, faults_off_pool_off, faults_off_pool_restore);

/* ---- asserting helpers ---- */

int dev_open(void)
{
	int fd = sm_dev_open();

	ck_assert_msg(fd >= 0, "open %s: %s (is module %s loaded?)",
		      SECRETMEM_DEVICE_PATH, strerror(errno),
		      SECRETMEM_MODULE_NAME);
	return fd;
}

void *sm_mmap(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap(%zu) of %s: %s", len,
		      SECRETMEM_DEVICE_PATH, strerror(errno));
	return p;
}

void *sm_map_pages(size_t pages)
{
	int fd = dev_open();
	void *p = sm_mmap(fd, pages * PAGE_SZ);

	close(fd);
	return p;
}

void expect_mmap_fail(int fd, size_t len, int prot, int flags, off_t off, int want,
		      const char *what)
{
	void *p;

	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		munmap(p, len);
	ck_assert_msg(p == MAP_FAILED, "%s: mmap succeeded, expected %s",
		      what, strerror(want));
	ck_assert_msg(errno == want, "%s: mmap failed with %s, expected %s",
		      what, strerror(errno), strerror(want));
}

long counter(const char *name)
{
	long v = sm_counter(name);

	ck_assert_msg(v >= 0, "%s/%s: missing or unreadable (%s)", SM_SYSFS_DEV, name,
		      strerror(errno));
	return v;
}

void get_info(int fd, struct secretmem_info *info)
{
	ck_assert_msg(!sm_get_info(fd, info), "SECRETMEM_IOC_GET_INFO: %s", strerror(errno));
	ck_assert_msg(info->size == sizeof(*info), "GET_INFO set .size %u, expected %zu",
		      info->size, sizeof(*info));
}

void set_flags(int fd, unsigned long long flags)
{
	__u64 v = flags;

	ck_assert_msg(!ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &v),
		      "SET_FLAGS(0x%llx): %s", flags, strerror(errno));
}

static sigjmp_buf access_jmp;

static void access_fault(int sig)
{
	siglongjmp(access_jmp, sig);
}

int access_sig(volatile uint8_t *p, int val)
{
	struct sigaction sa = { .sa_handler = access_fault }, osegv, obus;
	int sig;

	sigaction(SIGSEGV, &sa, &osegv);
	sigaction(SIGBUS, &sa, &obus);
	sig = sigsetjmp(access_jmp, 1);
	if (!sig) {
		if (val >= 0)
			*p = (uint8_t)val;
		else
			(void)*p;
	}
	sigaction(SIGSEGV, &osegv, NULL);
	sigaction(SIGBUS, &obus, NULL);
	return sig;
}

long vmlck(void)
{
	long v = proc_status_kb(0, "VmLck");

	ck_assert_msg(v >= 0, "no VmLck in /proc/self/status");
	return v;
}

/*
 * Free memory as the allocator has it: MemFree plus the pages on the
 * per-CPU free lists (/proc/zoneinfo "count:"), which MemFree leaves out.
 * Freed pages, 2 MiB ones too (order <= pageblock order), go to those
 * lists first; newer kernels let them grow to many MiB.
 */
long free_kb(void)
{
	long kb = meminfo_kb("MemFree"), pcp = 0, v;
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "re");

	if (!f)
		return kb;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &v) == 1)
			pcp += v;
	fclose(f);
	return kb + pcp * (sysconf(_SC_PAGESIZE) / 1024);
}

long slack_kb(void)
{
	long total = meminfo_kb("MemTotal");

	return 2048 + (total > 0 ? total / 100 : 0);
}

pid_t fork_held(int *go_fd)
{
	int go[2];
	pid_t pid;
	char c;

	ck_assert(!pipe2(go, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(go[1]);
		alarm(60);
		if (read(go[0], &c, 1) != 1)
			_exit(99);
		close(go[0]);
		return 0;
	}
	close(go[0]);
	*go_fd = go[1];
	return pid;
}

int release_held(int go_fd, pid_t pid)
{
	char c = 0;
	int st;

	ck_assert(write(go_fd, &c, 1) == 1);
	close(go_fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

void run_child(child_fn fn, void *arg)
{
	char msg[512] = "";
	int pfd[2], st, rc;
	ssize_t got;
	pid_t pid;

	ck_assert(!pipe2(pfd, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		rc = fn(arg, msg, sizeof(msg));
		if (rc && write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(rc ? 1 : 0);
	}
	close(pfd[1]);
	got = read(pfd[0], msg, sizeof(msg) - 1);
	msg[got > 0 ? got : 0] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		ck_abort_msg("child killed by signal %d (%s) %s", WTERMSIG(st),
			     strsignal(WTERMSIG(st)), msg);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "%s",
		      msg[0] ? msg : "child failed");
}

int nobody_open(unsigned long memlock, char *msg, size_t n)
{
	int fd;

	if (drop_to_nobody(memlock, msg, n))
		return -1;
	fd = sm_dev_open();
	if (fd < 0)
		snprintf(msg, n, "open %s as uid 65534: %s", SECRETMEM_DEVICE_PATH,
			 strerror(errno));
	return fd;
}

int touch_child(void *arg, char *msg, size_t n)
{
	size_t len = *(size_t *)arg, i;
	volatile uint8_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		CFAIL("mmap %zu MiB: %s", len >> 20, strerror(errno));
	for (i = 0; i < len; i += PAGE_SZ)
		p[i] = 1;
	return 0;
}

void kcore_control(struct kcore *k)
{
	/* more copies than a secret holder: a few freed pages get reused */
	struct holder_opts o = { .kind = MEM_ANON, .pages = 128 };
	struct pattern pc;
	struct holder hc;
	uint64_t pa = 0;
	char err[256];
	int r;

	pattern_new(&pc);
	ck_assert_msg(!holder_start(&hc, &o, &pc, err, sizeof(err)),
		      "control (anonymous memory): %s", err);
	r = kcore_scan(k, &pc, &pa);
	holder_kill(&hc, SIGKILL);
	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	ck_assert_msg(r == 1, "control: kcore scan did not find the pattern in "
		      "anonymous memory (scanned %llu MiB): the scan cannot detect a leak",
		      (unsigned long long)(k->ram_bytes >> 20));
}

int drop_to_nobody(unsigned long memlock, char *msg, size_t n)
{
	struct rlimit rl = { memlock, memlock };
	long cap;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		CFAIL("setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		CFAIL("dropping to uid/gid 65534: %s", strerror(errno));
	cap = proc_status_kb(0, "CapEff");
	if (cap != 0)
		CFAIL("CapEff not 0 after dropping privileges (read %ld: %s)", cap,
		      cap < 0 ? strerror(errno) : "capabilities left");
	return 0;
}

void assert_counters(long pages0, long regions0, const char *when)
{
	long v;

	if (pages0 >= 0) {
		v = sm_counter("pages");
		ck_assert_msg(v == pages0, "%s: %s is %ld, expected %ld", when,
			      SM_SYSFS_PAGES, v, pages0);
	}
	if (regions0 >= 0) {
		v = sm_counter("regions");
		ck_assert_msg(v == regions0, "%s: %s is %ld, expected %ld",
			      when, SM_SYSFS_REGIONS, v, regions0);
	}
}

/* A recognisable word at a few places of every page: tag ^ page index. */
void fill_tag(uint8_t *p, size_t pages, uint64_t tag)
{
	size_t i, j;

	for (i = 0; i < pages; i++)
		for (j = 0; j < PAGE_SZ; j += 1024)
			*(volatile uint64_t *)(p + i * PAGE_SZ + j) = tag ^ (i << 16 | j);
}

/* Index of the first page of [first, first+n) of base with a wrong tag, or -1. */
long check_tag_range(const uint8_t *base, size_t first, size_t n, uint64_t tag)
{
	size_t i, j;

	for (i = first; i < first + n; i++)
		for (j = 0; j < PAGE_SZ; j += 1024)
			if (*(const volatile uint64_t *)(base + i * PAGE_SZ + j) !=
			    (tag ^ (i << 16 | j)))
				return (long)i;
	return -1;
}

long check_tag(const uint8_t *p, size_t pages, uint64_t tag)
{
	return check_tag_range(p, 0, pages, tag);
}

/*
 * mmap(MAP_SHARED | @flags) @pages on a fresh fd, closed again (the VMA
 * keeps it); the region must be held (one region, @pages pages more than
 * sm_base).  @what names the call in messages.
 */
uint8_t *map_held(size_t pages, int flags, const char *what)
{
	char when[96];
	uint8_t *p;
	int fd = dev_open();

	p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | flags, fd, 0);
	close(fd);
	ck_assert_msg(p != MAP_FAILED, "%s: %s", what, strerror(errno));
	snprintf(when, sizeof(when), "after %s", what);
	expect_held(&sm_base, pages, 1, when);
	return p;
}

/*
 * The end of a mapping test: every page of @p holds @tag (written first
 * when @fill), then the whole region is unmapped.
 */
void map_tag_check(uint8_t *p, size_t pages, uint64_t tag, bool fill)
{
	long bad;

	if (fill)
		fill_tag(p, pages, tag);
	bad = check_tag(p, pages, tag);
	ck_assert_msg(bad < 0, "page %ld of %zu does not hold its tag", bad, pages);
	ck_assert_msg(!munmap(p, pages * PAGE_SZ), "munmap: %s", strerror(errno));
}

/* Is any part of [p, p+len) mapped?  (mincore fails with ENOMEM on holes.) */
bool is_unmapped(void *p, size_t len)
{
	unsigned char vec[64];

	return len <= 64 * PAGE_SZ && mincore(p, len, vec) == -1 && errno == ENOMEM;
}

/* Wait up to @ms for the module's pages and regions to be 0; true if they are. */
bool counters_idle(int ms)
{
	for (; ms > 0; ms -= 50) {
		if (counter("pages") == 0 && counter("regions") == 0)
			return true;
		usleep(50000);
	}
	return counter("pages") == 0 && counter("regions") == 0;
}

int snapshot_try(int how)
{
	int fd = open(SM_SNAPSHOT, how | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}
