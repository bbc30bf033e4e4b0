/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace API of /dev/secretmem, shared by the kernel module and by C/C++
 * programs.  In userspace it needs only the kernel's UAPI headers
 * (<linux/types.h>, <linux/ioctl.h>: Debian's linux-libc-dev).
 */
#ifndef _UAPI_SECRETMEM_H
#define _UAPI_SECRETMEM_H

#include <linux/types.h>
#include <linux/ioctl.h>

/*
 * Version of this interface; bumped when something is added.  2: the ioctl
 * numbers of 0.2 (GET_INFO's number no longer encodes the struct's size;
 * SET_FLAGS takes a pointer, under a new number).  Version 1 was never
 * released as stable; its SET_FLAGS number now gets ENOTTY.  3: arm64
 * (.arch, the SECRETMEM_PLAT_ bits from LINEAR_MAP_PAGES on).  4:
 * SECRETMEM_FLAG_INHERIT.
 */
#define SECRETMEM_UAPI_VERSION	4

/* Device node created by the module (misc device, mode 0666). */
#define SECRETMEM_DEVICE_NAME	"secretmem"
#define SECRETMEM_DEVICE_PATH	"/dev/secretmem"

/* Name of the kernel module (not "secretmem": that name is the kernel's). */
#define SECRETMEM_MODULE_NAME	"secretmem_dev"

/*
 * Protections that the mappings of an fd get on this machine
 * (struct secretmem_info.protections).
 */
#define SECRETMEM_PROT_DIRECT_MAP	(1ULL << 0) /* pages out of the kernel direct map */
#define SECRETMEM_PROT_NO_CORE_DUMP	(1ULL << 1) /* left out of core dumps */
#define SECRETMEM_PROT_NO_GUP		(1ULL << 2) /* no ptrace, /proc/PID/mem, GUP */
#define SECRETMEM_PROT_NO_FORK		(1ULL << 3) /* not inherited by fork() children */
#define SECRETMEM_PROT_NO_SWAP		(1ULL << 4) /* never swapped out */
#define SECRETMEM_PROT_SCRUB		(1ULL << 5) /* zeroed before reuse, on every teardown */
#define SECRETMEM_PROT_HIBERNATION	(1ULL << 6) /* hibernation refused while pages exist */
#define SECRETMEM_PROT_UNCACHED		(1ULL << 7) /* mapped uncached (SECRETMEM_FLAG_UNCACHED) */

/* Facts about the platform that matter for secrecy (.platform). */
#define SECRETMEM_PLAT_MEM_ENCRYPT	(1ULL << 0) /* memory encryption active (SME/SEV/TDX) */
#define SECRETMEM_PLAT_GUEST_ENCRYPT	(1ULL << 1) /* confidential guest: host cannot read RAM */
#define SECRETMEM_PLAT_L1TF		(1ULL << 2) /* CPU affected by L1TF */
#define SECRETMEM_PLAT_MDS		(1ULL << 3) /* CPU affected by MDS */
#define SECRETMEM_PLAT_MITIGATIONS_OFF	(1ULL << 4) /* booted with mitigations=off */
#define SECRETMEM_PLAT_IBT		(1ULL << 5) /* CPU enforces indirect branch tracking */
/* Since version 3. */
#define SECRETMEM_PLAT_LINEAR_MAP_PAGES	(1ULL << 6) /* arm64: linear map page-granular */
#define SECRETMEM_PLAT_BTI		(1ULL << 7) /* arm64: kernel enforces BTI (landing pads) */
#define SECRETMEM_PLAT_MTE		(1ULL << 8) /* arm64: CPU has MTE and the kernel uses it */
#define SECRETMEM_PLAT_KPTI		(1ULL << 9) /* kernel unmapped in user mode (PTI) */

/* The module's architecture (.arch, since version 3; 0 from older modules). */
#define SECRETMEM_ARCH_X86_64		1
#define SECRETMEM_ARCH_ARM64		2

/* Per-fd flags (SECRETMEM_IOC_SET_FLAGS). */
/* Map this fd's pages uncached: x86 only, elsewhere SET_FLAGS fails with EOPNOTSUPP. */
#define SECRETMEM_FLAG_UNCACHED		(1ULL << 0)
/*
 * Since version 4: fork() children get this fd's mappings, the same pages
 * shared (as memfd_secret's); the fd then lacks SECRETMEM_PROT_NO_FORK.
 * The pages go back when the last mapping of them, in any process, goes.
 */
#define SECRETMEM_FLAG_INHERIT		(1ULL << 8)
#define SECRETMEM_FLAGS_ALL		(SECRETMEM_FLAG_UNCACHED | SECRETMEM_FLAG_INHERIT)

/*
 * SECRETMEM_IOC_GET_INFO fills this.  The caller sets .size to the size of
 * its own struct; the module fills as much as both know, zeroes the rest
 * of the caller's struct and sets .size to what it filled.  New fields are
 * only ever appended.
 */
struct secretmem_info {
	__u32 size;		/* in: caller's size; out: bytes filled */
	__u32 version;		/* SECRETMEM_UAPI_VERSION of the module */
	__u64 protections;	/* SECRETMEM_PROT_* in force for this fd */
	__u64 platform;		/* SECRETMEM_PLAT_* */
	__u64 flags;		/* SECRETMEM_FLAG_* set on this fd */
	__u64 mapped_bytes;	/* bytes this fd's regions hold now */
	__u64 memlock_left;	/* RLIMIT_MEMLOCK bytes left; ~0: unlimited */
	__u64 max_bytes;	/* module-wide cap (max_pages) in bytes */
	__u64 page_size;	/* granule of a mapping */
	/* Since version 3 (a caller's .size may end before, or here). */
	__u32 arch;		/* SECRETMEM_ARCH_* */
	__u32 reserved;		/* 0 */
};

/* Smallest .size accepted: up to and including .platform. */
#define SECRETMEM_INFO_SIZE_V1	24
/* The struct of versions 1 and 2: up to and including .page_size. */
#define SECRETMEM_INFO_SIZE_V2	64

/*
 * ioctl numbers, magic 0xB7.  The size field of GET_INFO's number is frozen
 * at SECRETMEM_INFO_SIZE_V1, and the module matches GET_INFO by direction,
 * type and number only: the struct's real size travels in .size, so the
 * struct can grow without changing the number.
 */
#define SECRETMEM_IOC_MAGIC	0xB7

/* Fill a struct secretmem_info; arg: pointer to it, .size set. */
#define SECRETMEM_IOC_GET_INFO \
	_IOC(_IOC_READ | _IOC_WRITE, SECRETMEM_IOC_MAGIC, 0x01, SECRETMEM_INFO_SIZE_V1)
/*
 * Set this fd's flags, before its first successful mmap (EBUSY after, or
 * while one is in progress); arg: pointer to a __u64 of SECRETMEM_FLAG_*.
 */
#define SECRETMEM_IOC_SET_FLAGS	_IOW(SECRETMEM_IOC_MAGIC, 0x03, __u64)

#endif /* _UAPI_SECRETMEM_H */
