// SPDX-License-Identifier: GPL-2.0
// probe.h - helpers shared by the secretmem test suite and demo: masked secret patterns, holder processes and leak probes.
#ifndef SECRETMEM_PROBE_H
#define SECRETMEM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sm_lib.h"

#define PATTERN_LEN	32
/* Where the pattern goes inside every page of a holder's region (8-aligned). */
#define PATTERN_OFFSET	264

/*
 * A secret pattern is never stored in plain form outside the memory under
 * test: the program keeps two random halves whose XOR is the secret.
 * Writing goes byte by byte through volatile pointers (at most one plain
 * byte in a register at a time, never a whole vector register that the
 * kernel would save into its FPU area); matching compares (data ^ mask)
 * against masked, so the plain pattern never appears in a register either.
 * This keeps a /proc/kcore scan from finding the scanner's own copy.
 */
struct pattern {
	uint8_t mask[PATTERN_LEN];
	uint8_t masked[PATTERN_LEN];	/* secret = mask ^ masked */
	unsigned int anchor;		/* index of a byte that is rare in RAM */
};

void pattern_new(struct pattern *p);
void pattern_write(const struct pattern *p, volatile uint8_t *dst);
bool pattern_match(const struct pattern *p, const uint8_t *buf);
bool pattern_match_volatile(const struct pattern *p, const volatile uint8_t *buf);
/* Offset of the first occurrence in buf, or -1. */
long pattern_find(const struct pattern *p, const uint8_t *buf, size_t len);
/* Write the pattern at PATTERN_OFFSET of every page of [addr, addr+len). */
void pattern_fill_pages(const struct pattern *p, volatile uint8_t *addr, size_t len);

/* ---- holder: a child process that keeps a pattern in memory ---- */

enum mem_kind {
	MEM_SECRET,	/* mmap of /dev/secretmem */
	MEM_ANON,	/* ordinary anonymous memory: the control */
};

struct holder_opts {
	enum mem_kind kind;
	size_t pages;
	bool core;		/* prepare to dump core: RLIMIT_CORE, dumpable */
	const char *cwd;	/* chdir here first (core files with relative core_pattern) */
	/* Runs in the holder after the pattern is written (demo: use the key). */
	void (*use)(const volatile uint8_t *secret, void *arg);
	void *arg;
};

struct holder {
	pid_t pid;
	int cmd_fd;		/* parent -> holder */
	int rep_fd;		/* holder -> parent */
	uintptr_t addr;		/* region start in the holder */
	uintptr_t secret;	/* address of the first pattern copy */
	size_t len;
};

/* Returns 0, or -1 with a human-readable reason in err. */
int holder_start(struct holder *h, const struct holder_opts *o,
		 const struct pattern *p, char *err, size_t errlen);
/* Ask the holder to munmap its region; 0 or -errno. */
int holder_unmap(struct holder *h);
/* Let it exit normally / kill it / make it abort(); returns wait status. */
int holder_exit(struct holder *h);
int holder_kill(struct holder *h, int sig);
int holder_abort(struct holder *h);

/* ---- probes: 1 = read and pattern seen, 0 = read but not seen, -1 = failed (errno in *err) ---- */

/* -2: PTRACE_ATTACH itself failed. */
int probe_ptrace_peek(pid_t pid, uintptr_t addr, const struct pattern *p, int *err);
int probe_proc_mem(pid_t pid, uintptr_t addr, const struct pattern *p, int *err);
int probe_vm_readv(pid_t pid, uintptr_t addr, const struct pattern *p, int *err);
/* vmsplice of our own memory at addr into a pipe, then read the pipe. */
int probe_vmsplice(const void *addr, const struct pattern *p, int *err);

/* ---- /proc/kcore ---- */

#define KCORE_MAX_SEG	128

struct kcore_seg {
	uint64_t off, len, vaddr, paddr;
};

struct kcore {
	int fd;
	int nseg;
	struct kcore_seg seg[KCORE_MAX_SEG];
	uint64_t ram_bytes;
};

/* 0, or -1 with a reason (missing, no permission, not ELF) in why. */
int kcore_open(struct kcore *k, char *why, size_t whylen);
/* Scan the RAM segments: 1 found (physical address in *paddr), 0 not found, -1 error. */
int kcore_scan(struct kcore *k, const struct pattern *p, uint64_t *paddr);
void kcore_close(struct kcore *k);

/*
 * Scan [off, off+len) of fd (len 0: to EOF); 1/0/-1 as above, *where = file
 * offset.  Uses one preallocated buffer (kcore_open() faults it in).
 */
int scan_fd(int fd, uint64_t off, uint64_t len, const struct pattern *p, uint64_t *where);

/* ---- core dumps ---- */

/*
 * Where the kernel will put the core of pid (comm is the dumping task's
 * name, cwd its working directory).  0, or -1 with the reason the suite
 * cannot predict it (pipe helper, unsupported %-specifier) in why.
 */
int core_path(pid_t pid, const char *comm, const char *cwd, char *path,
	      size_t n, char *why, size_t whylen);

#endif /* SECRETMEM_PROBE_H */
