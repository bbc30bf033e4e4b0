// SPDX-License-Identifier: GPL-2.0
// test_libsecretmem.c - the allocator library libsecretmem (lib/): backends, packing, zeroing,
// scrubbing, canaries, double free, foreign pointers, guard pages, threads, fork, limits.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <libsecretmem.h>

#include "sm_test.h"

SM_FILE("libsecretmem", 85, 300);

/* Every test runs in its own process (Check's fork mode): the library starts fresh. */

static void use_backend(const char *name)
{
	ck_assert(!setenv("SECRETMEM_BACKEND", name, 1));
}

static bool have_memfd_secret(void)
{
	long fd = syscall(447, 0);

	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

/* Force memfd_secret, or skip where the kernel has none. */
static void memfd_secret_or_skip(void)
{
	if (!have_memfd_secret())
		SKIP("no memfd_secret(2) on this kernel (%s)", strerror(errno));
	use_backend("memfd_secret");
	ck_assert_msg(!secretmem_lib_init(0), "init with memfd_secret: %s", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_MEMFD_SECRET);
}

static void stats(struct secretmem_lib_stats *st)
{
	ck_assert_msg(!secretmem_lib_stats(st), "secretmem_lib_stats: %s", strerror(errno));
}

/* Does /proc/self/maps name a secret mapping (the device or memfd_secret)? */
static bool maps_have_secret(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " /dev/secretmem") || strstr(line, " /secretmem"))
			found = true;
	fclose(f);
	return found;
}

/*
 * Run fn(arg) in a child whose stderr goes to a pipe; the child must die
 * by @sig and, for SIGABRT, say "libsecretmem:" and @words on stderr.
 */
static void expect_child_dies(void (*fn)(void *), void *arg, int sig, const char *words)
{
	char buf[1024] = "";
	int pfd[2], st;
	ssize_t got, n = 0;
	pid_t pid;

	ck_assert(!pipe(pfd));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		dup2(pfd[1], 2);
		close(pfd[0]);
		fn(arg);
		_exit(0);
	}
	close(pfd[1]);
	while ((got = read(pfd[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += got;
	buf[n] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
		      "child: %s %d, expected signal %d (%s); stderr: %s",
		      WIFSIGNALED(st) ? "signal" : "exit",
		      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), sig, strsignal(sig), buf);
	if (sig == SIGABRT) {
		ck_assert_msg(strstr(buf, "libsecretmem:"), "no libsecretmem message: '%s'", buf);
		ck_assert_msg(!words || strstr(buf, words), "message '%s' lacks '%s'", buf, words);
	}
}

/* ---- backends ---- */

SM_TEST(test_libsm_backend_device_first)
{
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_DEVICE);
	ck_assert_str_eq(secretmem_backend_name(SECRETMEM_BACKEND_DEVICE), "device");
	ck_assert_str_eq(secretmem_backend_name(secretmem_backend()), "device");
}

SM_TEST(test_libsm_backend_memfd_secret_works)
{
	struct secretmem_lib_stats st;
	uint8_t *p;

	memfd_secret_or_skip();
	p = secretmem_malloc(32);
	ck_assert_msg(p, "malloc: %s", strerror(errno));
	ck_assert(sm_all_zero(p, 32));
	memset(p, 0x5a, 32);
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, 1);
	ck_assert_msg(st.pages_mapped >= 1 && st.pages_mapped <= 16, "pages_mapped %zu",
		      st.pages_mapped);
	secretmem_mfree(p);
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, 0);
}

SM_TEST(test_libsm_backend_mlock_needs_opt_in)
{
	errno = 0;
	use_backend("mlock");
	ck_assert_int_eq(secretmem_lib_init(0), -1);
	ck_assert_msg(errno == ENODEV, "init(0) with only mlock: %s, expected ENODEV",
		      strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_NONE);
	errno = 0;
	ck_assert(!secretmem_malloc(32));
	ck_assert_msg(errno == ENODEV, "malloc without a backend: %s", strerror(errno));
}

SM_TEST(test_libsm_backend_mlock_with_flag_reported)
{
	long vl0 = vmlck();
	uint8_t *p;

	use_backend("mlock");
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK), "init: %s", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_MLOCK);
	ck_assert_str_eq(secretmem_backend_name(SECRETMEM_BACKEND_MLOCK), "mlock");
	p = secretmem_malloc(32);
	ck_assert_msg(p, "malloc: %s", strerror(errno));
	ck_assert_msg(vmlck() > vl0, "VmLck %ld kB, was %ld: not mlocked", vmlck(), vl0);
	secretmem_mfree(p);
}

/* The opt-in allows mlock; it does not prefer it over secret memory. */
SM_TEST(test_libsm_allow_mlock_still_picks_device)
{
	ck_assert(!unsetenv("SECRETMEM_BACKEND"));
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK), "init: %s", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_DEVICE);
}

/* The opt-in is process-wide: a later init(0) is told the memory is only mlocked. */
SM_TEST(test_libsm_backend_mlock_later_init0_enodev)
{
	uint8_t *p;

	use_backend("mlock");
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK), "init: %s", strerror(errno));
	errno = 0;
	ck_assert_int_eq(secretmem_lib_init(0), -1);
	ck_assert_msg(errno == ENODEV, "init(0) with the mlock backend in use: %s, expected ENODEV",
		      strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_MLOCK);
	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK));
	p = secretmem_malloc(32);
	ck_assert_msg(p, "malloc: %s", strerror(errno));
	secretmem_mfree(p);
}

