// SPDX-License-Identifier: GPL-2.0
// main.c - the stress program: options, the phases in turn, then checks that nothing leaked (counters, VmLck, DirectMap, /proc/kcore, taint, the pool).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "stress.h"

static void crash(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	char buf[256];
	int t, k;

	(void)uc;
	snprintf(buf, sizeof(buf), "stress: FAIL signal %d at address %#lx (code %d)\n",
		 sig, (unsigned long)a, si->si_code);
	write_str_fd(1, buf);
	for (t = 0; t < MAX_THREADS; t++) {
		struct amap *m = thread_maps[t];

		for (k = 0; m && k < A_LIVE; k++) {
			uintptr_t s = (uintptr_t)m[k].p;

			if (!m[k].live || a < s || a >= s + m[k].pages * PAGE_SZ)
				continue;
			snprintf(buf, sizeof(buf), "stress: in thread %d mapping %d: %zu pages at "
				 "%#lx, page %lu state %d, split %d\n", t, k, m[k].pages,
				 (unsigned long)s, (unsigned long)((a - s) / PAGE_SZ),
				 m[k].st[(a - s) / PAGE_SZ], m[k].split);
			write_str_fd(1, buf);
		}
	}
	params_restore_raw();
	fi_restore_raw();
	_exit(4);
}

static long directmap_kb(void)
{
	long a = meminfo_kb("DirectMap4k"), b = meminfo_kb("DirectMap2M"),
	     c = meminfo_kb("DirectMap1G");

	return (a > 0 ? a : 0) + (b > 0 ? b : 0) + (c > 0 ? c : 0);
}

