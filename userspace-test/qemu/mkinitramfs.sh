#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mkinitramfs.sh - build the gzip cpio initramfs that the QEMU test guest
# boots: busybox-static, /init, the module of one series and the static test
# executables of userspace-test/build/ in /tests/.
#
# Usage: userspace-test/qemu/mkinitramfs.sh KEY OUT.cpio.gz   (KEY as for run.sh)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#
# No module of the Debian image is needed: the 8250 serial console,
# devtmpfs, tmpfs, debugfs and /proc/kcore are built into both kernels.
set -euo pipefail

# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TOP=$SM_TOP
CACHE=$SM_CACHE
SERIES=${1:?usage: mkinitramfs.sh SERIES OUT}
OUT=${2:?usage: mkinitramfs.sh SERIES OUT}
HERE=$TOP/userspace-test/qemu
# SM_KO: a module built elsewhere (make check passes the one DKMS built).
KO=${SM_KO:-$CACHE/build/$SERIES/module/secretmem_dev.ko}
TESTS=$TOP/userspace-test/build
BUSYBOX=/bin/busybox
# A key of another architecture (arm64) takes its busybox from the sysroot
# fetch.sh unpacked and its tests from userspace-test/build/<arch>/.
ARCH_KEY=amd64
[ "$SERIES" = debug ] || ARCH_KEY=$(key_arch "$SERIES")
CONSOLE_OPTS=(SERIAL_8250 SERIAL_8250_CONSOLE)
if [ "$ARCH_KEY" != amd64 ]; then
	TESTS=$TOP/userspace-test/build/$ARCH_KEY
	BUSYBOX=$CACHE/sysroot/$ARCH_KEY/bin/busybox
	CONSOLE_OPTS=(SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE)
fi


[ -x "$BUSYBOX" ] || die "no $BUSYBOX (install busybox-static)"
if readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
	die "$BUSYBOX is dynamically linked (install busybox-static)"
fi
[ -f "$KO" ] || die "no $KO: run userspace-test/qemu/build-module.sh $SERIES"
[ -f "$HERE/init" ] || die "no $HERE/init"

# Refuse a kernel that would need modules for the guest basics.
# (7.2 has no /boot/config-*: the headers' .config is the same file.)
CONFIG=$(find "$CACHE/kernels/$SERIES/root/boot" -name 'config-*' 2>/dev/null | head -n1 || true)
if [ -z "$CONFIG" ] && [ -f "$CACHE/kernels/$SERIES/kdir" ]; then
	CONFIG=$(cat "$CACHE/kernels/$SERIES/kdir")/.config
fi
if [ -n "$CONFIG" ]; then
	for opt in "${CONSOLE_OPTS[@]}" DEVTMPFS BLK_DEV_INITRD RD_GZIP BINFMT_ELF; do
		grep -q "^CONFIG_$opt=y" "$CONFIG" \
			|| die "CONFIG_$opt is not built in ($CONFIG)"
	done
	for opt in PROC_KCORE TMPFS DEBUG_FS ACPI; do
		grep -q "^CONFIG_$opt=y" "$CONFIG" \
			|| warn "CONFIG_$opt is not set ($CONFIG)"
	done
fi

umask 022
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/sm-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
# mktemp -d makes the directory 0700; it becomes the guest's "/", which an
# unprivileged test process must be able to traverse.
chmod 0755 "$STAGE"

mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc} \
	 "$STAGE/lib/modules" "$STAGE/tests"
cp "$BUSYBOX" "$STAGE/bin/busybox"
# One symlink per applet, at the place busybox says it belongs (the host's
# busybox lists them for a foreign one: same Debian version and config).
/bin/busybox --list-full | while IFS= read -r applet; do
	case $applet in
	bin/busybox|"") continue ;;
	esac
	[ -e "$STAGE/$applet" ] || ln -s /bin/busybox "$STAGE/$applet"
done
# Make sure the ones /init relies on sit in /bin and /sbin.
for a in sh mount umount insmod rmmod lsmod dmesg poweroff reboot cat sleep \
	 mkdir echo grep env timeout; do
	for d in bin sbin; do
		[ -e "$STAGE/$d/$a" ] || ln -s /bin/busybox "$STAGE/$d/$a"
	done
done

install -m 0755 "$HERE/init" "$STAGE/init"
log "module $KO ($(modinfo -F vermagic "$KO" 2>/dev/null || echo "?"))"
install -m 0644 "$KO" "$STAGE/lib/modules/secretmem_dev.ko"
# The test-only direct-map probe, if build-module.sh built it.
PROBE_KO=$CACHE/build/$SERIES/kmod/sm_dmapprobe.ko
if [ -f "$PROBE_KO" ]; then
	install -m 0644 "$PROBE_KO" "$STAGE/lib/modules/sm_dmapprobe.ko"
fi
# The static test programs: executables only (no objects).
if [ -d "$TESTS" ]; then
	find "$TESTS" -maxdepth 1 -type f -perm -u+x ! -name '*.o' \
		-exec cp {} "$STAGE/tests/" \;
fi
# The OpenSSL tests: Debian 12's openssl of the guest's architecture with
# its libraries (amd64: the host's; arm64: the sysroot's), the preload, keys.
"$TOP/userspace-test/ossl/stage.sh" "$STAGE" "$ARCH_KEY"
echo 'root:x:0:0:root:/root:/bin/sh' >"$STAGE/etc/passwd"
echo 'root:x:0:' >"$STAGE/etc/group"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) |
	gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "$OUT ($(du -h "$OUT" | cut -f1))"