SM_TEST(test_libsm_backend_none_is_enodev)
{
	use_backend("none");
	errno = 0;
	ck_assert_int_eq(secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK), -1);
	ck_assert_msg(errno == ENODEV, "init: %s, expected ENODEV", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_NONE);
	ck_assert_str_eq(secretmem_backend_name(SECRETMEM_BACKEND_NONE), "none");
	errno = 0;
	ck_assert(!secretmem_malloc_guarded(10));
	ck_assert_int_eq(errno, ENODEV);
}

/*
 * Something else at /dev/secretmem (here /dev/zero bound over it in a
 * private mount namespace: ordinary shared memory) is not the device.
 */
static int fake_device_child(void *arg, char *msg, size_t n)
{
	int forced = *(int *)arg, ret;

	if (unshare(CLONE_NEWNS))
		CFAIL("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		CFAIL("mount --make-rprivate /: %s", strerror(errno));
	if (mount("/dev/zero", SECRETMEM_DEVICE_PATH, NULL, MS_BIND, NULL))
		CFAIL("bind /dev/zero over %s: %s", SECRETMEM_DEVICE_PATH, strerror(errno));
	if (forced)
		setenv("SECRETMEM_BACKEND", "device", 1);
	else
		unsetenv("SECRETMEM_BACKEND");
	errno = 0;
	ret = secretmem_lib_init(0);
	if (forced && (ret != -1 || errno != ENODEV))
		CFAIL("SECRETMEM_BACKEND=device over /dev/zero: init %d (%s), expected ENODEV",
		      ret, strerror(errno));
	if (!forced && secretmem_backend() == SECRETMEM_BACKEND_DEVICE)
		CFAIL("the library chose /dev/zero bound over %s as the device",
		      SECRETMEM_DEVICE_PATH);
	return 0;
}

SM_TEST(test_libsm_backend_device_not_secretmem_enodev)
{
	int forced = 1;

	ck_assert_msg(!access(SECRETMEM_DEVICE_PATH, F_OK), "no %s", SECRETMEM_DEVICE_PATH);
	run_child(fake_device_child, &forced);
}

SM_TEST(test_libsm_backend_device_not_secretmem_not_chosen)
{
	int forced = 0;

	ck_assert_msg(!access(SECRETMEM_DEVICE_PATH, F_OK), "no %s", SECRETMEM_DEVICE_PATH);
	run_child(fake_device_child, &forced);
}

int libsm_report_backend(void)
{
	printf("%d\n", secretmem_backend());
	return 0;
}

/*
 * Run a copy of this binary with mode @mode as uid 65534 with
 * SECRETMEM_BACKEND=none; the backend it reports.
 */
static int backend_of_copy(mode_t mode)
{
	static const char copy[] = "/tmp/sm_libsm_secure";
	char buf[64] = "", cmd[256];
	int pfd[2], st, v = -1;
	ssize_t got;
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s", (int)getpid(), copy);
	ck_assert_msg(!system(cmd), "%s failed", cmd);
	ck_assert(!chown(copy, 0, 0));
	ck_assert(!chmod(copy, mode));
	ck_assert(!pipe(pfd));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		char msg[256];

		dup2(pfd[1], 1);
		close(pfd[0]);
		if (drop_to_nobody(1 << 20, msg, sizeof(msg)))
			_exit(3);
		setenv("SECRETMEM_BACKEND", "none", 1);
		execl(copy, copy, "--libsm-backend", (char *)NULL);
		_exit(4);
	}
	close(pfd[1]);
	got = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	waitpid(pid, &st, 0);
	unlink(copy);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "copy (mode %o): status 0x%x", mode, st);
	if (got > 0 && sscanf(buf, "%d", &v) != 1)
		v = -1;
	return v;
}

/* SECRETMEM_BACKEND is honoured normally, ignored in a set-user-ID program. */
SM_TEST(test_libsm_env_ignored_when_setuid)
{
	int v;

	if (geteuid() != 0)
		SKIP("needs root to make a set-user-ID copy");
	v = backend_of_copy(0755);
	ck_assert_msg(v == SECRETMEM_BACKEND_NONE, "control: SECRETMEM_BACKEND=none gave "
		      "backend %d in an ordinary program", v);
	v = backend_of_copy(04755);
	ck_assert(!unsetenv("SECRETMEM_BACKEND"));
	ck_assert_msg(v != SECRETMEM_BACKEND_NONE && v == secretmem_backend(), "set-user-ID copy "
		      "with SECRETMEM_BACKEND=none: backend %d, expected %d (env ignored)", v,
		      secretmem_backend());
}

SM_TEST(test_libsm_init_bad_flags_einval)
{
	errno = 0;
	ck_assert_int_eq(secretmem_lib_init(1u << 7), -1);
	ck_assert_int_eq(errno, EINVAL);
}

/* ---- packing, zeroing, sizes ---- */

#define NPACK 1000

