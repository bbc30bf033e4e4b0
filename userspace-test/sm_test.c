// SPDX-License-Identifier: GPL-2.0
/* Helpers that every file of the Check suite uses: the device, children, /proc. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

int dev_open(void)
{
	int fd = open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s (is module %s loaded?)",
		      SECRETMEM_DEVICE_PATH, strerror(errno),
		      SECRETMEM_MODULE_NAME);
	return fd;
}

void *sm_mmap(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap(%zu) of %s: %s", len,
		      SECRETMEM_DEVICE_PATH, strerror(errno));
	return p;
}

long vmlck(void)
{
	long v = proc_status_kb(0, "VmLck");

	ck_assert_msg(v >= 0, "no VmLck in /proc/self/status");
	return v;
}

long slack_kb(void)
{
	long total = meminfo_kb("MemTotal");

	return 2048 + (total > 0 ? total / 100 : 0);
}

void run_child(child_fn fn, void *arg)
{
	char msg[512] = "";
	int pfd[2], st, rc;
	ssize_t got;
	pid_t pid;

	ck_assert(!pipe2(pfd, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		rc = fn(arg, msg, sizeof(msg));
		if (rc && write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(rc ? 1 : 0);
	}
	close(pfd[1]);
	got = read(pfd[0], msg, sizeof(msg) - 1);
	msg[got > 0 ? got : 0] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		ck_abort_msg("child killed by signal %d (%s) %s", WTERMSIG(st),
			     strsignal(WTERMSIG(st)), msg);
	ck_assert_msg(WIFEXITED(st) && !WEXITSTATUS(st), "%s",
		      msg[0] ? msg : "child failed");
}

int touch_child(void *arg, char *msg, size_t n)
{
	size_t len = *(size_t *)arg, i;
	volatile uint8_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		CFAIL("mmap %zu MiB: %s", len >> 20, strerror(errno));
	for (i = 0; i < len; i += PAGE_SZ)
		p[i] = 1;
	return 0;
}

void kcore_control(struct kcore *k)
{
	/* more copies than a secret holder: a few freed pages get reused */
	struct holder_opts o = { .kind = MEM_ANON, .pages = 128 };
	struct pattern pc;
	struct holder hc;
	uint64_t pa = 0;
	char err[256];
	int r;

	pattern_new(&pc);
	ck_assert_msg(!holder_start(&hc, &o, &pc, err, sizeof(err)),
		      "control (anonymous memory): %s", err);
	r = kcore_scan(k, &pc, &pa);
	holder_kill(&hc, SIGKILL);
	ck_assert_msg(r >= 0, "reading /proc/kcore: %s", strerror(errno));
	ck_assert_msg(r == 1, "control: kcore scan did not find the pattern in "
		      "anonymous memory (scanned %llu MiB): the scan cannot detect a leak",
		      (unsigned long long)(k->ram_bytes >> 20));
}

int drop_to_nobody(unsigned long memlock, char *msg, size_t n)
{
	struct rlimit rl = { memlock, memlock };
	long cap;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		CFAIL("setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		CFAIL("dropping to uid/gid 65534: %s", strerror(errno));
	cap = proc_status_kb(0, "CapEff");
	if (cap != 0)
		CFAIL("CapEff not 0 after dropping privileges (read %ld: %s)", cap,
		      cap < 0 ? strerror(errno) : "capabilities left");
	return 0;
}

static long saved_pool_max = -1;

void pool_off(void)
{
	saved_pool_max = read_long_file(SM_PARAM_POOL_MAX);
	if (saved_pool_max > 0)
		write_long_file(SM_PARAM_POOL_MAX, 0);
}

void pool_restore(void)
{
	if (saved_pool_max > 0)
		write_long_file(SM_PARAM_POOL_MAX, saved_pool_max);
}
