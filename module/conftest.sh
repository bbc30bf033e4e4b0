#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# conftest.sh - decides kernel features by compiling tests against KDIR.
#
# usage: [ARCH=A CROSS_COMPILE=P] conftest.sh KDIR OUTPUT.h
# Each test is a tiny module source; if it builds against the kernel's
# headers, the feature macro is defined.  OUTPUT.h is rewritten only when
# its content changes, so an unchanged kernel does not rebuild the module.
# ARCH and CROSS_COMPILE (from the environment; module/Makefile passes its
# own) go to every test build, so a cross build tests with the cross
# compiler.  A first test that must build (SM_CONFTEST_SANE) tells a
# broken compiler or setup from a missing feature: if it fails, conftest.sh
# fails loudly with its log instead of reporting every feature absent.
set -eu

kdir=$1
out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
arch=${ARCH:-}
cross=${CROSS_COMPILE:-}
# An empty ARCH in the environment defeats a plain kernel tree's own
# "ARCH ?= $(SUBARCH)" (make counts it as set): take it out.
[ -n "$arch" ] || unset ARCH
[ -n "$cross" ] || unset CROSS_COMPILE

# test_feature NAME C-BODY: build a module whose one function holds C-BODY,
# in the background (the tests are independent; they run in parallel and
# their results are put together in order below).  No BTF for these
# throw-away modules: pahole is the slowest step of each.
test_feature() {
	name=$1
	dir=$tmp/$name
	mkdir -p "$dir"
	cat >"$dir/conftest.c" <<EOT
#include <linux/module.h>
#include <linux/mm.h>
$2
MODULE_LICENSE("GPL");
EOT
	echo "obj-m := conftest.o" >"$dir/Kbuild"
	echo "$name" >>"$tmp/order"
	(
		# shellcheck disable=SC2086 # empty: no argument at all
		if make -s -C "$kdir" M="$dir" CONFIG_DEBUG_INFO_BTF_MODULES= \
			${arch:+ARCH=$arch} ${cross:+CROSS_COMPILE=$cross} modules \
			>"$dir/log" 2>&1; then
			echo "#define $name 1"
		else
			echo "/* #undef $name */"
		fi >"$dir/result"
	) &
}

# The sanity test: what every kernel since 2.6 builds.  Run first and alone.
test_feature SM_CONFTEST_SANE 'int conftest(void) { return PAGE_SIZE > 0; }'
wait
if ! grep -q '^#define' "$tmp/SM_CONFTEST_SANE/result"; then
	echo "conftest.sh: a trivial module does not build against $kdir" \
		"(ARCH=${ARCH:-} CROSS_COMPILE=${CROSS_COMPILE:-}): the compiler or the" \
		"headers are broken, not a feature missing:" >&2
	cat "$tmp/SM_CONFTEST_SANE/log" >&2
	exit 1
fi
: >"$tmp/order"

{
	# vm_flags_set(): 6.3 and later.
	test_feature SM_HAVE_VM_FLAGS_SET \
		'void conftest(struct vm_area_struct *vma) { vm_flags_set(vma, VM_IO); }'
	# shrinker_alloc()/shrinker_register(): 6.7 and later; before them,
	# register_shrinker() on a caller-owned struct.
	test_feature SM_HAVE_SHRINKER_ALLOC '#include <linux/shrinker.h>
struct shrinker *conftest(void) { return shrinker_alloc(0, "conftest"); }'
	# mm->rss_stat[] of percpu counters: 6.2 and later; an atomic array
	# (mm->rss_stat.count[]) before.
	test_feature SM_HAVE_PERCPU_RSS_STAT \
		'void conftest(struct mm_struct *mm) { percpu_counter_add(&mm->rss_stat[MM_FILEPAGES], 1); }'
	# cc_platform_has(): 5.16 and later.
	test_feature SM_HAVE_CC_PLATFORM '#include <linux/cc_platform.h>
bool conftest(void) { return cc_platform_has(CC_ATTR_MEM_ENCRYPT); }'
	# register_shrinker() with a name: 6.0 to 6.6 (before: no name).
	test_feature SM_HAVE_REGISTER_SHRINKER_NAME '#include <linux/shrinker.h>
int conftest(struct shrinker *s) { return register_shrinker(s, "%s", "conftest"); }'
	# zap_vma_ptes(): gone in 7.2 (zap_special_vma_range()).
	test_feature SM_HAVE_ZAP_VMA_PTES \
		'void conftest(struct vm_area_struct *v) { zap_vma_ptes(v, v->vm_start, PAGE_SIZE); }'
	test_feature SM_HAVE_ZAP_SPECIAL_VMA_RANGE \
		'void conftest(struct vm_area_struct *v) { zap_special_vma_range(v, v->vm_start, PAGE_SIZE); }'
	# rdmsrq_safe(): the name of rdmsrl_safe() since 6.16.
	test_feature SM_HAVE_RDMSRQ_SAFE '#include <asm/msr.h>
int conftest(u64 *v) { return rdmsrq_safe(0x6a2, v); }'
	# system_percpu_wq: the new name of system_wq, which warns "deprecated" in 7.2.
	test_feature SM_HAVE_SYSTEM_PERCPU_WQ '#include <linux/workqueue.h>
struct workqueue_struct *conftest(void) { return system_percpu_wq; }'
	# __flush_tlb_all() exported to any GPL module (not in 7.2: KVM only;
	# modpost refuses the link, so this test fails there).
	test_feature SM_HAVE_FLUSH_TLB_ALL '#include <asm/tlbflush.h>
void conftest(void) { __flush_tlb_all(); }'
	# __flush_tlb_global()/__flush_tlb_local() as inline paravirt calls
	# through the exported pv_ops (CONFIG_PARAVIRT_XXL): they link.
	test_feature SM_HAVE_PV_FLUSH_TLB '#include <asm/tlbflush.h>
void conftest(void) { __flush_tlb_global(); __flush_tlb_local(); }'
	# free_uid() and has_capability_noaudit() exported: 5.11 and later.
	test_feature SM_HAVE_FREE_UID '#include <linux/sched/user.h>
void conftest(struct user_struct *u) { free_uid(u); }'
	test_feature SM_HAVE_HAS_CAPABILITY_NOAUDIT '#include <linux/capability.h>
#include <linux/sched.h>
bool conftest(void) { return has_capability_noaudit(current, CAP_IPC_LOCK); }'
	# _PAGE_SAVED_DIRTY: 6.6 and later, with which __set_pages_np() also
	# clears _PAGE_DIRTY.
	test_feature SM_HAVE_PAGE_SAVED_DIRTY \
		'unsigned long conftest(void) { return _PAGE_SAVED_DIRTY; }'
}
wait
{
	echo "/* Generated by conftest.sh for $kdir; do not edit. */"
	while read -r name; do
		cat "$tmp/$name/result"
	done <"$tmp/order"
} >"$tmp/out.h"

if ! cmp -s "$tmp/out.h" "$out"; then
	cp "$tmp/out.h" "$out"
fi