SM_TEST(test_libsm_packs_1000_small_in_96k)
{
	long vl0 = vmlck(), pg0 = sm_counter("pages"), vl1, pg1;
	struct secretmem_lib_stats st;
	uint8_t **v = calloc(NPACK, sizeof(*v));
	size_t i, j;

	ck_assert(v);
	for (i = 0; i < NPACK; i++) {
		v[i] = secretmem_malloc(32);
		ck_assert_msg(v[i], "malloc #%zu: %s", i, strerror(errno));
		ck_assert_msg(((uintptr_t)v[i] & 15) == 0, "%p not 16-byte aligned", v[i]);
		memset(v[i], (int)(i & 0xff), 32);
	}
	vl1 = vmlck();
	pg1 = sm_counter("pages");
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, NPACK);
	ck_assert_uint_eq(st.bytes_in_use, NPACK * 32);
	ck_assert_msg(vl1 - vl0 <= 96, "1000 x 32 B cost %ld kB of VmLck (max 96)", vl1 - vl0);
	ck_assert_msg(st.bytes_mapped <= 96 * 1024, "bytes_mapped %zu", st.bytes_mapped);
	if (pg0 >= 0)
		ck_assert_msg(pg1 - pg0 <= 24, "module pages +%ld for 1000 x 32 B (max 24)",
			      pg1 - pg0);
	for (i = 0; i < NPACK; i++)
		for (j = 0; j < 32; j++)
			ck_assert_msg(v[i][j] == (uint8_t)(i & 0xff), "object %zu overlaps", i);
	for (i = 0; i < NPACK; i++)
		secretmem_mfree(v[i]);
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, 0);
	ck_assert_uint_eq(st.bytes_in_use, 0);
	ck_assert_msg(st.bytes_mapped <= 4 * 16384, "%zu bytes still mapped after freeing all",
		      st.bytes_mapped);
	/* the empty slabs went back to the module, but for the one kept */
	ck_assert_msg(vmlck() - vl0 <= 16, "VmLck +%ld kB after freeing all", vmlck() - vl0);
	if (pg0 >= 0)
		ck_assert_msg(sm_counter("pages") - pg0 <= 4, "module pages +%ld after freeing all",
			      sm_counter("pages") - pg0);
	free(v);
}

SM_TEST(test_libsm_zeroed_when_handed_out)
{
	static const size_t sizes[] = { 1, 7, 32, 100, 1000, 2024, 2025, 5000, 70000 };
	size_t i, r;
	uint8_t *p;

	for (r = 0; r < 3; r++)
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			p = secretmem_malloc(sizes[i]);
			ck_assert_msg(p, "malloc(%zu): %s", sizes[i], strerror(errno));
			ck_assert_msg(sm_all_zero(p, sizes[i]), "malloc(%zu) not zeroed (round %zu)",
				      sizes[i], r);
			ck_assert_uint_eq(secretmem_usable_size(p), sizes[i]);
			memset(p, 0xee, sizes[i]);
			secretmem_mfree(p);
		}
	p = secretmem_calloc(10, 10);
	ck_assert(p && sm_all_zero(p, 100));
	secretmem_mfree(p);
}

SM_TEST(test_libsm_calloc_overflow_enomem)
{
	errno = 0;
	ck_assert(!secretmem_calloc(SIZE_MAX / 2, 3));
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert(!secretmem_malloc(SIZE_MAX - 8));
	ck_assert_int_eq(errno, ENOMEM);
}

SM_TEST(test_libsm_usable_size_and_owns)
{
	uint8_t *p = secretmem_malloc(40), *g = secretmem_malloc_guarded(3000);
	int local;

	ck_assert(p && g);
	ck_assert_uint_eq(secretmem_usable_size(p), 40);
	ck_assert_uint_eq(secretmem_usable_size(g), 3000);
	ck_assert_uint_eq(secretmem_usable_size(p + 1), 0);
	ck_assert_uint_eq(secretmem_usable_size(&local), 0);
	ck_assert(secretmem_owns(p) && secretmem_owns(p + 39) && secretmem_owns(g));
	ck_assert(!secretmem_owns(&local) && !secretmem_owns(NULL));
	secretmem_mfree(p);
	secretmem_mfree(g);
	ck_assert_uint_eq(secretmem_usable_size(p), 0);
	ck_assert_uint_eq(secretmem_usable_size(g), 0);
	secretmem_mfree(NULL);
}

SM_TEST(test_libsm_realloc_keeps_content)
{
	uint8_t *p = secretmem_malloc(20), *q;
	size_t i;

	ck_assert(p);
	for (i = 0; i < 20; i++)
		p[i] = (uint8_t)i;
	q = secretmem_realloc(p, 5000);
	ck_assert_msg(q, "realloc: %s", strerror(errno));
	for (i = 0; i < 20; i++)
		ck_assert(q[i] == i);
	ck_assert(sm_all_zero(q + 20, 5000 - 20));
	secretmem_mfree(q);
}

/* ---- scrubbing ---- */

SM_TEST(test_libsm_scrubbed_on_free)
{
	/* a neighbour keeps the slab mapped, so the freed slot can be read */
	uint8_t *keep = secretmem_malloc(32), *p = secretmem_malloc(32);

	ck_assert(keep && p);
	memset(p, 0xa5, 32);
	secretmem_mfree(p);
	ck_assert_msg(sm_all_zero(p - 16, 64), "freed object not scrubbed");
	secretmem_mfree(keep);
}

/*
 * The mlock backend's pages stay in the direct map: a /proc/kcore scan
 * finds a live secret there (the control, in the same memory), and must not
 * find it once secretmem_mfree() scrubbed it (the slab stays mapped).
 */
SM_TEST(test_libsm_kcore_nothing_after_free)
{
	volatile uint8_t *p, *keep;
	struct pattern ps;
	struct kcore k;
	uint64_t pa = 0;
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	use_backend("mlock");
	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK));
	keep = secretmem_malloc(32);
	p = secretmem_malloc(32);
	ck_assert(keep && p);
	pattern_new(&ps);
	pattern_write(&ps, p);
	r = kcore_scan(&k, &ps, &pa);
	ck_assert_msg(r == 1, "control: a live secret in mlocked memory not found by the "
		      "kcore scan (%d): the scan cannot detect a leak", r);
	secretmem_mfree((void *)p);
	r = kcore_scan(&k, &ps, &pa);
	ck_assert_msg(r == 0, "the freed secret is still in RAM at phys 0x%llx (%d)",
		      (unsigned long long)pa, r);
	secretmem_mfree((void *)keep);
	kcore_close(&k);
}

