// SPDX-License-Identifier: GPL-2.0
// needles.c - one-pass search for many masked 32-byte needles in /proc/kcore and /proc/PID/mem.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "needles.h"

/* An invertible mix (odd multiply, xorshift): equal hashes, equal words. */
static inline uint64_t mix(uint64_t w)
{
	w *= 0x9e3779b97f4a7c15ULL;
	w ^= w >> 31;
	return w | 1;	/* never 0 (0 marks an empty slot) */
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int add_slots(struct needles *ns, int idx)
{
	const volatile uint8_t *a = ns->v[idx].mask, *b = ns->v[idx].masked;
	unsigned int k, j;

	for (k = 0; k < 8; k++) {
		uint64_t w = 0, h;

		/* one plain word in a register, only to hash it */
		for (j = 0; j < 8; j++)
			w |= (uint64_t)(uint8_t)(a[k + j] ^ b[k + j]) << (8 * j);
		h = mix(w);
		w = 0;
		for (j = h & (NEEDLE_SLOTS - 1); ns->slot[j].h; j = (j + 1) & (NEEDLE_SLOTS - 1))
			;
		ns->slot[j].h = h;
		ns->slot[j].idx = (uint16_t)idx;
		ns->slot[j].k = (uint8_t)k;
	}
	return 0;
}

int needles_load(struct needles *ns, const char *path, char *why, size_t whylen)
{
	char line[256], name[64], m1[80], m2[80];
	FILE *f;
	int ln = 0;

	memset(ns, 0, sizeof(*ns));
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		ln++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %79s %79s", name, m1, m2) != 3 ||
		    ns->n == NEEDLES_MAX ||
		    parse_hex(m1, ns->v[ns->n].mask, NEEDLE_LEN) ||
		    parse_hex(m2, ns->v[ns->n].masked, NEEDLE_LEN)) {
			snprintf(why, whylen, "%s:%d: bad needle line", path, ln);
			fclose(f);
			return -1;
		}
		snprintf(ns->v[ns->n].name, sizeof(ns->v[ns->n].name), "%s", name);
		add_slots(ns, ns->n);
		ns->n++;
	}
	explicit_bzero(line, sizeof(line));
	explicit_bzero(m1, sizeof(m1));
	explicit_bzero(m2, sizeof(m2));
	fclose(f);
	if (!ns->n) {
		snprintf(why, whylen, "%s: no needles", path);
		return -1;
	}
	return 0;
}

static bool needle_at(const struct needle *nd, const uint8_t *p)
{
	unsigned int i;

	for (i = 0; i < NEEDLE_LEN; i++)
		if ((uint8_t)(p[i] ^ nd->mask[i]) != nd->masked[i])
			return false;
	return true;
}

/*
 * Scan buf[0, len) (buf 8-aligned in the scanned space); a match is counted
 * only if it ends past @seen (what an earlier call already covered).
 * Returns the number of hits; the first one's start in *first_at / *first_idx.
 */
static long scan_chunk(const struct needles *ns, const uint8_t *buf, size_t len,
		       size_t seen, size_t *first_at, int *first_idx)
{
	const uint64_t *w = (const uint64_t *)buf;
	size_t nw = len / 8, i;
	long hits = 0;

	for (i = 0; i < nw; i++) {
		uint64_t h = mix(w[i]);
		unsigned int j = h & (NEEDLE_SLOTS - 1);

		while (ns->slot[j].h) {
			const struct needle_slot *s = &ns->slot[j];
			size_t at = i * 8;

			if (s->h == h && at >= s->k && at - s->k + NEEDLE_LEN <= len &&
			    at - s->k + NEEDLE_LEN > seen &&
			    needle_at(&ns->v[s->idx], buf + at - s->k)) {
				if (!hits) {
					*first_at = at - s->k;
					*first_idx = s->idx;
				}
				hits++;
			}
			j = (j + 1) & (NEEDLE_SLOTS - 1);
		}
	}
	return hits;
}

#define CHUNK		(4UL << 20)
#define OVERLAP		64

static uint8_t *buffer;

