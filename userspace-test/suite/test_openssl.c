// SPDX-License-Identifier: GPL-2.0
// test_openssl.c - libsecretmem-openssl.so with Debian's own openssl binary: TLS handshakes with
// RSA-2048, P-256 and Ed25519 server keys, and no copy of the private key in the server's memory,
// in all RAM, or in RAM after the server exits; the same scans find copies without the preload.
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "needles.h"
#include "sm_test.h"

SM_FILE("openssl", 87, 300);

/*
 * What userspace-test/ossl/stage.sh puts into the initramfs: Debian 12's
 * openssl of the guest's architecture (the host's; the arm64 sysroot's)
 * with its libraries, the preload, ossl_unit, and per key kind K
 * (rsa, p256, ed25519) K.pem/K.crt/K.needles for the preloaded server and
 * K-ctl.* for the control server.  The two keys differ, so copies the
 * control leaves in RAM cannot be mistaken for the protected key's.
 */
#ifndef OSSL_DIR		/* -DOSSL_DIR=... runs the unit tests on a host */
#define OSSL_DIR	"/tests/ossl"
#endif
#define OPENSSL		"/usr/bin/openssl"
#define PRELOAD		OSSL_DIR "/libsecretmem-openssl.so"
#define WAIT_SECS	(getenv("OSSL_WAIT") ? atoi(getenv("OSSL_WAIT")) : 120)	/* TCG: an RSA handshake takes seconds */

static void ossl_or_skip(void)
{
	if (access(OSSL_DIR, F_OK) || access(OPENSSL, X_OK))
		SKIP("no %s or %s: initramfs without the OpenSSL tests", OSSL_DIR, OPENSSL);
}

struct server {
	pid_t pid;
	int in_fd;		/* the server's stdin, kept open */
	char key[96], sock[96], log[96];
};

#define NGINX		"/usr/sbin/nginx"
#define NGINX_WORKERS	2

struct nginx {
	pid_t master;
	pid_t workers[NGINX_WORKERS];
	struct server s;	/* .key, .sock, .log for handshake() */
	char dir[48];
};

static void key_path(char *buf, size_t n, const char *key, const char *ext)
{
	snprintf(buf, n, "%s/%s.%s", OSSL_DIR, key, ext);
}

static long count_in_file(const char *path, const char *what)
{
	char line[1024];
	long c = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			c++;
	fclose(f);
	return c;
}

/* The last lines of a log, for a failure message. */
static const char *tail_of(const char *path)
{
	static char buf[600];
	size_t n = 0;
	int fd = open(path, O_RDONLY);
	off_t end;

	buf[0] = 0;
	if (fd < 0)
		return "(no log)";
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)sizeof(buf) - 1)
		lseek(fd, end - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1) > 0 ? strlen(buf) : 0;
	close(fd);
	(void)n;
	return buf;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* openssl s_server -naccept 2 with @key, preloaded or not; waits until it listens. */