/* Device backend: never in the direct map, live or freed. */
SM_TEST(test_libsm_kcore_device_never_seen)
{
	volatile uint8_t *p;
	struct pattern ps;
	struct kcore k;
	uint64_t pa = 0;
	int r;

	KCORE_OPEN_OR_SKIP(&k);
	kcore_control(&k);
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_DEVICE);
	p = secretmem_malloc(32);
	ck_assert(p);
	pattern_new(&ps);
	pattern_write(&ps, p);
	r = kcore_scan(&k, &ps, &pa);
	ck_assert_msg(r == 0, "a live secret is readable via /proc/kcore at 0x%llx (%d)",
		      (unsigned long long)pa, r);
	secretmem_mfree((void *)p);
	r = kcore_scan(&k, &ps, &pa);
	ck_assert_msg(r == 0, "a freed secret is readable via /proc/kcore at 0x%llx (%d)",
		      (unsigned long long)pa, r);
	kcore_close(&k);
}

/* ---- misuse: the process must abort with a message ---- */

static void overflow_by_one(void *arg)
{
	size_t size = *(size_t *)arg;
	uint8_t *p = secretmem_malloc(size);

	if (!p)
		_exit(3);
	p[size] ^= 1;
	secretmem_mfree(p);
}

static void underflow_by_one(void *arg)
{
	size_t size = *(size_t *)arg;
	uint8_t *p = secretmem_malloc(size);

	if (!p)
		_exit(3);
	p[-1] ^= 1;
	secretmem_mfree(p);
}

SM_TEST(test_libsm_canary_overflow_aborts)
{
	size_t small = 32, odd = 13, large = 10000;

	expect_child_dies(overflow_by_one, &small, SIGABRT, "overflow");
	expect_child_dies(overflow_by_one, &odd, SIGABRT, "overflow");
	expect_child_dies(overflow_by_one, &large, SIGABRT, "overflow");
}

SM_TEST(test_libsm_canary_underflow_aborts)
{
	size_t small = 32, large = 10000;

	expect_child_dies(underflow_by_one, &small, SIGABRT, "underflow");
	expect_child_dies(underflow_by_one, &large, SIGABRT, "underflow");
}

static void double_free(void *arg)
{
	size_t size = *(size_t *)arg;
	uint8_t *keep = secretmem_malloc(size), *p = secretmem_malloc(size);

	if (!keep || !p)
		_exit(3);
	secretmem_mfree(p);
	secretmem_mfree(p);
}

SM_TEST(test_libsm_double_free_aborts)
{
	size_t small = 32, large = 10000;

	expect_child_dies(double_free, &small, SIGABRT, "double free");
	expect_child_dies(double_free, &large, SIGABRT, "double free");
}

static void free_heap_pointer(void *arg)
{
	(void)arg;
	if (!secretmem_malloc(8))
		_exit(3);
	secretmem_mfree(malloc(32));
}

static void free_inside_object(void *arg)
{
	size_t size = *(size_t *)arg;
	uint8_t *p = secretmem_malloc(size);

	if (!p)
		_exit(3);
	secretmem_mfree(p + 16);
}

SM_TEST(test_libsm_foreign_pointer_aborts)
{
	size_t small = 64, large = 10000;

	expect_child_dies(free_heap_pointer, NULL, SIGABRT, "foreign");
	expect_child_dies(free_inside_object, &small, SIGABRT, "not the start");
	expect_child_dies(free_inside_object, &large, SIGABRT, NULL);
}

/* ---- guard pages ---- */

static void touch_guard(void *arg)
{
	long where = *(long *)arg;
	volatile uint8_t *p = secretmem_malloc_guarded(100);

	if (!p)
		_exit(3);
	p[0] = 1;
	p[99] = 1;
	if (where > 0)
		p[((uintptr_t)p | (PAGE_SZ - 1)) + 1 - (uintptr_t)p] = 1;
	else
		p[-(long)((uintptr_t)p & (PAGE_SZ - 1)) - 1] = 1;
}

SM_TEST(test_libsm_guard_pages_fault)
{
	long after = 1, before = -1;

	expect_child_dies(touch_guard, &after, SIGSEGV, NULL);
	expect_child_dies(touch_guard, &before, SIGSEGV, NULL);
}

/* realloc of a guarded object: contents kept, the new one guarded, touching past its page faults. */
static void realloc_guarded_touch(void *arg)
{
	volatile uint8_t *p = secretmem_malloc_guarded(100), *q;
	size_t i, gap;

	(void)arg;
	if (!p)
		_exit(3);
	for (i = 0; i < 100; i++)
		p[i] = (uint8_t)i;
	q = secretmem_realloc((void *)p, 300);
	if (!q)
		_exit(4);
	for (i = 0; i < 100; i++)
		if (q[i] != (uint8_t)i)
			_exit(5);
	/* The tail canary (8 bytes) and at most 15 bytes of alignment before the guard. */
	gap = (((uintptr_t)q + 300 + PAGE_SZ - 1) & ~(uintptr_t)(PAGE_SZ - 1)) - ((uintptr_t)q + 300);
	if (gap < 8 || gap > 8 + 15)
		_exit(6);
	q[((uintptr_t)q | (PAGE_SZ - 1)) + 1 - (uintptr_t)q] = 1;
}

SM_TEST(test_libsm_guarded_realloc_stays_guarded)
{
	expect_child_dies(realloc_guarded_touch, NULL, SIGSEGV, NULL);
}

SM_TEST(test_libsm_guarded_own_pages)
{
	struct secretmem_lib_stats st0, st1;
	uint8_t *a, *b;

	stats(&st0);
	a = secretmem_malloc_guarded(1);
	b = secretmem_malloc_guarded(1);
	ck_assert(a && b);
	ck_assert_msg(((uintptr_t)a >> 12) != ((uintptr_t)b >> 12), "two guarded objects share a page");
	stats(&st1);
	ck_assert_uint_eq(st1.objects_in_use, st0.objects_in_use + 2);
	secretmem_mfree(a);
	secretmem_mfree(b);
	stats(&st1);
	ck_assert_uint_eq(st1.bytes_mapped, st0.bytes_mapped);
}

