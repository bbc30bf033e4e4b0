// SPDX-License-Identifier: GPL-2.0
// probe.c - masked secret patterns, holder processes and leak probes (kcore, ptrace, /proc/PID/mem, ...) for secretmem.
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_lib.h"

/* ---- patterns ---- */

static bool common_byte(uint8_t v)
{
	static const uint8_t common[] = {
		0x00, 0xff, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80,
		0x7f, 0xfe, 0x0a, 0x30, 0xcc, 0x90, 0x48, 0x89, 0x8b, 0xe8,
	};
	size_t i;

	for (i = 0; i < sizeof(common); i++)
		if (v == common[i])
			return true;
	return false;
}

static void fill_random(void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = getrandom(b, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("getrandom");
			abort();
		}
		b += n;
		len -= n;
	}
}

void pattern_new(struct pattern *p)
{
	unsigned int i;

	for (;;) {
		fill_random(p->mask, sizeof(p->mask));
		fill_random(p->masked, sizeof(p->masked));
		for (i = 0; i < PATTERN_LEN; i++) {
			/* one plain byte in a register at a time */
			if (!common_byte(p->mask[i] ^ p->masked[i])) {
				p->anchor = i;
				return;
			}
		}
	}
}

void pattern_write(const struct pattern *p, volatile uint8_t *dst)
{
	const volatile uint8_t *a = p->mask, *b = p->masked;
	unsigned int i;

	/* volatile on both sides: byte loads and stores, no vectorising */
	for (i = 0; i < PATTERN_LEN; i++)
		dst[i] = a[i] ^ b[i];
}

bool pattern_match(const struct pattern *p, const uint8_t *buf)
{
	unsigned int i;

	/* (data ^ mask) == masked: the plain pattern is never computed */
	for (i = 0; i < PATTERN_LEN; i++)
		if ((uint8_t)(buf[i] ^ p->mask[i]) != p->masked[i])
			return false;
	return true;
}

bool pattern_match_volatile(const struct pattern *p, const volatile uint8_t *buf)
{
	unsigned int i;

	for (i = 0; i < PATTERN_LEN; i++)
		if ((uint8_t)(buf[i] ^ p->mask[i]) != p->masked[i])
			return false;
	return true;
}

long pattern_find(const struct pattern *p, const uint8_t *buf, size_t len)
{
	const unsigned int a = p->anchor;
	const uint8_t c = p->mask[a] ^ p->masked[a];
	const uint8_t *s, *last, *q;

	if (len < PATTERN_LEN)
		return -1;
	s = buf + a;
	last = buf + len - PATTERN_LEN + a;
	while (s <= last) {
		q = memchr(s, c, last - s + 1);
		if (!q)
			return -1;
		if (pattern_match(p, q - a))
			return q - a - buf;
		s = q + 1;
	}
	return -1;
}

void pattern_fill_pages(const struct pattern *p, volatile uint8_t *addr, size_t len)
{
	size_t off;

	for (off = 0; off + PAGE_SZ <= len; off += PAGE_SZ)
		pattern_write(p, addr + off + PATTERN_OFFSET);
}

/* ---- small I/O helpers ---- */

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += n;
	}
	return 0;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, __WALL) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return st;
}

/* ---- holder ---- */

struct holder_reply {
	int err;		/* errno of the failed step, 0 if fine */
	char what[80];		/* failed step */
	uint64_t addr;
	uint64_t secret;
};

static void holder_fail(int fd, int err, const char *what)
{
	struct holder_reply r;

	memset(&r, 0, sizeof(r));
	r.err = err ? err : EIO;
	snprintf(r.what, sizeof(r.what), "%s", what);
	write_full(fd, &r, sizeof(r));
	_exit(1);
}