static void usage(void)
{
	printf("usage: stress [-d seconds] [-t threads] [-s seed] [-p phases]\n"
	       "  phases: letters of abcdefg (default all); env STRESS_SECONDS,\n"
	       "  STRESS_THREADS, STRESS_SEED, STRESS_PHASES set the same.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		char id;
		double share;
		void (*fn)(double secs);
	} phases[] = {
		{ 'a', 0.25, phase_a }, { 'b', 0.12, phase_b }, { 'c', 0.15, phase_c },
		{ 'd', 0.08, phase_d }, { 'e', 0.12, phase_e }, { 'f', 0.10, phase_f },
		{ 'g', 0.18, phase_g },
	};
	long dm0, dm1, taint0, v;
	struct sigaction sa = { .sa_handler = watchdog }, sa_crash = { 0 };
	double t0;
	char why[256];
	struct kcore k;
	uint64_t pa = 0;
	size_t i;
	int c, r;

	if (getenv("STRESS_SECONDS"))
		opt_seconds = atof(getenv("STRESS_SECONDS"));
	if (getenv("STRESS_THREADS"))
		opt_threads = atoi(getenv("STRESS_THREADS"));
	if (getenv("STRESS_SEED"))
		opt_seed = strtoull(getenv("STRESS_SEED"), NULL, 0);
	if (getenv("STRESS_PHASES"))
		opt_phases = getenv("STRESS_PHASES");
	while ((c = getopt(argc, argv, "d:t:s:p:h")) != -1) {
		switch (c) {
		case 'd': opt_seconds = atof(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 's': opt_seed = strtoull(optarg, NULL, 0); break;
		case 'p': opt_phases = optarg; break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (opt_seconds <= 0)
		opt_seconds = 60;
	if (opt_threads < 1)
		opt_threads = 1;
	if (opt_threads > MAX_THREADS)
		opt_threads = MAX_THREADS;
	if (!opt_seed)
		opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (access(SECRETMEM_DEVICE_PATH, R_OK | W_OK) || sm_counter("pages") < 0) {
		printf("stress: FAIL %s or its sysfs counters missing (module %s loaded?)\n",
		       SECRETMEM_DEVICE_PATH, SECRETMEM_MODULE_NAME);
		return 1;
	}
	params_save();
	sigaction(SIGALRM, &sa, NULL);
	sa_crash.sa_sigaction = crash;
	sa_crash.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa_crash, NULL);
	sigaction(SIGBUS, &sa_crash, NULL);
	alarm((unsigned int)(opt_seconds * 3) + 300);
	pattern_new(&pat);
	/* fault in the kcore scan buffer now, before anything is freed */
	if (kcore_open(&k, why, sizeof(why)))
		k.fd = -1;
	dm0 = directmap_kb();
	taint0 = kernel_bad_taint();
	t0 = sm_now();
	printf("stress: start seconds=%.0f threads=%d seed=%#llx phases=%s pages=%ld "
	       "regions=%ld directmap=%ld kB\n", opt_seconds, opt_threads,
	       (unsigned long long)opt_seed, opt_phases, sm_counter("pages"), sm_counter("regions"),
	       dm0);
	if (sm_counter("pages") || sm_counter("regions"))
		fail("pages/regions not 0 at start: another user of %s?", SECRETMEM_DEVICE_PATH);

	for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && !atomic_load(&failed); i++)
		if (strchr(opt_phases, phases[i].id))
			phases[i].fn(opt_seconds * phases[i].share);

	/* ---- the end: everything back ---- */
	params_restore_raw();
	fi_restore_raw();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		fail("a child was left unreaped");
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		fail("children still running at the end");
	for (i = 0; i < NPARAMS; i++) {
		if (!param_ok(i))
			continue;
		v = read_long_file(params[i].path);
		if (v != params[i].val)
			fail("parameter %s is %ld, was %ld", params[i].path, v, params[i].val);
	}
	if (counters_settle(5000))
		fail("pages=%ld regions=%ld at the end", sm_counter("pages"), sm_counter("regions"));
	v = proc_status_kb(0, "VmLck");
	if (v != 0)
		fail("VmLck %ld kB at the end", v);
	dm1 = directmap_kb();
	if (dm1 != dm0)
		fail("DirectMap4k+2M+1G went %ld -> %ld kB", dm0, dm1);
	if (param_ok(PARAM_POOL_MAX)) {
		/* The pool within its bound, and every page of it freeable. */
		v = sm_counter("pool_pages");
		if (v > params[PARAM_POOL_MAX].val)
			fail("pool holds %ld pages, pool_max_pages %ld", v,
			     params[PARAM_POOL_MAX].val);
		param_set(PARAM_POOL_MAX, 0);
		v = sm_counter("pool_pages");
		param_set(PARAM_POOL_MAX, params[PARAM_POOL_MAX].val);
		if (v != 0)
			fail("pool holds %ld pages with pool_max_pages=0", v);
		dm1 = directmap_kb();
		if (dm1 != dm0)
			fail("DirectMap4k+2M+1G went %ld -> %ld kB after the pool drained",
			     dm0, dm1);
	}
	if (kernel_bad_taint() != taint0)
		fail("kernel taint gained WARN/DIE (check dmesg)");
	if (k.fd >= 0) {
		r = kcore_scan(&k, &pat, &pa);
		kcore_close(&k);
		if (r < 0)
			fail("reading /proc/kcore: %s", strerror(errno));
		else if (r > 0)
			fail("the stress pattern is in RAM at phys %#llx after all regions were freed",
			     (unsigned long long)pa);
	} else {
		printf("stress: kcore scan skipped: %s\n", why);
		printf("SM-SKIP stress-kcore: %s\n", why);
	}
	alarm(0);
	printf("stress: %.1fs total\n", sm_now() - t0);
	if (atomic_load(&failed)) {
		printf("stress: FAIL %s\n", fail_msg);
		return 1;
	}
	printf("stress: PASS iterations=%lu mmaps=%lu forks=%lu kills=%lu injected_faults=%lu "
	       "enomem=%lu eagain=%lu\n", (unsigned long)n_iter, (unsigned long)n_mmaps,
	       (unsigned long)n_forks, (unsigned long)n_kills, (unsigned long)n_faults,
	       (unsigned long)n_enomem, (unsigned long)n_eagain);
	return 0;
}
