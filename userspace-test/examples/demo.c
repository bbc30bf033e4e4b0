// SPDX-License-Identifier: GPL-2.0
// demo.c - shows a key kept in /dev/secretmem surviving kcore, ptrace, /proc/PID/mem and core-dump snooping by root.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"

/* ---- SHA-256 / HMAC-SHA256 (FIPS 180-4, RFC 2104) ---- */

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
	size_t fill;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
	explicit_bzero(w, sizeof(w));
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->fill = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len--) {
		s->buf[s->fill++] = *p++;
		if (s->fill == 64) {
			sha256_block(s, s->buf);
			s->fill = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80;
	int i;

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->fill != 56)
		sha256_update(s, &pad, 1);
	for (i = 7; i >= 0; i--) {
		pad = bits >> (8 * i);
		sha256_update(s, &pad, 1);
	}
	for (i = 0; i < 8; i++) {
		out[4 * i] = s->h[i] >> 24;
		out[4 * i + 1] = s->h[i] >> 16;
		out[4 * i + 2] = s->h[i] >> 8;
		out[4 * i + 3] = s->h[i];
	}
	explicit_bzero(s, sizeof(*s));
}

/*
 * The key is read byte by byte from secret memory and only ever combined
 * with ipad/opad, so no plain copy of it lands on the stack.
 */
static void hmac_sha256(const volatile uint8_t *key, size_t klen,
			const void *msg, size_t mlen, uint8_t out[32])
{
	uint8_t pad[64], inner[32];
	struct sha256 s;
	size_t i;

	for (i = 0; i < 64; i++)
		pad[i] = (i < klen ? key[i] : 0) ^ 0x36;
	sha256_init(&s);
	sha256_update(&s, pad, 64);
	sha256_update(&s, msg, mlen);
	sha256_final(&s, inner);
	for (i = 0; i < 64; i++)
		pad[i] = (i < klen ? key[i] : 0) ^ 0x5c;
	sha256_init(&s);
	sha256_update(&s, pad, 64);
	sha256_update(&s, inner, 32);
	sha256_final(&s, out);
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
}

/* ---- the owner ---- */

static const char message[] = "pay 100 EUR to Bob";

static void owner_use(const volatile uint8_t *key, void *arg)
{
	uint8_t mac[32];
	char hex[65];

	(void)arg;
	printf("[owner] pid %d: random 256-bit key stored in %s memory at %p\n",
	       (int)getpid(), SECRETMEM_DEVICE_PATH, (const void *)key);
	hmac_sha256(key, PATTERN_LEN, message, strlen(message), mac);
	hexstr(mac, 16, hex);
	printf("[owner] HMAC-SHA256(key, \"%s\") = %s...\n", message, hex);
	fflush(stdout);
}

/* ---- root's side ---- */

static int leaks;
static int blind;	/* controls that failed to see their key */

/* r/rc: probe results for the key and for the control (1 seen, 0 not, <0 failed) */
static void report(const char *what, int r, int err, int rc, int errc, bool scan)
{
	char s[96], c[96];

	if (r == 1) {
		snprintf(s, sizeof(s), scan ? "KEY FOUND" : "READ THE KEY");
		leaks++;
	} else if (r == 0) {
		snprintf(s, sizeof(s), scan ? "not found" : "read something, but not the key");
	} else {
		snprintf(s, sizeof(s), "failed, %s", sm_errname(err));
	}
	if (rc == 1) {
		snprintf(c, sizeof(c), scan ? "found" : "read the key");
	} else {
		snprintf(c, sizeof(c), "%s", rc == 0 ? "not found" : sm_errname(errc));
		blind++;
	}
	printf("[root] %s: %s (control on normal memory: %s)\n", what, s, c);
	fflush(stdout);
}

static int start(struct holder *h, enum mem_kind kind, const struct pattern *p,
		 bool core, const char *cwd, bool use)
{
	struct holder_opts o = {
		.kind = kind, .pages = kind == MEM_ANON ? 64 : 4, .core = core, .cwd = cwd,
		.use = use ? owner_use : NULL,
	};
	char err[256];

	if (holder_start(h, &o, p, err, sizeof(err))) {
		printf("[demo] cannot start %s holder: %s\n",
		       kind == MEM_SECRET ? "secretmem" : "control", err);
		return -1;
	}
	return 0;
}