static void __attribute__((noreturn))
holder_main(const struct holder_opts *o, const struct pattern *p, int cmd_fd,
	    int rep_fd)
{
	struct holder_reply r;
	size_t len = o->pages * PAGE_SZ;
	uint8_t *addr;
	char cmd;
	int fd;

	prctl(PR_SET_NAME, "smholder");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	if (o->core) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_CORE, &rl))
			holder_fail(rep_fd, errno, "setrlimit(RLIMIT_CORE)");
		prctl(PR_SET_DUMPABLE, 1);
	}
	if (o->cwd && chdir(o->cwd))
		holder_fail(rep_fd, errno, "chdir");

	if (o->kind == MEM_SECRET) {
		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			holder_fail(rep_fd, errno, "open " SECRETMEM_DEVICE_PATH);
		addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (addr == MAP_FAILED)
			holder_fail(rep_fd, errno, "mmap " SECRETMEM_DEVICE_PATH);
		close(fd);
	} else {
		addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (addr == MAP_FAILED)
			holder_fail(rep_fd, errno, "mmap anonymous");
	}
	pattern_fill_pages(p, addr, len);
	if (!pattern_match_volatile(p, addr + PATTERN_OFFSET))
		holder_fail(rep_fd, EIO, "pattern read back differs");
	if (o->use)
		o->use(addr + PATTERN_OFFSET, o->arg);

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.secret = (uintptr_t)addr + PATTERN_OFFSET;
	if (write_full(rep_fd, &r, sizeof(r)))
		_exit(1);

	for (;;) {
		ssize_t n = read_full(cmd_fd, &cmd, 1);

		if (n <= 0)
			_exit(0);	/* parent went away */
		switch (cmd) {
		case 'u':
			r.err = munmap(addr, len) ? errno : 0;
			write_full(rep_fd, &r, sizeof(r));
			break;
		case 'a':
			abort();
		default:
			_exit(0);
		}
	}
}

int holder_start(struct holder *h, const struct holder_opts *o,
		 const struct pattern *p, char *err, size_t errlen)
{
	struct holder_reply r;
	int cmd[2], rep[2];
	ssize_t n;

	memset(h, 0, sizeof(*h));
	h->pid = -1;
	if (pipe2(cmd, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (h->pid == 0) {
		close(cmd[1]);
		close(rep[0]);
		holder_main(o, p, cmd[0], rep[1]);
	}
	close(cmd[0]);
	close(rep[1]);
	h->cmd_fd = cmd[1];
	h->rep_fd = rep[0];
	h->len = o->pages * PAGE_SZ;

	n = read_full(h->rep_fd, &r, sizeof(r));
	if (n != sizeof(r) || r.err) {
		if (n != sizeof(r))
			snprintf(err, errlen, "holder died before reporting");
		else if (o->kind == MEM_SECRET && r.err == ENOENT)
			snprintf(err, errlen,
				 "holder: %s: %s (is module %s loaded?)",
				 r.what, strerror(r.err), SECRETMEM_MODULE_NAME);
		else
			snprintf(err, errlen, "holder: %s: %s", r.what,
				 strerror(r.err));
		holder_kill(h, SIGKILL);
		return -1;
	}
	h->addr = r.addr;
	h->secret = r.secret;
	return 0;
}

int holder_unmap(struct holder *h)
{
	struct holder_reply r;
	char c = 'u';

	if (write_full(h->cmd_fd, &c, 1))
		return -errno;
	if (read_full(h->rep_fd, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return -r.err;
}

static int holder_reap(struct holder *h)
{
	int st;

	if (h->pid <= 0)
		return -1;
	close(h->cmd_fd);
	close(h->rep_fd);
	st = wait_status(h->pid);
	h->pid = -1;
	return st;
}

/* Send the holder command @c ('x': exit, 'a': abort) and reap it. */
static int holder_cmd(struct holder *h, char c)
{
	if (h->pid <= 0)
		return -1;
	write_full(h->cmd_fd, &c, 1);
	return holder_reap(h);
}

int holder_exit(struct holder *h)
{
	return holder_cmd(h, 'x');
}

int holder_kill(struct holder *h, int sig)
{
	if (h->pid <= 0)
		return -1;
	kill(h->pid, sig);
	return holder_reap(h);
}

int holder_abort(struct holder *h)
{
	return holder_cmd(h, 'a');
}

/* ---- probes ---- */

int probe_ptrace_peek(pid_t pid, uintptr_t addr, const struct pattern *p, int *err)
{
	uint8_t got[PATTERN_LEN];
	unsigned int i;
	int st, ret = 1;
	long v;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL)) {
		*err = errno;
		return -2;
	}
	for (;;) {
		if (waitpid(pid, &st, __WALL) < 0) {
			*err = errno;
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			return -2;
		}
		if (WIFSTOPPED(st))
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			*err = ESRCH;
			return -2;
		}
	}
	for (i = 0; i < PATTERN_LEN; i += sizeof(long)) {
		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + i), NULL);
		if (v == -1 && errno) {
			*err = errno;
			ret = -1;
			break;
		}
		memcpy(got + i, &v, sizeof(v));
	}
	v = 0;
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	if (ret == 1)
		ret = pattern_match(p, got);
	explicit_bzero(got, sizeof(got));
	return ret;
}

