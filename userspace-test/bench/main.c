// SPDX-License-Identifier: GPL-2.0
// main.c - bench: times /dev/secretmem against memfd_secret(2) and anonymous mmap+mlock: map latency, throughput, direct-map cost.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "bench.h"

/* ---- main ---- */

static void probe_backends(void)
{
	int fd;

	fd = sm_dev_open();
	if (fd < 0)
		avail_err[B_DEV] = errno;
	else
		close(fd);
	fd = syscall(__NR_memfd_secret, 0);
	if (fd < 0)
		avail_err[B_MEMFD] = errno;
	else
		close(fd);
	avail_err[B_ANON] = 0;
}

/* BENCH_PARTS: a comma-separated list of frag, map, rw, alloc; unset: all. */
static bool part_on(const char *parts, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!parts || !*parts)
		return true;
	for (p = parts; (p = strstr(p, name)); p += n)
		if ((p == parts || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

int main(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa;
	struct utsname u;
	char method[32] = "n/a";
	const char *q = getenv("BENCH_QUICK");
	const char *parts = getenv("BENCH_PARTS");
	uint64_t t0 = sm_now_ns();
	struct dmap d;
	FILE *f;
	int b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	quick = q && *q && strcmp(q, "0");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		printf("warning: setrlimit(RLIMIT_MEMLOCK, infinity): %s\n",
		       strerror(errno));
	probe_backends();

	uname(&u);
	f = fopen(SM_SYSFS_METHOD, "re");
	if (f) {
		if (fscanf(f, "%31s", method) != 1)
			snprintf(method, sizeof(method), "?");
		fclose(f);
	}
	dmap_read(&d);
	printf("secretmem bench: kernel %s %s, %ld CPUs, %s%s%s%s\n", u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       quick ? "BENCH_QUICK" : "full run",
	       parts && *parts ? ", BENCH_PARTS=" : "", parts && *parts ? parts : "",
	       ", times from CLOCK_MONOTONIC");
	for (b = 0; b < NR_BACKENDS; b++)
		printf("  %-16s %s\n", blabel[b], avail_err[b] ?
		       na_text(b, avail_err[b],
			       b == B_DEV ? "open" : "memfd_secret") : "ok");
	if (avail_err[B_MEMFD] == ENOSYS)
		printf("  memfd_secret(2) does not exist on this kernel (ENOSYS; it came in 5.14):\n"
		       "  /dev/secretmem is compared with anonymous mlocked memory only\n");
	printf("  module dmap_method: %s\n", method);
	if (d.ok)
		printf("  DirectMap4k %ld kB, DirectMap2M %ld kB at start\n",
		       d.k4, d.m2);
	printf("BENCH kernel=%s machine=%s cpus=%ld quick=%d dmap_method=%s secretmem=%s memfd_secret=%s\n",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), quick,
	       method, avail_err[B_DEV] ? "na" : "ok",
	       avail_err[B_MEMFD] ? "na" : "ok");
	print_pool("start");

	if (part_on(parts, "frag")) {
		bench_frag();
		print_pool("after_dmap");
	}
	if (part_on(parts, "map")) {
		bench_latency();
		print_pool("after_map");
	}
	if (part_on(parts, "rw"))
		bench_rw();
	if (part_on(parts, "alloc"))
		bench_alloc();

	print_pool("end");
	printf("\nBENCH total_s=%.1f\n", (sm_now_ns() - t0) / 1e9);
	return 0;
}
