// SPDX-License-Identifier: GPL-2.0
// test_lib.c - libsecretmem.h (alloc, free, info, strerror) and the example program.
#include <ctype.h>
#include <dirent.h>

#include <libsecretmem.h>

#include "sm_test.h"

SM_FILE("lib", 80, 300);

static int count_fds(void)
{
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	ck_assert_msg(dir, "/proc/self/fd: %s", strerror(errno));
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* ---- libsecretmem.h ---- */

SM_TEST(test_lib_alloc_free)
{
	long vl0 = vmlck(), p0 = sm_counter("pages"), off;
	int fds0 = count_fds();
	volatile uint8_t *p;
	size_t i;

	p = secretmem_alloc(4096, 0);
	ck_assert_msg(p, "secretmem_alloc(4096, 0): %s", secretmem_strerror(errno));
	ck_assert_msg(count_fds() == fds0, "secretmem_alloc left an fd open (%d -> %d)",
		      fds0, count_fds());
	off = sm_first_nonzero(p, 4096);
	ck_assert_msg(off < 0, "secretmem_alloc memory not zeroed at %ld", off);
	for (i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < 4096; i++)
		ck_assert(p[i] == (uint8_t)(i * 7 + 1));
	ck_assert_msg(vmlck() == vl0 + 4, "VmLck %ld kB with one page, was %ld", vmlck(), vl0);
	if (p0 >= 0)
		ck_assert_msg(sm_counter("pages") == p0 + 1, "pages %ld, was %ld",
			      sm_counter("pages"), p0);
	ck_assert_msg(!secretmem_free((void *)p, 4096), "secretmem_free: %s", strerror(errno));
	ck_assert_msg(vmlck() == vl0, "VmLck %ld kB after secretmem_free, was %ld", vmlck(), vl0);
	if (p0 >= 0)
		ck_assert_msg(sm_counter("pages") == p0, "pages %ld after free, was %ld",
			      sm_counter("pages"), p0);
	ck_assert(!secretmem_free(NULL, 0));

	/* a size that is not a page multiple, uncached (x86; else the default) */
	p = secretmem_alloc(100, SM_FLAG_SETTABLE);
	ck_assert_msg(p, "secretmem_alloc(100, 0x%llx): %s", SM_FLAG_SETTABLE,
		      secretmem_strerror(errno));
	ck_assert(sm_first_nonzero(p, 4096) < 0);
	p[4095] = 0x5a;
	ck_assert(p[4095] == 0x5a);
	ck_assert(!secretmem_free((void *)p, 100));
	ck_assert_msg(vmlck() == vl0, "VmLck %ld kB after freeing 100 bytes, was %ld",
		      vmlck(), vl0);
	ck_assert(count_fds() == fds0);
}
END_TEST

SM_TEST(test_lib_alloc_einval)
{
	long p0 = sm_counter("pages");
	int fds0 = count_fds();
	void *p;

	errno = 0;
	p = secretmem_alloc(0, 0);
	ck_assert_msg(!p, "secretmem_alloc(0, 0) returned %p", p);
	ck_assert_msg(errno == EINVAL, "secretmem_alloc(0, 0): %s, expected EINVAL",
		      strerror(errno));
	errno = 0;
	p = secretmem_alloc(4096, 1ULL << 5);
	if (p)
		secretmem_free(p, 4096);
	ck_assert_msg(!p, "secretmem_alloc(4096, 1<<5) succeeded");
	ck_assert_msg(errno == EINVAL, "secretmem_alloc(4096, 1<<5): %s, expected EINVAL",
		      strerror(errno));
	ck_assert_msg(count_fds() == fds0, "a failed secretmem_alloc left an fd open");
	if (p0 >= 0)
		ck_assert_msg(sm_counter("pages") == p0, "pages %ld after failed allocs, was %ld",
			      sm_counter("pages"), p0);
}
END_TEST

SM_TEST(test_lib_info_strerror)
{
	struct secretmem_info info;
	int fds0 = count_fds();
	const char *s;

	memset(&info, 0xaa, sizeof(info));
	ck_assert_msg(!secretmem_info(&info), "secretmem_info: %s", secretmem_strerror(errno));
	ck_assert_msg(count_fds() == fds0, "secretmem_info left an fd open");
	ck_assert_msg(info.version == SECRETMEM_UAPI_VERSION, "version %u", info.version);
	ck_assert_msg(info.size == sizeof(info), ".size %u", info.size);
	ck_assert_msg((info.protections & PROT_ALWAYS) == PROT_ALWAYS, "protections 0x%llx",
		      (unsigned long long)info.protections);
	ck_assert(info.flags == 0 && info.mapped_bytes == 0 && info.page_size == PAGE_SZ);

	s = secretmem_strerror(ENOENT);
	ck_assert_msg(s && strstr(s, SECRETMEM_MODULE_NAME) && strstr(s, SECRETMEM_DEVICE_PATH),
		      "secretmem_strerror(ENOENT) = '%s': no module name or device", s);
	s = secretmem_strerror(ENXIO);
	ck_assert_msg(s && strstr(s, SECRETMEM_MODULE_NAME), "secretmem_strerror(ENXIO) = '%s'", s);
	s = secretmem_strerror(EAGAIN);
	ck_assert_msg(s && strstr(s, "RLIMIT_MEMLOCK"), "secretmem_strerror(EAGAIN) = '%s'", s);
	s = secretmem_strerror(EINVAL);
	ck_assert_msg(s && !strcmp(s, strerror(EINVAL)), "secretmem_strerror(EINVAL) = '%s'", s);
}
END_TEST

/* The example program: /tests/example_key, or next to this binary. */
static bool example_path(char *path, size_t n)
{
	char self[1024], *slash;
	ssize_t r;

	snprintf(path, n, "/tests/example_key");
	if (!access(path, X_OK))
		return true;
	r = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (r <= 0)
		return false;
	self[r] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = 0;
	snprintf(path, n, "%s/example_key", self);
	return !access(path, X_OK);
}

SM_TEST(test_example_key_runs)
{
	static const char msg[] = "ioctl test message";
	char path[PATH_MAX], out[4096] = "", want[128], *line;
	long p0 = sm_counter("pages");
	size_t used = 0, i;
	int pfd[2], st;
	bool found = false;
	ssize_t r;
	pid_t pid;

	if (!example_path(path, sizeof(path)))
		SKIP("example_key binary not found (/tests/example_key or next to this binary)");
	ck_assert(!pipe2(pfd, O_CLOEXEC));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (!pid) {
		char *argv[] = { path, (char *)msg, NULL };

		dup2(pfd[1], 1);
		execv(path, argv);
		_exit(127);
	}
	close(pfd[1]);
	while (used < sizeof(out) - 1) {
		r = read(pfd[0], out + used, sizeof(out) - 1 - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		used += r;
	}
	out[used] = 0;
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s exited with status 0x%x; output: %s", path, st, out);
	snprintf(want, sizeof(want), "SipHash-2-4(\"%s\") = ", msg);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "SipHash-2-4(", 12))
			continue;
		ck_assert_msg(!strncmp(line, want, strlen(want)), "unexpected line '%s'", line);
		line += strlen(want);
		for (i = 0; i < 16; i++)
			ck_assert_msg(isxdigit((unsigned char)line[i]),
				      "hash '%s' is not 16 hex digits", line);
		ck_assert_msg(!line[16], "trailing text after the hash: '%s'", line);
		found = true;
	}
	ck_assert_msg(found, "%s printed no line starting \"SipHash-2-4(\"", path);
	if (p0 >= 0)
		ck_assert_msg(sm_counter("pages") == p0, "pages %ld after example_key exited, was %ld",
			      sm_counter("pages"), p0);
}
END_TEST