int probe_proc_mem(pid_t pid, uintptr_t addr, const struct pattern *p, int *err)
{
	uint8_t got[PATTERN_LEN];
	char path[64];
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	n = pread(fd, got, sizeof(got), (off_t)addr);
	*err = errno;
	close(fd);
	if (n < 0)
		return -1;
	if (n != sizeof(got)) {
		*err = 0;
		return -1;
	}
	ret = pattern_match(p, got);
	explicit_bzero(got, sizeof(got));
	return ret;
}

int probe_vm_readv(pid_t pid, uintptr_t addr, const struct pattern *p, int *err)
{
	uint8_t got[PATTERN_LEN];
	struct iovec local = { got, sizeof(got) };
	struct iovec remote = { (void *)addr, sizeof(got) };
	ssize_t n;
	int ret;

	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0) {
		*err = errno;
		return -1;
	}
	if (n != sizeof(got)) {
		*err = 0;
		return -1;
	}
	ret = pattern_match(p, got);
	explicit_bzero(got, sizeof(got));
	return ret;
}

int probe_vmsplice(const void *addr, const struct pattern *p, int *err)
{
	uint8_t got[PATTERN_LEN];
	struct iovec iov = { (void *)addr, PATTERN_LEN };
	int pfd[2], ret;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC)) {
		*err = errno;
		return -1;
	}
	n = vmsplice(pfd[1], &iov, 1, 0);
	if (n < 0) {
		*err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	n = read_full(pfd[0], got, n < PATTERN_LEN ? n : PATTERN_LEN);
	*err = errno;
	close(pfd[0]);
	close(pfd[1]);
	if (n != PATTERN_LEN) {
		*err = 0;
		return -1;
	}
	ret = pattern_match(p, got);
	explicit_bzero(got, sizeof(got));
	return ret;
}

/* ---- scanning files and /proc/kcore ---- */

#define SCAN_BUF	(4UL << 20)

static uint8_t *scan_buffer;

/*
 * One buffer, faulted in before any holder frees its pages: faulting it in
 * later would take the just-freed (still dirty) pages of an anonymous
 * control first, and the after-free control would then find nothing.
 * MADV_DONTFORK for the same reason: shared with a forked holder, every
 * write to it during a scan would be a copy-on-write page allocation.
 */