/* ---- threads ---- */

#define NTHREADS	4

struct thr {
	unsigned int seed;
	int fails;
};

static void *thread_body(void *arg)
{
	struct thr *t = arg;
	uint8_t *obj[64] = { 0 };
	size_t size[64] = { 0 };
	unsigned int r = t->seed;
	int i, k, rounds = quick ? 2000 : 6000;

	for (i = 0; i < rounds; i++) {
		r = r * 1103515245 + 12345;
		k = (int)((r >> 8) % 64);
		if (obj[k]) {
			size_t j;

			for (j = 0; j < size[k]; j++)
				if (obj[k][j] != (uint8_t)(t->seed + k))
					t->fails++;
			secretmem_mfree(obj[k]);
			obj[k] = NULL;
		} else {
			size[k] = 1 + (r >> 16) % ((r & 0x100) ? 300 : 5000);
			obj[k] = secretmem_malloc(size[k]);
			if (!obj[k] || !sm_all_zero(obj[k], size[k])) {
				t->fails++;
				continue;
			}
			memset(obj[k], (uint8_t)(t->seed + k), size[k]);
		}
	}
	for (k = 0; k < 64; k++)
		secretmem_mfree(obj[k]);
	return NULL;
}

SM_TEST(test_libsm_threads_no_corruption)
{
	struct thr t[NTHREADS];
	pthread_t tid[NTHREADS];
	struct secretmem_lib_stats st;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		t[i].seed = (unsigned int)(i * 77 + 1);
		t[i].fails = 0;
		ck_assert(!pthread_create(&tid[i], NULL, thread_body, &t[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		ck_assert_msg(!t[i].fails, "thread %d saw %d corrupt or failed objects", i,
			      t[i].fails);
	}
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, 0);
	ck_assert_uint_eq(st.bytes_in_use, 0);
}

/* Objects made by one thread, freed by others while they allocate. */
struct xfree {
	uint8_t **obj;
	int first, n, fails;
};

static void *xfree_body(void *arg)
{
	struct xfree *x = arg;
	uint8_t *mine;
	int i;

	for (i = x->first; i < x->first + x->n; i++) {
		if (x->obj[i][0] != (uint8_t)i || x->obj[i][47] != (uint8_t)i)
			x->fails++;
		secretmem_mfree(x->obj[i]);
		mine = secretmem_malloc(48);
		if (!mine || !sm_all_zero(mine, 48))
			x->fails++;
		secretmem_mfree(mine);
	}
	return NULL;
}

SM_TEST(test_libsm_threads_free_elsewhere)
{
	enum { N = 2000 };
	uint8_t **obj = calloc(N, sizeof(*obj));
	struct xfree x[NTHREADS];
	pthread_t tid[NTHREADS];
	struct secretmem_lib_stats st;
	int i;

	ck_assert(obj);
	for (i = 0; i < N; i++) {
		obj[i] = secretmem_malloc(48);
		ck_assert_msg(obj[i], "malloc #%d: %s", i, strerror(errno));
		memset(obj[i], (uint8_t)i, 48);
	}
	for (i = 0; i < NTHREADS; i++) {
		x[i] = (struct xfree){ obj, i * (N / NTHREADS), N / NTHREADS, 0 };
		ck_assert(!pthread_create(&tid[i], NULL, xfree_body, &x[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		ck_assert_msg(!x[i].fails, "thread %d: %d bad objects", i, x[i].fails);
	}
	stats(&st);
	ck_assert_uint_eq(st.objects_in_use, 0);
	free(obj);
}

/*
 * Slabs mapped and unmapped in one thread while another keeps making 16 KiB
 * anonymous mappings: no foreign mapping lands in a hole of the library's
 * reservation (owned, or clobbered by a slab mapped over it later), and no
 * malloc fails (EEXIST).
 */
struct slab_churn {
	volatile int stop;
	long fails, rounds;
	int err;
};

static void *slab_churn_body(void *arg)
{
	enum { N = 400 };	/* 400 x 2000 B: 50 slabs of 16 KiB mapped, then unmapped */
	struct slab_churn *c = arg;
	void *obj[N];
	int i;

	while (!c->stop) {
		for (i = 0; i < N; i++) {
			obj[i] = secretmem_malloc(2000);
			if (!obj[i]) {
				c->fails++;
				c->err = errno;
			}
		}
		for (i = 0; i < N; i++)
			secretmem_mfree(obj[i]);
		c->rounds++;
	}
	return NULL;
}

SM_TEST(test_libsm_reservation_no_foreign_mapping)
{
	enum { KEEP = 256, LEN = 16384 };
	struct slab_churn c = { 0 };
	uint8_t *m[KEEP] = { 0 };
	long made = 0, owned = 0, clobbered = 0;
	struct timespec t0, t;
	pthread_t tid;
	int i, k;

	ck_assert(secretmem_backend() != SECRETMEM_BACKEND_NONE);
	ck_assert(!pthread_create(&tid, NULL, slab_churn_body, &c));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		k = (int)(made % KEEP);
		if (m[k]) {
			if (m[k][0] != (uint8_t)k || m[k][LEN - 1] != (uint8_t)k)
				clobbered++;
			munmap(m[k], LEN);
		}
		m[k] = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_msg(m[k] != MAP_FAILED, "mmap: %s", strerror(errno));
		m[k][0] = m[k][LEN - 1] = (uint8_t)k;
		made++;
		if (secretmem_owns(m[k]) || secretmem_usable_size(m[k] + 16))
			owned++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < (quick ? 1 : 3));
	c.stop = 1;
	pthread_join(tid, NULL);
	for (i = 0; i < KEEP; i++) {
		if (!m[i])
			continue;
		if (m[i][0] != (uint8_t)i || m[i][LEN - 1] != (uint8_t)i)
			clobbered++;
		munmap(m[i], LEN);
	}
	ck_assert_msg(c.rounds > 0, "the slab thread made no round");
	ck_assert_msg(!owned && !clobbered,
		      "%ld of %ld foreign mappings owned by the library, %ld clobbered (%ld slab rounds)",
		      owned, made, clobbered, c.rounds);
	ck_assert_msg(!c.fails, "%ld of %ld mallocs failed, last: %s", c.fails, c.rounds * 400,
		      strerror(c.err));
}

/* ---- fork ---- */

struct fork_arg {
	volatile uint8_t *parent_obj, *parent_big;
	int backend;
};

/* secretmem_mfree(p) in a child (stderr dropped): its signal, or -(exit status). */
static int mfree_sig(void *p)
{
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 0;
	if (!pid) {
		struct rlimit no_core = { 0, 0 };
		int fd = open("/dev/null", O_WRONLY);

		setrlimit(RLIMIT_CORE, &no_core);
		if (fd >= 0)
			dup2(fd, 2);
		secretmem_mfree(p);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
}

static int fork_child(void *arg, char *msg, size_t n)
{
	struct fork_arg *fa = arg;
	struct secretmem_lib_stats st;
	uint8_t *p;
	int sig;

	if (maps_have_secret())
		CFAIL("the child has a secret mapping in /proc/self/maps");
	if (access_sig(fa->parent_obj, -1) != SIGSEGV)
		CFAIL("the parent's object is readable in the child");
	if (secretmem_lib_stats(&st) || st.objects_in_use || st.bytes_mapped)
		CFAIL("child inherited library state: %zu objects, %zu bytes mapped",
		      st.objects_in_use, st.bytes_mapped);
	p = secretmem_malloc(32);
	if (!p)
		CFAIL("malloc in the child: %s", strerror(errno));
	/* The parent's addresses never come back to the child. */
	if (p == fa->parent_obj)
		CFAIL("the child's new object %p is at the parent's object's address", (void *)p);
	if (secretmem_owns((const void *)fa->parent_obj))
		CFAIL("the child's library owns the parent's object %p", (void *)fa->parent_obj);
	if (access_sig(fa->parent_obj, -1) != SIGSEGV)
		CFAIL("the parent's object %p is readable after the child's malloc",
		      (void *)fa->parent_obj);
	if (access_sig(fa->parent_big, -1) != SIGSEGV)
		CFAIL("the parent's large object %p is readable after the child's malloc",
		      (void *)fa->parent_big);
	sig = mfree_sig((void *)fa->parent_obj);
	if (sig != SIGABRT)
		CFAIL("secretmem_mfree(parent's object) in the child: %s %d, not SIGABRT",
		      sig > 0 ? "signal" : "exit status", sig > 0 ? sig : -sig);
	if (secretmem_backend() != fa->backend)
		CFAIL("child backend %d, parent %d", secretmem_backend(), fa->backend);
	if (!sm_all_zero(p, 32))
		CFAIL("child's object not zeroed");
	memset(p, 1, 32);
	secretmem_mfree(p);
	if (secretmem_lib_stats(&st) || st.objects_in_use)
		CFAIL("child stats %zu objects after free", st.objects_in_use);
	return 0;
}

static void fork_test(void)
{
	struct fork_arg fa;
	uint8_t *p = secretmem_malloc(32), *big = secretmem_malloc(100000);

	ck_assert(p && big);
	memset(p, 0x77, 32);
	fa.parent_obj = p;
	fa.parent_big = big;
	fa.backend = secretmem_backend();
	run_child(fork_child, &fa);
	ck_assert(p[0] == 0x77 && p[31] == 0x77);
	secretmem_mfree(p);
	secretmem_mfree(big);
}

SM_TEST(test_libsm_fork_child_fresh_device)
{
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_DEVICE);
	fork_test();
}

SM_TEST(test_libsm_fork_child_fresh_memfd_secret)
{
	memfd_secret_or_skip();
	fork_test();
}

SM_TEST(test_libsm_fork_child_fresh_mlock)
{
	use_backend("mlock");
	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK));
	fork_test();
}

/* ---- fork with SECRETMEM_LIB_FORK_COPY: the child gets its own copy ---- */

struct copy_arg {
	uint8_t *obj, *big, *guarded;
	int backend;
};

static int fork_copy_child(void *arg, char *msg, size_t n)
{
	struct copy_arg *ca = arg;
	struct secretmem_lib_stats st;
	uint8_t *p;

	if (secretmem_backend() != ca->backend)
		CFAIL("child backend %d, parent %d", secretmem_backend(), ca->backend);
	if (ca->obj[0] != 0x77 || ca->obj[31] != 0x77 || ca->big[0] != 0x55 ||
	    ca->big[99999] != 0x56 || ca->guarded[0] != 0x33 || ca->guarded[4999] != 0x34)
		CFAIL("the child's copy differs from the parent's objects");
	if (!secretmem_owns(ca->obj) || !secretmem_owns(ca->big) || !secretmem_owns(ca->guarded))
		CFAIL("the child's library does not own the copied objects");
	if (secretmem_lib_stats(&st) || st.objects_in_use != 3)
		CFAIL("child stats: %zu objects, expected the parent's 3", st.objects_in_use);
	if (ca->backend != SECRETMEM_BACKEND_MLOCK && !maps_have_secret())
		CFAIL("no secret mapping in the child's /proc/self/maps");
	/* The guard page right after the guarded object: still PROT_NONE. */
	if (access_sig((uint8_t *)((((uintptr_t)ca->guarded + 4999) | (PAGE_SZ - 1)) + 1),
		       -1) != SIGSEGV)
		CFAIL("the guard page after the copied guarded object is readable");
	/* Private: these writes and frees must not reach the parent's pages. */
	memset(ca->obj, 0x11, 32);
	memset(ca->big, 0x12, 100000);
	secretmem_mfree(ca->big);
	secretmem_mfree(ca->guarded);
	p = secretmem_malloc(32);
	if (!p || !sm_all_zero(p, 32))
		CFAIL("malloc in the child: %s", p ? "not zeroed" : strerror(errno));
	if (p == ca->obj)
		CFAIL("the child's new object is at its live copied object's address");
	secretmem_mfree(p);
	secretmem_mfree(ca->obj);
	if (secretmem_lib_stats(&st) || st.objects_in_use)
		CFAIL("child stats: %zu objects after freeing all", st.objects_in_use);
	return 0;
}

static void fork_copy_test(void)
{
	struct copy_arg ca;

	ca.obj = secretmem_malloc(32);
	ca.big = secretmem_malloc(100000);
	ca.guarded = secretmem_malloc_guarded(5000);
	ck_assert(ca.obj && ca.big && ca.guarded);
	memset(ca.obj, 0x77, 32);
	ca.big[0] = 0x55;
	ca.big[99999] = 0x56;
	ca.guarded[0] = 0x33;
	ca.guarded[4999] = 0x34;
	ca.backend = secretmem_backend();
	run_child(fork_copy_child, &ca);
	ck_assert_msg(ca.obj[0] == 0x77 && ca.obj[31] == 0x77,
		      "the child's write reached the parent's object");
	ck_assert_msg(ca.big[0] == 0x55 && ca.big[99999] == 0x56,
		      "the child's free scrubbed the parent's large object");
	ck_assert(ca.guarded[0] == 0x33 && ca.guarded[4999] == 0x34);
	secretmem_mfree(ca.obj);
	secretmem_mfree(ca.big);
	secretmem_mfree(ca.guarded);
}

SM_TEST(test_libsm_fork_copy_device)
{
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY), "init: %s", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_DEVICE);
	fork_copy_test();
}

