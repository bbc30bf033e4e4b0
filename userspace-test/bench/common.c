// SPDX-License-Identifier: GPL-2.0
// common.c - the benchmark's backends (/dev/secretmem, memfd_secret, anonymous mmap+mlock), module counters, mappings, statistics and formatting.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "bench.h"

const char *const bkey[NR_BACKENDS] = {
	"secretmem", "memfd_secret", "anon_mlock",
};
const char *const blabel[NR_BACKENDS] = {
	"/dev/secretmem", "memfd_secret", "anon+mlock",
};

int avail_err[NR_BACKENDS];
bool quick;

/* /dev/secretmem mappings ask for SECRETMEM_FLAG_UNCACHED (throughput row). */
bool dev_uncached;

/* Step that failed last (for n/a reasons). */
const char *fail_step = "";

/* ---- module counters (sysfs of the misc device) ---- */

const char *const ctr_name[NR_CTRS] = {
	"tlb_flushes", "dmap_changes", "dmap_splits",
};

void ctrs_read(struct ctrs *c)
{
	int i;

	c->ok = true;
	for (i = 0; i < NR_CTRS; i++) {
		c->v[i] = sm_counter(ctr_name[i]);
		if (c->v[i] < 0) {
			c->v[i] = 0;
			c->ok = false;
		}
	}
}

/* Add after - before to @sum; false if either side was unreadable. */
bool ctrs_add(long *sum, const struct ctrs *before,
		     const struct ctrs *after)
{
	int i;

	if (!before->ok || !after->ok)
		return false;
	for (i = 0; i < NR_CTRS; i++)
		sum[i] += after->v[i] - before->v[i];
	return true;
}

void print_pool(const char *when)
{
	long v = sm_counter("pool_pages");

	if (v >= 0) {
		printf("  module pool_pages %s: %ld\n", when, v);
		printf("BENCH test=pool when=%s pool_pages=%ld\n", when, v);
	}
}

/* ---- /proc/meminfo direct map ---- */

void dmap_read(struct dmap *d)
{
	d->k4 = meminfo_kb("DirectMap4k");
	d->m2 = meminfo_kb("DirectMap2M");
	d->ok = d->k4 >= 0 && d->m2 >= 0;
	if (!d->ok)
		d->k4 = d->m2 = 0;
}

/* ---- mappings ---- */

/*
 * The backing fd of @b for a @len mapping in *@fd: /dev/secretmem opened,
 * a memfd_secret created and sized; -1 for anonymous memory.  0, or
 * -errno with fail_step naming the call.
 */
