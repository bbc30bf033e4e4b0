// SPDX-License-Identifier: GPL-2.0
// test_dmapentry.c - Check tests: the raw direct-map entries the module leaves, compared with the kernel's own.
#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

SM_TEST(test_dmapentry_placeholder)
{
}

static const struct test_entry dmapentry_tests[] = {
	T(test_dmapentry_placeholder),
};

TEST_TABLE(dmapentry_table, dmapentry_tests);