static uint8_t *get_buffer(void)
{
	void *b;

	if (buffer)
		return buffer;
	b = mmap(NULL, CHUNK + 2 * OVERLAP, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	madvise(b, CHUNK + 2 * OVERLAP, MADV_DONTFORK);
	memset(b, 0x5a, CHUNK + 2 * OVERLAP);
	buffer = b;
	return buffer;
}

int needles_prepare(void)
{
	return get_buffer() ? 0 : -1;
}

/*
 * The buffer stays mapped: mapping it again after a process under test
 * has exited would take (and, with init_on_alloc, zero) the very pages
 * that process just freed, before the scan could look at them.
 */
void needles_scan_done(void)
{
	if (buffer)
		explicit_bzero(buffer, CHUNK + 2 * OVERLAP);
}

/*
 * Scan [off, off+len) of fd (off 8-aligned), reporting addresses as
 * base + (file offset - off).  0, or -1 if the first read failed.
 */
static int scan_range(const struct needles *ns, int fd, uint64_t off, uint64_t len,
		      uint64_t base, const char *what, struct needle_hits *h)
{
	uint8_t *buf = get_buffer();
	uint64_t pos = off;	/* file offset of buf[carry] */
	size_t carry = 0, seen = 0;

	if (!buf)
		return -1;
	while (pos < off + len) {
		size_t want = CHUNK, have, at = 0, keep;
		int idx = -1;
		ssize_t n;
		long hits;

		if (want > off + len - pos)
			want = off + len - pos;
		n = pread(fd, buf + carry, want, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pos == off ? -1 : 0;
		h->bytes += n;
		have = (carry + n) & ~7UL;
		hits = scan_chunk(ns, buf, have, seen, &at, &idx);
		if (hits && !h->hits) {
			h->first_addr = base + (pos - off) - carry + at;
			snprintf(h->first, sizeof(h->first), "%s at 0x%llx (%s)",
				 ns->v[idx].name, (unsigned long long)h->first_addr, what);
		}
		h->hits += hits;
		/* keep an 8-aligned tail for copies that straddle two reads */
		keep = have > OVERLAP ? have - OVERLAP : 0;
		memmove(buf, buf + keep, carry + n - keep);
		seen = have - keep;
		pos += n;
		carry = carry + n - keep;
	}
	return 0;
}

int needles_scan_kcore(const struct needles *ns, struct kcore *k, struct needle_hits *h)
{
	int i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < k->nseg; i++) {
		if (scan_range(ns, k->fd, k->seg[i].off, k->seg[i].len, k->seg[i].paddr,
			       "physical", h))
			return -1;
	}
	return 0;
}

int needles_scan_kcore_phys(const struct needles *ns, struct kcore *k, uint64_t paddr,
			    uint64_t len, struct needle_hits *h)
{
	int i;

	memset(h, 0, sizeof(*h));
	paddr &= ~7ULL;
	for (i = 0; i < k->nseg; i++) {
		const struct kcore_seg *sg = &k->seg[i];

		if (paddr < sg->paddr || paddr >= sg->paddr + sg->len)
			continue;
		if (len > sg->paddr + sg->len - paddr)
			len = sg->paddr + sg->len - paddr;
		return scan_range(ns, k->fd, sg->off + (paddr - sg->paddr), len, paddr,
				  "physical", h);
	}
	errno = ERANGE;
	return -1;
}

int needles_scan_pid(const struct needles *ns, pid_t pid, struct needle_hits *h)
{
	char path[64], line[512];
	FILE *maps;
	int fd;

	memset(h, 0, sizeof(*h));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	if (!maps)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fclose(maps);
		return -1;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8], name[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &lo, &hi, perms, name) < 3)
			continue;
		if (perms[0] != 'r' || !strcmp(name, "[vsyscall]") || !strcmp(name, "[vvar]"))
			continue;
		if (scan_range(ns, fd, lo, hi - lo, lo, name[0] ? name : "anonymous", h)) {
			h->unreadable++;
			h->unreadable_bytes += hi - lo;
		}
	}
	close(fd);
	fclose(maps);
	return 0;
}
