// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * secretmem-openssl.c - libsecretmem-openssl.so, an LD_PRELOAD library that
 * keeps an unchanged OpenSSL 3 program's private keys in secret memory.
 *
 * libcrypto.so.3 calls its own exported functions through its PLT, so the
 * definitions here replace OpenSSL's for libcrypto's internal calls too:
 *
 *  - The secure-heap API (CRYPTO_secure_malloc, _zalloc, _free, _clear_free,
 *    _allocated, _malloc_init, _malloc_initialized, _malloc_done, _used,
 *    _actual_size) is served by libsecretmem.  OpenSSL allocates the private
 *    parts of its keys there: BIGNUMs with BN_FLG_SECURE (RSA's d, p, q, dP,
 *    dQ, qInv are decoded as secure BIGNUMs; the EC private scalar is
 *    BN_secure_new'ed) and the raw X25519/Ed25519/X448/Ed448 keys.
 *  - BN_MONT_CTX_set and BN_MONT_CTX_copy: a Montgomery context of a secure
 *    modulus (RSA's p and q, cached in the key after the first private-key
 *    operation) gets secure BIGNUMs for N, RR and Ni, which OpenSSL would
 *    otherwise put on the normal heap: N is a copy of p, and RR = R^2 mod p
 *    gives p away through gcd(R^2 - RR, n).
 *  - CRYPTO_free, CRYPTO_clear_free, CRYPTO_realloc, CRYPTO_clear_realloc:
 *    every block of OpenSSL's normal heap is scrubbed (its whole usable
 *    size) when it is freed or moved, so the transient copies of a key
 *    (the PEM decoder's DER, ASN.1 octet strings, BN_CTX temporaries, digest
 *    contexts) are gone once the operation that made them is over.  The
 *    scrub keeps glibc's double-free and invalid-pointer checks working
 *    (heap_scrub()).
 *  - CRYPTO_malloc and CRYPTO_zalloc: forwarded, or, in mode "all", served
 *    from secret memory as well.
 *  - OSSL_PARAM_get_BN: a BIGNUM it makes from a parameter whose data is in
 *    secret memory (OSSL_PARAM_BLD puts a secure BIGNUM's there: a key's
 *    export, EVP_PKEY_todata, the provider-to-legacy export behind
 *    EVP_PKEY_get1_RSA) is a secure BIGNUM, as the exported one was.
 *
 * SECRETMEM_OPENSSL_MODE selects:
 *   keys    (default) all of the above; secret memory holds the keys only
 *   all     every OpenSSL allocation in secret memory (the whole OpenSSL heap
 *           is then unswappable and counts against RLIMIT_MEMLOCK)
 *   secure  the secure-heap API only (what a secure heap alone protects;
 *           for comparison, it leaves copies of RSA keys behind)
 * SECRETMEM_OPENSSL_ALLOW_MLOCK=1 accepts ordinary mlocked memory when
 * neither /dev/secretmem nor memfd_secret(2) is available.
 * SECRETMEM_OPENSSL_FORK selects what a fork() child gets:
 *   copy    (default) a copy of the parent's keys in secret memory of its
 *           own, at the same addresses (SECRETMEM_LIB_FORK_COPY), as
 *           OpenSSL's ordinary heap is copied: programs that load their
 *           keys and then fork workers (nginx, haproxy, daemons) work
 *   none    nothing: a child that touches a key inherited from its parent
 *           dies of SIGSEGV
 * SECRETMEM_OPENSSL_MAX_BYTES=N caps the bytes of live secure-heap objects (in mode
 * "all": of all OpenSSL objects)
 * (CRYPTO_secure_malloc then fails, as OpenSSL's fixed-size heap does).
 *
 * The variables are read with secure_getenv(): a setuid or setgid program
 * (AT_SECURE) ignores them and runs with the defaults, so that a user cannot
 * weaken or break it through the environment (e.g. when the preload is in
 * /etc/ld.so.preload).
 *
 * Without secret memory the library refuses to run the program (exit status
 * 127 with a message on stderr): it never falls back to weaker memory.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libsecretmem.h"

#define PUBLIC __attribute__((visibility("default")))
#define PREFIX "libsecretmem-openssl: "

/* OpenSSL 3's ABI, as in <openssl/crypto.h> and <openssl/bn.h>. */
typedef void *(*crypto_malloc_fn)(size_t num, const char *file, int line);
typedef void *(*crypto_realloc_fn)(void *p, size_t num, const char *file, int line);
typedef void (*crypto_free_fn)(void *p, const char *file, int line);
typedef struct bignum_st BIGNUM;
typedef struct bignum_ctx BN_CTX;
typedef struct bn_mont_ctx_st BN_MONT_CTX;
typedef struct ossl_param_st OSSL_PARAM;
#define BN_FLG_STATIC_DATA	0x02
#define BN_FLG_SECURE	0x08

/*
 * struct bn_mont_ctx_st of OpenSSL 3 (crypto/bn/bn_local.h): int ri, then
 * the BIGNUMs RR, N, Ni.  BIGNUM is { BN_ULONG *d; int top, dmax, neg,
 * flags; }.  The layout is checked at run time (mont_layout_ok()).
 */
struct sm_bignum {
	unsigned long *d;
	int top, dmax, neg, flags;
};

/* struct ossl_param_st, <openssl/core.h> (public ABI) */
struct sm_param {
	const char *key;
	unsigned int data_type;
	void *data;
	size_t data_size;
	size_t return_size;
};

struct sm_mont {
	int ri;
	struct sm_bignum RR, N, Ni;
	unsigned long n0[2];
	int flags;
};

/* Prototypes of what this file exports (OpenSSL's declarations). */
PUBLIC int CRYPTO_secure_malloc_init(size_t size, size_t minsize);
PUBLIC int CRYPTO_secure_malloc_done(void);
PUBLIC int CRYPTO_secure_malloc_initialized(void);
PUBLIC void *CRYPTO_secure_malloc(size_t num, const char *file, int line);
PUBLIC void *CRYPTO_secure_zalloc(size_t num, const char *file, int line);
PUBLIC void CRYPTO_secure_free(void *ptr, const char *file, int line);
PUBLIC void CRYPTO_secure_clear_free(void *ptr, size_t num, const char *file, int line);
PUBLIC int CRYPTO_secure_allocated(const void *ptr);
PUBLIC size_t CRYPTO_secure_used(void);
PUBLIC size_t CRYPTO_secure_actual_size(void *ptr);
PUBLIC void *CRYPTO_malloc(size_t num, const char *file, int line);
PUBLIC void *CRYPTO_zalloc(size_t num, const char *file, int line);
PUBLIC void *CRYPTO_realloc(void *str, size_t num, const char *file, int line);
PUBLIC void *CRYPTO_clear_realloc(void *str, size_t old_len, size_t num,
				  const char *file, int line);
PUBLIC void CRYPTO_free(void *str, const char *file, int line);
PUBLIC void CRYPTO_clear_free(void *str, size_t num, const char *file, int line);
PUBLIC int BN_MONT_CTX_set(BN_MONT_CTX *mont, const BIGNUM *mod, BN_CTX *ctx);
PUBLIC BN_MONT_CTX *BN_MONT_CTX_copy(BN_MONT_CTX *to, BN_MONT_CTX *from);
PUBLIC int OSSL_PARAM_get_BN(const OSSL_PARAM *p, BIGNUM **val);

enum mode { MODE_KEYS, MODE_ALL, MODE_SECURE };

static enum mode mode = MODE_KEYS;
static size_t max_bytes;		/* 0: no cap of our own */
static size_t secure_used;		/* actual sizes of live secure objects */
static size_t secure_peak;		/* the most secure_used has been */
static int verbose;			/* SECRETMEM_OPENSSL_VERBOSE: report at exit */

/* libcrypto's own definitions, found lazily (RTLD_NEXT: after us). */
static struct {
	crypto_malloc_fn malloc;
	crypto_realloc_fn realloc;
	crypto_free_fn free;
	void (*get_mem_functions)(crypto_malloc_fn *, crypto_realloc_fn *,
				  crypto_free_fn *);
	int (*mont_set)(BN_MONT_CTX *, const BIGNUM *, BN_CTX *);
	BN_MONT_CTX *(*mont_copy)(BN_MONT_CTX *, BN_MONT_CTX *);
	int (*bn_get_flags)(const BIGNUM *, int);
	int (*bn_ucmp)(const BIGNUM *, const BIGNUM *);
	void (*cleanse)(void *, size_t);
	BN_MONT_CTX *(*mont_new)(void);
	void (*mont_free)(BN_MONT_CTX *);
	BIGNUM *(*bn_new)(void);
	int (*bn_set_word)(BIGNUM *, unsigned long);
	void (*bn_free)(BIGNUM *);
	BIGNUM *(*bn_secure_new)(void);
	void (*bn_clear_free)(BIGNUM *);
	int (*param_get_bn)(const OSSL_PARAM *, BIGNUM **);
} real;
static int resolved;		/* 1: real.* set */
static int default_heap = -1;	/* 1: OpenSSL's heap is glibc's malloc */
static int mont_checked;	/* 1: BN_MONT_CTX layout verified */
static int direct;		/* 1: call glibc's malloc/free (see CRYPTO_malloc) */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);