static void server_start(struct server *s, const char *key, bool preload)
{
	char pem[128], crt[128];
	int in[2], fd;
	double t0;

	memset(s, 0, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", key);
	snprintf(s->sock, sizeof(s->sock), "/tmp/ossl-%s-%d.sock", key, (int)getpid());
	snprintf(s->log, sizeof(s->log), "/tmp/ossl-%s-%d.log", key, (int)getpid());
	key_path(pem, sizeof(pem), key, "pem");
	key_path(crt, sizeof(crt), key, "crt");
	unlink(s->sock);
	ck_assert(!pipe2(in, O_CLOEXEC));
	fflush(NULL);
	s->pid = fork();
	ck_assert(s->pid >= 0);
	if (s->pid == 0) {
		dup2(in[0], 0);
		fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		if (preload)
			setenv("LD_PRELOAD", PRELOAD, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(OPENSSL, "openssl", "s_server", "-key", pem, "-cert", crt,
		      "-unix", s->sock, "-naccept", "2", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	s->in_fd = in[1];
	t0 = now_s();
	while (access(s->sock, F_OK)) {
		int st;

		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			ck_abort_msg("s_server (%s%s) exited with status 0x%x: %s", key,
				     preload ? ", preloaded" : "", st, tail_of(s->log));
		}
		ck_assert_msg(now_s() - t0 < WAIT_SECS, "s_server did not listen in %d s: %s",
			      WAIT_SECS, tail_of(s->log));
		usleep(50000);
	}
}

/* Is pid blocked in accept(2) or accept4(2) (/proc/PID/syscall)? */
static bool in_accept(pid_t pid)
{
	char path[64], buf[64];
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (sm_read_text(path, buf, sizeof(buf)) || sscanf(buf, "%ld", &nr) != 1)
		return false;
	return nr == SYS_accept || nr == SYS_accept4;	/* this architecture's numbers */
}

/* One s_client connection to @s that must complete a verified handshake. */
static void s_client(const struct server *s)
{
	char crt[128], log[96];
	pid_t pid;
	int st, fd;

	key_path(crt, sizeof(crt), s->key, "crt");
	snprintf(log, sizeof(log), "/tmp/ossl-client-%d.log", (int)getpid());
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("LD_PRELOAD");
		execl(OPENSSL, "openssl", "s_client", "-unix", s->sock, "-CAfile", crt,
		      "-verify_return_error", "-brief", (char *)NULL);
		_exit(127);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		      count_in_file(log, "CONNECTION ESTABLISHED") == 1,
		      "s_client to %s failed (status 0x%x): %s", s->key, st, tail_of(log));
}

/* s_client(), then wait until s_server is done with connection @nth. */
static void handshake(struct server *s, int nth)
{
	double t0;

	s_client(s);
	/*
	 * The server is done with the connection once it has seen the
	 * client's close_notify ("DONE", flushed at once) and is back in
	 * accept(2); the last connection makes it exit instead.
	 */
	t0 = now_s();
	while (count_in_file(s->log, "DONE") < nth ||
	       (nth < 2 && !in_accept(s->pid))) {
		ck_assert_msg(now_s() - t0 < WAIT_SECS, "s_server did not finish connection %d: %s",
			      nth, tail_of(s->log));
		usleep(50000);
	}
}

/* The second connection ends the server (-naccept 2); its exit status must be 0. */
static void server_finish(struct server *s)
{
	int st;

	handshake(s, 2);
	close(s->in_fd);
	ck_assert(waitpid(s->pid, &st, 0) == s->pid);
	s->pid = 0;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "s_server exited with status 0x%x: %s", st, tail_of(s->log));
}

static void server_kill(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	close(s->in_fd);
}

static bool maps_have(pid_t pid, const char *what)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			found = true;
	fclose(f);
	return found;
}

static void load_needles(struct needles *ns, const char *key)
{
	char path[128], why[256];

	key_path(path, sizeof(path), key, "needles");
	ck_assert_msg(!needles_load(ns, path, why, sizeof(why)), "%s", why);
}

static long scan_pid(const struct needles *ns, pid_t pid, struct needle_hits *h)
{
	double t0 = now_s();

	ck_assert_msg(!needles_scan_pid(ns, pid, h), "scan of /proc/%d/mem: %s", (int)pid,
		      strerror(errno));
	printf("  /proc/%d/mem: %zu bytes read, %ld region(s) unreadable, %ld hit(s) %s (%.1f s)\n",
	       (int)pid, h->bytes, h->unreadable, h->hits, h->first, now_s() - t0);
	needles_scan_done();
	return h->hits;
}

static long scan_kcore(const struct needles *ns, struct needle_hits *h)
{
	double t0 = now_s();
	struct kcore k;

	KCORE_OPEN_OR_SKIP(&k);
	ck_assert_msg(!needles_scan_kcore(ns, &k, h), "kcore scan: %s", strerror(errno));
	kcore_close(&k);
	printf("  /proc/kcore: %zu MiB of RAM read, %ld hit(s) %s (%.1f s)\n",
	       h->bytes >> 20, h->hits, h->first, now_s() - t0);
	needles_scan_done();
	return h->hits;
}

