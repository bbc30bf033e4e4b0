// SPDX-License-Identifier: GPL-2.0
// sm_lib.c - the module's paths, counters and parameters, errno names and /proc readers for every secretmem test program.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sm_lib.h"

const char *const sm_fault_params[3] = {
	SM_PARAM_FAULT_ALLOC, SM_PARAM_FAULT_DMAP, SM_PARAM_FAULT_MAP,
};

/* ---- the module ---- */

int sm_dev_open(void)
{
	return open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

long sm_counter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SM_SYSFS_DEV "/%s", name);
	if (access(path, R_OK))
		return -1;
	return read_long_file(path);
}

int sm_get_info(int fd, struct secretmem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, SECRETMEM_IOC_GET_INFO, info);
}

int sm_set_flags(int fd, uint64_t flags)
{
	__u64 f = flags;

	return ioctl(fd, SECRETMEM_IOC_SET_FLAGS, &f);
}

void sm_param_save(struct sm_param *p, const char *path)
{
	p->path = path;
	p->val = read_long_file(path);
	p->text[0] = 0;
	if (p->val >= 0)
		snprintf(p->text, sizeof(p->text), "%ld\n", p->val);
}

void sm_param_restore(const struct sm_param *p)
{
	ssize_t n;
	int fd;

	if (!p->path || p->val < 0 || !p->text[0])
		return;
	fd = open(p->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = write(fd, p->text, strlen(p->text));
	(void)n;	/* on the way out: nothing better to do */
	close(fd);
}

void sm_faults_off(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sm_fault_params); i++)
		if (!access(sm_fault_params[i], W_OK))
			write_long_file(sm_fault_params[i], 0);
}

/* ---- errno, time, memory ---- */

const char *sm_errname(int err)
{
	const char *s;

	if (!err)
		return "0";
	s = strerrorname_np(err);
	return s ? s : "E?";
}

uint64_t sm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double sm_now(void)
{
	return sm_now_ns() / 1e9;
}

void sm_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

long sm_first_nonzero(const volatile void *p, size_t len)
{
	const volatile uint64_t *q = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (q[i])
			return (long)(i * 8);
	return -1;
}

bool sm_all_zero(const volatile void *p, size_t len)
{
	return sm_first_nonzero(p, len) < 0;
}

/* ---- /proc and /sys ---- */

int sm_read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	while (r && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = 0;
	return 0;
}



static long file_key_kb(const char *path, const char *key)
{
	size_t kl = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			val = strtol(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long proc_status_kb(pid_t pid, const char *key)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	return file_key_kb(path, key);
}

long meminfo_kb(const char *key)
{
	return file_key_kb("/proc/meminfo", key);
}

long read_long_file(const char *path)
{
	char buf[64], *end;
	long v;

	if (sm_read_text(path, buf, sizeof(buf)))
		return -1;
	errno = 0;
	v = strtol(buf, &end, 0);
	if (end == buf) {
		errno = EINVAL;
		return -1;
	}
	return v;
}

int write_long_file(const char *path, long val)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	if (write(fd, buf, len) != len)
		ret = -1;
	close(fd);
	return ret;
}

bool file_has(const char *path, const char *word)
{
	char buf[4096];

	return !sm_read_text(path, buf, sizeof(buf)) && strstr(buf, word);
}

int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -1;
	close(fd);
	return ret;
}

long kernel_bad_taint(void)
{
	long t = read_long_file("/proc/sys/kernel/tainted");

	/* TAINT_DIE (an oops) and TAINT_WARN */
	return t > 0 ? t & ((1L << 7) | (1L << 9)) : 0;
}

void hexstr(const uint8_t *buf, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * len] = 0;
}

bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

long file_key_space(const char *path, const char *key)
{
	char line[128];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* ---- the kernel log ---- */

int klog_count(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), n = 0;
	char *buf, *s;

	if (len <= 0)
		return -1;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = 0;
	for (s = buf; (s = strstr(s, what)); s++)
		n++;
	free(buf);
	return n;
}

void kmsg_note(const char *tag, const char *what)
{
	char line[256];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "<6>%s: %s\n", tag, what);
	if (write(fd, line, strlen(line)) < 0)
		perror("/dev/kmsg");	/* only a note */
	close(fd);
}

/* ---- cgroup v2 ---- */

int sm_memcg_enable(bool *mounted, bool *enabled, char *why, size_t n)
{
	if (mounted)
		*mounted = false;
	if (enabled)
		*enabled = false;
	if (access(SM_CG_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(SM_CG_ROOT, 0755);
		if (mount("none", SM_CG_ROOT, "cgroup2", 0, NULL)) {
			snprintf(why, n, "cannot mount cgroup2: %s", strerror(errno));
			return -1;
		}
		if (mounted)
			*mounted = true;
	}
	if (!file_has(SM_CG_ROOT "/cgroup.controllers", "memory")) {
		snprintf(why, n, "no memory controller in this kernel");
		return -1;
	}
	if (!file_has(SM_CG_ROOT "/cgroup.subtree_control", "memory")) {
		if (write_str(SM_CG_ROOT "/cgroup.subtree_control", "+memory")) {
			snprintf(why, n, "cannot enable the memory controller: %s",
				 strerror(errno));
			return -1;
		}
		if (enabled)
			*enabled = true;
	}
	return 0;
}
