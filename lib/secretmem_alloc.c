// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libsecretmem - a malloc for secrets: objects of any size in secret memory
 * (/dev/secretmem, else memfd_secret(2), else - only when the program opts
 * in - ordinary mlocked memory).
 *
 * Layout.  At first use the library reserves one range of address space
 * (PROT_NONE, no memory behind it) and places every secret mapping inside
 * it with MAP_FIXED:
 *   - the slab zone: SLAB_MAX slots of SLAB_SIZE bytes; a slab holds the
 *     small objects of one size class;
 *   - the large zone: pages handed out in runs, one run per large object
 *     (its own secret mapping), with a PROT_NONE page before and after it
 *     for the guarded ones.
 * A pointer outside the range is foreign; inside it, a subtraction and an
 * index find its slab or run, whose metadata says whether it is live
 * (secretmem_owns(), the checks of secretmem_mfree()).
 *
 * Metadata (the per-slot state bitmap, the requested sizes, the lists) lives
 * in ordinary memory outside the object pages, so an overflow cannot reach
 * it; each object has a canary before (16 bytes) and after (8 bytes) it,
 * checked on free.
 *
 * Threads: the slabs belong to shards (one mutex each); a thread takes its
 * shard once, round robin, so threads do not share a lock on the common
 * path.  A free goes to the shard of the slab.  New slabs come from a small
 * global pool of slab indices (its own lock, rare path).
 *
 * fork(): the secret mappings are MADV_DONTFORK (the device's are
 * VM_DONTCOPY anyway) and so is the metadata, so a child has none of them;
 * the PROT_NONE reservation is inherited.  The pthread_atfork child handler
 * plugs the holes the secret mappings left in it with one PROT_NONE mmap
 * over the whole old reservation, which the child keeps reserved for good:
 * a parent's pointer faults when touched in the child and is foreign to
 * secretmem_mfree() (abort), and no later mapping of the child can land on
 * it.  The handler forgets the parent's state; the library starts afresh
 * (a new reservation elsewhere) at the child's next call.
 *
 * With SECRETMEM_LIB_FORK_COPY the child gets a copy instead, as ordinary
 * memory is copied.  The mappings stay as above (not inherited) but the
 * metadata is inherited.  atfork_prepare, with every lock held (nothing is
 * allocated or freed meanwhile), copies each live mapping into inheritable
 * secret memory (the device's SECRETMEM_FLAG_INHERIT; no MADV_DONTFORK) at
 * the same offset in a second reservation, the shadow.  The child's handler
 * mremap()s each copy from the shadow into the hole its original left, at
 * the same address, so pointers, canaries, the metadata and the stats stay
 * valid; the parent's handler drops its copies.  From then on no page is
 * shared: parent and child allocate, write, free and scrub only their own.
 * A copy that cannot be made (no memory, RLIMIT_MEMLOCK) leaves the child
 * with the default (nothing from the parent).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>

/* The API is exported (with -fvisibility=hidden and libsecretmem.map); nothing else. */
#pragma GCC visibility push(default)
#include "libsecretmem.h"
#pragma GCC visibility pop


#ifndef SYS_memfd_secret
#if defined(__x86_64__) || defined(__aarch64__)
#define SYS_memfd_secret 447
#endif
#endif

#define PAGE		4096UL
#define SLAB_SIZE	(16UL * 1024)		/* one secret mapping per slab */
#define SLAB_MAX	16384UL			/* slab zone: 256 MiB */
#define LARGE_PAGES	262144UL		/* large zone: 1 GiB */
#define ZONE_SLAB	(SLAB_SIZE * SLAB_MAX)
#define ZONE_LARGE	(PAGE * LARGE_PAGES)

#define FRONT		16	/* canary bytes before an object (keeps 16-byte alignment) */
#define TAIL		8	/* canary bytes right after its last requested byte */
#define MIN_SLOT	32
#define SLOTS_MAX	(SLAB_SIZE / MIN_SLOT)

/* Slot sizes (canaries included), multiples of 16. */
static const uint16_t class_size[] = {
	32, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024, 1360, 2048,
};
#define NCLASS		(sizeof(class_size) / sizeof(class_size[0]))
#define SMALL_MAX	(2048 - FRONT - TAIL)	/* larger objects get their own pages */
#define NSHARD_MAX	16
/* Hysteresis: empty slabs a shard keeps mapped, per class and in all. */
#define KEEP_EMPTY	1
#define KEEP_EMPTY_ALL	4

struct slab {
	struct slab *next, *prev;	/* in the shard's list for the class */
	uint32_t shard;
	uint16_t cls;
	uint16_t nslots, nfree;
	uint16_t hint;			/* word of used[] to search first */
	uint8_t live;			/* mapped and in use by a shard */
	uint64_t used[SLOTS_MAX / 64];	/* 1: slot holds a live object */
	uint16_t size[SLOTS_MAX];	/* requested size of each live object */
};

struct shard {
	pthread_mutex_t lock;
	struct slab *partial[NCLASS];	/* slabs with a free slot */
	unsigned int nempty[NCLASS];
	unsigned int nempty_all;
	size_t bytes, objects;		/* live small objects of this shard */
} __attribute__((aligned(64)));

/* Per page of the large zone. */
struct lpage {
	uint32_t head;		/* page index + 1 of the first page of the run, 0: free */
	uint32_t npages;	/* head only: pages of the run (guards included) */
	uint32_t offset;	/* head only: object's offset from the run's start */
	uint8_t guarded, live;	/* head only */
	size_t size;		/* head only: requested size */
};

struct meta {
	struct slab slabs[SLAB_MAX];
	uint32_t slab_free[SLAB_MAX];	/* stack of unused slab indices */
	struct lpage lpages[LARGE_PAGES];
	uint64_t lbitmap[LARGE_PAGES / 64];	/* 1: page taken */
};

static struct {
	pthread_mutex_t init_lock;	/* first use, backend choice */
	pthread_mutex_t slab_lock;	/* slab_free, nslab_free, slab_top */
	pthread_mutex_t large_lock;	/* the large zone */
	atomic_int ready;		/* backend chosen, ranges reserved */
	int backend;
	unsigned int flags;
	unsigned int nshard;
	int child_broken;		/* fork child could not keep the old reservation */
	uint8_t *shadow;		/* FORK_COPY: where fork() puts the copies */
	int fork_copied;		/* FORK_COPY: the shadow holds a copy of every mapping */
	uint8_t *base;			/* the reservation: slab zone, then large zone */
	struct meta *meta;
	uint32_t nslab_free, slab_top;
	uint32_t lhint;
	size_t lbytes, lobjects;	/* live large objects */
	atomic_size_t mapped;		/* bytes mapped from the backend */
	uint64_t canary_key;
	struct shard shards[NSHARD_MAX];
} g = {
	.init_lock = PTHREAD_MUTEX_INITIALIZER,
	.slab_lock = PTHREAD_MUTEX_INITIALIZER,
	.large_lock = PTHREAD_MUTEX_INITIALIZER,
};

static atomic_uint next_shard;
static __thread int my_shard __attribute__((tls_model("initial-exec"))) = -1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- messages ---- */

static void __attribute__((noreturn)) die(const char *what, const void *ptr)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "libsecretmem: %s (pointer %p); aborting\n", what, ptr);
	if (n > 0) {
		ssize_t r = write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n :
				  sizeof(buf) - 1);
		(void)r;
	}
	abort();
}

