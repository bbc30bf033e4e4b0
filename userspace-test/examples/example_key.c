// SPDX-License-Identifier: GPL-2.0
/* Example: keep a MAC key in secret memory and use it (SipHash-2-4). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "libsecretmem.h"

/* The key and the hash state live in secret memory, never on the stack. */
struct secret {
	uint64_t key[2];
	uint64_t v[4];
};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t *v)
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t siphash(struct secret *s, const unsigned char *msg, size_t len)
{
	uint64_t *v = s->v, m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	v[0] = s->key[0] ^ 0x736f6d6570736575ULL;
	v[1] = s->key[1] ^ 0x646f72616e646f6dULL;
	v[2] = s->key[0] ^ 0x6c7967656e657261ULL;
	v[3] = s->key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, msg + i, 8);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)msg[len - left + i] << (8 * i);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int main(int argc, char **argv)
{
	const char *msg = argc > 1 ? argv[1] : "hello, secret memory";
	struct secretmem_info info;
	struct secret *s;

	if (secretmem_info(&info)) {
		fprintf(stderr, "secretmem: %s\n", secretmem_strerror(errno));
		return 1;
	}
	printf("protections in force: %s%s%s%s%s\n",
	       info.protections & SECRETMEM_PROT_DIRECT_MAP ? "no-direct-map " : "",
	       info.protections & SECRETMEM_PROT_NO_CORE_DUMP ? "no-core-dump " : "",
	       info.protections & SECRETMEM_PROT_NO_GUP ? "no-ptrace " : "",
	       info.protections & SECRETMEM_PROT_NO_FORK ? "no-fork " : "",
	       info.protections & SECRETMEM_PROT_HIBERNATION ? "no-hibernation" : "");

	s = secretmem_alloc(sizeof(*s), 0);
	if (!s) {
		fprintf(stderr, "secretmem_alloc: %s\n", secretmem_strerror(errno));
		return 1;
	}
	/* The key goes straight from the kernel's RNG into secret memory. */
	if (getrandom(s->key, sizeof(s->key), 0) != sizeof(s->key)) {
		perror("getrandom");
		return 1;
	}
	printf("SipHash-2-4(\"%s\") = %016" PRIx64 "\n", msg,
	       siphash(s, (const unsigned char *)msg, strlen(msg)));
	/* munmap: the module scrubs the pages before they are reused. */
	secretmem_free(s, sizeof(*s));
	return 0;
}