static void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0) {
		if ((size_t)n > sizeof(buf) - 1)
			n = sizeof(buf) - 1;
		if (write(2, PREFIX, sizeof(PREFIX) - 1) < 0 || write(2, buf, n) < 0 ||
		    write(2, "\n", 1) < 0)
			n = 0;
	}
	abort();
}

static void *need(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		die("%s not found: is this an OpenSSL 3 (libcrypto.so.3) program?", name);
	return f;
}

static void resolve(void)
{
	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
		return;
	/* Idempotent: two threads racing store the same values. */
	real.malloc = (crypto_malloc_fn)need("CRYPTO_malloc");
	real.realloc = (crypto_realloc_fn)need("CRYPTO_realloc");
	real.free = (crypto_free_fn)need("CRYPTO_free");
	real.get_mem_functions = need("CRYPTO_get_mem_functions");
	real.mont_set = need("BN_MONT_CTX_set");
	real.mont_copy = need("BN_MONT_CTX_copy");
	real.bn_get_flags = need("BN_get_flags");
	real.bn_ucmp = need("BN_ucmp");
	real.cleanse = need("OPENSSL_cleanse");
	real.mont_new = need("BN_MONT_CTX_new");
	real.mont_free = need("BN_MONT_CTX_free");
	real.bn_new = need("BN_new");
	real.bn_set_word = need("BN_set_word");
	real.bn_free = need("BN_free");
	real.bn_secure_new = need("BN_secure_new");
	real.bn_clear_free = need("BN_clear_free");
	real.param_get_bn = need("OSSL_PARAM_get_BN");
	__atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
}

