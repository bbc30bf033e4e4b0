// SPDX-License-Identifier: GPL-2.0
// phase_a.c - phase A: threads map, split, mprotect, mremap and unmap random sizes on shared and private fds.
#include <stdio.h>

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
