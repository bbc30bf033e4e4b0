/* SPDX-License-Identifier: GPL-2.0 */
/*
 * needles.h - many masked 32-byte needles (windows of a private key's
 * numbers, in both byte orders) searched for in one pass over /proc/kcore
 * or a process's /proc/PID/mem.
 *
 * A needle file is text, one needle a line: "<name> <mask> <masked>", the
 * last two 64 hex digits each; the needle is mask ^ masked and exists in
 * plain form nowhere in the scanner (see probe.h's struct pattern).  The
 * host writes these files with userspace-test/ossl/needles.c.  The scanner
 * looks at every 8-aligned word of memory: a 32-byte copy at any address
 * holds one of the needle's 8 words at offsets 0..7 there; the words are
 * kept only through an invertible hash, and a candidate is confirmed with
 * the masked 32-byte compare.
 */
#ifndef SECRETMEM_NEEDLES_H
#define SECRETMEM_NEEDLES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "probe.h"

#define NEEDLE_LEN	32
#define NEEDLES_MAX	128
#define NEEDLE_SLOTS	2048	/* power of 2, > 8 * NEEDLES_MAX */

struct needle {
	char name[64];
	uint8_t mask[NEEDLE_LEN];
	uint8_t masked[NEEDLE_LEN];
};

struct needle_slot {
	uint64_t h;		/* hash of the needle's word at offset k; 0: empty */
	uint16_t idx;
	uint8_t k;
};

struct needles {
	int n;
	struct needle v[NEEDLES_MAX];
	struct needle_slot slot[NEEDLE_SLOTS];
};

/* What a scan saw. */
struct needle_hits {
	long hits;		/* occurrences found */
	char first[160];	/* where the first one was, in words */
	uint64_t first_addr;	/* and its address (physical for kcore) */
	size_t bytes;		/* bytes read */
	long unreadable;	/* /proc/PID/mem: readable-looking regions that failed (EIO) */
	size_t unreadable_bytes;
};

/* 0, or -1 with the reason in why. */
int needles_load(struct needles *ns, const char *path, char *why, size_t whylen);
/* Scan all RAM of /proc/kcore.  0 (hits in *h), -1 with errno. */
int needles_scan_kcore(const struct needles *ns, struct kcore *k, struct needle_hits *h);
/* Scan the RAM at physical [paddr, paddr+len) only (one page, say).  0 or -1. */
int needles_scan_kcore_phys(const struct needles *ns, struct kcore *k, uint64_t paddr,
			    uint64_t len, struct needle_hits *h);
/* Scan every readable mapping of pid through /proc/PID/mem.  0 or -1. */
int needles_scan_pid(const struct needles *ns, pid_t pid, struct needle_hits *h);
/* Map and fault in the scan buffer now (before a process under test exits).  0 or -1. */
int needles_prepare(void);
/* Wipe the scan buffer (it may hold a copy a scan found); it stays mapped. */
void needles_scan_done(void);

#endif /* SECRETMEM_NEEDLES_H */
