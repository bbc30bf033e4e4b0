// SPDX-License-Identifier: GPL-2.0
// test_hibernate.c - Check tests: hibernation images made through /dev/snapshot while secret memory is used.
/*
 * The image is made in memory with the uswsusp interface (kernel/power/user.c),
 * no disk or swap involved:
 *
 *   open("/dev/snapshot", O_RDONLY)   PM_HIBERNATION_PREPARE (EPERM on a veto)
 *   ioctl(SNAPSHOT_FREEZE)            freezes every user task but this one
 *   ioctl(SNAPSHOT_CREATE_IMAGE, &in_suspend)   the atomic copy; in_suspend = 1
 *   read() ...                        header page, pfn pages, data pages, EOF
 *   ioctl(SNAPSHOT_FREE)              frees the image (UNFREEZE is a no-op
 *                                     while an image exists)
 *   ioctl(SNAPSHOT_UNFREEZE)          thaws the tasks
 *   close()                           PM_POST_HIBERNATION
 *
 * open(O_WRONLY) is the restore side (PM_RESTORE_PREPARE / PM_POST_RESTORE);
 * these tests never restore an image.
 *
 * Nothing asserts between FREEZE and UNFREEZE: results are collected and
 * checked once every task is thawed again (an assertion that ends the test
 * process would still thaw them, through the release of /dev/snapshot).
 * Children that must run after FREEZE cannot: they are frozen; the test
 * process itself is not (freeze_processes() skips current), nor is anything
 * it waits for (Check's fork-mode parent only waits; Check's messages go to a
 * file).
 */
#include <linux/suspend_ioctls.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>

#include "sm_test.h"

/* Right before dmapentry, as before the split: making an image frees memory. */
SM_FILE("hibernation", 116, 900);

/* Control copies: more than one, a few freed pages get reused. */
#define CONTROL_PAGES	128
/* Pages of the secret region of the single-mmap test. */
#define SECRET_PAGES	4

#define MAX_PATTERNS	20
#define PFNS_PER_PAGE	(PAGE_SZ / sizeof(long))
/*
 * 6.8+ (so 6.12) leaves pages of zeros out of the data: their entries in
 * the pfn list carry this bit (ENCODED_PFN_ZERO_FLAG) and get no data page.
 */
#define PFN_ZERO_FLAG	(1UL << (8 * sizeof(long) - 1))
#define PFN_END		(~0UL)
#define READ_BUF	(1UL << 20)

static void expect_counters_zero(const char *when)
{
	long regions = sm_counter("regions"), pages = sm_counter("pages");

	ck_assert_msg(regions == 0 && pages == 0,
		      "%s: module counters regions=%ld pages=%ld, expected 0 and 0",
		      when, regions, pages);
}

/* open(/dev/snapshot, how); the fd, or -errno. */
static int snapshot_open(int how)
{
	int fd = open(SM_SNAPSHOT, how | O_CLOEXEC);

	return fd >= 0 ? fd : -errno;
}

static int snapshot_open_ok(int how)
{
	int fd;

	expect_counters_zero("before open(" SM_SNAPSHOT ")");
	fd = snapshot_open(how);
	ck_assert_msg(fd >= 0, "open(%s, %s) with no secret page in use: %s",
		      SM_SNAPSHOT, how == O_RDONLY ? "O_RDONLY" : "O_WRONLY",
		      strerror(-fd));
	return fd;
}