static uint8_t *scan_buf(void)
{
	void *b;

	if (scan_buffer)
		return scan_buffer;
	b = mmap(NULL, SCAN_BUF + PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	madvise(b, SCAN_BUF + PAGE_SZ, MADV_DONTFORK);
	memset(b, 0x5a, SCAN_BUF + PAGE_SZ);
	scan_buffer = b;
	return scan_buffer;
}

int scan_fd(int fd, uint64_t off, uint64_t len, const struct pattern *p, uint64_t *where)
{
	const bool to_eof = !len;
	uint64_t pos = off;	/* file offset of buf[carry] */
	size_t carry = 0, have, want;
	uint8_t *buf = scan_buf();
	ssize_t n;
	long hit;
	int ret = 0;

	if (!buf)
		return -1;
	while (to_eof || pos < off + len) {
		want = SCAN_BUF;
		if (!to_eof && want > off + len - pos)
			want = off + len - pos;
		n = pread(fd, buf + carry, want, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		have = carry + n;
		hit = pattern_find(p, buf, have);
		if (hit >= 0) {
			*where = pos - carry + hit;
			ret = 1;
			break;
		}
		carry = have < PATTERN_LEN - 1 ? have : PATTERN_LEN - 1;
		memmove(buf, buf + have - carry, carry);
		pos += n;
	}
	if (ret == 1)
		explicit_bzero(buf, SCAN_BUF + PATTERN_LEN);
	return ret;
}

/* x86-64 __START_KERNEL_map: the kernel image alias, already covered as RAM */
#define KERNEL_IMAGE_START	0xffffffff80000000ULL

int kcore_open(struct kcore *k, char *why, size_t whylen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	size_t sz;
	int i;

	memset(k, 0, sizeof(*k));
	if (!scan_buf()) {
		snprintf(why, whylen, "scan buffer: %s", strerror(errno));
		k->fd = -1;
		return -1;
	}
	k->fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (k->fd < 0) {
		snprintf(why, whylen, "/proc/kcore: %s", strerror(errno));
		return -1;
	}
	if (pread(k->fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum) {
		snprintf(why, whylen, "/proc/kcore: not a 64-bit ELF core (%s)",
			 strerror(errno));
		goto fail;
	}
	sz = (size_t)eh.e_phnum * sizeof(*ph);
	ph = malloc(sz);
	if (!ph || pread(k->fd, ph, sz, eh.e_phoff) != (ssize_t)sz) {
		snprintf(why, whylen, "/proc/kcore: cannot read program headers");
		free(ph);
		goto fail;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		/* RAM segments are the ones with a physical address (not -1)
		 * outside the kernel image alias; vmalloc, modules and vmemmap
		 * have p_paddr == -1. */
		if (ph[i].p_type != PT_LOAD || !ph[i].p_filesz ||
		    ph[i].p_paddr == (Elf64_Addr)-1 ||
		    ph[i].p_vaddr >= KERNEL_IMAGE_START)
			continue;
		if (k->nseg == KCORE_MAX_SEG)
			break;
		k->seg[k->nseg].off = ph[i].p_offset;
		k->seg[k->nseg].len = ph[i].p_filesz;
		k->seg[k->nseg].vaddr = ph[i].p_vaddr;
		k->seg[k->nseg].paddr = ph[i].p_paddr;
		k->ram_bytes += ph[i].p_filesz;
		k->nseg++;
	}
	free(ph);
	if (!k->nseg) {
		snprintf(why, whylen, "/proc/kcore: no RAM segments found");
		goto fail;
	}
	if (env_flag("SECRETMEM_VERBOSE")) {
		for (i = 0; i < k->nseg; i++)
			printf("kcore RAM segment: phys 0x%llx +0x%llx\n",
			       (unsigned long long)k->seg[i].paddr,
			       (unsigned long long)k->seg[i].len);
	}
	return 0;
fail:
	close(k->fd);
	k->fd = -1;
	return -1;
}

int kcore_scan(struct kcore *k, const struct pattern *p, uint64_t *paddr)
{
	uint64_t where;
	int i, r;

	for (i = 0; i < k->nseg; i++) {
		r = scan_fd(k->fd, k->seg[i].off, k->seg[i].len, p, &where);
		if (r < 0)
			return -1;
		if (r) {
			*paddr = k->seg[i].paddr + (where - k->seg[i].off);
			return 1;
		}
	}
	return 0;
}

void kcore_close(struct kcore *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

/* ---- core dumps ---- */

int core_path(pid_t pid, const char *comm, const char *cwd, char *path,
	      size_t n, char *why, size_t whylen)
{
	char pat[256], out[PATH_MAX], num[32];
	bool has_pid = false;
	size_t o = 0;
	const char *s, *add;

	if (sm_read_text("/proc/sys/kernel/core_pattern", pat, sizeof(pat))) {
		snprintf(why, whylen, "core_pattern: %s", strerror(errno));
		return -1;
	}
	if (pat[0] == '|') {
		snprintf(why, whylen, "core_pattern pipes to a helper (%s)", pat);
		return -1;
	}
	if (!pat[0]) {
		snprintf(why, whylen, "core_pattern is empty");
		return -1;
	}
	if (pat[0] != '/')
		o = snprintf(out, sizeof(out), "%s/", cwd);
	for (s = pat; *s && o < sizeof(out) - 1; s++) {
		if (*s != '%') {
			out[o++] = *s;
			continue;
		}
		s++;
		switch (*s) {
		case '%':
			add = "%";
			break;
		case 'p': case 'P': case 'i': case 'I':
			snprintf(num, sizeof(num), "%d", (int)pid);
			add = num;
			has_pid = true;
			break;
		case 'u': case 'g':
			snprintf(num, sizeof(num), "%d",
				 (int)(*s == 'u' ? getuid() : getgid()));
			add = num;
			break;
		case 's':
			snprintf(num, sizeof(num), "%d", SIGABRT);
			add = num;
			break;
		case 'e':
			add = comm;
			break;
		default:
			snprintf(why, whylen,
				 "core_pattern '%s' uses %%%c, which the suite cannot predict",
				 pat, *s ? *s : '?');
			return -1;
		}
		o += snprintf(out + o, sizeof(out) - o, "%s", add);
	}
	if (o >= sizeof(out) - 1) {
		snprintf(why, whylen, "core_pattern too long");
		return -1;
	}
	out[o] = 0;
	if (!has_pid && read_long_file("/proc/sys/kernel/core_uses_pid") == 1)
		snprintf(out + o, sizeof(out) - o, ".%d", (int)pid);
	snprintf(path, n, "%s", out);
	return 0;
}