/* ---- canaries ---- */

static inline uint64_t canary(const void *obj)
{
	uint64_t x = (uintptr_t)obj * 0x9e3779b97f4a7c15ULL;

	return g.canary_key ^ x ^ (x >> 29);
}

static inline void canary_set(uint8_t *obj, size_t size)
{
	uint64_t c = canary(obj), nc = ~c;

	memcpy(obj - FRONT, &c, 8);
	memcpy(obj - FRONT + 8, &nc, 8);
	c = (c << 17) | (c >> 47);
	memcpy(obj + size, &c, 8);
}

static inline void canary_check(const uint8_t *obj, size_t size)
{
	uint64_t c = canary(obj), a, b;

	memcpy(&a, obj - FRONT, 8);
	memcpy(&b, obj - FRONT + 8, 8);
	if (a != c || b != ~c)
		die("canary before the object overwritten (buffer underflow)", obj);
	c = (c << 17) | (c >> 47);
	memcpy(&a, obj + size, 8);
	if (a != c)
		die("canary after the object overwritten (buffer overflow)", obj);
}

/* A scrub the compiler cannot drop. */
static inline void scrub(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* ---- backends ---- */

const char *secretmem_backend_name(int backend)
{
	switch (backend) {
	case SECRETMEM_BACKEND_NONE:
		return "none";
	case SECRETMEM_BACKEND_DEVICE:
		return "device";
	case SECRETMEM_BACKEND_MEMFD_SECRET:
		return "memfd_secret";
	case SECRETMEM_BACKEND_MLOCK:
		return "mlock";
	default:
		return "unknown";
	}
}

/*
 * Open the device and make sure it is the secretmem module's, not whatever
 * sits at the path (e.g. /dev/zero bound over it: ordinary shared memory):
 * SECRETMEM_IOC_GET_INFO must succeed.  The fd, or -1 and errno (ENODEV:
 * not the secretmem device).
 */
static int device_fd(void)
{
	struct secretmem_info info;
	int fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (ioctl(fd, SECRETMEM_IOC_GET_INFO, &info) || info.size < sizeof(info.size)) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/*
 * A device fd; with @inherit, one whose mappings fork() children inherit
 * (FORK_COPY's copies).  -1 and errno (EOPNOTSUPP: a module before UAPI
 * version 4, which refuses the flag with EINVAL).
 */
static int device_fd_how(int inherit)
{
	__u64 flags = SECRETMEM_FLAG_INHERIT;
	int fd = device_fd(), err;

	if (fd < 0 || !inherit || !ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &flags))
		return fd;
	err = errno == EINVAL ? EOPNOTSUPP : errno;
	close(fd);
	errno = err;
	return -1;
}

static int memfd_secret_fd(void)
{
#ifdef SYS_memfd_secret
	return (int)syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Fault in every page of a fresh memfd_secret mapping without a signal:
 * the kernel writes it (getrandom), so a fault it cannot satisfy (over
 * RLIMIT_MEMLOCK, no memory) is EFAULT from the call, not SIGBUS.
 * MADV_POPULATE_WRITE would do but refuses secretmem VMAs (EINVAL), like
 * GUP.  The pages are zeroed again after.  0, or -1 and errno.
 */
static int prefault(uint8_t *p, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = getrandom(p + done, len - done > (1UL << 20) ? (1UL << 20) : len - done,
			      GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* Early boot, no entropy yet: the kernel's zero page copy instead. */
			int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

			if (fd < 0)
				return -1;
			n = read(fd, p + done, len - done);
			close(fd);
		}
		if (n <= 0) {
			if (n == 0)
				errno = EFAULT;
			return -1;
		}
		done += (size_t)n;
	}
	explicit_bzero(p, len);
	return 0;
}

/*
 * The reservation is never left with a hole on a success path: a secret
 * range is mapped with one MAP_FIXED mmap straight over the PROT_NONE
 * reservation and given back with one MAP_FIXED PROT_NONE mmap over it;
 * each replaces the old mapping atomically under the mmap lock, so no other
 * thread's mmap(NULL) can take the range in between.  Only a MAP_FIXED mmap
 * that fails can leave a hole (the kernel may have unmapped the range
 * first): it is plugged again at once with MAP_FIXED_NOREPLACE; if that
 * finds something there (another thread's mapping, or the kernel kept the
 * old reservation), the range is marked lost in the metadata and never
 * handed out or taken for ours again (only address space).
 */
#define RESERVE_FLAGS	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* Plug a possible hole at [addr, addr+len); 0, or -1: lost. */
static int replug(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == addr)
		return 0;
	if (p != MAP_FAILED)	/* a kernel before 4.17 took it as a hint */
		munmap(p, len);
	return -1;
}