/* A secret mmap of @pages pages: the address, or NULL with the errno in *err. */
static void *try_secret_mmap(int fd, size_t pages, int *err)
{
	void *p = mmap(NULL, pages * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	*err = p == MAP_FAILED ? errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

/* After /dev/snapshot is closed: a secret mmap works and holds a pattern. */
static void expect_mmap_works(const char *when)
{
	struct pattern p;
	uint8_t *m;
	int fd, err;

	fd = dev_open();
	m = try_secret_mmap(fd, 2, &err);
	ck_assert_msg(m, "%s: mmap of %s failed: %s", when, SECRETMEM_DEVICE_PATH,
		      strerror(err));
	pattern_new(&p);
	pattern_fill_pages(&p, m, 2 * PAGE_SZ);
	ck_assert_msg(pattern_match_volatile(&p, m + PAGE_SZ + PATTERN_OFFSET),
		      "%s: pattern written into secret memory reads back differently", when);
	ck_assert(!munmap(m, 2 * PAGE_SZ));
	close(fd);
}

/* ---- the control holder: a pattern in mlocked anonymous memory ---- */

static void mlock_region(const volatile uint8_t *secret, void *arg)
{
	uintptr_t start = (uintptr_t)secret - PATTERN_OFFSET;

	if (mlock((void *)start, *(size_t *)arg))
		fprintf(stderr, "control holder: mlock: %s\n", strerror(errno));
}

static size_t control_len = CONTROL_PAGES * PAGE_SZ;

static void control_start(struct holder *h, struct pattern *p)
{
	struct holder_opts o = {
		.kind = MEM_ANON, .pages = CONTROL_PAGES,
		.use = mlock_region, .arg = &control_len,
	};
	char err[256];

	pattern_new(p);
	ck_assert_msg(!holder_start(h, &o, p, err, sizeof(err)),
		      "control holder (anonymous memory): %s", err);
}

/* ---- making and scanning an image ---- */

/* struct swsusp_info (kernel/power/power.h); x86's arch header overwrites uts. */
struct image_header {
	char uts[6][65];
	uint32_t version_code;
	unsigned long num_physpages;
	int cpus;
	unsigned long image_pages;
	unsigned long pages;
	unsigned long size;
};

struct image {
	int in_suspend;
	uint64_t bytes;			/* read from /dev/snapshot */
	struct image_header hdr;
	unsigned long meta;		/* pfn pages after the header */
	unsigned long *pfns, npfns;	/* the pfn list (data pages and zero pages) */
	int npat;
	bool found[MAX_PATTERNS];
	uint64_t where[MAX_PATTERNS];	/* byte offset in the image */
	double t_create, t_read;
	char err[256];			/* empty if the image was made and read */
};

/* pfn of data page @d: the d-th entry of the list without the zero flag */
static unsigned long data_pfn(const struct image *im, uint64_t d)
{
	unsigned long j;

	for (j = 0; im->pfns && j < im->npfns && im->pfns[j] != PFN_END; j++) {
		if (im->pfns[j] & PFN_ZERO_FLAG)
			continue;
		if (!d--)
			return im->pfns[j];
	}
	return PFN_END;
}

static const char *image_where(const struct image *im, int i, char *buf, size_t n)
{
	uint64_t page = im->where[i] / PAGE_SZ;

	if (page == 0)
		snprintf(buf, n, "image offset %llu (header page)",
			 (unsigned long long)im->where[i]);
	else if (page <= im->meta)
		snprintf(buf, n, "image offset %llu (pfn list page)",
			 (unsigned long long)im->where[i]);
	else if (page - 1 - im->meta < im->hdr.image_pages)
		snprintf(buf, n, "image offset %llu (data page %llu, pfn 0x%lx, +%llu)",
			 (unsigned long long)im->where[i],
			 (unsigned long long)(page - 1 - im->meta),
			 data_pfn(im, page - 1 - im->meta),
			 (unsigned long long)(im->where[i] % PAGE_SZ));
	else
		snprintf(buf, n, "image offset %llu", (unsigned long long)im->where[i]);
	return buf;
}

/* Look at the pages of buf (image pages from @first on); 0 or -1 (im->err). */
static int image_chunk(struct image *im, const uint8_t *buf, size_t len,
		       uint64_t first, const struct pattern *pats)
{
	size_t pg, npg = len / PAGE_SZ;
	unsigned long idx;
	long hit;
	int i;

	for (pg = 0; pg < npg; pg++) {
		uint64_t g = first + pg;
		const uint8_t *b = buf + pg * PAGE_SZ;

		if (g == 0) {
			memcpy(&im->hdr, b, sizeof(im->hdr));
			/* as snapshot_write_next() does: the pfn pages are the rest */
			im->meta = im->hdr.pages - im->hdr.image_pages - 1;
			if (!im->hdr.image_pages || im->hdr.pages <= im->hdr.image_pages ||
			    im->meta < (im->hdr.image_pages * sizeof(long) + PAGE_SZ - 1) / PAGE_SZ ||
			    im->meta * PFNS_PER_PAGE > im->hdr.num_physpages + PFNS_PER_PAGE ||
			    im->hdr.size != im->hdr.pages * PAGE_SZ) {
				snprintf(im->err, sizeof(im->err),
					 "image header makes no sense: image_pages %lu, pages %lu, "
					 "size %lu, num_physpages %lu", im->hdr.image_pages,
					 im->hdr.pages, im->hdr.size, im->hdr.num_physpages);
				return -1;
			}
			im->npfns = im->meta * PFNS_PER_PAGE;
			im->pfns = calloc(im->npfns, sizeof(long));
			if (!im->pfns) {
				snprintf(im->err, sizeof(im->err), "no memory for %lu pfns",
					 im->npfns);
				return -1;
			}
		} else if (g <= im->meta) {
			idx = (g - 1) * PFNS_PER_PAGE;
			memcpy(&im->pfns[idx], b, PAGE_SZ);
		}
	}
	/* The patterns sit inside a page: no carry-over between chunks needed. */
	for (i = 0; i < im->npat; i++) {
		if (im->found[i])
			continue;
		hit = pattern_find(&pats[i], buf, len);
		if (hit >= 0) {
			im->found[i] = true;
			im->where[i] = first * PAGE_SZ + hit;
		}
	}
	return 0;
}

static int image_read(int sfd, struct image *im, const struct pattern *pats,
		      uint8_t *buf)
{
	size_t fill = 0;
	ssize_t n;

	for (;;) {
		n = read(sfd, buf + fill, READ_BUF - fill);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(im->err, sizeof(im->err), "read(%s) at %llu: %s", SM_SNAPSHOT,
				 (unsigned long long)(im->bytes + fill), strerror(errno));
			return -1;
		}
		fill += n;
		if (fill == READ_BUF || (n == 0 && fill)) {
			if (fill % PAGE_SZ) {
				snprintf(im->err, sizeof(im->err),
					 "image length %llu is not whole pages",
					 (unsigned long long)(im->bytes + fill));
				return -1;
			}
			if (image_chunk(im, buf, fill, im->bytes / PAGE_SZ, pats))
				return -1;
			im->bytes += fill;
			fill = 0;
		}
		if (n == 0)
			break;
	}
	if (!im->bytes || im->bytes != im->hdr.pages * PAGE_SZ) {
		snprintf(im->err, sizeof(im->err), "read %llu bytes of an image of %lu pages",
			 (unsigned long long)im->bytes, im->hdr.pages);
		return -1;
	}
	return 0;
}

/*
 * FREEZE, CREATE_IMAGE, read and scan the image for @pats, FREE, UNFREEZE.
 * Never asserts (tasks are frozen in between); im->err says what failed.
 * @frozen, if set, runs right after FREEZE (every other user task stopped)
 * and returns how many of @pats to look for.
 */
static void make_image(int sfd, struct image *im, const struct pattern *pats, int npat,
		       int (*frozen)(void *), void *arg)
{
	uint8_t *buf;
	double t0;

	memset(im, 0, sizeof(*im));
	im->npat = npat;
	im->in_suspend = -1;
	/* Before FREEZE: nothing to allocate or fault in later. */
	buf = mmap(NULL, READ_BUF, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		snprintf(im->err, sizeof(im->err), "read buffer: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	if (ioctl(sfd, SNAPSHOT_FREEZE)) {
		snprintf(im->err, sizeof(im->err), "SNAPSHOT_FREEZE: %s", strerror(errno));
		goto out;
	}
	if (frozen)
		im->npat = frozen(arg);
	t0 = sm_now();
	if (ioctl(sfd, SNAPSHOT_CREATE_IMAGE, &im->in_suspend)) {
		snprintf(im->err, sizeof(im->err), "SNAPSHOT_CREATE_IMAGE: %s", strerror(errno));
		goto unfreeze;
	}
	im->t_create = sm_now() - t0;
	if (im->in_suspend != 1) {
		snprintf(im->err, sizeof(im->err),
			 "SNAPSHOT_CREATE_IMAGE set in_suspend %d, expected 1", im->in_suspend);
		goto free;
	}
	t0 = sm_now();
	image_read(sfd, im, pats, buf);
	im->t_read = sm_now() - t0;
free:
	if (ioctl(sfd, SNAPSHOT_FREE) && !im->err[0])
		snprintf(im->err, sizeof(im->err), "SNAPSHOT_FREE: %s", strerror(errno));
unfreeze:
	if (ioctl(sfd, SNAPSHOT_UNFREEZE) && !im->err[0])
		snprintf(im->err, sizeof(im->err), "SNAPSHOT_UNFREEZE: %s", strerror(errno));
out:
	munmap(buf, READ_BUF);
}

static void image_report(const struct image *im)
{
	unsigned long j, zero = 0;

	for (j = 0; im->pfns && j < im->npfns && im->pfns[j] != PFN_END; j++)
		zero += !!(im->pfns[j] & PFN_ZERO_FLAG);
	printf("%s: image of %lu pages (%lu data, %lu pfn list, %lu zero pages left out; "
	       "%llu MiB read): created in %.2fs, read and scanned in %.2fs\n",
	       tcase_name(), im->hdr.pages, im->hdr.image_pages, im->meta, zero,
	       (unsigned long long)(im->bytes >> 20), im->t_create, im->t_read);
	fflush(stdout);
}

static void expect_image_ok(const struct image *im)
{
	ck_assert_msg(!im->err[0], "hibernation image: %s", im->err);
	image_report(im);
}

/* Pattern 0 is the control: it must be in the image, or a scan proves nothing. */
static void expect_control_found(const struct image *im)
{
	ck_assert_msg(im->found[0],
		      "control: the pattern in mlocked anonymous memory of a holder was not "
		      "found in the %llu MiB hibernation image: the scan cannot detect a leak",
		      (unsigned long long)(im->bytes >> 20));
}

static void image_free(struct image *im)
{
	free(im->pfns);
	im->pfns = NULL;
}

/* ---- 1: the control ---- */

SM_TEST(test_hibernate_image_holds_anon_pattern)
{
	long taint0 = kernel_bad_taint();
	struct pattern pc;
	struct holder hc;
	struct image im;
	char where[128];
	int sfd;

	SNAPSHOT_OR_SKIP();
	control_start(&hc, &pc);
	sfd = snapshot_open_ok(O_RDONLY);
	make_image(sfd, &im, &pc, 1, NULL, NULL);
	close(sfd);
	holder_kill(&hc, SIGKILL);
	expect_image_ok(&im);
	ck_assert_msg(im.hdr.num_physpages * 4 >= (unsigned long)meminfo_kb("MemTotal"),
		      "image header: num_physpages %lu below MemTotal %ld kB",
		      im.hdr.num_physpages, meminfo_kb("MemTotal"));
	expect_control_found(&im);
	printf("%s: control pattern found at %s\n", tcase_name(),
	       image_where(&im, 0, where, sizeof(where)));
	image_free(&im);
	expect_counters_zero("after the image");
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/* ---- 2: mmap while a hibernation image is being prepared ---- */

SM_TEST(test_hibernate_prepare_mmap_ebusy_not_in_image)
{
	long taint0 = kernel_bad_taint(), pool;
	struct pattern pats[2];
	struct holder hc;
	struct image im;
	char where[128];
	uint8_t *m;
	int fd, sfd, err;

	SNAPSHOT_OR_SKIP();
	control_start(&hc, &pats[0]);
	pattern_new(&pats[1]);
	fd = dev_open();
	sfd = snapshot_open_ok(O_RDONLY);

	/* PM_HIBERNATION_PREPARE ran: no new secret page may come to exist. */
	m = try_secret_mmap(fd, SECRET_PAGES, &err);
	if (m)	/* a module that let it through: make the leak visible */
		pattern_fill_pages(&pats[1], m, SECRET_PAGES * PAGE_SZ);
	pool = sm_counter("pool_pages");
	make_image(sfd, &im, pats, 2, NULL, NULL);
	if (m)
		munmap(m, SECRET_PAGES * PAGE_SZ);
	close(sfd);
	holder_kill(&hc, SIGKILL);

	ck_assert_msg(!m && err == EBUSY,
		      "mmap of %s after open(%s, O_RDONLY): %s, expected EBUSY%s",
		      SECRETMEM_DEVICE_PATH, SM_SNAPSHOT, m ? "succeeded" : strerror(err),
		      im.found[1] ? "; its pattern IS in the hibernation image" : "");
	ck_assert_msg(pool == 0, "%ld pages in the module's pool while hibernating", pool);
	expect_image_ok(&im);
	expect_control_found(&im);
	ck_assert_msg(!im.found[1], "the secret pattern is in the hibernation image at %s",
		      image_where(&im, 1, where, sizeof(where)));
	image_free(&im);

	/* PM_POST_HIBERNATION ran: secret memory works again. */
	expect_mmap_works("after close(" SM_SNAPSHOT ")");
	close(fd);
	expect_counters_zero("at the end");
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/* ---- 3: mmap while an image restore is being prepared ---- */

SM_TEST(test_restore_prepare_mmap_ebusy)
{
	long taint0 = kernel_bad_taint(), pool;
	uint8_t *m;
	int fd, sfd, err;

	SNAPSHOT_OR_SKIP();
	fd = dev_open();
	sfd = snapshot_open_ok(O_WRONLY);	/* PM_RESTORE_PREPARE; nothing restored */
	m = try_secret_mmap(fd, SECRET_PAGES, &err);
	pool = sm_counter("pool_pages");
	if (m)
		munmap(m, SECRET_PAGES * PAGE_SZ);
	close(sfd);				/* PM_POST_RESTORE */
	ck_assert_msg(!m && err == EBUSY,
		      "mmap of %s after open(%s, O_WRONLY): %s, expected EBUSY",
		      SECRETMEM_DEVICE_PATH, SM_SNAPSHOT, m ? "succeeded" : strerror(err));
	ck_assert_msg(pool == 0, "%ld pages in the module's pool while preparing a restore",
		      pool);
	expect_mmap_works("after close(" SM_SNAPSHOT ")");
	close(fd);
	expect_counters_zero("at the end");
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/* ---- a veto must not leave mmap blocked ---- */

/*
 * The notifier that refuses PREPARE (NOTIFY_BAD) is not called with the
 * POST event: the kernel's robust chain (notifier_call_chain_robust) only
 * unwinds the notifiers before it.  A module that blocks mmap at PREPARE
 * must unblock on its own veto.
 */
SM_TEST(test_hibernate_veto_leaves_mmap_working)
{
	static const int how[2] = { O_RDONLY, O_WRONLY };
	long taint0 = kernel_bad_taint();
	uint8_t *held, *m;
	int fd, sfd, err, i;

	SNAPSHOT_OR_SKIP();
	expect_counters_zero("at the start");
	fd = dev_open();
	held = sm_mmap(fd, PAGE_SZ);
	for (i = 0; i < 2; i++) {
		sfd = snapshot_open(how[i]);
		if (sfd >= 0)
			close(sfd);
		ck_assert_msg(sfd == -EPERM, "open(%s, %s) with a secret page mapped: %s, "
			      "expected EPERM", SM_SNAPSHOT, i ? "O_WRONLY" : "O_RDONLY",
			      sfd >= 0 ? "succeeded" : strerror(-sfd));
		m = try_secret_mmap(fd, SECRET_PAGES, &err);
		ck_assert_msg(m, "mmap after the refused open(%s, %s): %s", SM_SNAPSHOT,
			      i ? "O_WRONLY" : "O_RDONLY", strerror(err));
		ck_assert(!munmap(m, SECRET_PAGES * PAGE_SZ));
	}
	ck_assert(!munmap(held, PAGE_SZ));
	close(fd);
	expect_mmap_works("after the refused opens and munmap");
	expect_counters_zero("at the end");
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST

/* ---- 4: mmap racing the open ---- */

#define RING		16	/* patterns of the racer's last regions */
#define OPEN_TRIES	1000

/* Shared with the racer (MAP_SHARED anonymous, made before fork). */
struct race {
	int stop;
	int opened;			/* the test has /dev/snapshot open */
	unsigned long held;		/* regions kept because of opened */
	unsigned long seq;		/* regions that got a pattern slot */
	unsigned long ok, busy, other;	/* mmap results */
	int other_err;
	struct pattern ring[RING];	/* ring[i % RING]: pattern of region i */
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

/*
 * Maps 1-16 pages, records a fresh pattern in the ring, writes it into
 * every page, unmaps; as fast as it can, until told to stop.  The slot is
 * filled and seq advanced before the pattern goes into the region, so
 * ring slots seq-RING+1 .. seq-1 (seq-1 the newest) hold every pattern a
 * region of it can hold when it is frozen.
 *
 * A region it got while the test says /dev/snapshot is open (which a
 * correct module never lets happen: one that existed at PREPARE made the
 * open fail, and none can be made after) is kept, pattern and all, until
 * the test says it has closed /dev/snapshot: so a module that lets such an
 * mmap through has a secret in the image every time, not by chance.
 */
static void __attribute__((noreturn)) racer(struct race *r)
{
	struct pattern p;
	unsigned int rnd = 0, spin;
	unsigned long s;
	size_t pages;
	uint8_t *m;
	int fd, err;

	prctl(PR_SET_NAME, "smracer");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		STORE(r->other_err, errno);
		INC(r->other);
		_exit(1);
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = getpid();
	while (!LOAD(r->stop)) {
		rnd = rnd * 1103515245u + 12345u;
		pages = 1 + (rnd >> 16) % 16;
		m = try_secret_mmap(fd, pages, &err);
		if (!m) {
			if (err == EBUSY) {
				INC(r->busy);
			} else {
				STORE(r->other_err, err);
				INC(r->other);
			}
			continue;
		}
		INC(r->ok);
		pattern_new(&p);
		s = LOAD(r->seq);
		r->ring[s % RING] = p;
		STORE(r->seq, s + 1);
		pattern_fill_pages(&r->ring[s % RING], m, pages * PAGE_SZ);
		if (LOAD(r->opened)) {
			INC(r->held);
			while (LOAD(r->opened) && !LOAD(r->stop))
				usleep(1000);
		}
		munmap(m, pages * PAGE_SZ);
		/*
		 * A short random gap holding nothing (no syscall): without it
		 * a region exists nearly all the time and PREPARE refuses
		 * (EPERM) dozens of times before an open gets through.
		 */
		for (spin = rnd % 8192; spin; spin--)
			__asm__ __volatile__("" ::: "memory");
	}
	_exit(0);
}

/* Wait until *v reaches @want; false after @secs seconds. */
static bool wait_for(unsigned long *v, unsigned long want, double secs)
{
	double end = sm_now() + secs;

	while (LOAD(*v) < want) {
		if (sm_now() > end)
			return false;
		usleep(1000);
	}
	return true;
}

struct frozen_copy {
	struct race *r;
	struct pattern *pats;	/* pats[1..] get the ring's patterns */
	int npat;
	unsigned long seq;
};

/* Runs right after FREEZE: the racer is frozen, its ring is still. */
static int copy_ring(void *arg)
{
	struct frozen_copy *c = arg;
	unsigned long s = LOAD(c->r->seq), i;

	c->seq = s;
	c->npat = 1;
	/* slot s % RING may be half rewritten; the others are complete */
	for (i = s > RING - 1 ? s - (RING - 1) : 0; i < s; i++)
		c->pats[c->npat++] = c->r->ring[i % RING];
	return c->npat;
}

SM_TEST(test_hibernate_racing_mmap_not_in_image)
{
	long taint0 = kernel_bad_taint(), regions, pages, pool;
	unsigned long ok0, ok1, busy0, busy1, other1, attempts0;
	struct pattern pats[RING + 1];
	struct frozen_copy fc;
	struct holder hc;
	struct image im;
	struct race *r;
	char where[128];
	int sfd = -1, tries, eperm = 0, st, i, found = -1;
	bool ran, works_again;
	pid_t pid;

	SNAPSHOT_OR_SKIP();
	expect_counters_zero("before the racer");
	control_start(&hc, &pats[0]);
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (!pid)
		racer(r);
	ran = wait_for(&r->ok, 50, 60);
	if (!ran) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		holder_kill(&hc, SIGKILL);
		ck_abort_msg("the racer mapped %lu regions in 60 s (busy %lu, other %lu: %s)",
			     LOAD(r->ok), LOAD(r->busy), LOAD(r->other),
			     strerror(LOAD(r->other_err)));
	}

	/*
	 * PM_HIBERNATION_PREPARE refuses (EPERM) while a region exists, and
	 * from then on no mmap may succeed: once open() returns a descriptor,
	 * the racer holds nothing and can get nothing.  (Its counters: a
	 * region it got before PREPARE still existed at PREPARE unless it
	 * was unmapped, which it does only after counting it.)
	 */
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		sfd = snapshot_open(O_RDONLY);
		if (sfd != -EPERM)
			break;
		eperm++;
		usleep(tries % 7 * 100);
	}
	ok0 = LOAD(r->ok);
	busy0 = LOAD(r->busy);
	attempts0 = ok0 + busy0 + LOAD(r->other);
	regions = sm_counter("regions");
	pages = sm_counter("pages");
	pool = sm_counter("pool_pages");
	if (sfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		holder_kill(&hc, SIGKILL);
		ck_abort_msg("open(%s, O_RDONLY) failed %d times while racing mmap; last: %s",
			     SM_SNAPSHOT, tries == OPEN_TRIES ? tries : tries + 1, strerror(-sfd));
	}
	STORE(r->opened, 1);
	/* Let the racer try a while inside the window (or get a region). */
	for (i = 0; i < 20000 && !LOAD(r->held) &&
		    LOAD(r->ok) + LOAD(r->busy) + LOAD(r->other) < attempts0 + 200; i++)
		usleep(1000);
	ok1 = LOAD(r->ok);
	busy1 = LOAD(r->busy);
	other1 = LOAD(r->other);
	if (!pool)
		pool = sm_counter("pool_pages");

	fc.r = r;
	fc.pats = pats;
	fc.npat = 1;
	make_image(sfd, &im, pats, 1, copy_ring, &fc);
	close(sfd);		/* PM_POST_HIBERNATION: mmap works again */
	STORE(r->opened, 0);
	works_again = wait_for(&r->ok, ok1 + 20, 60);
	STORE(r->stop, 1);
	waitpid(pid, &st, 0);
	holder_kill(&hc, SIGKILL);

	printf("%s: open refused %d times (EPERM) before it succeeded; racer: %lu mmaps before, "
	       "%lu EBUSY, %lu successes (%lu regions kept), %lu other errors while open; "
	       "%d patterns scanned\n", tcase_name(), eperm, ok0, busy1 - busy0, ok1 - ok0,
	       LOAD(r->held), other1, fc.npat);
	for (i = 1; i < fc.npat && im.npat; i++)
		if (im.found[i] && found < 0)
			found = i;
	printf("%s: right after the open: regions=%ld pages=%ld; pool_pages=%ld; image: %s; "
	       "racer's pattern in it: %s\n", tcase_name(), regions, pages, pool,
	       im.err[0] ? im.err : "made", found >= 0 ? "YES" : "no");
	ck_assert_msg(regions == 0 && pages == 0,
		      "right after open(%s) succeeded: regions=%ld pages=%ld, expected 0",
		      SM_SNAPSHOT, regions, pages);
	ck_assert_msg(ok1 == ok0 && other1 == 0,
		      "while %s was open the racer's mmap succeeded %lu times, failed with "
		      "another errno than EBUSY %lu times (%s)%s", SM_SNAPSHOT, ok1 - ok0, other1,
		      other1 ? strerror(r->other_err) : "-",
		      found >= 0 ? "; a racer's pattern IS in the hibernation image" : "");
	ck_assert_msg(busy1 > busy0, "the racer made no mmap attempt while %s was open",
		      SM_SNAPSHOT);
	ck_assert_msg(pool == 0, "%ld pages in the module's pool while hibernating", pool);
	expect_image_ok(&im);
	expect_control_found(&im);
	ck_assert_msg(found < 0, "pattern of the racer's region %lu (of %lu) is in the "
		      "hibernation image at %s", fc.seq - fc.npat + found, fc.seq,
		      found >= 0 ? image_where(&im, found, where, sizeof(where)) : "");
	image_free(&im);
	ck_assert_msg(works_again, "after close(%s) the racer's mmaps did not work again "
		      "(%lu more successes, %lu more EBUSY)", SM_SNAPSHOT, LOAD(r->ok) - ok1,
		      LOAD(r->busy) - busy1);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer: wait status 0x%x", st);
	expect_counters_zero("at the end");
	munmap(r, sizeof(*r));
	ck_assert_msg(kernel_bad_taint() == taint0, "kernel taint gained WARN/DIE (check dmesg)");
}
END_TEST
