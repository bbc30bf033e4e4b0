#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# debug-kernel.sh - build the "debug" series of the QEMU test rig: Debian's
# linux-source-6.1 as a tinyconfig kernel with KASAN, lockdep and DEBUG_VM.
#
# Usage: userspace-test/qemu/debug-kernel.sh [build|config]
#   build   (default) configure and build; skipped if already built with the
#           same config fragment and source version
#   config  only unpack and configure (checks the fragment, no build)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#        SM_JOBS   make -j value (default: nproc)
#
# Writes .cache/kernels/debug/{vmlinuz,kdir,kver} like fetch.sh does for the
# Debian kernels (kdir is the built source tree, which has Module.symvers),
# plus root/boot/config-<kver> so mkinitramfs.sh checks the built-ins.
set -euo pipefail

# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CACHE=$SM_CACHE
DIR=$CACHE/kernels/debug
SRC=$DIR/src
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=${SM_JOBS:-$(nproc)}
WHAT=${1:-build}
export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(linux-source-6.1 build-essential bc bison flex libelf-dev
	    libssl-dev cpio dwarves)

# Options on top of tinyconfig.  NAME=y must end up =y, NAME=n must end up
# unset, anything else is a value that must end up as written.
FRAGMENT=(
	# what the guest and the tests need
	64BIT=y SMP=y NR_CPUS=4 SLUB=y SLOB=n SLUB_DEBUG=y
	MODULES=y MODULE_UNLOAD=y KPROBES=y KALLSYMS=y KALLSYMS_ALL=y
	PROC_FS=y PROC_KCORE=y PROC_SYSCTL=y PROC_PAGE_MONITOR=y SYSFS=y
	DEVTMPFS=y DEVTMPFS_MOUNT=y TMPFS=y DEBUG_FS=y
	BLK_DEV_INITRD=y RD_GZIP=y TTY=y SERIAL_8250=y SERIAL_8250_CONSOLE=y
	PRINTK=y PRINTK_TIME=y BUG=y DEBUG_BUGVERBOSE=y MAGIC_SYSRQ=y
	BINFMT_ELF=y BINFMT_SCRIPT=y COREDUMP=y ELF_CORE=y MULTIUSER=y
	FUTEX=y EPOLL=y SIGNALFD=y TIMERFD=y EVENTFD=y SHMEM=y POSIX_TIMERS=y
	FILE_LOCKING=y ADVISE_SYSCALLS=y CROSS_MEMORY_ATTACH=y
	HIGH_RES_TIMERS=y CGROUPS=y MEMCG=y
	NET=y UNIX=y EMBEDDED=n EXPERT=y MTRR=y
	PCI=y ACPI=y X86_PAT=y PM=y BLOCK=y SWAP=y HIBERNATION=y
	HIBERNATION_SNAPSHOT_DEV=y SECRETMEM=y
	# the module needs CONFIG_MMU_NOTIFIER, which only other options select
	VIRTUALIZATION=y KVM=y MMU_NOTIFIER=y
	# the debug features
	DEBUG_KERNEL=y KASAN=y KASAN_GENERIC=y KASAN_INLINE=y PROVE_LOCKING=y
	DEBUG_ATOMIC_SLEEP=y DEBUG_VM=y DEBUG_LIST=y STACKTRACE=y
	FAULT_INJECTION=y FAIL_PAGE_ALLOC=y FAULT_INJECTION_DEBUG_FS=y
	# readable stack traces, build speed, naming
	UNWINDER_ORC=y UNWINDER_GUESS=n
	KERNEL_GZIP=y KERNEL_XZ=n
	CC_OPTIMIZE_FOR_PERFORMANCE=y CC_OPTIMIZE_FOR_SIZE=n
	LOCALVERSION='"-smdebug"' LOCALVERSION_AUTO=n
)

install_build_pkgs() {
	host_require "${BUILD_PKGS[@]}"
}