SM_TEST(test_libsm_fork_copy_memfd_secret)
{
	if (!have_memfd_secret())
		SKIP("no memfd_secret(2) on this kernel (%s)", strerror(errno));
	use_backend("memfd_secret");
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY), "init: %s", strerror(errno));
	ck_assert_int_eq(secretmem_backend(), SECRETMEM_BACKEND_MEMFD_SECRET);
	fork_copy_test();
}

SM_TEST(test_libsm_fork_copy_mlock)
{
	use_backend("mlock");
	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_ALLOW_MLOCK | SECRETMEM_LIB_FORK_COPY));
	fork_copy_test();
}

/* The device's mappings of a FORK_COPY process are inheritable; a child's copies are its own. */
SM_TEST(test_libsm_fork_copy_child_pages_own)
{
	long pages0;
	uint8_t *p;
	int go, st;
	pid_t pid;

	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY));
	p = secretmem_malloc(32);
	ck_assert(p);
	memset(p, 0x2f, 32);
	pages0 = counter("pages");
	pid = fork_held(&go);
	if (!pid)	/* after the parent's free: the child's own copy is intact */
		_exit(p[0] == 0x2f && p[31] == 0x2f ? 0 : 2);
	/* The child copied before fork() returned here: its own slab exists. */
	ck_assert_msg(counter("pages") >= pages0 + 4,
		      "pages %ld, before fork %ld: the child has no pages of its own",
		      counter("pages"), pages0);
	secretmem_mfree(p);	/* scrubs the parent's pages only */
	st = release_held(go, pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
}

