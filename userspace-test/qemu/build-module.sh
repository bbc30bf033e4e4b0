#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh - build module/secretmem_dev.ko against the unpacked Debian
# headers of one kernel series, out of tree in .cache/build/<series>/
# (a copy of module/, include/ and dkms.conf).
#
# Usage: userspace-test/qemu/build-module.sh SERIES     (6.1, 6.12 or debug)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
# Result: .cache/build/<series>/module/secretmem_dev.ko, and the test-only
#         probe .cache/build/<series>/kmod/sm_dmapprobe.ko (userspace-test/kmod/;
#         for the guest only: never installed, never part of DKMS)
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# root keeps the cache in /var/cache/secretmem, so that fresh clones reuse it.
CACHE=${SM_CACHE:-$([ "$(id -u)" -eq 0 ] && echo /var/cache/secretmem || echo "$TOP/.cache")}
SERIES=${1:?usage: build-module.sh SERIES}
KDIR_FILE=$CACHE/kernels/$SERIES/kdir
BUILD=$CACHE/build/$SERIES

die() { echo "build-module: ERROR: $*" >&2; exit 1; }

[ -f "$KDIR_FILE" ] || die "no $KDIR_FILE: run userspace-test/qemu/fetch.sh $SERIES (debug: debug-kernel.sh) first"
KDIR=$(cat "$KDIR_FILE")
[ -d "$TOP/module" ] || die "no module/ directory in $TOP"

# Fresh copy each time, same layout so module/ can include ../include and
# module/Kbuild can read ../dkms.conf; build outputs of other kernels stay out.
rm -rf "$BUILD"
mkdir -p "$BUILD"
srcs=(module)
for extra in include dkms.conf; do
	[ -e "$TOP/$extra" ] && srcs+=("$extra")
done
tar -C "$TOP" -cf - \
	--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
	--exclude='.*.cmd' --exclude='*.order' --exclude='*.symvers' \
	--exclude='.tmp_versions' --exclude='compat_autoconf.h' "${srcs[@]}" |
	tar -C "$BUILD" -xf -

echo "build-module: $SERIES against $KDIR" >&2
if ! make -C "$BUILD/module" KDIR="$KDIR"; then
	die "module build FAILED for series $SERIES (kdir $KDIR)"
fi
[ -f "$BUILD/module/secretmem_dev.ko" ] \
	|| die "build finished but $BUILD/module/secretmem_dev.ko is missing"
echo "build-module: $BUILD/module/secretmem_dev.ko" >&2

# The test-only direct-map probe: a failed build is a warning (the tests that
# need it skip without it), never an install.
if [ -d "$TOP/userspace-test/kmod" ]; then
	mkdir -p "$BUILD/kmod"
	cp "$TOP"/userspace-test/kmod/{Kbuild,Makefile,*.c} "$BUILD/kmod/"
	if make -C "$BUILD/kmod" KDIR="$KDIR" && [ -f "$BUILD/kmod/sm_dmapprobe.ko" ]; then
		echo "build-module: $BUILD/kmod/sm_dmapprobe.ko" >&2
	else
		echo "build-module: WARNING: sm_dmapprobe build failed for series $SERIES" >&2
		rm -f "$BUILD/kmod/sm_dmapprobe.ko"
	fi
fi
