// SPDX-License-Identifier: GPL-2.0
// alloc.c - 32-byte allocate+free pairs: libsecretmem against OpenSSL's secure heap and libsodium's sodium_malloc.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsecretmem.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "bench.h"

enum alloc_kind { A_LIBSM, A_OSSL, A_SODIUM, NR_ALLOC };

static const char *const aname[NR_ALLOC] = { "libsecretmem", "openssl_secure_heap", "sodium_malloc" };

/* One pair: allocate 32 bytes, write them, free them. */
static inline int pair(enum alloc_kind k)
{
	volatile unsigned char *p;

	switch (k) {
	case A_LIBSM:
		p = secretmem_malloc(32);
		if (!p)
			return -1;
		p[0] = 1;
		p[31] = 2;
		secretmem_mfree((void *)p);
		return 0;
	case A_OSSL:
		p = CRYPTO_secure_malloc(32, __FILE__, __LINE__);
		if (!p)
			return -1;
		p[0] = 1;
		p[31] = 2;
		CRYPTO_secure_free((void *)p, __FILE__, __LINE__);
		return 0;
	case A_SODIUM:
		p = sodium_malloc(32);
		if (!p)
			return -1;
		p[0] = 1;
		p[31] = 2;
		sodium_free((void *)p);
		return 0;
	default:
		return -1;
	}
}

struct job {
	enum alloc_kind kind;
	long iters;
	int err;
	pthread_barrier_t *bar;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	long i;

	pthread_barrier_wait(j->bar);
	for (i = 0; i < j->iters; i++)
		if (pair(j->kind)) {
			j->err = errno ? errno : ENOMEM;
			break;
		}
	return NULL;
}

/* ns per pair (all threads' pairs together over the wall time), or -1. */
static double run(enum alloc_kind k, int threads, long iters)
{
	pthread_barrier_t bar;
	pthread_t tid[2];
	struct job j[2];
	uint64_t t0;
	int i;

	pthread_barrier_init(&bar, NULL, (unsigned int)threads + 1);
	for (i = 0; i < threads; i++) {
		j[i] = (struct job){ k, iters, 0, &bar };
		if (pthread_create(&tid[i], NULL, worker, &j[i]))
			return -1;
	}
	pthread_barrier_wait(&bar);
	t0 = sm_now_ns();
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	t0 = sm_now_ns() - t0;
	pthread_barrier_destroy(&bar);
	for (i = 0; i < threads; i++)
		if (j[i].err) {
			errno = j[i].err;
			return -1;
		}
	return (double)t0 / ((double)iters * threads);
}

void bench_alloc(void)
{
	int reps = quick ? 3 : 7, r, t, i, k;
	long iters[NR_ALLOC];
	double ns[NR_ALLOC][MAX_REPS], med[NR_ALLOC], ratio_o[MAX_REPS], ratio_s[MAX_REPS];
	bool ok[NR_ALLOC] = { true, true, true };
	long it = quick ? 20000 : 100000;

	printf("\n== 32-byte allocate+free pairs (libsecretmem backend %s) ==\n",
	       secretmem_backend_name(secretmem_backend()));
	if (secretmem_backend() == SECRETMEM_BACKEND_NONE) {
		printf("  libsecretmem: no backend (%s): n/a\n", strerror(errno));
		ok[A_LIBSM] = false;
	}
	if (!CRYPTO_secure_malloc_init(1 << 20, 16)) {
		printf("  CRYPTO_secure_malloc_init failed: n/a\n");
		ok[A_OSSL] = false;
	}
	if (sodium_init() < 0) {
		printf("  sodium_init failed: n/a\n");
		ok[A_SODIUM] = false;
	}
	/* Per-pair times: each gets enough pairs for a few 100 ms under TCG. */
	iters[A_LIBSM] = it;
	iters[A_OSSL] = it / 10;	/* about 20x slower */
	iters[A_SODIUM] = it / 1000;	/* mmap, mprotect, mlock, munmap per pair */
	for (k = 0; k < NR_ALLOC; k++)
		if (ok[k] && run(k, 1, 1000) < 0) {	/* warm up */
			printf("  %s: %s: n/a\n", aname[k], strerror(errno));
			ok[k] = false;
		}
	for (t = 1; t <= 2; t++) {
		for (r = 0; r < reps; r++)
			for (i = 0; i < NR_ALLOC; i++) {
				k = (i + r) % NR_ALLOC;	/* rotating order */
				ns[k][r] = ok[k] ? run(k, t, iters[k]) : -1;
				if (ns[k][r] < 0)
					ok[k] = false;
			}
		for (k = 0; k < NR_ALLOC; k++)
			med[k] = ok[k] ? median(ns[k], reps) : -1;
		for (r = 0; r < reps; r++) {
			ratio_o[r] = ok[A_LIBSM] && ok[A_OSSL] ? ns[A_OSSL][r] / ns[A_LIBSM][r] : 0;
			ratio_s[r] = ok[A_LIBSM] && ok[A_SODIUM] ? ns[A_SODIUM][r] / ns[A_LIBSM][r] : 0;
		}
		printf("  %d thread%s, ns per pair (median of %d): libsecretmem %.0f, "
		       "OpenSSL secure heap %.0f, sodium_malloc %.0f\n", t, t > 1 ? "s" : "",
		       reps, med[A_LIBSM], med[A_OSSL], med[A_SODIUM]);
		printf("  speed of libsecretmem: %.2fx OpenSSL's secure heap (goal %.1fx), "
		       "%.1fx libsodium (goal 10x)\n", median(ratio_o, reps),
		       t == 1 ? 1.0 : 1.5, median(ratio_s, reps));
		printf("BENCH alloc32 threads=%d libsm_ns=%.0f ossl_ns=%.0f sodium_ns=%.0f "
		       "vs_openssl=%.2f vs_sodium=%.1f\n", t, med[A_LIBSM], med[A_OSSL],
		       med[A_SODIUM], median(ratio_o, reps), median(ratio_s, reps));
	}
	CRYPTO_secure_malloc_done();
}