/* FORK_COPY asked for after objects exist: those are copied too. */
SM_TEST(test_libsm_fork_copy_after_first_use)
{
	uint8_t *p = secretmem_malloc(32);
	int go, st;
	pid_t pid;

	ck_assert(p);
	memset(p, 0x4d, 32);
	ck_assert_msg(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY), "init: %s", strerror(errno));
	pid = fork_held(&go);
	if (!pid)
		_exit(p[0] == 0x4d && p[31] == 0x4d ? 0 : 2);
	st = release_held(go, pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "child status 0x%x", st);
	secretmem_mfree(p);
}

/*
 * The copy is the state at fork(): what the parent writes and frees once
 * fork() returned never reaches the child (no page is shared).
 */
SM_TEST(test_libsm_fork_copy_is_a_snapshot)
{
	uint8_t *p, *big;
	int go, st;
	pid_t pid;

	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY));
	p = secretmem_malloc(32);
	big = secretmem_malloc(20000);
	ck_assert(p && big);
	memset(p, 0x61, 32);
	memset(big, 0x62, 20000);
	pid = fork_held(&go);
	if (!pid)
		_exit(p[0] == 0x61 && p[31] == 0x61 && big[0] == 0x62 && big[19999] == 0x62 ?
		      0 : 2);
	memset(p, 0x99, 32);
	secretmem_mfree(big);	/* scrubs and unmaps the parent's pages */
	st = release_held(go, pid);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st),
		      "child status 0x%x: the parent's writes after fork() reached the child", st);
	secretmem_mfree(p);
}

/*
 * A child made without fork()'s handlers (a raw clone) gets no secret
 * mapping: only the copies are inheritable, and only while fork() runs.
 */
