// SPDX-License-Identifier: GPL-2.0
// test_limits.c - Check tests: per-user RLIMIT_MEMLOCK, RSS and the OOM killer, fd flags, counters' permissions.
#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

SM_TEST(test_limits_placeholder)
{
}

static const struct test_entry limits_tests[] = {
	T(test_limits_placeholder),
};

TEST_TABLE(limits_table, limits_tests);