/* Entry @idx of a /proc table of 64-bit entries (pagemap, kpageflags, kpagecount): 0 or -1. */
static int proc_u64(const char *path, uint64_t idx, uint64_t *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = pread(fd, v, sizeof(*v), (off_t)(idx * sizeof(*v))) == sizeof(*v);
	close(fd);
	return ok ? 0 : -1;
}

/* The frame behind @addr in @pid (/proc/PID/pagemap), or 0. */
static uint64_t pid_pfn(pid_t pid, uint64_t addr)
{
	uint64_t e;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	if (proc_u64(path, addr / (uint64_t)sysconf(_SC_PAGESIZE), &e))
		return 0;
	return (e >> 63) ? e & ((1ULL << 55) - 1) : 0;
}

/*
 * A protected scan found a copy: say where it lives, for whoever reads the
 * failure.  The page's /proc/kpageflags (free: buddy; kernel: slab; a
 * process's: anon, mmap, lru) and every live process whose /proc/PID/mem
 * holds a copy, this test's own among them.  Returns how many processes
 * hold one (the control shows that the explainer finds the holder).
 */
static int explain_kcore_hit(const struct needles *ns, const struct needle_hits *h)
{
	static const char *const kpf[] = {
		"locked", "error", "referenced", "uptodate", "dirty", "lru", "active",
		"slab", "writeback", "reclaim", "buddy", "mmap", "anon", "swapcache",
		"swapbacked", "compound_head", "compound_tail", "huge", "unevictable",
		"hwpoison", "nopage", "ksm", "thp", "offline", "zero_page", "idle", "pgtable",
		[32] = "reserved", "mlocked", "mappedtodisk/owner_2", "private",
		"private_2", "owner_private", "arch", "uncached", "softdirty", "arch_2",
		"arch_3",
	};
	uint64_t pfn = h->first_addr / (uint64_t)sysconf(_SC_PAGESIZE), flags, count;
	struct needle_hits ph;
	struct dirent *de;
	char path[64], comm[32];
	unsigned int i;
	int holders = 0;
	DIR *d;

	if (!proc_u64("/proc/kpageflags", pfn, &flags)) {
		printf("  the hit's page, pfn 0x%llx: kpageflags 0x%llx:", (unsigned long long)pfn,
		       (unsigned long long)flags);
		for (i = 0; i < sizeof(kpf) / sizeof(kpf[0]); i++)
			if ((flags & (1ULL << i)) && kpf[i])
				printf(" %s", kpf[i]);
		printf("\n");
	}
	if (!proc_u64("/proc/kpagecount", pfn, &count))
		printf("  its kpagecount: %llu\n", (unsigned long long)count);
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || needles_scan_pid(ns, pid, &ph) || !ph.hits)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (sm_read_text(path, comm, sizeof(comm)))
			comm[0] = 0;
		printf("  process %d (%s%s) holds %ld copies, first %s, pfn 0x%llx\n", (int)pid,
		       comm, pid == getpid() ? ", this test" : "", ph.hits, ph.first,
		       (unsigned long long)pid_pfn(pid, ph.first_addr));
		holders++;
	}
	if (d)
		closedir(d);
	needles_scan_done();
	return holders;
}

/* ---- per key kind ---- */

static void t_handshake(const char *key)
{
	struct server s;

	ossl_or_skip();
	server_start(&s, key, true);
	handshake(&s, 1);
	ck_assert_msg(maps_have(s.pid, "libsecretmem-openssl.so"), "the preload is not mapped");
	ck_assert_msg(maps_have(s.pid, "/dev/secretmem") || maps_have(s.pid, "/secretmem"),
		      "the preloaded server has no secret memory mapped");
	server_finish(&s);
}