SM_TEST(test_libsm_fork_copy_raw_clone_gets_nothing)
{
	volatile uint8_t *p;
	long pid;
	int st;

	ck_assert(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY));
	p = secretmem_malloc(32);
	ck_assert(p);
	p[0] = 0x3e;
	fflush(NULL);
	pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	ck_assert(pid >= 0);
	if (!pid) {
		struct rlimit no_core = { 0, 0 };

		syscall(SYS_setrlimit, RLIMIT_CORE, &no_core);
		(void)p[0];
		syscall(SYS_exit_group, 3);
	}
	while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "raw clone child status 0x%x, expected death by SIGSEGV", st);
	ck_assert(p[0] == 0x3e);
	secretmem_mfree((void *)p);
}


/* ---- limits ---- */

struct limit_arg {
	const char *backend;
	int want;	/* errno at the limit */
};

static int limit_child(void *arg, char *msg, size_t n)
{
	struct limit_arg *la = arg;
	struct secretmem_lib_stats st0, st;
	enum { MAXOBJ = 8192 };
	static uint8_t *v[MAXOBJ];
	unsigned int i, got = 0;
	void *big;

	if (drop_to_nobody(64 * 1024, msg, n))
		return 1;
	if (la->backend)
		setenv("SECRETMEM_BACKEND", la->backend, 1);
	if (secretmem_lib_init(0))
		CFAIL("init as nobody: %s", strerror(errno));
	secretmem_lib_stats(&st0);
	for (i = 0; i < MAXOBJ; i++) {
		errno = 0;
		v[i] = secretmem_malloc(32);
		if (!v[i])
			break;
		got++;
	}
	if (got == MAXOBJ)
		CFAIL("%u objects under a 64 KiB RLIMIT_MEMLOCK", got);
	if (errno != la->want)
		CFAIL("at the limit (%u objects): %s, expected %s", got, sm_errname(errno),
		      sm_errname(la->want));
	if (got < 500)
		CFAIL("only %u 32-byte objects in 64 KiB", got);
	errno = 0;
	big = secretmem_malloc(128 * 1024);
	if (big || errno != la->want)
		CFAIL("128 KiB over the limit: %p, %s", big, sm_errname(errno));
	secretmem_lib_stats(&st);
	if (st.objects_in_use != got)
		CFAIL("%zu objects in use, %u allocated", st.objects_in_use, got);
	for (i = 0; i < got; i++)
		secretmem_mfree(v[i]);
	secretmem_lib_stats(&st);
	if (st.objects_in_use || st.bytes_in_use)
		CFAIL("%zu objects left", st.objects_in_use);
	if (st.bytes_mapped > 4 * 16384)
		CFAIL("%zu bytes still mapped after freeing all", st.bytes_mapped);
	/* the memory came back: the limit allows as much again */
	for (i = 0; i < got; i++)
		if (!(v[i] = secretmem_malloc(32)))
			CFAIL("again: object %u of %u: %s", i, got, strerror(errno));
	for (i = 0; i < got; i++)
		secretmem_mfree(v[i]);
	return 0;
}

SM_TEST(test_libsm_memlock_limit_device_eagain)
{
	struct limit_arg la = { "device", EAGAIN };
	long pg0 = sm_counter("pages");

	run_child(limit_child, &la);
	if (pg0 >= 0)
		ck_assert_msg(counters_idle(2000) || sm_counter("pages") == pg0,
			      "module pages %ld, was %ld", sm_counter("pages"), pg0);
}

SM_TEST(test_libsm_memlock_limit_memfd_secret_eagain)
{
	struct limit_arg la = { "memfd_secret", EAGAIN };

	if (!have_memfd_secret())
		SKIP("no memfd_secret(2) on this kernel (%s)", strerror(errno));
	run_child(limit_child, &la);
}

/* fork() while other threads allocate and free: no deadlock, the child works. */
static volatile int fork_stop;

static void *churn(void *arg)
{
	(void)arg;
	while (!fork_stop) {
		void *a = secretmem_malloc(32), *b = secretmem_malloc(3000);

		secretmem_mfree(a);
		secretmem_mfree(b);
	}
	return NULL;
}

/*
 * With @copy (FORK_COPY): no deadlock either (the parent waits for the
 * copy), and an object made before the fork is there in each child.
 */
static void fork_while_threads(bool copy)
{
	uint8_t *keep = NULL;
	pthread_t tid[2];
	int i, st;
	pid_t pid;

	if (copy) {
		ck_assert(!secretmem_lib_init(SECRETMEM_LIB_FORK_COPY));
		keep = secretmem_malloc(48);
		ck_assert(keep);
		memset(keep, 0x9c, 48);
	}
	ck_assert(secretmem_backend() != SECRETMEM_BACKEND_NONE);
	for (i = 0; i < 2; i++)
		ck_assert(!pthread_create(&tid[i], NULL, churn, NULL));
	for (i = 0; i < (quick ? 5 : 20); i++) {
		fflush(NULL);
		pid = fork();
		ck_assert(pid >= 0);
		if (!pid) {
			void *p, *q;

			alarm(20);
			if (!copy && maps_have_secret())
				_exit(4);	/* the parent's, inherited */
			if (copy && (keep[0] != 0x9c || keep[47] != 0x9c))
				_exit(3);
			p = secretmem_malloc(32);
			q = secretmem_malloc(5000);
			if (!p || !q)
				_exit(2);
			secretmem_mfree(p);
			secretmem_mfree(q);
			if (copy)
				secretmem_mfree(keep);
			_exit(0);
		}
		ck_assert(waitpid(pid, &st, 0) == pid);
		ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "fork #%d: child status 0x%x", i, st);
	}
	fork_stop = 1;
	for (i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	if (copy) {
		ck_assert(keep[0] == 0x9c);
		secretmem_mfree(keep);
	}
}

SM_TEST(test_libsm_fork_while_threads_allocate) { fork_while_threads(false); }
SM_TEST(test_libsm_fork_copy_while_threads_allocate) { fork_while_threads(true); }