static int backend_open(enum backend b, size_t len, int *fd)
{
	int err;

	*fd = -1;
	switch (b) {
	case B_DEV:
		*fd = sm_dev_open();
		if (*fd < 0) {
			fail_step = "open";
			return -errno;
		}
		return 0;
	case B_MEMFD:
		*fd = syscall(__NR_memfd_secret, 0);
		if (*fd < 0) {
			fail_step = "memfd_secret";
			return -errno;
		}
		if (ftruncate(*fd, len)) {
			err = -errno;
			fail_step = "ftruncate";
			close(*fd);
			*fd = -1;
			return err;
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * Open (or create) the backing fd, mmap, close the fd: the mapping keeps
 * the file.  Anonymous memory is mlock()ed instead.
 */
int map_create(enum backend b, size_t len, struct map *m)
{
	int fd, err;
	void *p;

	err = backend_open(b, len, &fd);
	if (err)
		return err;
	if (b == B_DEV && dev_uncached &&
	    ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &(__u64){ SECRETMEM_FLAG_UNCACHED })) {
		err = -errno;
		fail_step = "set_flags";
		close(fd);
		return err;
	}
	if (b == B_ANON)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		fail_step = "mmap";
	}
	if (fd >= 0)
		close(fd);
	if (err)
		return err;
	if (b == B_ANON && mlock(p, len)) {
		err = -errno;
		fail_step = "mlock";
		munmap(p, len);
		return err;
	}
	m->p = p;
	m->len = len;
	return 0;
}

sigjmp_buf bus_env;
volatile sig_atomic_t bus_armed;

void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_env, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((noinline)) void touch_pages(volatile char *p,
						  size_t len, char val)
{
	size_t off;

	for (off = 0; off < len; off += PAGE_SZ)
		p[off] = val;
}

/* Write one byte per page; a SIGBUS (memfd_secret fault failure) is -EFAULT. */
int map_touch(const struct map *m, char val)
{
	if (sigsetjmp(bus_env, 1)) {
		bus_armed = 0;
		fail_step = "touch (SIGBUS)";
		return -EFAULT;
	}
	bus_armed = 1;
	touch_pages(m->p, m->len, val);
	bus_armed = 0;
	return 0;
}

const char *const phase_name[NR_PHASES] = {
	"open", "mmap", "touch", "munmap", "close",
};

/*
 * One timed cycle, phase by phase (ns[P_*], their sum in ns[NR_PHASES]):
 * open the backing fd (/dev/secretmem: open; memfd_secret: memfd_secret()
 * and ftruncate; anonymous memory: nothing), mmap (anonymous: mmap and
 * mlock, which faults the pages in), write one byte per page, munmap,
 * close the fd (the last reference: the file's teardown runs here).
 */
int map_cycle(enum backend b, size_t len, uint64_t *ns)
{
	int fd = -1, err = 0, flags = MAP_SHARED;
	uint64_t t[NR_PHASES + 1];
	void *p = MAP_FAILED;
	struct map m;
	int i;

	memset(ns, 0, (NR_PHASES + 1) * sizeof(*ns));
	if (b == B_ANON)
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
	t[P_OPEN] = sm_now_ns();
	err = backend_open(b, len, &fd);
	if (err)
		return err;
	t[P_MMAP] = sm_now_ns();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		fail_step = "mmap";
		goto out_close;
	}
	if (b == B_ANON && mlock(p, len)) {
		err = -errno;
		fail_step = "mlock";
		goto out_unmap;
	}
	t[P_TOUCH] = sm_now_ns();
	m.p = p;
	m.len = len;
	err = map_touch(&m, 1);
out_unmap:
	t[P_MUNMAP] = sm_now_ns();
	munmap(p, len);
out_close:
	t[P_CLOSE] = sm_now_ns();
	if (fd >= 0)
		close(fd);
	t[NR_PHASES] = sm_now_ns();
	if (err)
		return err;
	for (i = 0; i < NR_PHASES; i++)
		ns[i] = t[i + 1] - t[i];
	ns[NR_PHASES] = t[NR_PHASES] - t[P_OPEN];
	return 0;
}

/* ---- statistics and formatting ---- */

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(const double *v, int n)
{
	double s[MAX_REPS];

	if (n <= 0)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double minimum(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* Time in microseconds, human units, into a static ring of buffers. */
const char *fmt_us(double us)
{
	static char buf[8][24];
	static int idx;
	char *s = buf[idx++ & 7];

	if (us < 1000)
		snprintf(s, sizeof(buf[0]), "%.1f us", us);
	else if (us < 1000000)
		snprintf(s, sizeof(buf[0]), "%.2f ms", us / 1000);
	else
		snprintf(s, sizeof(buf[0]), "%.2f s", us / 1000000);
	return s;
}

const char *fmt_size(size_t len)
{
	static char buf[4][24];
	static int idx;
	char *s = buf[idx++ & 3];

	if (len >= MIB)
		snprintf(s, sizeof(buf[0]), "%zu MiB", len / MIB);
	else
		snprintf(s, sizeof(buf[0]), "%zu KiB", len / KIB);
	return s;
}

/* "n/a (...)" for a backend that failed with @err at fail step @step. */
const char *na_text(enum backend b, int err, const char *step)
{
	static char buf[4][96];
	static int idx;
	char *s = buf[idx++ & 3];

	if (b == B_DEV && err == ENOENT && !strcmp(step, "open"))
		snprintf(s, sizeof(buf[0]), "n/a (no %s)", SECRETMEM_DEVICE_PATH);
	else
		snprintf(s, sizeof(buf[0]), "n/a (%s: %s)", step, sm_errname(err));
	return s;
}

/* The same as one token for BENCH lines. */
const char *na_key(int err, const char *step)
{
	static char buf[4][64];
	static int idx;
	char *s = buf[idx++ & 3];
	char *c;

	snprintf(s, sizeof(buf[0]), "%s:%s", step, sm_errname(err));
	for (c = s; *c; c++)
		if (*c == ' ' || *c == '(' || *c == ')')
			*c = '_';
	return s;
}
