// SPDX-License-Identifier: GPL-2.0
// test_hibernate.c - Check tests: hibernation images made through /dev/snapshot while secret memory is used.
#include <secretmem.h>

#include "probe.h"
#include "sm_test.h"

SM_TEST(test_hibernate_placeholder)
{
}

static const struct test_entry hibernate_tests[] = {
	T(test_hibernate_placeholder),
};

TEST_TABLE(hibernate_table, hibernate_tests);
