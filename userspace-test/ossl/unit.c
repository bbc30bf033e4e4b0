// SPDX-License-Identifier: GPL-2.0
/*
 * unit.c - ossl_unit: OpenSSL 3's secure-heap API as libsecretmem-openssl.so
 * provides it, checked against what OpenSSL documents
 * (CRYPTO_secure_malloc(3)).  A dynamic program linked with the system's
 * libcrypto.so.3, run with LD_PRELOAD=libsecretmem-openssl.so:
 *
 *   ossl_unit CHECK      one check; exit 0 if it holds, 1 with a message
 *   ossl_unit --list     the checks
 *
 * Run without the preload, the checks that need secret memory fail: they
 * are about the preload, not about OpenSSL's own heap.  The checks named
 * *_aborts must not return: glibc's malloc kills the program with SIGABRT
 * (with the preload as without it; the suite checks the signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

/* EVP_PKEY_get1_RSA, deprecated in 3.0 but what programs call, is tested */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); putchar('\n'); return 1; } while (0)

/* Is [p, p+n) unreadable through /proc/self/mem (secret memory)? */
static int proc_mem_refuses(const void *p, size_t n)
{
	unsigned char buf[64];
	int fd = open("/proc/self/mem", O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return 0;
	r = pread(fd, buf, n < sizeof(buf) ? n : sizeof(buf), (off_t)(uintptr_t)p);
	close(fd);
	return r < 0;
}

static int all_zero(const volatile unsigned char *p, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (p[i])
			return 0;
	return 1;
}

static int t_initialized(void)
{
	if (CRYPTO_secure_malloc_initialized() != 1)
		FAIL("CRYPTO_secure_malloc_initialized() is not 1");
	/* a program's own init call succeeds and changes nothing */
	if (CRYPTO_secure_malloc_init(32768, 16) != 1)
		FAIL("CRYPTO_secure_malloc_init() did not return 1");
	if (CRYPTO_secure_malloc_initialized() != 1)
		FAIL("not initialized after CRYPTO_secure_malloc_init()");
	return 0;
}

static int t_allocated(void)
{
	void *s = OPENSSL_secure_malloc(64), *n = OPENSSL_malloc(64);
	int ok = 0;

	if (!s || !n)
		FAIL("allocation failed");
	if (CRYPTO_secure_allocated(s) != 1)
		printf("FAIL: CRYPTO_secure_allocated() of a secure object is not 1\n");
	else if (CRYPTO_secure_allocated(n) != 0)
		printf("FAIL: CRYPTO_secure_allocated() of a normal-heap object is not 0\n");
	else if (CRYPTO_secure_allocated(NULL) != 0)
		printf("FAIL: CRYPTO_secure_allocated(NULL) is not 0\n");
	else if (!proc_mem_refuses(s, 64))
		printf("FAIL: the secure object is readable through /proc/self/mem\n");
	else if (proc_mem_refuses(n, 64))
		printf("FAIL: /proc/self/mem cannot read the normal heap either (probe broken)\n");
	else
		ok = 1;
	OPENSSL_secure_free(s);
	OPENSSL_free(n);
	return !ok;
}

static int t_actual_size(void)
{
	static const size_t sizes[] = { 1, 17, 32, 100, 1000, 5000, 70000 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = OPENSSL_secure_malloc(sizes[i]);
		size_t a;

		if (!p)
			FAIL("OPENSSL_secure_malloc(%zu) failed", sizes[i]);
		a = CRYPTO_secure_actual_size(p);
		memset(p, 0xa5, a);	/* the whole actual size is usable */
		OPENSSL_secure_free(p);
		if (a < sizes[i])
			FAIL("CRYPTO_secure_actual_size() %zu < requested %zu", a, sizes[i]);
	}
	return 0;
}

static int t_used(void)
{
	size_t u0 = CRYPTO_secure_used(), u1, u2, a;
	void *p = OPENSSL_secure_malloc(100);

	if (!p)
		FAIL("OPENSSL_secure_malloc failed");
	a = CRYPTO_secure_actual_size(p);
	u1 = CRYPTO_secure_used();
	OPENSSL_secure_clear_free(p, 100);
	u2 = CRYPTO_secure_used();
	if (u1 != u0 + a)
		FAIL("CRYPTO_secure_used() went from %zu to %zu for an object of actual size %zu",
		     u0, u1, a);
	if (u2 != u0)
		FAIL("CRYPTO_secure_used() is %zu after the free, was %zu", u2, u0);
	return 0;
}

static int t_zalloc(void)
{
	int round;

	/* a freed dirty object's memory must come back zeroed */
	for (round = 0; round < 2; round++) {
		unsigned char *p = OPENSSL_secure_zalloc(200);

		if (!p)
			FAIL("OPENSSL_secure_zalloc failed");
		if (!all_zero(p, 0, 200))
			FAIL("OPENSSL_secure_zalloc memory is not zero (round %d)", round);
		memset(p, 0x5c, 200);
		OPENSSL_secure_free(p);
	}
	return 0;
}

static int t_clear_free(void)
{
	/* a neighbour keeps the slab mapped while p's slot is free */
	void *keep = OPENSSL_secure_malloc(256);
	volatile unsigned char *p = OPENSSL_secure_malloc(256);

	if (!p || !keep)
		FAIL("OPENSSL_secure_malloc failed");
	memset((void *)p, 0x3c, 256);
	OPENSSL_secure_clear_free((void *)p, 256);
	/* the slot stays mapped in the library's secret slab */
	if (!all_zero(p, 0, 256))
		FAIL("the object's bytes are not zero after OPENSSL_secure_clear_free");
	p = OPENSSL_secure_malloc(256);
	memset((void *)p, 0x3c, 256);
	OPENSSL_secure_free((void *)p);
	if (!all_zero(p, 0, 256))
		FAIL("the object's bytes are not zero after OPENSSL_secure_free");
	OPENSSL_secure_free(keep);
	return 0;
}

static int t_free_foreign(void)
{
	void *n = OPENSSL_malloc(48);

	if (!n)
		FAIL("OPENSSL_malloc failed");
	/* OpenSSL hands a normal-heap pointer to CRYPTO_free */
	OPENSSL_secure_clear_free(n, 48);
	n = OPENSSL_malloc(48);
	OPENSSL_secure_free(n);
	OPENSSL_secure_free(NULL);
	OPENSSL_secure_clear_free(NULL, 8);
	return 0;
}

static int t_done(void)
{
	void *p = OPENSSL_secure_malloc(64);

	if (!p)
		FAIL("OPENSSL_secure_malloc failed");
	if (CRYPTO_secure_malloc_done() != 0)
		FAIL("CRYPTO_secure_malloc_done() returned 1 with an object allocated");
	OPENSSL_secure_free(p);
	if (CRYPTO_secure_malloc_done() != (CRYPTO_secure_used() == 0))
		FAIL("CRYPTO_secure_malloc_done() is not 1 exactly when nothing is in use");
	/* and the heap stays secret afterwards (no fallback to the normal heap) */
	p = OPENSSL_secure_malloc(64);
	if (!p || !CRYPTO_secure_allocated(p))
		FAIL("after CRYPTO_secure_malloc_done() allocations are not secure");
	OPENSSL_secure_free(p);
	return 0;
}

/* Freed normal-heap blocks are scrubbed (glibc reuses the first 16 bytes). */
static int t_free_scrubs(void)
{
	volatile unsigned char *p = OPENSSL_malloc(300);

	if (!p)
		FAIL("OPENSSL_malloc failed");
	memset((void *)p, 0x6b, 300);
	OPENSSL_free((void *)p);
	if (!all_zero(p, 16, 300))
		FAIL("a freed OpenSSL heap block still holds its contents");
	return 0;
}

static int t_realloc_scrubs(void)
{
	volatile unsigned char *p = OPENSSL_malloc(300), *q;
	size_t i;

	if (!p)
		FAIL("OPENSSL_malloc failed");
	memset((void *)p, 0x6b, 300);
	q = OPENSSL_realloc((void *)p, 1 << 20);
	if (!q)
		FAIL("OPENSSL_realloc failed");
	for (i = 0; i < 300; i++)
		if (q[i] != 0x6b)
			FAIL("OPENSSL_realloc lost the contents");
	if (q != p && !all_zero(p, 16, 300))
		FAIL("OPENSSL_realloc left the old copy behind");
	OPENSSL_free((void *)q);
	return 0;
}

/*
 * A double free of a normal-heap block: glibc's tcache finds it (the
 * scrub must leave the tcache key of a freed block alone).  Returns only
 * if nothing noticed.
 */
static int t_double_free(void)
{
	unsigned char *p = OPENSSL_malloc(64);

	if (!p)
		FAIL("OPENSSL_malloc failed");
	memset(p, 0x6b, 64);
	OPENSSL_free(p);
	OPENSSL_free(p);
	/* not detected: show what it does (two mallocs, one block) */
	{
		void *a = OPENSSL_malloc(64), *b = OPENSSL_malloc(64);

		FAIL("the second OPENSSL_free of a block went through (then malloc gave %p and %p)",
		     a, b);
	}
}

/* The same with OPENSSL_clear_free (OpenSSL's own clears num bytes). */
static int t_double_clear_free(void)
{
	unsigned char *p = OPENSSL_malloc(64);

	if (!p)
		FAIL("OPENSSL_malloc failed");
	memset(p, 0x6b, 64);
	OPENSSL_clear_free(p, 64);
	OPENSSL_clear_free(p, 64);
	FAIL("the second OPENSSL_clear_free of a block went through");
}

/*
 * A pointer that is no heap block, with a huge size where glibc keeps a
 * chunk's: free() must see it (and abort), not a scrub of what the size
 * field says.
 */
static int t_bad_pointer(void)
{
	static size_t fake[8] __attribute__((aligned(16)));
	void *keep = OPENSSL_malloc(64);	/* glibc's main arena set up */

	if (!keep)
		FAIL("OPENSSL_malloc failed");
	fake[1] = (size_t)1 << 40;	/* the "size" of a chunk at fake */
	OPENSSL_free(&fake[2]);
	FAIL("OPENSSL_free of a pointer that is no heap block went through");
}

/* A misaligned pointer (inside a block): free() aborts ("invalid pointer"). */
static int t_misaligned(void)
{
	unsigned char *p = OPENSSL_malloc(64);

	if (!p)
		FAIL("OPENSSL_malloc failed");
	OPENSSL_free(p + 8);
	FAIL("OPENSSL_free of a misaligned pointer went through");
}

/*
 * The same two in a second thread: its blocks come from a thread arena
 * (another heap, NON_MAIN_ARENA chunks) and its own tcache.
 */
static void *in_thread(void *fn)
{
	return (void *)(intptr_t)((int (*)(void))fn)();
}

static int run_in_thread(int (*fn)(void))
{
	pthread_t t;
	void *ret;

	if (pthread_create(&t, NULL, in_thread, (void *)fn) || pthread_join(t, &ret))
		FAIL("pthread_create failed");
	return (int)(intptr_t)ret;
}

static int t_free_scrubs(void);

static int t_thread_free_scrubs(void)
{
	return run_in_thread(t_free_scrubs);
}

static int t_thread_double_free(void)
{
	return run_in_thread(t_double_free);
}

/* Is @b a secure BIGNUM whose words are in secure memory? */
static int bn_is_secure(const BIGNUM *b)
{
	struct bn { void *d; int top, dmax, neg, flags; };

	return b && BN_get_flags(b, BN_FLG_SECURE) &&
		CRYPTO_secure_allocated(((const struct bn *)b)->d);
}

/*
 * A key exported (EVP_PKEY_todata) and imported again (EVP_PKEY_fromdata),
 * then seen as a legacy RSA (EVP_PKEY_get1_RSA, itself an export): its d
 * and p stay secure BIGNUMs, its n stays on the normal heap.
 */
static int t_export_secure(void)
{
	EVP_PKEY *pk = EVP_RSA_gen(1024), *pk2 = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	const BIGNUM *n, *d, *p;
	OSSL_PARAM *params = NULL;
	RSA *r = NULL, *r2 = NULL;
	int ok = 0;

	if (!pk || !ctx || EVP_PKEY_todata(pk, EVP_PKEY_KEYPAIR, &params) != 1 ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk2, EVP_PKEY_KEYPAIR, params) != 1)
		FAIL("key generation, export or import failed");
	r = EVP_PKEY_get1_RSA(pk);
	r2 = EVP_PKEY_get1_RSA(pk2);
	if (!r || !r2)
		printf("FAIL: EVP_PKEY_get1_RSA failed\n");
	else if (RSA_get0_key(r, NULL, NULL, &d), RSA_get0_factors(r, &p, NULL), !bn_is_secure(d) ||
		 !bn_is_secure(p))
		printf("FAIL: EVP_PKEY_get1_RSA gives d or p on the normal heap\n");
	else if (RSA_get0_key(r2, &n, NULL, &d), RSA_get0_factors(r2, &p, NULL), !bn_is_secure(d) ||
		 !bn_is_secure(p))
		printf("FAIL: a key exported and imported again has d or p on the normal heap\n");
	else if (BN_get_flags(n, BN_FLG_SECURE) || CRYPTO_secure_allocated(n))
		printf("FAIL: the public modulus went to secure memory\n");
	else
		ok = 1;
	RSA_free(r);
	RSA_free(r2);
	OSSL_PARAM_free(params);
	EVP_PKEY_free(pk2);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return !ok;
}