static void t_no_key_in_proc_mem(const char *key)
{
	static struct needles ns;
	struct needle_hits h;
	struct server s;

	ossl_or_skip();
	load_needles(&ns, key);
	server_start(&s, key, true);
	handshake(&s, 1);
	scan_pid(&ns, s.pid, &h);
	server_kill(&s);
	ck_assert_msg(h.unreadable > 0, "no region of the server was unreadable: no secret memory?");
	ck_assert_msg(h.hits == 0, "%ld copies of the %s key in the server's memory, first %s",
		      h.hits, key, h.first);
}

static void nginx_or_skip(void);
static void nginx_serve(struct nginx *n, const char *key, bool preload);
static void nginx_stop(struct nginx *n);

/*
 * All RAM through kcore while the preloaded server serves with @key
 * (@nginx: nginx's master and workers, else s_server): no copy.
 */
static void t_kcore_while_serving(const char *key, bool nginx)
{
	static struct needles ns;
	struct needle_hits h;
	struct nginx n;

	if (nginx)
		nginx_or_skip();
	else
		ossl_or_skip();
	load_needles(&ns, key);
	if (nginx) {
		nginx_serve(&n, key, true);
	} else {
		server_start(&n.s, key, true);
		handshake(&n.s, 1);
	}
	if (scan_kcore(&ns, &h))
		explain_kcore_hit(&ns, &h);
	if (nginx)
		nginx_stop(&n);
	else
		server_kill(&n.s);
	ck_assert_msg(h.hits == 0, "%ld copies of the %s key in RAM while %s runs, first %s",
		      h.hits, key, nginx ? "nginx" : "the server", h.first);
}

static void t_no_key_in_kcore(const char *key)
{
	t_kcore_while_serving(key, false);
}

/*
 * After the server is gone.  It is killed (SIGKILL), the hard case: no
 * atexit cleanup runs, so nothing but the preload and the module's
 * teardown scrub stands between the key and the freed pages.  (A clean
 * exit also clears OpenSSL's live copies: RSA_free, BN_MONT_CTX_free.)
 */
static void t_no_key_after_exit(const char *key)
{
	static struct needles ns;
	struct needle_hits h;
	struct server s;
	char why[256];
	struct kcore k;

	ossl_or_skip();
	load_needles(&ns, key);
	/* kcore open and the scan buffer faulted in before the server frees its pages */
	if (kcore_open(&k, why, sizeof(why)))
		SKIP("%s", why);
	ck_assert(!needles_prepare());
	server_start(&s, key, true);
	handshake(&s, 1);
	server_kill(&s);
	ck_assert_msg(!needles_scan_kcore(&ns, &k, &h), "kcore scan: %s", strerror(errno));
	kcore_close(&k);
	needles_scan_done();
	printf("  /proc/kcore after the kill: %zu MiB of RAM read, %ld hit(s) %s\n",
	       h.bytes >> 20, h.hits, h.first);
	if (h.hits)
		explain_kcore_hit(&ns, &h);
	ck_assert_msg(h.hits == 0, "%ld copies of the %s key in RAM after the server exited, first %s",
		      h.hits, key, h.first);
}

