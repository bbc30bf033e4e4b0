/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Userspace API of /dev/secretmem, shared by the kernel module
 * and by C/C++ programs; needs no kernel headers in userspace.
 */
#ifndef _UAPI_SECRETMEM_H
#define _UAPI_SECRETMEM_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#define SECRETMEM_U32	__u32
#define SECRETMEM_U64	__u64
#else
#include <stdint.h>
#define SECRETMEM_U32	uint32_t
#define SECRETMEM_U64	uint64_t
#endif

/* Version of this interface; bumped when something is added. */
#define SECRETMEM_UAPI_VERSION	1

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

/* Per-fd flags (SECRETMEM_IOC_SET_FLAGS). */
#define SECRETMEM_FLAG_UNCACHED		(1ULL << 0) /* map this fd's pages uncached (x86) */
#define SECRETMEM_FLAGS_ALL		SECRETMEM_FLAG_UNCACHED

/*
 * SECRETMEM_IOC_GET_INFO fills this.  The caller sets .size to the size of
 * its own struct; the module fills as much as both know, zeroes the rest
 * of the caller's struct and sets .size to what it filled.  New fields are
 * only ever appended.
 */
struct secretmem_info {
	SECRETMEM_U32 size;		/* in: caller's size; out: bytes filled */
	SECRETMEM_U32 version;		/* SECRETMEM_UAPI_VERSION of the module */
	SECRETMEM_U64 protections;	/* SECRETMEM_PROT_* in force for this fd */
	SECRETMEM_U64 platform;		/* SECRETMEM_PLAT_* */
	SECRETMEM_U64 flags;		/* SECRETMEM_FLAG_* set on this fd */
	SECRETMEM_U64 mapped_bytes;	/* bytes this fd's regions hold now */
	SECRETMEM_U64 memlock_left;	/* RLIMIT_MEMLOCK bytes left; ~0: unlimited */
	SECRETMEM_U64 max_bytes;	/* module-wide cap (max_pages) in bytes */
	SECRETMEM_U64 page_size;	/* granule of a mapping */
};

/* Smallest .size accepted: up to and including .platform. */
#define SECRETMEM_INFO_SIZE_V1	24

/*
 * ioctl numbers: magic 0xB7, in the asm-generic _IOC layout (that of x86
 * and arm64), spelled out so that userspace needs no kernel headers.
 */
#define SECRETMEM_IOC_MAGIC	0xB7
#define SECRETMEM__IOC(dir, nr, size) \
	((unsigned int)(((dir) << 30) | ((size) << 16) | \
			(SECRETMEM_IOC_MAGIC << 8) | (nr)))

/* Fill a struct secretmem_info (_IOWR); arg: pointer to it. */
#define SECRETMEM_IOC_GET_INFO \
	SECRETMEM__IOC(3U, 0x01, (unsigned int)sizeof(struct secretmem_info))
/*
 * Set this fd's flags (_IOW), before its first mmap (EBUSY after); arg: the
 * SECRETMEM_FLAG_* value itself, not a pointer.
 */
#define SECRETMEM_IOC_SET_FLAGS \
	SECRETMEM__IOC(1U, 0x02, (unsigned int)sizeof(SECRETMEM_U64))

#endif /* _UAPI_SECRETMEM_H */