/* A Montgomery context of a secure modulus keeps it in secure memory. */
static int t_mont_secure(void)
{
	BIGNUM *m = BN_secure_new(), *pub = BN_new();
	BN_MONT_CTX *mont = BN_MONT_CTX_new(), *mont2 = BN_MONT_CTX_new();
	BN_CTX *ctx = BN_CTX_new();
	/* OpenSSL 3's struct bn_mont_ctx_st: int ri; BIGNUM RR, N, Ni; ... */
	struct bn { void *d; int top, dmax, neg, flags; };
	struct mont { int ri; struct bn RR, N, Ni; } *mc, *mc2;
	int ok = 0;

	if (!m || !pub || !mont || !mont2 || !ctx ||
	    !BN_rand(m, 1024, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) || !BN_copy(pub, m))
		FAIL("setup failed");
	mc = (struct mont *)mont;
	mc2 = (struct mont *)mont2;
	if (!BN_MONT_CTX_set(mont, m, ctx))
		printf("FAIL: BN_MONT_CTX_set failed\n");
	else if (!CRYPTO_secure_allocated(mc->N.d) || !CRYPTO_secure_allocated(mc->RR.d))
		printf("FAIL: the context of a secure modulus has N or RR on the normal heap\n");
	else if (!BN_MONT_CTX_copy(mont2, mont) || !CRYPTO_secure_allocated(mc2->N.d))
		printf("FAIL: BN_MONT_CTX_copy of it has N on the normal heap\n");
	else if (!BN_MONT_CTX_set(mont2, pub, ctx) || !BN_MONT_CTX_set(mont, pub, ctx))
		printf("FAIL: BN_MONT_CTX_set of a public modulus failed\n");
	else
		ok = 1;
	BN_MONT_CTX_free(mont);
	BN_MONT_CTX_free(mont2);
	/* a public modulus's context stays on the normal heap (nothing pinned) */
	mont = BN_MONT_CTX_new();
	mc = (struct mont *)mont;
	if (ok && (!BN_MONT_CTX_set(mont, pub, ctx) || CRYPTO_secure_allocated(mc->N.d))) {
		printf("FAIL: the context of a public modulus went to secure memory\n");
		ok = 0;
	}
	BN_MONT_CTX_free(mont);
	BN_CTX_free(ctx);
	BN_clear_free(m);
	BN_free(pub);
	return !ok;
}