/* Reserve [addr, addr+len) again (PROT_NONE) in place of what is there; 0, or -1: lost. */
static int rereserve(void *addr, size_t len)
{
	if (mmap(addr, len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0) == addr)
		return 0;
	/* Failed: the old mapping may still be there (secret) or a hole. */
	if (munmap(addr, len))
		die("cannot unmap secret memory", addr);
	return replug(addr, len);
}

/* A mapping a fork() child must not get (all but FORK_COPY's copies). */
static int dontfork(void *p, size_t len, int inherit)
{
	return inherit ? 0 : madvise(p, len, MADV_DONTFORK);
}

/*
 * Put secret memory at [addr, addr+len) (reserved), zeroed, every page
 * present.  0; or -1 and errno, the range reserved as before, or *lost set
 * if it could not be.
 */
static int map_secret_how(void *addr, size_t len, int *lost, int inherit)
{
	int fd = -1, err;
	void *p;

	*lost = 0;
	switch (g.backend) {
	case SECRETMEM_BACKEND_DEVICE:
		fd = device_fd_how(inherit);
		if (fd < 0)
			return -1;
		break;
	case SECRETMEM_BACKEND_MEMFD_SECRET:
		fd = memfd_secret_fd();
		if (fd < 0)
			return -1;
		if (ftruncate(fd, (off_t)len)) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		break;
	case SECRETMEM_BACKEND_MLOCK:
		break;
	default:
		errno = ENODEV;
		return -1;
	}
	if (g.backend == SECRETMEM_BACKEND_MLOCK)
		p = mmap(addr, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	err = errno;
	if (fd >= 0)
		close(fd);	/* the mapping keeps the file */
	if (p == MAP_FAILED) {
		if (replug(addr, len))
			*lost = 1;
		errno = err;
		return -1;
	}
	switch (g.backend) {
	case SECRETMEM_BACKEND_DEVICE:
		/*
		 * VM_DONTCOPY (unless @inherit made it inheritable) and
		 * VM_DONTDUMP by the module; pages present and zeroed.
		 */
		break;
	case SECRETMEM_BACKEND_MEMFD_SECRET:
		/*
		 * memfd_secret VMAs are copied on fork: not ours.  Pages come at
		 * fault time and RLIMIT_MEMLOCK is charged then (SIGBUS past it):
		 * fault them in now so a limit is an error here, not a signal
		 * later.
		 */
		if (dontfork(p, len, inherit) || prefault(p, len)) {
			err = errno == EFAULT ? EAGAIN : errno;
			goto fail;
		}
		break;
	case SECRETMEM_BACKEND_MLOCK:
		if (dontfork(p, len, inherit) || madvise(p, len, MADV_DONTDUMP) ||
		    mlock(p, len)) {
			err = errno;
			goto fail;
		}
		break;
	}
	atomic_fetch_add(&g.mapped, len);
	return 0;
fail:
	if (rereserve(addr, len))
		*lost = 1;
	errno = err;
	return -1;
}

static int map_secret(void *addr, size_t len, int *lost)
{
	return map_secret_how(addr, len, lost, 0);
}

/* Give secret memory back (the backends scrub what they free); 0, or -1: lost. */
static int unmap_secret(void *addr, size_t len)
{
	if (g.backend == SECRETMEM_BACKEND_MLOCK)
		scrub(addr, len);	/* the kernel does not scrub ordinary pages */
	atomic_fetch_sub(&g.mapped, len);
	return rereserve(addr, len);
}

/* 0 if the backend works here, else -1 and errno. */
static int probe_backend(int b)
{
	int fd;

	switch (b) {
	case SECRETMEM_BACKEND_DEVICE:
		fd = device_fd_how(g.flags & SECRETMEM_LIB_FORK_COPY);
		break;
	case SECRETMEM_BACKEND_MEMFD_SECRET:
		fd = memfd_secret_fd();
		break;
	case SECRETMEM_BACKEND_MLOCK:
		if (!(g.flags & SECRETMEM_LIB_ALLOW_MLOCK)) {
			errno = ENODEV;
			return -1;
		}
		return 0;
	default:
		errno = ENODEV;
		return -1;
	}
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int choose_backend(void)
{
	const char *env = secure_getenv("SECRETMEM_BACKEND");
	int b, err, first_err = 0;

	if (env && *env) {
		if (!strcmp(env, "device"))
			b = SECRETMEM_BACKEND_DEVICE;
		else if (!strcmp(env, "memfd_secret"))
			b = SECRETMEM_BACKEND_MEMFD_SECRET;
		else if (!strcmp(env, "mlock"))
			b = SECRETMEM_BACKEND_MLOCK;
		else if (!strcmp(env, "none"))
			b = SECRETMEM_BACKEND_NONE;
		else {
			errno = EINVAL;
			return -1;
		}
		if (probe_backend(b)) {
			err = errno;
			/* Not there: ENODEV; there but refused: that errno. */
			errno = (err == ENOENT || err == ENXIO || err == ENOSYS) ? ENODEV : err;
			return -1;
		}
		return b;
	}
	for (b = SECRETMEM_BACKEND_DEVICE; b <= SECRETMEM_BACKEND_MLOCK; b++) {
		if (!probe_backend(b))
			return b;
		err = errno;
		if (!first_err && err != ENOENT && err != ENXIO && err != ENOSYS &&
		    err != ENODEV)
			first_err = err;	/* e.g. EACCES on the device */
	}
	errno = first_err ? first_err : ENODEV;
	return -1;
}

/* ---- init, fork ---- */

/*
 * Lock order: init_lock, then one shard's lock, then slab_lock (a shard maps
 * and unmaps slabs); large_lock is taken alone.  fork() takes them all in
 * that order, so no other thread is half-way through a change.
 */
static int for_each_mapping(int (*fn)(uint8_t *addr, size_t len), size_t from, size_t to,
			    size_t *done);
static int shadow_copy(uint8_t *addr, size_t len);
static int shadow_drop(uint8_t *addr, size_t len);

static void atfork_prepare(void)
{
	size_t done;
	int i;

	pthread_mutex_lock(&g.init_lock);
	for (i = 0; i < NSHARD_MAX; i++)
		pthread_mutex_lock(&g.shards[i].lock);
	pthread_mutex_lock(&g.slab_lock);
	pthread_mutex_lock(&g.large_lock);
	g.fork_copied = 0;
	if (!(g.flags & SECRETMEM_LIB_FORK_COPY) || !g.base)
		return;
	if (!g.shadow) {
		void *sh = mmap(NULL, ZONE_SLAB + ZONE_LARGE, PROT_NONE, RESERVE_FLAGS, -1, 0);

		if (sh == MAP_FAILED)
			return;		/* the child gets nothing */
		g.shadow = sh;
	}
	if (!for_each_mapping(shadow_copy, 0, SIZE_MAX, &done))
		g.fork_copied = 1;
	else	/* none for the child: drop the copies made before the failure */
		for_each_mapping(shadow_drop, 0, done, &done);
}

static void unlock_all(void)
{
	int i;

	pthread_mutex_unlock(&g.large_lock);
	pthread_mutex_unlock(&g.slab_lock);
	for (i = NSHARD_MAX - 1; i >= 0; i--)
		pthread_mutex_unlock(&g.shards[i].lock);
	pthread_mutex_unlock(&g.init_lock);
}

/* FORK_COPY: the child has its copies now; the parent's go. */
static void atfork_parent(void)
{
	size_t n;

	if (g.fork_copied)
		for_each_mapping(shadow_drop, 0, SIZE_MAX, &n);
	g.fork_copied = 0;
	unlock_all();
}

/* ---- FORK_COPY ---- */

/*
 * Call @fn on the secret mappings (the live slabs, then the large objects'
 * pages, guards left out) from the @from-th up to before the @to-th, in a
 * fixed order; stop at the first that fails.  0, or -1; *done: the index
 * reached (of the one that failed).
 */
static int for_each_mapping(int (*fn)(uint8_t *addr, size_t len), size_t from, size_t to,
			    size_t *done)
{
	uint8_t *large = g.base + ZONE_SLAB;
	const struct lpage *lp;
	size_t n = 0, len;
	uint64_t bits;
	uint32_t i, w;
	uint8_t *addr;

	for (i = 0; i < g.slab_top && n < to; i++) {
		if (!g.meta->slabs[i].live)
			continue;
		if (n++ >= from && fn(g.base + (size_t)i * SLAB_SIZE, SLAB_SIZE))
			goto fail;
	}
	for (w = 0; w < LARGE_PAGES / 64 && n < to; w++) {
		for (bits = g.meta->lbitmap[w]; bits && n < to; bits &= bits - 1) {
			i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			lp = &g.meta->lpages[i];
			if (lp->head != i + 1 || !lp->live)
				continue;	/* not a run's first page, or lost */
			addr = large + (size_t)i * PAGE + (lp->guarded ? PAGE : 0);
			len = (size_t)(lp->npages - (lp->guarded ? 2 : 0)) * PAGE;
			if (n++ >= from && fn(addr, len))
				goto fail;
		}
	}
	*done = n;
	return 0;
fail:
	*done = n - 1;
	return -1;
}

static inline uint8_t *shadow_of(const uint8_t *addr)
{
	return g.shadow + (addr - g.base);
}

/* Parent, in prepare: an inheritable copy of [addr, addr+len) in the shadow. */
static int shadow_copy(uint8_t *addr, size_t len)
{
	uint8_t *t = shadow_of(addr);
	int lost;

	if (map_secret_how(t, len, &lost, 1))
		return -1;
	/* The child does it after mremap(): fork() clears VM_LOCKED. */
	memcpy(t, addr, len);
	return 0;
}

/*
 * Drop a copy from the shadow (the parent's, after fork(); or the child's
 * when it falls back).  mlock backend: scrubbed first, by both: the pages
 * are copy-on-write shared, and whichever unmaps last frees them.
 */
static int shadow_drop(uint8_t *addr, size_t len)
{
	uint8_t *t = shadow_of(addr);

	if (g.backend == SECRETMEM_BACKEND_MLOCK)
		scrub(t, len);
	atomic_fetch_sub(&g.mapped, len);
	rereserve(t, len);	/* a lost shadow range stays a hole: MAP_FIXED maps over it */
	return 0;
}

/* Child: move the copy into the hole its original left. */
static int shadow_move(uint8_t *addr, size_t len)
{
	uint8_t *t = shadow_of(addr);

	if (g.backend == SECRETMEM_BACKEND_MLOCK && mlock(t, len))
		return -1;
	if (mremap(t, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) != addr)
		return -1;
	atomic_fetch_sub(&g.mapped, len);	/* counted twice: the original's and the copy's */
	return 0;
}

static int scrub_own(uint8_t *addr, size_t len)
{
	scrub(addr, len);
	return 0;
}

/* Child: every copy into place; 0, or -1 with none kept (the default then). */
static int child_copy(void)
{
	size_t done, n;

	if (!for_each_mapping(shadow_move, 0, SIZE_MAX, &done)) {
		/* Plug the holes the moves left in the shadow; it is kept for the next fork. */
		mmap(g.shadow, ZONE_SLAB + ZONE_LARGE, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0);
		return 0;
	}
	/* The kernel scrubs the other backends' pages; not ordinary ones. */
	if (g.backend == SECRETMEM_BACKEND_MLOCK)
		for_each_mapping(scrub_own, 0, done, &n);
	for_each_mapping(shadow_drop, done, SIZE_MAX, &n);
	mmap(g.shadow, ZONE_SLAB + ZONE_LARGE, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0);
	return -1;
}

/*
 * Default: the child has none of the parent's secret mappings nor its
 * metadata (MADV_DONTFORK, VM_DONTCOPY), only the reservation with holes
 * where they were.  The child is single-threaded here: plug the holes by
 * one PROT_NONE mmap over the whole old reservation and keep it (never
 * unmapped, never used), forget the rest and start afresh at the next call.
 */
static void atfork_child(void)
{
	unsigned int i;

	if (g.fork_copied && !child_copy()) {
		g.fork_copied = 0;
		unlock_all();
		return;
	}
	g.fork_copied = 0;
	/* FORK_COPY's metadata is inherited; here it is of no use. */
	if ((g.flags & SECRETMEM_LIB_FORK_COPY) && g.meta)
		munmap(g.meta, sizeof(struct meta));
	if (g.base && mmap(g.base, ZONE_SLAB + ZONE_LARGE, PROT_NONE,
			   RESERVE_FLAGS | MAP_FIXED, -1, 0) != g.base)
		g.child_broken = 1;	/* the parent's addresses could come back: refuse */
	g.base = NULL;
	g.meta = NULL;
	g.canary_key = 0;
	g.backend = SECRETMEM_BACKEND_NONE;
	g.nslab_free = g.slab_top = g.lhint = 0;
	g.lbytes = g.lobjects = 0;
	atomic_store(&g.mapped, 0);
	for (i = 0; i < NSHARD_MAX; i++) {
		memset(g.shards[i].partial, 0, sizeof(g.shards[i].partial));
		memset(g.shards[i].nempty, 0, sizeof(g.shards[i].nempty));
		g.shards[i].nempty_all = 0;
		g.shards[i].bytes = g.shards[i].objects = 0;
	}
	atomic_store(&g.ready, 0);
	/* The forking thread took every lock in atfork_prepare(): it is this one. */
	unlock_all();
}

static void atfork_register(void)
{
	unsigned int i;

	for (i = 0; i < NSHARD_MAX; i++)
		pthread_mutex_init(&g.shards[i].lock, NULL);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * The canaries' key: getrandom() without blocking (a first use early at boot
 * must not hang), else the kernel's AT_RANDOM bytes of this exec mixed with
 * the pid and the time (a fork child gets its own).  Never 0.
 */
static uint64_t canary_key_new(void)
{
	const uint64_t *at = (const uint64_t *)getauxval(AT_RANDOM);
	struct timespec ts;
	uint64_t k = 0;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != sizeof(k)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k = (at ? at[0] ^ (at[1] << 1) : 0) ^ ((uint64_t)getpid() << 32) ^
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
		k *= 0x9e3779b97f4a7c15ULL;
	}
	return k | 1;
}

static int init_locked(unsigned int flags)
{
	void *base, *meta;
	long ncpu;
	int b;

	/* Sticky: an opt-in holds for later calls and, after fork(), in the child. */
	g.flags |= flags;
	/* Slabs, runs and guards are laid out for 4 KiB pages (x86_64, Debian's arm64). */
	if (sysconf(_SC_PAGESIZE) != (long)PAGE) {
		errno = ENOTSUP;
		return -1;
	}
	if (g.child_broken) {
		errno = ENOMEM;
		return -1;
	}
	b = choose_backend();
	if (b < 0)
		return -1;
	if (b == SECRETMEM_BACKEND_NONE) {
		errno = ENODEV;
		return -1;
	}
	if (!g.canary_key)
		g.canary_key = canary_key_new();
	base = mmap(NULL, ZONE_SLAB + ZONE_LARGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	meta = mmap(NULL, sizeof(struct meta), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (meta == MAP_FAILED) {
		int err = errno;

		munmap(base, ZONE_SLAB + ZONE_LARGE);
		errno = err;
		return -1;
	}
	/* Not the reservation: the child keeps it (atfork_child()). */
	if (!(g.flags & SECRETMEM_LIB_FORK_COPY))
		madvise(meta, sizeof(struct meta), MADV_DONTFORK);
	g.base = base;
	g.meta = meta;
	g.backend = b;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	g.nshard = ncpu * 2 + 2 > NSHARD_MAX ? NSHARD_MAX : (unsigned int)ncpu * 2 + 2;
	atomic_store_explicit(&g.ready, 1, memory_order_release);
	return 0;
}

static int lib_init(unsigned int flags)
{
	int ret = 0;

	pthread_once(&atfork_once, atfork_register);
	if (atomic_load_explicit(&g.ready, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&g.init_lock);
	if (!atomic_load_explicit(&g.ready, memory_order_relaxed)) {
		unsigned int had = g.flags & SECRETMEM_LIB_FORK_COPY;

		ret = init_locked(flags);
		/* FORK_COPY holds once in force: the caller may try again without it. */
		if (ret && !had)
			g.flags &= ~SECRETMEM_LIB_FORK_COPY;
	}
	pthread_mutex_unlock(&g.init_lock);
	return ret;
}

/*
 * FORK_COPY asked for once the library is in use (init_lock held): the
 * device must take SECRETMEM_FLAG_INHERIT, the metadata becomes
 * inheritable.  0, or -1 and errno (EOPNOTSUPP: a module before UAPI 4).
 */
static int fork_copy_on_locked(void)
{
	int fd;

	if (g.backend == SECRETMEM_BACKEND_DEVICE) {
		fd = device_fd_how(1);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (madvise(g.meta, sizeof(struct meta), MADV_DOFORK))
		return -1;
	g.flags |= SECRETMEM_LIB_FORK_COPY;
	return 0;
}

/*
 * The opt-in is process-wide (another part of the program may have given
 * it); a caller that did not give it is told when the memory is only
 * mlocked: -1 and ENODEV, the library in use all the same.
 */
int secretmem_lib_init(unsigned int flags)
{
	if (flags & ~(SECRETMEM_LIB_ALLOW_MLOCK | SECRETMEM_LIB_FORK_COPY)) {
		errno = EINVAL;
		return -1;
	}
	if (lib_init(flags))
		return -1;
	if ((flags & SECRETMEM_LIB_FORK_COPY) && !(g.flags & SECRETMEM_LIB_FORK_COPY)) {
		int ret;

		pthread_mutex_lock(&g.init_lock);
		ret = (g.flags & SECRETMEM_LIB_FORK_COPY) ? 0 : fork_copy_on_locked();
		pthread_mutex_unlock(&g.init_lock);
		if (ret)
			return -1;
	}
	if (g.backend == SECRETMEM_BACKEND_MLOCK && !(flags & SECRETMEM_LIB_ALLOW_MLOCK)) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

/* The allocation paths: whatever backend the process chose (flags kept). */
static inline int ensure_init(void)
{
	if (__builtin_expect(atomic_load_explicit(&g.ready, memory_order_acquire), 1))
		return 0;
	return lib_init(0);
}

int secretmem_backend(void)
{
	if (ensure_init())
		return SECRETMEM_BACKEND_NONE;
	return g.backend;
}

/* ---- small objects ---- */

static inline unsigned int size_class(size_t size)
{
	size_t need = FRONT + size + TAIL;
	unsigned int c = 0;

	while (class_size[c] < need)
		c++;
	return c;
}

static inline struct shard *thread_shard(void)
{
	int s = my_shard;

	if (__builtin_expect(s < 0 || (unsigned int)s >= g.nshard, 0)) {
		s = (int)(atomic_fetch_add(&next_shard, 1) % g.nshard);
		my_shard = s;
	}
	return &g.shards[s];
}

static inline uint8_t *slab_addr(const struct slab *sl)
{
	return g.base + (size_t)(sl - g.meta->slabs) * SLAB_SIZE;
}

static void list_del(struct slab **head, struct slab *sl)
{
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		*head = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	sl->next = sl->prev = NULL;
}

static void list_add(struct slab **head, struct slab *sl)
{
	sl->prev = NULL;
	sl->next = *head;
	if (*head)
		(*head)->prev = sl;
	*head = sl;
}

/* A fresh slab for class c of shard s (shard lock held); NULL and errno. */
static struct slab *slab_new(unsigned int s, unsigned int c)
{
	struct slab *sl;
	uint32_t idx;
	int err, lost;

	pthread_mutex_lock(&g.slab_lock);
	if (g.nslab_free)
		idx = g.meta->slab_free[--g.nslab_free];
	else if (g.slab_top < SLAB_MAX)
		idx = g.slab_top++;
	else {
		pthread_mutex_unlock(&g.slab_lock);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_unlock(&g.slab_lock);

	sl = &g.meta->slabs[idx];
	if (map_secret(g.base + (size_t)idx * SLAB_SIZE, SLAB_SIZE, &lost)) {
		err = errno;
		if (!lost) {	/* a lost index is never handed out again */
			pthread_mutex_lock(&g.slab_lock);
			g.meta->slab_free[g.nslab_free++] = idx;
			pthread_mutex_unlock(&g.slab_lock);
		}
		errno = err;
		return NULL;
	}
	memset(sl->used, 0, sizeof(sl->used));
	sl->shard = s;
	sl->cls = (uint16_t)c;
	sl->nslots = (uint16_t)(SLAB_SIZE / class_size[c]);
	sl->nfree = sl->nslots;
	sl->hint = 0;
	sl->next = sl->prev = NULL;
	__atomic_store_n(&sl->live, 1, __ATOMIC_RELEASE);
	return sl;
}

/* Unmap an empty slab (its shard's lock held) and give its index back. */
static void slab_release(struct slab *sl)
{
	uint32_t idx = (uint32_t)(sl - g.meta->slabs);

	__atomic_store_n(&sl->live, 0, __ATOMIC_RELEASE);
	if (unmap_secret(slab_addr(sl), SLAB_SIZE))
		return;		/* lost: never reused */
	pthread_mutex_lock(&g.slab_lock);
	g.meta->slab_free[g.nslab_free++] = idx;
	pthread_mutex_unlock(&g.slab_lock);
}

static void *small_alloc(size_t size)
{
	unsigned int c = size_class(size), w, bit, slot;
	struct shard *sh = thread_shard();
	unsigned int s = (unsigned int)(sh - g.shards);
	struct slab *sl;
	uint8_t *obj;
	uint64_t free_bits;

	pthread_mutex_lock(&sh->lock);
	sl = sh->partial[c];
	if (!sl) {
		sl = slab_new(s, c);
		if (!sl) {
			pthread_mutex_unlock(&sh->lock);
			return NULL;
		}
		list_add(&sh->partial[c], sl);
	} else if (sl->nfree == sl->nslots) {
		sh->nempty[c]--;
		sh->nempty_all--;
	}
	for (w = sl->hint;; w = (w + 1) % ((sl->nslots + 63) / 64)) {
		free_bits = ~sl->used[w];
		if (w == (unsigned int)(sl->nslots - 1) / 64 && sl->nslots % 64)
			free_bits &= (1ULL << (sl->nslots % 64)) - 1;
		if (free_bits)
			break;
	}
	bit = (unsigned int)__builtin_ctzll(free_bits);
	sl->used[w] |= 1ULL << bit;
	sl->hint = (uint16_t)w;
	slot = w * 64 + bit;
	sl->size[slot] = (uint16_t)size;
	if (--sl->nfree == 0)
		list_del(&sh->partial[c], sl);
	sh->bytes += size;
	sh->objects++;
	pthread_mutex_unlock(&sh->lock);

	obj = slab_addr(sl) + (size_t)slot * class_size[c] + FRONT;
	memset(obj, 0, size);
	canary_set(obj, size);
	return obj;
}

/* The slab of a pointer in the slab zone, with its shard locked; aborts on a bad one. */
static struct slab *slab_lock_of(const uint8_t *p, unsigned int *slotp)
{
	size_t off = (size_t)(p - g.base);
	struct slab *sl = &g.meta->slabs[off / SLAB_SIZE];
	size_t in = off % SLAB_SIZE, csz;
	unsigned int s;

	for (;;) {
		if (!__atomic_load_n(&sl->live, __ATOMIC_ACQUIRE))
			die("free of a pointer not allocated by libsecretmem "
			    "(double free or foreign pointer)", p);
		s = __atomic_load_n(&sl->shard, __ATOMIC_RELAXED);
		if (s >= NSHARD_MAX)
			die("corrupted slab metadata", p);
		pthread_mutex_lock(&g.shards[s].lock);
		if (sl->live && sl->shard == s)
			break;
		pthread_mutex_unlock(&g.shards[s].lock);
	}
	csz = class_size[sl->cls];
	if (in % csz != FRONT || in / csz >= sl->nslots) {
		pthread_mutex_unlock(&g.shards[s].lock);
		die("free of a pointer that is not the start of an object", p);
	}
	*slotp = (unsigned int)(in / csz);
	return sl;
}

static void small_free(uint8_t *p)
{
	unsigned int slot, c;
	struct slab *sl = slab_lock_of(p, &slot);
	struct shard *sh = &g.shards[sl->shard];
	size_t size;

	if (!(sl->used[slot / 64] & (1ULL << (slot % 64)))) {
		pthread_mutex_unlock(&sh->lock);
		die("double free", p);
	}
	c = sl->cls;
	size = sl->size[slot];
	canary_check(p, size);
	scrub(p - FRONT, class_size[c]);
	sl->used[slot / 64] &= ~(1ULL << (slot % 64));
	sl->size[slot] = 0;
	sh->bytes -= size;
	sh->objects--;
	if (sl->nfree++ == 0) {
		list_add(&sh->partial[c], sl);
		sl->hint = (uint16_t)(slot / 64);
	}
	if (sl->nfree == sl->nslots) {
		if (sh->nempty[c] >= KEEP_EMPTY || sh->nempty_all >= KEEP_EMPTY_ALL) {
			list_del(&sh->partial[c], sl);
			slab_release(sl);
		} else {
			sh->nempty[c]++;
			sh->nempty_all++;
		}
	}
	pthread_mutex_unlock(&sh->lock);
}

/* ---- large objects ---- */

static inline int lbit(uint32_t i)
{
	return (int)((g.meta->lbitmap[i / 64] >> (i % 64)) & 1);
}

static void lbits_set(uint32_t first, uint32_t n, int on)
{
	uint32_t i;

	for (i = first; i < first + n; i++) {
		if (on)
			g.meta->lbitmap[i / 64] |= 1ULL << (i % 64);
		else
			g.meta->lbitmap[i / 64] &= ~(1ULL << (i % 64));
	}
}

/* First fit from the hint; large_lock held.  The first page, or -1. */
static long lrun_find(uint32_t n)
{
	uint32_t start = g.lhint, i, run = 0, pass;

	for (pass = 0; pass < 2; pass++) {
		run = 0;
		for (i = pass ? 0 : start; i < (pass ? start + n : LARGE_PAGES) &&
		     i < LARGE_PAGES; i++) {
			if (!(i % 64) && run == 0 && g.meta->lbitmap[i / 64] == ~0ULL) {
				i += 63;
				continue;
			}
			if (lbit(i)) {
				run = 0;
				continue;
			}
			if (++run == n)
				return (long)(i + 1 - n);
		}
	}
	return -1;
}

static void *large_alloc(size_t size, int guarded)
{
	size_t need = FRONT + size + TAIL, data_pages, npages, off;
	struct lpage *lp;
	uint8_t *run, *obj;
	long first;
	uint32_t i;
	int err, lost;

	if (size > ZONE_LARGE) {
		errno = ENOMEM;
		return NULL;
	}
	data_pages = (need + PAGE - 1) / PAGE;
	npages = data_pages + (guarded ? 2 : 0);
	pthread_mutex_lock(&g.large_lock);
	first = lrun_find((uint32_t)npages);
	if (first < 0) {
		pthread_mutex_unlock(&g.large_lock);
		errno = ENOMEM;
		return NULL;
	}
	run = g.base + ZONE_SLAB + (size_t)first * PAGE;
	if (map_secret(run + (guarded ? PAGE : 0), data_pages * PAGE, &lost)) {
		err = errno;
		if (lost)	/* the pages stay taken, with no object */
			lbits_set((uint32_t)first, (uint32_t)npages, 1);
		pthread_mutex_unlock(&g.large_lock);
		errno = err;
		return NULL;
	}
	lbits_set((uint32_t)first, (uint32_t)npages, 1);
	g.lhint = (uint32_t)(first + npages) % LARGE_PAGES;
	for (i = 0; i < npages; i++)
		g.meta->lpages[first + i].head = (uint32_t)first + 1;
	/*
	 * The object ends near the end of its pages, by the guard: its start is
	 * 16-byte aligned (as malloc's), so its tail canary ends 0 to 15 bytes
	 * before the guard page.
	 */
	off = (guarded ? PAGE : 0) + data_pages * PAGE - TAIL - size;
	off &= ~(size_t)15;
	lp = &g.meta->lpages[first];
	lp->npages = (uint32_t)npages;
	lp->offset = (uint32_t)off;
	lp->guarded = (uint8_t)guarded;
	lp->size = size;
	lp->live = 1;
	g.lbytes += size;
	g.lobjects++;
	obj = run + off;
	canary_set(obj, size);
	pthread_mutex_unlock(&g.large_lock);
	/* Fresh pages from the backend are zero. */
	return obj;
}

/* The head entry of a large object at exactly p, large_lock held; NULL if none. */
static struct lpage *large_head(const uint8_t *p)
{
	size_t off = (size_t)(p - g.base) - ZONE_SLAB;
	uint32_t page = (uint32_t)(off / PAGE), head;
	struct lpage *lp;

	head = g.meta->lpages[page].head;
	if (!head)
		return NULL;
	lp = &g.meta->lpages[head - 1];
	if (!lp->live || off != (size_t)(head - 1) * PAGE + lp->offset)
		return NULL;
	return lp;
}

static void large_free(uint8_t *p)
{
	struct lpage *lp;
	uint32_t first, n, i;
	uint8_t *run;
	int lost;

	pthread_mutex_lock(&g.large_lock);
	lp = large_head(p);
	if (!lp) {
		pthread_mutex_unlock(&g.large_lock);
		die("free of a pointer not allocated by libsecretmem "
		    "(double free or foreign pointer)", p);
	}
	canary_check(p, lp->size);
	first = (uint32_t)(lp - g.meta->lpages);
	n = lp->npages;
	run = g.base + ZONE_SLAB + (size_t)first * PAGE;
	scrub(p - FRONT, FRONT + lp->size + TAIL);
	g.lbytes -= lp->size;
	g.lobjects--;
	if (lp->guarded)
		lost = unmap_secret(run + PAGE, (size_t)(n - 2) * PAGE);
	else
		lost = unmap_secret(run, (size_t)n * PAGE);
	lp->live = 0;
	lp->size = 0;
	for (i = 0; i < n; i++)
		g.meta->lpages[first + i].head = 0;
	if (!lost)	/* lost pages stay taken */
		lbits_set(first, n, 0);
	pthread_mutex_unlock(&g.large_lock);
}

/* ---- the API ---- */

static inline int in_slab_zone(const void *p)
{
	return g.base && (uintptr_t)p - (uintptr_t)g.base < ZONE_SLAB;
}

static inline int in_large_zone(const void *p)
{
	return g.base && (uintptr_t)p - (uintptr_t)(g.base + ZONE_SLAB) < ZONE_LARGE;
}

void *secretmem_malloc(size_t size)
{
	if (!size)
		size = 1;
	if (ensure_init())
		return NULL;
	if (size <= SMALL_MAX)
		return small_alloc(size);
	return large_alloc(size, 0);
}

void *secretmem_calloc(size_t nmemb, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return secretmem_malloc(total);	/* always zeroed */
}

void *secretmem_malloc_guarded(size_t size)
{
	if (!size)
		size = 1;
	if (ensure_init())
		return NULL;
	return large_alloc(size, 1);
}

void secretmem_mfree(void *ptr)
{
	int err = errno;	/* like free(3): errno is kept */

	if (!ptr)
		return;
	if (!atomic_load_explicit(&g.ready, memory_order_acquire))
		die("free of a pointer not allocated by libsecretmem (library not in use)", ptr);
	if (in_slab_zone(ptr))
		small_free(ptr);
	else if (in_large_zone(ptr))
		large_free(ptr);
	else
		die("free of a pointer not allocated by libsecretmem (foreign pointer)", ptr);
	errno = err;
}

size_t secretmem_usable_size(const void *ptr)
{
	size_t ret = 0;

	if (!ptr || !atomic_load_explicit(&g.ready, memory_order_acquire))
		return 0;
	if (in_slab_zone(ptr)) {
		size_t off = (size_t)((const uint8_t *)ptr - g.base);
		struct slab *sl = &g.meta->slabs[off / SLAB_SIZE];
		size_t in = off % SLAB_SIZE, csz;
		unsigned int s, slot;

		if (!__atomic_load_n(&sl->live, __ATOMIC_ACQUIRE))
			return 0;
		s = __atomic_load_n(&sl->shard, __ATOMIC_RELAXED);
		if (s >= NSHARD_MAX)
			return 0;
		pthread_mutex_lock(&g.shards[s].lock);
		if (sl->live && sl->shard == s) {
			csz = class_size[sl->cls];
			slot = (unsigned int)(in / csz);
			if (in % csz == FRONT && slot < sl->nslots &&
			    (sl->used[slot / 64] & (1ULL << (slot % 64))))
				ret = sl->size[slot];
		}
		pthread_mutex_unlock(&g.shards[s].lock);
	} else if (in_large_zone(ptr)) {
		struct lpage *lp;

		pthread_mutex_lock(&g.large_lock);
		lp = large_head(ptr);
		if (lp)
			ret = lp->size;
		pthread_mutex_unlock(&g.large_lock);
	}
	return ret;
}

/*
 * Not the range alone: a lost range (see map_secret()) may hold another
 * mapping.  Ours is a live slab, or a data page of a live large object.
 */
int secretmem_owns(const void *ptr)
{
	int ret = 0;

	if (!ptr || !atomic_load_explicit(&g.ready, memory_order_acquire))
		return 0;
	if (in_slab_zone(ptr)) {
		size_t off = (size_t)((const uint8_t *)ptr - g.base);

		ret = __atomic_load_n(&g.meta->slabs[off / SLAB_SIZE].live, __ATOMIC_ACQUIRE);
	} else if (in_large_zone(ptr)) {
		size_t off = (size_t)((const uint8_t *)ptr - g.base) - ZONE_SLAB;
		uint32_t page = (uint32_t)(off / PAGE), head;
		struct lpage *lp;

		pthread_mutex_lock(&g.large_lock);
		head = g.meta->lpages[page].head;
		if (head) {
			lp = &g.meta->lpages[head - 1];
			ret = lp->live && (!lp->guarded ||
					   (page != head - 1 && page != head - 1 + lp->npages - 1));
		}
		pthread_mutex_unlock(&g.large_lock);
	}
	return ret != 0;
}

/* Is p a live guarded large object? */
static int large_guarded(const void *p)
{
	struct lpage *lp;
	int ret = 0;

	if (!in_large_zone(p))
		return 0;
	pthread_mutex_lock(&g.large_lock);
	lp = large_head(p);
	if (lp)
		ret = lp->guarded;
	pthread_mutex_unlock(&g.large_lock);
	return ret;
}

void *secretmem_realloc(void *ptr, size_t size)
{
	size_t old;
	void *n;

	if (!ptr)
		return secretmem_malloc(size);
	if (!size) {
		secretmem_mfree(ptr);
		return NULL;
	}
	old = secretmem_usable_size(ptr);
	if (!old)
		die("realloc of a pointer not allocated by libsecretmem", ptr);
	/* A guarded object stays guarded. */
	n = large_guarded(ptr) ? secretmem_malloc_guarded(size) : secretmem_malloc(size);
	if (!n)
		return NULL;
	memcpy(n, ptr, old < size ? old : size);
	secretmem_mfree(ptr);
	return n;
}

int secretmem_lib_stats(struct secretmem_lib_stats *st)
{
	unsigned int i;
	size_t mapped;

	if (!st) {
		errno = EINVAL;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	if (!atomic_load_explicit(&g.ready, memory_order_acquire))
		return 0;
	for (i = 0; i < g.nshard; i++) {
		pthread_mutex_lock(&g.shards[i].lock);
		st->bytes_in_use += g.shards[i].bytes;
		st->objects_in_use += g.shards[i].objects;
		pthread_mutex_unlock(&g.shards[i].lock);
	}
	pthread_mutex_lock(&g.large_lock);
	st->bytes_in_use += g.lbytes;
	st->objects_in_use += g.lobjects;
	pthread_mutex_unlock(&g.large_lock);
	mapped = atomic_load(&g.mapped);
	st->bytes_mapped = mapped;
	st->pages_mapped = mapped / PAGE;
	return 0;
}