/* Without the preload the same scans find the (control) key: they have power. */
static void t_control_finds_key(const char *key)
{
	static struct needles ns;
	struct needle_hits hp, hk, he, hf;
	struct kcore k;
	char ctl[64];
	struct server s;

	ossl_or_skip();
	snprintf(ctl, sizeof(ctl), "%s-ctl", key);
	load_needles(&ns, ctl);
	server_start(&s, ctl, false);
	handshake(&s, 1);
	scan_pid(&ns, s.pid, &hp);
	scan_kcore(&ns, &hk);
	ck_assert_msg(hp.hits > 0, "no copy of the %s key in the unprotected server's memory", ctl);
	ck_assert_msg(hk.hits > 0, "no copy of the %s key in RAM while the unprotected server runs",
		      ctl);
	ck_assert_msg(explain_kcore_hit(&ns, &hk) > 0,
		      "the unprotected server's copies were not traced to any process");
	/*
	 * After the kill: the page where the running scan saw the first copy
	 * first, then all of RAM.  kcore is open and the scan buffer mapped
	 * before the kill, so the test allocates no page in between (a fresh
	 * page would be one the server just freed, zeroed by init_on_alloc).
	 */
	KCORE_OPEN_OR_SKIP(&k);
	ck_assert(!needles_prepare());
	server_kill(&s);
	ck_assert_msg(!needles_scan_kcore_phys(&ns, &k, hk.first_addr & ~4095ULL, 4096, &hf),
		      "kcore scan of one page: %s", strerror(errno));
	ck_assert_msg(!needles_scan_kcore(&ns, &k, &he), "kcore scan: %s", strerror(errno));
	kcore_close(&k);
	needles_scan_done();
	printf("  after the kill: the page at 0x%llx: %ld hit(s); all RAM: %ld hit(s) %s\n",
	       (unsigned long long)(hk.first_addr & ~4095ULL), hf.hits, he.hits, he.first);
	ck_assert_msg(he.hits > 0,
		      "no copy of the %s key in RAM after the unprotected server exited", ctl);
}

/* One test a line: the runner orders a file's tests by line. */
SM_TEST(ossl_rsa_handshake) { t_handshake("rsa"); }
SM_TEST(ossl_rsa_no_key_in_proc_mem) { t_no_key_in_proc_mem("rsa"); }
SM_TEST(ossl_rsa_no_key_in_kcore) { t_no_key_in_kcore("rsa"); }
SM_TEST(ossl_rsa_no_key_after_exit) { t_no_key_after_exit("rsa"); }
SM_TEST(ossl_rsa_control_finds_key) { t_control_finds_key("rsa"); }

SM_TEST(ossl_p256_handshake) { t_handshake("p256"); }
SM_TEST(ossl_p256_no_key_in_proc_mem) { t_no_key_in_proc_mem("p256"); }
SM_TEST(ossl_p256_no_key_in_kcore) { t_no_key_in_kcore("p256"); }
SM_TEST(ossl_p256_no_key_after_exit) { t_no_key_after_exit("p256"); }
SM_TEST(ossl_p256_control_finds_key) { t_control_finds_key("p256"); }

SM_TEST(ossl_ed25519_handshake) { t_handshake("ed25519"); }
SM_TEST(ossl_ed25519_no_key_in_proc_mem) { t_no_key_in_proc_mem("ed25519"); }
SM_TEST(ossl_ed25519_no_key_in_kcore) { t_no_key_in_kcore("ed25519"); }
SM_TEST(ossl_ed25519_no_key_after_exit) { t_no_key_after_exit("ed25519"); }
SM_TEST(ossl_ed25519_control_finds_key) { t_control_finds_key("ed25519"); }


/* ---- the secure-heap API (ossl_unit, a libcrypto program, preloaded) ---- */

/*
 * Run @path with @arg (NULL: none) in a child, its stdout and stderr in
 * @out, no core file, LD_PRELOAD set to the preload or not, and
 * SECRETMEM_BACKEND=@backend when not NULL; the child's wait status.
 * An exec that fails exits 126 (the preload's own refusal is 127).
 */
static int run_logged(const char *out, bool preload, const char *backend,
		      const char *path, const char *arg0, const char *arg)
{
	struct rlimit no_core = { 0, 0 };
	pid_t pid;
	int st, fd;

	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (preload)
			setenv("LD_PRELOAD", PRELOAD, 1);
		else
			unsetenv("LD_PRELOAD");
		if (backend)
			setenv("SECRETMEM_BACKEND", backend, 1);
		execl(path, arg0, arg, (char *)NULL);
		_exit(126);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	return st;
}

static void unit(const char *check)
{
	char out[96], cmd[256];
	int st;

	ossl_or_skip();
	snprintf(out, sizeof(out), "/tmp/ossl-unit-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s/ossl_unit", OSSL_DIR);
	st = run_logged(out, true, NULL, cmd, "ossl_unit", check);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ossl_unit %s (status 0x%x): %s",
		      check, st, tail_of(out));
}

