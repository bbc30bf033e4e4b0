#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh - build module/secretmem_dev.ko against the unpacked Debian
# headers of one kernel, out of tree in $SM_CACHE/build/<key>/ (a copy of
# module/, include/ and dkms.conf).  Kernels whose headers the host's
# compiler cannot build for (lib.sh chroot_for: 7.2) are built in a chroot
# of their Debian release.  The build must be warning-free.
#
# Usage: userspace-test/qemu/build-module.sh KEY   (5.10, 6.1-rt, 7.2-cloud, 6.12-arm64, debug, ...)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
# Result: $SM_CACHE/build/<key>/module/secretmem_dev.ko (its path is the last line on stdout),
#         and the test-only probe $SM_CACHE/build/<key>/kmod/sm_dmapprobe.ko
#         (userspace-test/kmod/; for the guest only: never installed, never DKMS)
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEY=${1:?usage: build-module.sh KEY}
KDIR_FILE=$(kernel_dir "$KEY")/kdir
BUILD=$SM_CACHE/build/$KEY

[ -f "$KDIR_FILE" ] || die "no $KDIR_FILE: run userspace-test/qemu/fetch.sh $KEY (debug: debug-kernel.sh) first"
KDIR=$(cat "$KDIR_FILE")
[ -d "$SM_TOP/module" ] || die "no module/ directory in $SM_TOP"

# Fresh copy each time, same layout so module/ can include ../include and
# module/Kbuild can read ../dkms.conf; build outputs of other kernels stay out.
rm -rf "$BUILD"
mkdir -p "$BUILD"
srcs=(module)
for extra in include dkms.conf; do
	[ -e "$SM_TOP/$extra" ] && srcs+=("$extra")
done
tar -C "$SM_TOP" -cf - \
	--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
	--exclude='.*.cmd' --exclude='*.order' --exclude='*.symvers' \
	--exclude='.tmp_versions' --exclude='compat_autoconf.h' "${srcs[@]}" |
	tar -C "$BUILD" -xf -

rel=
[ "$KEY" = debug ] || rel=$(chroot_for "$(key_series "$KEY")")
log "$KEY against $KDIR${rel:+ (in the $rel chroot)}"
# A key of another architecture (arm64) is cross-built: kbuild and
# conftest.sh get the same ARCH and CROSS_COMPILE.
ARCH_KEY=amd64
[ "$KEY" = debug ] || ARCH_KEY=$(key_arch "$KEY")
cross=()
if [ "$ARCH_KEY" != amd64 ]; then
	cross=(ARCH="$(arch_kbuild "$ARCH_KEY")" CROSS_COMPILE="$(arch_cross "$ARCH_KEY")")
	command -v "$(arch_cross "$ARCH_KEY")gcc" >/dev/null ||
		die "no $(arch_cross "$ARCH_KEY")gcc: run make deps (gcc-aarch64-linux-gnu)"
fi
cmd=(make -C "$BUILD/module" KDIR="$KDIR" "${cross[@]}" -j"$(nproc)")
if [ -n "$rel" ]; then
	chroot_ensure "$rel" || die "cannot make the $rel chroot"
	run() { chroot_run "$rel" "$@"; }
else
	run() { "$@"; }
fi
if ! run "${cmd[@]}" >"$BUILD/build.log" 2>&1; then
	cat "$BUILD/build.log" >&2
	die "module build FAILED for $KEY (kdir $KDIR)"
fi
cat "$BUILD/build.log" >&2
if grep -qE 'warning:|error:' "$BUILD/build.log"; then
	die "module build for $KEY has warnings (see above)"
fi
[ -f "$BUILD/module/secretmem_dev.ko" ] \
	|| die "build finished but $BUILD/module/secretmem_dev.ko is missing"
log "$BUILD/module/secretmem_dev.ko"

# The test-only direct-map probe: a failed build is a warning (the tests that
# need it skip without it), never an install.
if [ "$ARCH_KEY" != amd64 ]; then
	log "sm_dmapprobe reads x86 page-table entries: not built for $ARCH_KEY"
elif [ -d "$SM_TOP/userspace-test/kmod" ]; then
	mkdir -p "$BUILD/kmod"
	cp "$SM_TOP"/userspace-test/kmod/{Kbuild,Makefile,*.c} "$BUILD/kmod/"
	if run make -C "$BUILD/kmod" KDIR="$KDIR" >&2 && [ -f "$BUILD/kmod/sm_dmapprobe.ko" ]; then
		log "$BUILD/kmod/sm_dmapprobe.ko"
	else
		warn "sm_dmapprobe build failed for $KEY"
		rm -f "$BUILD/kmod/sm_dmapprobe.ko"
	fi
fi
echo "$BUILD/module/secretmem_dev.ko"
