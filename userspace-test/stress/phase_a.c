// SPDX-License-Identifier: GPL-2.0
// phase_a.c - phase A: threads map, split, mprotect, mremap and unmap random sizes on shared and private fds.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <secretmem.h>

#include "probe.h"
#include "sm_lib.h"

#include "stress.h"

void phase_a(double secs)
{
	struct snap s;
	char extra[64];

	snap_take(&s);
	run_threads(opt_threads, secs, 200000, false, MAX_PAGES_MAP);
	snprintf(extra, sizeof(extra), "threads=%d", opt_threads);
	snap_print("a (threads map/split/mprotect/mremap/unmap)", &s, extra);
	check_idle("a");
}

/* ---- phase B: fork storm while holding mappings ---- */