SM_TEST(ossl_secure_malloc_initialized) { unit("initialized"); }
SM_TEST(ossl_secure_allocated) { unit("allocated"); }
SM_TEST(ossl_secure_actual_size) { unit("actual_size"); }
SM_TEST(ossl_secure_used) { unit("used"); }
SM_TEST(ossl_secure_zalloc_zeroes) { unit("zalloc"); }
SM_TEST(ossl_secure_clear_free_scrubs) { unit("clear_free"); }
SM_TEST(ossl_secure_free_normal_heap_ptr) { unit("free_foreign"); }
SM_TEST(ossl_secure_malloc_done) { unit("done"); }
SM_TEST(ossl_free_scrubs_heap_block) { unit("free_scrubs"); }
SM_TEST(ossl_realloc_scrubs_old_block) { unit("realloc_scrubs"); }
SM_TEST(ossl_mont_ctx_of_secret_modulus_secure) { unit("mont_secure"); }
SM_TEST(ossl_thread_free_scrubs_heap_block) { unit("thread_free_scrubs"); }
SM_TEST(ossl_exported_key_stays_secure) { unit("export_secure"); }
SM_TEST(ossl_fork_child_signs_with_parent_key) { unit("fork_sign"); }

/* The control: with SECRETMEM_OPENSSL_FORK=none the child has no key (SIGSEGV). */
SM_TEST(ossl_fork_none_child_has_no_key)
{
	char out[96], cmd[256];
	int st;

	ossl_or_skip();
	ck_assert(!setenv("SECRETMEM_OPENSSL_FORK", "none", 1));
	snprintf(out, sizeof(out), "/tmp/ossl-unit-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s/ossl_unit", OSSL_DIR);
	st = run_logged(out, true, NULL, cmd, "ossl_unit", "fork_sign");
	unsetenv("SECRETMEM_OPENSSL_FORK");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3,
		      "ossl_unit fork_sign with SECRETMEM_OPENSSL_FORK=none (status 0x%x): %s",
		      st, tail_of(out));
}

/*
 * ossl_unit CHECK, with the preload or not, must be killed by @sig (glibc's
 * malloc aborting on a bad free), not return and not crash elsewhere.
 */
static void unit_dies(const char *check, bool preload, int sig)
{
	char out[96], cmd[256];
	int st;

	ossl_or_skip();
	snprintf(out, sizeof(out), "/tmp/ossl-unit-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s/ossl_unit", OSSL_DIR);
	st = run_logged(out, preload, NULL, cmd, "ossl_unit", check);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
		      "ossl_unit %s%s: status 0x%x, not killed by signal %d: %s", check,
		      preload ? " (preloaded)" : "", st, sig, tail_of(out));
}

/*
 * The preload scrubs freed blocks but leaves glibc's tcache key of a block
 * already freed alone: glibc still finds a double free (the control: the
 * same without the preload).  Stock OpenSSL's OPENSSL_clear_free clears the
 * key itself and lets a double clear_free through; the preload does not.
 * A pointer that is no heap block goes to glibc's free, which aborts,
 * instead of being scrubbed by what its "size" says.
 */
SM_TEST(ossl_double_free_aborts) { unit_dies("double_free_aborts", true, SIGABRT); }
SM_TEST(ossl_double_free_aborts_without_preload) { unit_dies("double_free_aborts", false, SIGABRT); }
SM_TEST(ossl_double_clear_free_aborts) { unit_dies("double_clear_free_aborts", true, SIGABRT); }
SM_TEST(ossl_free_bad_pointer_aborts) { unit_dies("bad_pointer_aborts", true, SIGABRT); }
SM_TEST(ossl_free_bad_pointer_aborts_without_preload) { unit_dies("bad_pointer_aborts", false, SIGABRT); }
SM_TEST(ossl_free_misaligned_pointer_aborts) { unit_dies("misaligned_free_aborts", true, SIGABRT); }
SM_TEST(ossl_thread_double_free_aborts) { unit_dies("thread_double_free_aborts", true, SIGABRT); }