# Unpack the source tarball into $SRC unless that version is already there.
unpack() {
	local ver=$1 tmp
	if [ -f "$SRC/Makefile" ] && [ "$(cat "$SRC/.sm-source" 2>/dev/null)" = "$ver" ]; then
		return 0
	fi
	[ -f "$TARBALL" ] || die "no $TARBALL (install linux-source-6.1)"
	log "unpacking $TARBALL ($ver)"
	rm -rf "$SRC" "$SRC.tmp"
	tmp=$SRC.tmp
	mkdir -p "$tmp"
	tar -xJf "$TARBALL" -C "$tmp" --strip-components=1 || die "cannot unpack $TARBALL"
	echo "$ver" >"$tmp/.sm-source"
	mv "$tmp" "$SRC"
}

kmake() { make -C "$SRC" ARCH=x86_64 "$@"; }

configure() {
	local opt name val args=() bad=() have
	kmake -s tinyconfig >/dev/null || die "make tinyconfig failed"
	for opt in "${FRAGMENT[@]}"; do
		name=${opt%%=*} val=${opt#*=}
		case $val in
		y) args+=(--enable "$name") ;;
		n) args+=(--disable "$name") ;;
		\"*) val=${val#\"}; args+=(--set-str "$name" "${val%\"}") ;;
		*) args+=(--set-val "$name" "$val") ;;
		esac
	done
	"$SRC/scripts/config" --file "$SRC/.config" "${args[@]}"
	kmake -s olddefconfig >/dev/null || die "make olddefconfig failed"

	# olddefconfig silently drops what has unmet dependencies: check all.
	for opt in "${FRAGMENT[@]}"; do
		name=${opt%%=*} val=${opt#*=}
		have=$(sed -n "s/^CONFIG_$name=//p" "$SRC/.config")
		case $val in
		n) [ -z "$have" ] || bad+=("CONFIG_$name=$have (want unset)") ;;
		*) [ "$have" = "$val" ] || bad+=("CONFIG_$name=${have:-unset} (want $val)") ;;
		esac
	done
	if [ ${#bad[@]} -gt 0 ]; then
		printf 'debug-kernel: config mismatch: %s\n' "${bad[@]}" >&2
		die "${#bad[@]} option(s) of the fragment did not survive olddefconfig"
	fi
	log "config OK ($(grep -c '=y$' "$SRC/.config") options =y)"
}

main() {
	local ver hash kver t0 t1 t2
	install_build_pkgs
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	hash=$(printf '%s\n' "$ver" "${FRAGMENT[@]}" | sha256sum | cut -c1-16)

	if [ "$WHAT" = build ] && [ -f "$DIR/.done" ] &&
	   [ "$(cat "$DIR/.done")" = "$hash" ] && [ -e "$DIR/vmlinuz" ]; then
		log "already built ($(cat "$DIR/kver"), config $hash)"
		return 0
	fi
	case $WHAT in build|config) ;; *) die "usage: debug-kernel.sh [build|config]" ;; esac

	mkdir -p "$DIR"
	rm -f "$DIR/.done"
	unpack "$ver"
	configure
	[ "$WHAT" = config ] && return 0

	t0=$(date +%s)
	log "make -j$JOBS bzImage modules_prepare"
	kmake -j"$JOBS" bzImage modules_prepare || die "kernel build failed"
	t1=$(date +%s)
	log "make -j$JOBS modules (for Module.symvers)"
	kmake -j"$JOBS" modules || die "make modules failed"
	t2=$(date +%s)
	[ -f "$SRC/Module.symvers" ] || die "no Module.symvers after make modules"

	kver=$(kmake -s kernelrelease)
	rm -rf "$DIR/root"
	mkdir -p "$DIR/root/boot"
	cp "$SRC/arch/x86/boot/bzImage" "$DIR/root/boot/vmlinuz-$kver"
	cp "$SRC/.config" "$DIR/root/boot/config-$kver"
	ln -sfn "$DIR/root/boot/vmlinuz-$kver" "$DIR/vmlinuz"
	echo "$SRC" >"$DIR/kdir"
	echo "$kver" >"$DIR/kver"
	echo "$hash" >"$DIR/.done"
	log "ready: $kver (bzImage+modules_prepare $((t1 - t0))s, modules $((t2 - t1))s, total $((t2 - t0))s)"
}

main "$@"