/* Sign a message with @pk and verify the signature with it; 1 if both work. */
static int sign_verify(EVP_PKEY *pk, const EVP_MD *md)
{
	static const unsigned char msg[] = "a message signed after fork()";
	unsigned char sig[512];
	size_t n = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	ok = c && EVP_DigestSignInit(c, NULL, md, NULL, pk) == 1 &&
	     EVP_DigestSign(c, sig, &n, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(c);
	c = EVP_MD_CTX_new();
	ok = ok && c && EVP_DigestVerifyInit(c, NULL, md, NULL, pk) == 1 &&
	     EVP_DigestVerify(c, sig, n, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

/*
 * A key made and used before fork() signs in the child too (as nginx's
 * workers sign with the master's keys), and the child's use and free of
 * it leave the parent's key working.  Exit 3: a child died by a signal.
 */
static int t_fork_sign(void)
{
	static const struct { const char *type; const char *arg; } kinds[] = {
		{ "RSA", NULL }, { "EC", "P-256" }, { "ED25519", NULL },
	};
	EVP_PKEY *pk;
	size_t i;
	pid_t pid;
	int st;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const EVP_MD *md = strcmp(kinds[i].type, "ED25519") ? EVP_sha256() : NULL;

		if (!strcmp(kinds[i].type, "RSA"))
			pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		else if (kinds[i].arg)
			pk = EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].type, kinds[i].arg);
		else
			pk = EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].type);
		if (!pk)
			FAIL("%s: key generation failed", kinds[i].type);
		/* RSA caches its Montgomery contexts of p and q here. */
		if (!sign_verify(pk, md))
			FAIL("%s: sign in the parent failed", kinds[i].type);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			FAIL("fork: %s", strerror(errno));
		if (!pid) {
			int ok = sign_verify(pk, md);

			EVP_PKEY_free(pk);
			_exit(ok ? 0 : 1);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st)) {
			printf("FAIL: %s: the child died by signal %d signing with the parent's key\n",
			       kinds[i].type, WTERMSIG(st));
			return 3;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			FAIL("%s: the child could not sign with the parent's key", kinds[i].type);
		if (!sign_verify(pk, md))
			FAIL("%s: the parent's key no longer signs after the child's free",
			     kinds[i].type);
		EVP_PKEY_free(pk);
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} checks[] = {
	{ "initialized", t_initialized },
	{ "allocated", t_allocated },
	{ "actual_size", t_actual_size },
	{ "used", t_used },
	{ "zalloc", t_zalloc },
	{ "clear_free", t_clear_free },
	{ "free_foreign", t_free_foreign },
	{ "done", t_done },
	{ "free_scrubs", t_free_scrubs },
	{ "realloc_scrubs", t_realloc_scrubs },
	{ "mont_secure", t_mont_secure },
	{ "double_free_aborts", t_double_free },
	{ "double_clear_free_aborts", t_double_clear_free },
	{ "bad_pointer_aborts", t_bad_pointer },
	{ "misaligned_free_aborts", t_misaligned },
	{ "thread_free_scrubs", t_thread_free_scrubs },
	{ "thread_double_free_aborts", t_thread_double_free },
	{ "export_secure", t_export_secure },
	{ "fork_sign", t_fork_sign },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: ossl_unit CHECK | --list\n");
		return 2;
	}
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (!strcmp(argv[1], "--list"))
			printf("%s\n", checks[i].name);
		else if (!strcmp(argv[1], checks[i].name))
			return checks[i].fn();
	}
	if (strcmp(argv[1], "--list")) {
		fprintf(stderr, "ossl_unit: unknown check %s\n", argv[1]);
		return 2;
	}
	return 0;
}