/*
 * Is OpenSSL's normal heap glibc's malloc (no CRYPTO_set_mem_functions by
 * the program)?  Only then can a freed block's size be known and the whole
 * block scrubbed.  The default functions are CRYPTO_malloc & co.
 * themselves, which resolve to ours.
 */
static int glibc_heap(void)
{
	crypto_malloc_fn m;
	crypto_realloc_fn r;
	crypto_free_fn f;
	int d = __atomic_load_n(&default_heap, __ATOMIC_RELAXED);

	if (d >= 0)
		return d;
	resolve();
	real.get_mem_functions(&m, &r, &f);
	d = m == CRYPTO_malloc && r == CRYPTO_realloc && f == CRYPTO_free;
	if (!d) {
		static const char msg[] = PREFIX "the program replaced OpenSSL's "
			"allocator (CRYPTO_set_mem_functions): freed OpenSSL "
			"blocks are scrubbed only where OpenSSL clears them\n";

		if (write(2, msg, sizeof(msg) - 1) < 0)
			d = 0;
	}
	__atomic_store_n(&default_heap, d, __ATOMIC_RELAXED);
	return d;
}

static void scrub(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/*
 * Scrubbing a freed block without blinding glibc's checks (glibc 2.36,
 * malloc/malloc.c).  A chunk is { size_t prev_size, size; } followed by the
 * user's memory (chunk2mem: p = chunk + 16 on LP64); size's low bits are
 * PREV_INUSE (1), IS_MMAPPED (2), NON_MAIN_ARENA (4).  tcache_put() turns
 * a freed chunk into a tcache_entry { next; key; } at p: key, at p + 8, is
 * the per-process random tcache_key, and _int_free() looks for a double
 * free in the tcache only when e->key == tcache_key.  A scrub of a block
 * already in the tcache would zero that key and let a second free through
 * (two later mallocs then return the same block).  So:
 *  - sm_ossl_init() learns tcache_key once (heap_key_learn());
 *  - a block whose word at p + 8 is the key may be free already: its first
 *    16 bytes are left alone and glibc's free() finds the double free;
 *  - a pointer that cannot be a glibc chunk (misaligned, a size glibc's
 *    free() would reject, an mmapped chunk that is not page-aligned, the
 *    next chunk saying this one is free) is not touched at all: free()
 *    aborts with its own message, instead of a wild scrub here.
 * Without a learned key (no tcache: GLIBC_TUNABLES=glibc.malloc.tcache_count=0,
 * or a malloc other than glibc's) the first 16 bytes of every freed block,
 * where allocators keep their free-list links, are not scrubbed.
 */
#define CHUNK_HDR	(2 * sizeof(size_t))
#define CHUNK_ALIGN	16		/* glibc's MALLOC_ALIGNMENT (x86-64, arm64) */
#define CHUNK_MIN	32		/* MINSIZE */
#define PREV_INUSE	1UL
#define IS_MMAPPED	2UL
#define NON_MAIN_ARENA	4UL
#define SIZE_BITS	7UL
#define HEAP_MAX	(64UL << 20)	/* heap_max_size(): 2 * DEFAULT_MMAP_THRESHOLD_MAX */

enum heap_kind { HEAP_UNKNOWN, HEAP_GLIBC_KEY, HEAP_GLIBC_NOKEY, HEAP_OTHER };

static enum heap_kind heap_kind = HEAP_UNKNOWN;
static uintptr_t tcache_key;		/* glibc's, once learned */
static uintptr_t page_mask;

/* Is symbol @name (as the program sees it) glibc's own? */
static int from_libc(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	Dl_info info;

	return f && dladdr(f, &info) && info.dli_fname &&
		strstr(info.dli_fname, "/libc.so.6");
}

/* The word at p + 8 of a just-freed block of @size bytes (0: none). */
static uintptr_t __attribute__((noinline)) heap_probe(size_t size)
{
	void *(*volatile m)(size_t) = malloc;
	void (*volatile f)(void *) = free;
	volatile uintptr_t *p = m(size);
	uintptr_t k;

	if (!p)
		return 0;
	p[0] = 0;
	p[1] = 0;
	f((void *)p);
	__asm__ volatile("" : : "r"(p) : "memory");
	k = p[1];	/* freed, but still the caller's chunk: nothing runs in between */
	return k;
}

/*
 * At init, single-threaded: free two blocks of sizes (two tcache bins)
 * that nothing is likely to have filled yet, and read their key words.  The
 * same value, not 0, twice: glibc's tcache_key.  Without a tcache the
 * blocks go to a fast or unsorted bin or back into the top chunk, whose
 * words at p + 8 are our 0 or two different links.
 */
static void heap_key_learn(void)
{
	uintptr_t k1, k2;
	long pg = sysconf(_SC_PAGESIZE);

	page_mask = (uintptr_t)(pg > 0 ? pg : 4096) - 1;
	if (sizeof(void *) != 8 || !from_libc("malloc") || !from_libc("free") ||
	    !from_libc("malloc_usable_size")) {
		heap_kind = HEAP_OTHER;
		return;
	}
	k1 = heap_probe(968);
	k2 = heap_probe(1000);
	if (k1 && k1 == k2) {
		tcache_key = k1;
		heap_kind = HEAP_GLIBC_KEY;
	} else {
		heap_kind = HEAP_GLIBC_NOKEY;
	}
}

/*
 * Could @p be a block glibc's malloc handed out and that is not free in a
 * bin?  The checks of glibc's free() and munmap_chunk(), done first so that
 * nothing here reads or writes through a garbage size.
 */
static int chunk_plausible(const void *p)
{
	uintptr_t mem = (uintptr_t)p, chunk = mem - CHUNK_HDR, next;
	size_t head, sz;

	if (mem & (CHUNK_ALIGN - 1) || mem < CHUNK_HDR)
		return 0;
	head = ((const size_t *)p)[-1];
	sz = head & ~SIZE_BITS;
	if (sz < CHUNK_MIN || sz & (CHUNK_ALIGN - 1) || chunk > (uintptr_t)-sz)
		return 0;
	if (head & IS_MMAPPED) {
		size_t prev = ((const size_t *)p)[-2];

		/* munmap_chunk(): block and total size page-aligned */
		return prev <= chunk && !(((chunk - prev) | (prev + sz)) & page_mask);
	}
	next = chunk + sz;
	if (head & NON_MAIN_ARENA) {
		/* a thread arena's heap is HEAP_MAX-aligned (heap_for_ptr) */
		if ((chunk & ~(HEAP_MAX - 1)) != ((next + CHUNK_HDR - 1) & ~(HEAP_MAX - 1)))
			return 0;
	} else {
		/* the main arena's brk heap: the next chunk below the break */
		uintptr_t brk = (uintptr_t)sbrk(0);

		if (chunk < brk && next + CHUNK_HDR > brk)
			return 0;
		if (chunk >= brk && sz > HEAP_MAX)
			return 0;	/* not in the brk heap: no size beyond a sane bound */
	}
	/* The next chunk's PREV_INUSE clear: this one is free in a bin. */
	return (((const size_t *)next)[1] & PREV_INUSE) != 0;
}

/* Scrub an OpenSSL block of glibc's heap that is about to be freed. */
static void heap_scrub(void *p)
{
	size_t n;
	uintptr_t w;

	if (__builtin_expect(heap_kind == HEAP_UNKNOWN, 0))
		heap_key_learn();	/* a free before our constructor ran */
	if (heap_kind == HEAP_OTHER) {
		n = malloc_usable_size(p);
		if (n > CHUNK_HDR)
			scrub((char *)p + CHUNK_HDR, n - CHUNK_HDR);
		return;
	}
	if (!chunk_plausible(p))
		return;		/* free() reports it */
	n = malloc_usable_size(p);
	memcpy(&w, (char *)p + sizeof(w), sizeof(w));
	if (heap_kind == HEAP_GLIBC_KEY && w != tcache_key)
		scrub(p, n);
	else if (n > CHUNK_HDR)
		scrub((char *)p + CHUNK_HDR, n - CHUNK_HDR);
}

/* Scrub a normal-heap block of OpenSSL's before it is freed. */
static void scrub_block(void *p)
{
	if (mode != MODE_SECURE && glibc_heap())
		heap_scrub(p);
}

static const char *env(const char *name)
{
	const char *v = secure_getenv(name);

	return v && *v ? v : NULL;
}

static void __attribute__((constructor)) sm_ossl_init(void)
{
	const char *m = env("SECRETMEM_OPENSSL_MODE");
	const char *cap = env("SECRETMEM_OPENSSL_MAX_BYTES");
	const char *mlock = env("SECRETMEM_OPENSSL_ALLOW_MLOCK");
	const char *forkv = env("SECRETMEM_OPENSSL_FORK");
	unsigned int flags = SECRETMEM_LIB_FORK_COPY;
	char *end;
	int rc;

	if (!m || !strcmp(m, "keys"))
		mode = MODE_KEYS;
	else if (!strcmp(m, "all"))
		mode = MODE_ALL;
	else if (!strcmp(m, "secure"))
		mode = MODE_SECURE;
	else
		die("SECRETMEM_OPENSSL_MODE=%s: expected keys, all or secure", m);
	if (cap) {
		errno = 0;
		max_bytes = strtoull(cap, &end, 0);
		if (errno || *end || !max_bytes)
			die("SECRETMEM_OPENSSL_MAX_BYTES=%s: expected a positive number", cap);
	}
	if (mlock && !strcmp(mlock, "1"))
		flags |= SECRETMEM_LIB_ALLOW_MLOCK;
	else if (mlock && strcmp(mlock, "0"))
		die("SECRETMEM_OPENSSL_ALLOW_MLOCK=%s: expected 0 or 1", mlock);
	if (forkv && !strcmp(forkv, "none"))
		flags &= ~SECRETMEM_LIB_FORK_COPY;
	else if (forkv && strcmp(forkv, "copy"))
		die("SECRETMEM_OPENSSL_FORK=%s: expected copy or none", forkv);
	heap_key_learn();
	rc = secretmem_lib_init(flags);
	/* A module before UAPI 4 cannot copy for fork children: run, and say so. */
	if (rc && errno == EOPNOTSUPP && (flags & SECRETMEM_LIB_FORK_COPY)) {
		static const char msg[] = PREFIX "fork children get no keys: the secretmem "
			"module is too old for SECRETMEM_OPENSSL_FORK=copy\n";

		if (write(2, msg, sizeof(msg) - 1) < 0)
			flags = 0;
		flags &= ~SECRETMEM_LIB_FORK_COPY;
		rc = secretmem_lib_init(flags);
	}
	if (rc) {
		int err = errno;
		char msg[400];
		int n;

		n = snprintf(msg, sizeof(msg), PREFIX "no secret memory (%s): "
			     "load the secretmem_dev module or use a kernel with "
			     "memfd_secret(2) (6.1: boot with secretmem.enable=1); "
			     "SECRETMEM_OPENSSL_ALLOW_MLOCK=1 accepts mlocked memory. "
			     "Not running unprotected.\n", strerror(err));
		if (n > 0 && write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
			n = 0;
		_exit(127);
	}
	if (env("SECRETMEM_OPENSSL_VERBOSE")) {
		verbose = 1;
		fprintf(stderr, PREFIX "mode %s, backend %s, fork %s, freed blocks: %s\n",
			mode == MODE_ALL ? "all" : mode == MODE_SECURE ? "secure" : "keys",
			secretmem_backend_name(secretmem_backend()),
			flags & SECRETMEM_LIB_FORK_COPY ? "copy" : "none",
			heap_kind == HEAP_GLIBC_KEY ? "glibc's, tcache key learned" :
			heap_kind == HEAP_GLIBC_NOKEY ? "glibc's, no tcache key (first 16 bytes kept)" :
			"another malloc's (first 16 bytes kept)");
	}
}

/* SECRETMEM_OPENSSL_VERBOSE: what the secure heap held, at exit. */
static void __attribute__((destructor)) sm_ossl_report(void)
{
	struct secretmem_lib_stats st;

	if (!verbose || secretmem_lib_stats(&st))
		return;
	fprintf(stderr, PREFIX "secure heap at exit: %zu bytes in use, peak %zu; "
		"secret memory: %zu objects, %zu bytes, %zu pages mapped\n",
		__atomic_load_n(&secure_used, __ATOMIC_RELAXED),
		__atomic_load_n(&secure_peak, __ATOMIC_RELAXED),
		st.objects_in_use, st.bytes_in_use, st.pages_mapped);
}

/* ---- the secure heap ---- */

/* A secret object: usable size back off the counter, then scrubbed and freed. */
static void secure_release(void *ptr)
{
	__atomic_sub_fetch(&secure_used, secretmem_usable_size(ptr), __ATOMIC_RELAXED);
	secretmem_mfree(ptr);
}

PUBLIC int CRYPTO_secure_malloc_init(size_t size, size_t minsize)
{
	(void)size;
	(void)minsize;
	/* Always on: secret memory comes from libsecretmem, not a fixed arena. */
	return 1;
}

PUBLIC int CRYPTO_secure_malloc_done(void)
{
	/* OpenSSL's contract: 1 only if nothing is allocated.  The heap stays
	 * usable afterwards (OpenSSL would fall back to the normal heap). */
	return __atomic_load_n(&secure_used, __ATOMIC_RELAXED) == 0;
}

PUBLIC int CRYPTO_secure_malloc_initialized(void)
{
	return 1;
}

PUBLIC void *CRYPTO_secure_malloc(size_t num, const char *file, int line)
{
	size_t sz, used;
	void *p;

	(void)file;
	(void)line;
	if (max_bytes && num > max_bytes)
		return NULL;
	p = secretmem_malloc(num ? num : 1);
	if (!p)
		return NULL;
	sz = secretmem_usable_size(p);
	used = __atomic_add_fetch(&secure_used, sz, __ATOMIC_RELAXED);
	if (used > max_bytes && max_bytes) {
		secure_release(p);
		return NULL;
	}
	if (__builtin_expect(verbose, 0)) {
		size_t peak = __atomic_load_n(&secure_peak, __ATOMIC_RELAXED);

		while (used > peak && !__atomic_compare_exchange_n(&secure_peak, &peak, used, 1,
								  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
	return p;
}

PUBLIC void *CRYPTO_secure_zalloc(size_t num, const char *file, int line)
{
	/* secretmem_malloc() hands out zeroed memory */
	return CRYPTO_secure_malloc(num, file, line);
}

PUBLIC int CRYPTO_secure_allocated(const void *ptr)
{
	return ptr && secretmem_owns(ptr);
}

PUBLIC size_t CRYPTO_secure_actual_size(void *ptr)
{
	return ptr ? secretmem_usable_size(ptr) : 0;
}

PUBLIC size_t CRYPTO_secure_used(void)
{
	return __atomic_load_n(&secure_used, __ATOMIC_RELAXED);
}

PUBLIC void CRYPTO_secure_free(void *ptr, const char *file, int line)
{
	if (!ptr)
		return;
	if (!secretmem_owns(ptr)) {
		/* A normal-heap block (OpenSSL does the same) */
		CRYPTO_free(ptr, file, line);
		return;
	}
	secure_release(ptr);
}

PUBLIC void CRYPTO_secure_clear_free(void *ptr, size_t num, const char *file, int line)
{
	if (!ptr)
		return;
	if (!secretmem_owns(ptr)) {
		CRYPTO_clear_free(ptr, num, file, line);
		return;
	}
	secure_release(ptr);
}

/* ---- the normal heap ---- */

/* Mode all: OpenSSL's normal objects in secret memory too, counted (and
 * capped) with the secure heap's. */
PUBLIC void *CRYPTO_malloc(size_t num, const char *file, int line)
{
	void *p;

	if (mode == MODE_ALL)
		return num ? CRYPTO_secure_malloc(num, file, line) : NULL;
	if (__atomic_load_n(&direct, __ATOMIC_RELAXED))
		return num ? malloc(num) : NULL;
	resolve();
	p = real.malloc(num, file, line);
	/*
	 * libcrypto's first allocation ends CRYPTO_set_mem_functions()'s
	 * window; from then on, with OpenSSL's default functions, its
	 * CRYPTO_malloc and CRYPTO_free are glibc's malloc and free (release
	 * builds count nothing and inject no failures), so call those.
	 */
	if (p && mode != MODE_SECURE && glibc_heap())
		__atomic_store_n(&direct, 1, __ATOMIC_RELAXED);
	return p;
}

PUBLIC void *CRYPTO_zalloc(size_t num, const char *file, int line)
{
	void *p;

	if (mode == MODE_ALL)
		return CRYPTO_malloc(num, file, line);	/* zeroed */
	p = CRYPTO_malloc(num, file, line);
	if (p)
		memset(p, 0, num);
	return p;
}

PUBLIC void CRYPTO_free(void *str, const char *file, int line)
{
	if (!str)
		return;
	if (secretmem_owns(str)) {
		/* mode all, or a secure object freed with OPENSSL_free */
		secure_release(str);
		return;
	}
	if (__atomic_load_n(&direct, __ATOMIC_RELAXED)) {
		heap_scrub(str);
		free(str);
		return;
	}
	resolve();
	scrub_block(str);
	real.free(str, file, line);
}

PUBLIC void CRYPTO_clear_free(void *str, size_t num, const char *file, int line)
{
	if (!str)
		return;
	/*
	 * CRYPTO_free scrubs the whole block (heap_scrub) when OpenSSL's heap
	 * is glibc's; only otherwise the num bytes here, as OpenSSL does.
	 */
	if (num && !__atomic_load_n(&direct, __ATOMIC_RELAXED) && !secretmem_owns(str) &&
	    (mode == MODE_SECURE || !glibc_heap()))
		scrub(str, num);
	CRYPTO_free(str, file, line);
}

/* Size of a block we can copy from: ours, or glibc's. */
static size_t block_size(void *p)
{
	if (secretmem_owns(p))
		return secretmem_usable_size(p);
	return malloc_usable_size(p);
}

PUBLIC void *CRYPTO_realloc(void *str, size_t num, const char *file, int line)
{
	size_t old;
	void *p;

	if (!str)
		return CRYPTO_malloc(num, file, line);
	if (!num) {
		CRYPTO_free(str, file, line);
		return NULL;
	}
	if (mode != MODE_ALL && !secretmem_owns(str) &&
	    (mode == MODE_SECURE || !glibc_heap() ||
	     (heap_kind != HEAP_OTHER && heap_kind != HEAP_UNKNOWN && !chunk_plausible(str)))) {
		/* glibc's realloc reports a bad pointer */
		resolve();
		return real.realloc(str, num, file, line);
	}
	/* Never let realloc() move a block and leave the old copy behind. */
	old = block_size(str);
	if (num <= old)
		return str;
	p = CRYPTO_malloc(num, file, line);
	if (!p)
		return NULL;
	memcpy(p, str, old);
	CRYPTO_free(str, file, line);
	return p;
}

PUBLIC void *CRYPTO_clear_realloc(void *str, size_t old_len, size_t num,
				  const char *file, int line)
{
	void *p;

	if (!str)
		return CRYPTO_malloc(num, file, line);
	if (!num) {
		CRYPTO_clear_free(str, old_len, file, line);
		return NULL;
	}
	if (num < old_len) {
		scrub((char *)str + num, old_len - num);
		return str;
	}
	p = CRYPTO_malloc(num, file, line);
	if (p) {
		memcpy(p, str, old_len);
		CRYPTO_clear_free(str, old_len, file, line);
	}
	return p;
}

/* ---- Montgomery contexts of secret moduli ---- */

static int bn_secure(const void *bn)
{
	return real.bn_get_flags((const BIGNUM *)bn, BN_FLG_SECURE) != 0;
}

/*
 * Flag the context's BIGNUMs secure before OpenSSL fills them: bn_expand
 * then takes their words from CRYPTO_secure_malloc (bn_lib.c's
 * bn_expand_internal), and words already on the normal heap are freed
 * through CRYPTO_secure_clear_free, which hands them to CRYPTO_free.
 */
static void bn_make_secure(struct sm_bignum *b)
{
	size_t n = (size_t)b->dmax * sizeof(*b->d);
	void *p;

	b->flags |= BN_FLG_SECURE;
	/* Words a reused context already has on the normal heap move over. */
	if (!b->d || secretmem_owns(b->d) || (b->flags & BN_FLG_STATIC_DATA) ||
	    b->dmax <= 0)
		return;
	p = CRYPTO_secure_malloc(n, NULL, 0);
	if (!p)
		return;		/* stays where it is; OpenSSL frees it right */
	memcpy(p, b->d, n);
	CRYPTO_clear_free(b->d, n, NULL, 0);
	b->d = p;
}

static void mont_make_secure(BN_MONT_CTX *mont)
{
	struct sm_mont *m = (struct sm_mont *)mont;

	bn_make_secure(&m->RR);
	bn_make_secure(&m->N);
	bn_make_secure(&m->Ni);
}

/*
 * Before anything here writes into a BN_MONT_CTX: is it laid out as struct
 * sm_mont says?  Once, on a context of our own with a public one-word
 * modulus, set by OpenSSL's own BN_MONT_CTX_set: ri must be 64 (BN_BITS2
 * bits), N a copy of the modulus in a word array of its own, flags
 * without BN_FLG_SECURE.  0: cannot tell (no memory); the program dies if
 * the layout is another.
 */
static int mont_layout_check(BN_CTX *ctx)
{
	static const unsigned long word = 0xffffffffffffffc5UL;	/* odd */
	BN_MONT_CTX *probe;
	struct sm_mont *m;
	BIGNUM *mod;
	int ok;

	if (__atomic_load_n(&mont_checked, __ATOMIC_ACQUIRE))
		return 1;
	probe = real.mont_new();
	mod = real.bn_new();
	if (!probe || !mod || !real.bn_set_word(mod, word) ||
	    !real.mont_set(probe, mod, ctx)) {
		real.mont_free(probe);
		real.bn_free(mod);
		return 0;
	}
	m = (struct sm_mont *)probe;
	ok = m->ri == (int)(8 * sizeof(unsigned long)) && m->N.top == 1 &&
		m->N.dmax >= 1 && m->N.neg == 0 && !(m->N.flags & BN_FLG_SECURE) &&
		m->N.d && m->N.d[0] == word && !real.bn_ucmp((const BIGNUM *)&m->N, mod) &&
		m->RR.top <= 1 && m->RR.d && m->RR.dmax >= 1;
	real.mont_free(probe);
	real.bn_free(mod);
	if (!ok)
		die("OpenSSL's BN_MONT_CTX is not laid out as in OpenSSL 3.0-3.x: refusing to continue");
	__atomic_store_n(&mont_checked, 1, __ATOMIC_RELEASE);
	return 1;
}

PUBLIC int BN_MONT_CTX_set(BN_MONT_CTX *mont, const BIGNUM *mod, BN_CTX *ctx)
{
	int secret;

	resolve();
	secret = mode != MODE_SECURE && mont && mod && bn_secure(mod);
	if (secret) {
		/* fail closed: not set up on the normal heap instead */
		if (!ctx || !mont_layout_check(ctx))
			return 0;
		mont_make_secure(mont);
	}
	return real.mont_set(mont, mod, ctx);
}

PUBLIC BN_MONT_CTX *BN_MONT_CTX_copy(BN_MONT_CTX *to, BN_MONT_CTX *from)
{
	resolve();
	/* from's N is read only once the layout is known to be OpenSSL 3's */
	if (mode != MODE_SECURE && to && from && to != from &&
	    __atomic_load_n(&mont_checked, __ATOMIC_ACQUIRE) &&
	    bn_secure(&((struct sm_mont *)from)->N))
		mont_make_secure(to);
	return real.mont_copy(to, from);
}

/* ---- BIGNUMs made from exported secure BIGNUMs ---- */

/*
 * OpenSSL's OSSL_PARAM_get_BN makes a new BIGNUM (BN_native2bn with no
 * BIGNUM given: BN_new) on the normal heap, whatever the parameter held.
 * A key's export (ossl_rsa_todata & co., OSSL_PARAM_BLD_push_BN) puts a
 * secure BIGNUM's bytes into the builder's secure block, here secret
 * memory; a BIGNUM made from such a parameter starts as BN_secure_new, and
 * BN_native2bn fills it (bn_expand keeps its words in secure memory).
 * Parameters in ordinary memory (EVP_PKEY_get_bn_param's stack buffer, a
 * program's own) are left to OpenSSL.
 */
PUBLIC int OSSL_PARAM_get_BN(const OSSL_PARAM *p, BIGNUM **val)
{
	const struct sm_param *sp = (const struct sm_param *)p;
	BIGNUM *b;

	resolve();
	if (mode == MODE_SECURE || !val || *val || !sp || !sp->data ||
	    !secretmem_owns(sp->data))
		return real.param_get_bn(p, val);
	b = real.bn_secure_new();
	if (!b)
		return 0;
	if (!real.param_get_bn(p, &b)) {
		real.bn_clear_free(b);
		return 0;
	}
	*val = b;
	return 1;
}