/*
 * ---- nginx in master/worker mode (Debian 12's nginx) ----
 *
 * The master loads the key and forks the workers, which sign with it: the
 * case a preload without fork support breaks (SIGSEGV in every worker at
 * its first handshake).  Two workers, a Unix socket, the server's files in
 * /tmp.
 */
static void nginx_or_skip(void)
{
	ossl_or_skip();
	if (access(NGINX, X_OK))
		SKIP("no %s: initramfs without nginx", NGINX);
}

/* The master's children (its workers), from /proc/PID/stat; how many. */
static int nginx_find_workers(struct nginx *n)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	int found = 0, ppid;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d)) && found < NGINX_WORKERS) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", atoi(de->d_name));
		if (sm_read_text(path, buf, sizeof(buf)))
			continue;
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == n->master)
			n->workers[found++] = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static void nginx_start(struct nginx *n, const char *key, bool preload)
{
	char pem[128], crt[128], conf[160];
	double t0;
	FILE *f;
	int fd;

	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "/tmp/nginx-%d", (int)getpid());
	snprintf(n->s.key, sizeof(n->s.key), "%s", key);
	snprintf(n->s.sock, sizeof(n->s.sock), "%s/tls.sock", n->dir);
	snprintf(n->s.log, sizeof(n->s.log), "%s/error.log", n->dir);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
	key_path(pem, sizeof(pem), key, "pem");
	key_path(crt, sizeof(crt), key, "crt");
	mkdir(n->dir, 0755);
	unlink(n->s.sock);
	f = fopen(conf, "w");
	ck_assert(f);
	fprintf(f, "daemon off;\nmaster_process on;\nworker_processes %d;\nuser root root;\n"
		"pid %s/nginx.pid;\nerror_log %s info;\n"
		"events { worker_connections 16; }\n"
		"http {\n  access_log off;\n"
		"  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n"
		"  server {\n    listen unix:%s ssl;\n"
		"    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
		"    location / { return 200 \"ok\\n\"; }\n  }\n}\n",
		NGINX_WORKERS, n->dir, n->s.log, n->dir, n->dir, n->dir, n->dir, n->dir,
		n->s.sock, crt, pem);
	fclose(f);
	fflush(NULL);
	n->master = fork();
	ck_assert(n->master >= 0);
	if (!n->master) {
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		fd = open(n->s.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (preload)
			setenv("LD_PRELOAD", PRELOAD, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(NGINX, "nginx", "-e", n->s.log, "-c", conf, (char *)NULL);
		_exit(127);
	}
	n->s.pid = n->master;
	t0 = now_s();
	while (access(n->s.sock, F_OK) || nginx_find_workers(n) < NGINX_WORKERS) {
		int st;

		if (waitpid(n->master, &st, WNOHANG) == n->master) {
			n->master = 0;
			ck_abort_msg("nginx (%s%s) exited with status 0x%x: %s", key,
				     preload ? ", preloaded" : "", st, tail_of(n->s.log));
		}
		ck_assert_msg(now_s() - t0 < WAIT_SECS, "nginx did not start in %d s: %s",
			      WAIT_SECS, tail_of(n->s.log));
		usleep(50000);
	}
}

/* nginx_start(), then two verified handshakes per worker. */
static void nginx_serve(struct nginx *n, const char *key, bool preload)
{
	int i;

	nginx_start(n, key, preload);
	for (i = 0; i < 2 * NGINX_WORKERS; i++)
		s_client(&n->s);
}

static void nginx_stop(struct nginx *n)
{
	if (n->master > 0) {
		kill(n->master, SIGKILL);
		waitpid(n->master, NULL, 0);
		n->master = 0;
	}
	/* The workers outlive a killed master: kill them too. */
	for (int i = 0; i < NGINX_WORKERS; i++)
		if (n->workers[i] > 0)
			kill(n->workers[i], SIGKILL);
}

/* Every worker handshakes with the master's key: none died (signal 11 in the log). */
static void t_nginx_handshake(const char *key)
{
	struct nginx n;
	int i;

	nginx_or_skip();
	nginx_serve(&n, key, true);
	for (i = 0; i < NGINX_WORKERS; i++)
		ck_assert_msg(maps_have(n.workers[i], "/dev/secretmem") ||
			      maps_have(n.workers[i], "/secretmem"),
			      "nginx worker %d has no secret memory mapped", (int)n.workers[i]);
	ck_assert_msg(count_in_file(n.s.log, "exited on signal") == 0,
		      "a worker died: %s", tail_of(n.s.log));
	nginx_stop(&n);
}

/* /proc/PID/mem of the master and of each worker: no copy of the key. */
static void t_nginx_no_key_in_proc_mem(const char *key)
{
	static struct needles ns;
	struct needle_hits h;
	long hits = 0;
	struct nginx n;
	int i;

	nginx_or_skip();
	load_needles(&ns, key);
	nginx_serve(&n, key, true);
	hits += scan_pid(&ns, n.master, &h);
	for (i = 0; i < NGINX_WORKERS; i++) {
		hits += scan_pid(&ns, n.workers[i], &h);
		ck_assert_msg(h.unreadable > 0, "no region of worker %d was unreadable",
			      (int)n.workers[i]);
	}
	nginx_stop(&n);
	ck_assert_msg(hits == 0, "%ld copies of the %s key in nginx's master and workers",
		      hits, key);
}

static void t_nginx_no_key_in_kcore(const char *key)
{
	t_kcore_while_serving(key, true);
}

/* The control: unprotected nginx's workers hold copies of the (control) key. */
static void t_nginx_control_finds_key(const char *key)
{
	static struct needles ns;
	struct needle_hits h;
	struct nginx n;
	long hits = 0;
	char ctl[64];
	int i;

	nginx_or_skip();
	snprintf(ctl, sizeof(ctl), "%s-ctl", key);
	load_needles(&ns, ctl);
	nginx_serve(&n, ctl, false);
	for (i = 0; i < NGINX_WORKERS; i++)
		hits += scan_pid(&ns, n.workers[i], &h);
	nginx_stop(&n);
	ck_assert_msg(hits > 0, "no copy of the %s key in the unprotected nginx workers", ctl);
}

SM_TEST(ossl_nginx_rsa_workers_handshake) { t_nginx_handshake("rsa"); }
SM_TEST(ossl_nginx_rsa_no_key_in_proc_mem) { t_nginx_no_key_in_proc_mem("rsa"); }
SM_TEST(ossl_nginx_rsa_no_key_in_kcore) { t_nginx_no_key_in_kcore("rsa"); }
SM_TEST(ossl_nginx_rsa_control_finds_key) { t_nginx_control_finds_key("rsa"); }
SM_TEST(ossl_nginx_p256_no_key_in_proc_mem) { t_nginx_no_key_in_proc_mem("p256"); }
SM_TEST(ossl_nginx_ed25519_no_key_in_proc_mem) { t_nginx_no_key_in_proc_mem("ed25519"); }

/* No secret memory (libsecretmem's SECRETMEM_BACKEND=none): the preload stops the program. */
SM_TEST(ossl_refuses_without_secret_memory)
{
	char out[96];
	int st;

	ossl_or_skip();
	snprintf(out, sizeof(out), "/tmp/ossl-refuse-%d.log", (int)getpid());
	st = run_logged(out, true, "none", OPENSSL, "openssl", "version");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 127,
		      "openssl ran without secret memory (status 0x%x): %s", st, tail_of(out));
	ck_assert_msg(count_in_file(out, "Not running unprotected") == 1 &&
		      count_in_file(out, "OpenSSL 3") == 0,
		      "no refusal message, or the program ran: %s", tail_of(out));
}