static int core_scan(enum mem_kind kind, const struct pattern *p, const char *dir)
{
	char path[256], why[256];
	struct holder h;
	uint64_t where;
	int st, fd, r;

	if (start(&h, kind, p, true, dir, false))
		return -1;
	if (core_path(h.pid, "smholder", dir, path, sizeof(path), why, sizeof(why))) {
		holder_kill(&h, SIGKILL);
		printf("[root] core dump: skipped (%s)\n", why);
		return -2;
	}
	unlink(path);
	st = holder_abort(&h);
	if (!WIFSIGNALED(st) || !WCOREDUMP(st))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = scan_fd(fd, 0, 0, p, &where);
	close(fd);
	unlink(path);
	return r;
}

int main(void)
{
	struct pattern key, ctl, key2, ctl2, key3, ctl3;
	struct holder owner, control;
	char dir[] = "/tmp/smdemo.XXXXXX", why[256];
	int r, rc, err = 0, errc = 0;
	bool have_kcore;
	struct kcore k;
	uint64_t pa;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("[demo] run me as root: the snooping side needs it\n");
		return 2;
	}
	if (access(SECRETMEM_DEVICE_PATH, F_OK)) {
		printf("[demo] %s missing: load module %s first\n",
		       SECRETMEM_DEVICE_PATH, SECRETMEM_MODULE_NAME);
		return 2;
	}
	pattern_new(&key);
	pattern_new(&ctl);
	have_kcore = !kcore_open(&k, why, sizeof(why));

	if (start(&owner, MEM_SECRET, &key, false, NULL, true))
		return 2;
	if (start(&control, MEM_ANON, &ctl, false, NULL, false))
		return 2;
	printf("[root] control: pid %d keeps another random key in ordinary memory\n",
	       (int)control.pid);

	if (have_kcore) {
		printf("[root] scanning %llu MiB of RAM through /proc/kcore...\n",
		       (unsigned long long)(k.ram_bytes >> 20));
		rc = kcore_scan(&k, &ctl, &pa);
		r = kcore_scan(&k, &key, &pa);
		report("kcore scan", r, errno, rc, errno, true);
	} else {
		printf("[root] kcore scan: skipped (%s)\n", why);
	}

	r = probe_ptrace_peek(owner.pid, owner.secret, &key, &err);
	rc = probe_ptrace_peek(control.pid, control.secret, &ctl, &errc);
	report("ptrace PEEKDATA", r, err, rc, errc, false);

	r = probe_proc_mem(owner.pid, owner.secret, &key, &err);
	rc = probe_proc_mem(control.pid, control.secret, &ctl, &errc);
	report("read /proc/PID/mem", r, err, rc, errc, false);

	r = probe_vm_readv(owner.pid, owner.secret, &key, &err);
	rc = probe_vm_readv(control.pid, control.secret, &ctl, &errc);
	report("process_vm_readv", r, err, rc, errc, false);

	if (mkdtemp(dir)) {
		pattern_new(&key2);
		pattern_new(&ctl2);
		rc = core_scan(MEM_ANON, &ctl2, dir);
		if (rc != -2) {
			r = core_scan(MEM_SECRET, &key2, dir);
			if (r == 1)
				leaks++;
			if (rc != 1)
				blind++;
			printf("[root] core dump of a key holder: %s (control on normal memory: %s)\n",
			       r == 1 ? "KEY FOUND IN CORE" : r == 0 ? "key not in core" :
			       "no core written",
			       rc == 1 ? "found in core" : "not found");
		}
		rmdir(dir);
	}

	printf("[owner] done, exiting\n");
	holder_exit(&owner);
	holder_exit(&control);
	if (have_kcore) {
		rc = kcore_scan(&k, &ctl, &pa);
		r = kcore_scan(&k, &key, &pa);
		if (r == 1)
			leaks++;
		if (rc != 1)
			blind++;
		printf("[root] kcore scan after exit: %s (control: %s)\n",
		       r == 1 ? "STALE COPY OF THE KEY FOUND" : "no trace of the key",
		       rc == 1 ? "stale copy found in freed memory" : "no trace either");

		/* and a holder killed outright */
		pattern_new(&key3);
		pattern_new(&ctl3);
		if (!start(&owner, MEM_SECRET, &key3, false, NULL, false)) {
			holder_kill(&owner, SIGKILL);
			r = kcore_scan(&k, &key3, &pa);
			if (r == 1)
				leaks++;
			printf("[root] kcore scan after SIGKILL of a key holder: %s\n",
			       r == 1 ? "STALE COPY OF THE KEY FOUND" : "no trace of the key");
		}
		kcore_close(&k);
	}

	if (leaks)
		printf("[demo] LEAK: root got at the key %d time(s)\n", leaks);
	else
		printf("[demo] root never saw the key%s\n",
		       blind ? " (but some controls were blind, see above)" : "");
	return leaks ? 1 : 0;
}
