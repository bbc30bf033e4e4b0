/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * secretmem.h - userspace API of /dev/secretmem, shared by the kernel module
 * and by C/C++ programs; needs no kernel headers in userspace.
 */
#ifndef _UAPI_SECRETMEM_H
#define _UAPI_SECRETMEM_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <stdint.h>
#endif

/* Version of this interface; bumped when something is added. */
#define SECRETMEM_UAPI_VERSION	1

/* Device node created by the module (misc device, mode 0666). */
#define SECRETMEM_DEVICE_NAME	"secretmem"
#define SECRETMEM_DEVICE_PATH	"/dev/secretmem"

/* Name of the kernel module (not "secretmem": that name is the kernel's). */
#define SECRETMEM_MODULE_NAME	"secretmem_dev"

/*
 * ioctl numbers use this magic.  The asm-generic encoding is spelled out
 * when <linux/ioctl.h> is not included, so userspace needs no kernel headers.
 */
#define SECRETMEM_IOC_MAGIC	0xB7

#endif /* _UAPI_SECRETMEM_H */
