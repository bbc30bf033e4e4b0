/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Header-only userspace helper for /dev/secretmem, for C and C++:
 * secretmem_alloc(), secretmem_free(), secretmem_info(); and the
 * declarations of the allocator library libsecretmem (-lsecretmem).
 *
 * Every function sets errno on failure.  When the device is missing (module
 * not loaded) they fail with ENOENT or ENXIO and secretmem_strerror() says
 * so in words.
 */
#ifndef _LIBSECRETMEM_H
#define _LIBSECRETMEM_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "secretmem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open the device, close-on-exec; -1 and errno on failure. */
static inline int secretmem_open(void)
{
	return open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/*
 * Map @size bytes (rounded up to pages) of secret memory, zeroed.
 * @flags: 0 or SECRETMEM_FLAG_UNCACHED.  Returns NULL and sets errno on
 * failure: ENOENT (no device: module not loaded), EAGAIN (RLIMIT_MEMLOCK),
 * ENOMEM (module cap or no memory), EINVAL (size 0 or bad flags),
 * EOPNOTSUPP (flag not supported here).  Release with secretmem_free().
 */
static inline void *secretmem_alloc(size_t size, unsigned long long flags)
{
	__u64 fl = flags;
	void *p;
	int fd, err;

	if (!size) {
		errno = EINVAL;
		return NULL;
	}
	fd = secretmem_open();
	if (fd < 0)
		return NULL;
	if (flags && ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &fl)) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	err = errno;
	/* The mapping keeps the device open; the fd is no longer needed. */
	close(fd);
	if (p == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	return p;
}

/* Unmap memory from secretmem_alloc(); the module scrubs the pages. */
static inline int secretmem_free(void *ptr, size_t size)
{
	if (!ptr)
		return 0;
	return munmap(ptr, size);
}

/*
 * Fill @info with what /dev/secretmem guarantees on this machine (for a
 * fresh fd: flags 0, nothing mapped).  Returns 0, or -1 and errno.
 */
static inline int secretmem_info(struct secretmem_info *info)
{
	int fd, ret, err;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	fd = secretmem_open();
	if (fd < 0)
		return -1;
	ret = ioctl(fd, SECRETMEM_IOC_GET_INFO, info);
	err = errno;
	close(fd);
	errno = err;
	return ret ? -1 : 0;
}

/*
 * The allocator library libsecretmem.so.0 / libsecretmem.a (link with
 * `pkg-config --libs secretmem`, i.e. -lsecretmem): objects of any size,
 * small ones packed into secret pages.  Only the functions below need the
 * library; the static inline helpers in this file do not.  See
 * secretmem_malloc(3), secretmem_lib_init(3), secretmem_lib_stats(3).
 */
enum secretmem_backend {
	SECRETMEM_BACKEND_NONE = 0,		/* none usable (errno says why) */
	SECRETMEM_BACKEND_DEVICE = 1,		/* /dev/secretmem */
	SECRETMEM_BACKEND_MEMFD_SECRET = 2,	/* memfd_secret(2) */
	SECRETMEM_BACKEND_MLOCK = 3,		/* ordinary mlocked memory (opt-in) */
};

/* Explicit opt-in to ordinary mlocked memory when no secret memory exists. */
#define SECRETMEM_LIB_ALLOW_MLOCK	(1u << 0)
/*
 * fork() children get a copy of every secret object, at the same address,
 * in secret memory of their own (as ordinary memory is copied).  Without it
 * a child has none of the parent's secret memory.
 */
#define SECRETMEM_LIB_FORK_COPY		(1u << 1)

int secretmem_lib_init(unsigned int flags);
int secretmem_backend(void);
const char *secretmem_backend_name(int backend);

void *secretmem_malloc(size_t size);
void *secretmem_calloc(size_t nmemb, size_t size);
void *secretmem_realloc(void *ptr, size_t size);
void *secretmem_malloc_guarded(size_t size);
void secretmem_mfree(void *ptr);
size_t secretmem_usable_size(const void *ptr);
int secretmem_owns(const void *ptr);

struct secretmem_lib_stats {
	size_t bytes_in_use;	/* requested bytes of live objects */
	size_t objects_in_use;	/* live objects */
	size_t bytes_mapped;	/* secret memory mapped from the backend */
	size_t pages_mapped;	/* the same in pages */
};

int secretmem_lib_stats(struct secretmem_lib_stats *st);

/* Words for an errno from the functions above. */
static inline const char *secretmem_strerror(int err)
{
	switch (err) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		return SECRETMEM_DEVICE_PATH " is missing: load the "
		       SECRETMEM_MODULE_NAME " module";
	case EAGAIN:
		return "over RLIMIT_MEMLOCK (see ulimit -l)";
	case ENOMEM:
		return "out of memory or over the module's max_pages";
	default:
		return strerror(err);
	}
}

#ifdef __cplusplus
}
#endif

#endif /* _LIBSECRETMEM_H */
