#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# test-dkms.sh - checks DKMS, .deb and plain installs of secretmem_dev against Debian's 6.1 and 6.12 headers.
#
# Usage (root, Debian 12): userspace-test/dkms/test-dkms.sh
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#
# It installs what it needs (dkms, dwarves, linux-headers-<kver> for both
# series; 6.12's headers depend on a kernel image, which is satisfied by a
# local stub package so that no image, initramfs or udev is installed), then:
#   A. make -f module/dkms.mk dkms-install for both kernels; checks dkms
#      status, the installed .ko (version, vermagic, signature); copies each
#      DKMS-built module to .cache/dkms/<series>/secretmem_dev.ko for the QEMU
#      rig; checks that BUILD_EXCLUSIVE refuses unsupported kernels with
#      dkms exit 77; make dkms-uninstall; checks nothing is left.
#   B. make deb; apt-get install ./secretmem-dkms_<v>_all.deb; checks it is
#      installed for both kernels; apt-get purge; checks nothing is left.
#   C. make install / make uninstall (plain kbuild) against the 6.1 headers.
# Each check prints PASS or FAIL; the last line is "N passed, M failed".
# The result goes to .cache/logs/dkms-check.result as
# "dkms check PASS|FAIL <passed> <failed> <seconds>", the log to dkms-check.log.
# Helpers run through check "$@", which shellcheck cannot follow:
# shellcheck disable=SC2317
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# root keeps the cache in /var/cache/secretmem, so that fresh clones reuse it.
CACHE=${SM_CACHE:-$([ "$(id -u)" -eq 0 ] && echo /var/cache/secretmem || echo "$TOP/.cache")}
OUT=$CACHE/dkms
LOGDIR=$CACHE/logs
LOG=$LOGDIR/dkms-check.log
RESULT=$LOGDIR/dkms-check.result
NAME=secretmem
MOD=secretmem_dev
SERIES=(6.1 6.12)
export DEBIAN_FRONTEND=noninteractive
START=$(date +%s)

passed=0
failed=0
declare -A KVER

mkdir -p "$LOGDIR" "$OUT"
: >"$LOG"
rm -f "$RESULT"

log() { echo "test-dkms: $*"; echo "=== $*" >>"$LOG"; }
pass() { echo "PASS: $*"; echo "PASS: $*" >>"$LOG"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; echo "FAIL: $*" >>"$LOG"; failed=$((failed + 1)); }

# check DESCRIPTION COMMAND...: run COMMAND (output to the log), PASS if it succeeds.
check() {
	local desc=$1
	shift
	echo "+ $*" >>"$LOG"
	if "$@" >>"$LOG" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		# DKMS deletes its build log with the tree: keep the compiler's words.
		for f in /var/lib/dkms/secretmem/*/build/make.log; do
			[ -f "$f" ] && { echo "--- $f"; cat "$f"; } >>"$LOG"
		done
		echo "  (last lines of the output; full log: $LOG)"
		tail -n 15 "$LOG" | sed 's/^/  | /'
		return 1
	fi
}

finish() {
	local secs v=PASS
	secs=$(($(date +%s) - START))
	[ "$failed" -eq 0 ] || v=FAIL
	echo "dkms check $v $passed $failed $secs" >"$RESULT"
	echo "test-dkms: $v in ${secs}s (log $LOG)"
	echo "$passed passed, $failed failed"
	[ "$v" = PASS ]
	exit
}

# abort DESCRIPTION: a setup step failed, nothing after it can run.
abort() {
	fail "$1"
	finish
}

[ "$(id -u)" -eq 0 ] || abort "must run as root (it installs packages and modules)"
command -v apt-get >/dev/null || abort "needs a Debian system (apt-get)"

VERSION=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$TOP/dkms.conf")
[ -n "$VERSION" ] || abort "no PACKAGE_VERSION in $TOP/dkms.conf"
DEB=$CACHE/pkg/$NAME-dkms_${VERSION}_all.deb
mk() { make --no-print-directory -f "$TOP/module/dkms.mk" -C "$TOP" SM_CACHE="$CACHE" "$@"; }

APT_UPDATED=0
apt_update_once() {
	if [ "$APT_UPDATED" = 0 ]; then
		apt-get update -qq >>"$LOG" 2>&1 || return 1
		APT_UPDATED=1
	fi
}

# apt_install PKG...: install, refreshing the package lists once on failure.
apt_install() {
	echo "+ apt-get install $*" >>"$LOG"
	apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1 && return 0
	apt_update_once && apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1
}

# Kernel release of a series: the one the QEMU rig unpacked if any, else apt's.
resolve_kver() {
	local series=$1 v=
	if [ -s "$CACHE/kernels/$series/kver" ]; then
		cat "$CACHE/kernels/$series/kver"
		return
	fi
	case $series in
	6.1)
		v=$(apt-cache depends linux-headers-amd64 2>/dev/null |
		    sed -n 's/^ *Depends: linux-headers-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | head -n1)
		;;
	6.12)
		v=$(apt-cache pkgnames linux-headers-6.12. 2>/dev/null |
		    sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | sort -V | tail -n1)
		;;
	esac
	echo "$v"
}

# Debian's 6.12 headers depend on "linux-image-<kver> (= V) | ...-unsigned (= V)".
# Installing a real image here also pulls initramfs-tools, udev and a systemd
# upgrade into the host and builds an initramfs (2 minutes); DKMS needs only
# the headers, so a stub package provides the image (versioned, or apt and
# dpkg do not count it) instead.
stub_image_deb() {
	local kver=$1 dir pkg ver
	pkg=$NAME-test-stub-linux-image-$kver
	ver=$(apt-cache show --no-all-versions "linux-headers-$kver" 2>/dev/null |
	      sed -n 's/^Version: //p' | head -n1)
	[ -n "$ver" ] || return 1
	dir=$CACHE/pkg/stub-$kver
	rm -rf "$dir"
	mkdir -p "$dir/DEBIAN"
	cat >"$dir/DEBIAN/control" <<EOF
Package: $pkg
Version: 1.0
Architecture: all
Maintainer: secretmem developers <secretmem@localhost>
Provides: linux-image-$kver (= $ver)
Description: test stub standing in for linux-image-$kver
 Lets linux-headers-$kver install on a build host without a kernel image.
EOF
	dpkg-deb --root-owner-group --build "$dir" "$CACHE/pkg/$pkg.deb" >>"$LOG" 2>&1 || return 1
	echo "$CACHE/pkg/$pkg.deb"
}

install_headers() {
	local series=$1 kver=$2 stub
	if [ -f "/lib/modules/$kver/build/Makefile" ] &&
	   dpkg -s "linux-headers-$kver" >/dev/null 2>&1; then
		return 0
	fi
	if apt-cache depends "linux-headers-$kver" 2>/dev/null | grep -q "Depends: linux-image-" &&
	   ! dpkg -s "linux-image-$kver" "linux-image-$kver-unsigned" 2>/dev/null | grep -q '^Status: install ok installed'; then
		stub=$(stub_image_deb "$kver") || return 1
		apt_install "$stub" "linux-headers-$kver"
	else
		apt_install "linux-headers-$kver"
	fi
}

# Remove everything a previous (possibly aborted) run may have left.
cleanup() {
	local v
	if dpkg -s "$NAME-dkms" >/dev/null 2>&1; then
		apt-get purge -y -q "$NAME-dkms" >>"$LOG" 2>&1
	fi
	for v in "/var/lib/dkms/$NAME"/*/; do
		[ -d "$v" ] || continue
		v=$(basename "$v")
		dkms remove "$NAME/$v" --all >>"$LOG" 2>&1
	done
	rm -rf "/var/lib/dkms/$NAME" /usr/src/"$NAME"-[0-9]*
	rm -f /usr/lib/udev/rules.d/70-secretmem.rules /usr/lib/modules-load.d/secretmem.conf \
		/usr/share/man/man4/secretmem.4.gz
	find /lib/modules -name "$MOD.ko*" -delete 2>/dev/null
	return 0
}

# Nothing of the module left on the system.
is_clean() {
	local left
	[ ! -e "/var/lib/dkms/$NAME" ] || { echo "left: /var/lib/dkms/$NAME"; return 1; }
	[ ! -e "/usr/src/$NAME-$VERSION" ] || { echo "left: /usr/src/$NAME-$VERSION"; return 1; }
	left=$(find /lib/modules -name "$MOD.ko*" 2>/dev/null)
	[ -z "$left" ] || { echo "left: $left"; return 1; }
	[ -z "$(dkms status "$NAME" 2>/dev/null)" ] || { dkms status "$NAME"; return 1; }
	[ ! -e /usr/lib/udev/rules.d/70-secretmem.rules ] || { echo "left: udev rule"; return 1; }
	[ ! -e /usr/lib/modules-load.d/secretmem.conf ] || { echo "left: modules-load.d file"; return 1; }
	[ ! -e /usr/share/man/man4/secretmem.4.gz ] || { echo "left: man page"; return 1; }
}

dkms_installed() {
	local kver=$1 st
	st=$(dkms status -m "$NAME" -v "$VERSION" -k "$kver")
	echo "$st"
	case $st in *": installed"*) return 0 ;; esac
	return 1
}

# The module DKMS installed for kver, possibly compressed.
installed_ko() {
	find "/lib/modules/$1/updates" -name "$MOD.ko*" 2>/dev/null | head -n1
}

# ko_ok KO KVER: version and vermagic of an (uncompressed) module file.
ko_ok() {
	local ko=$1 kver=$2 v m
	v=$(modinfo -F version "$ko") || return 1
	m=$(modinfo -F vermagic "$ko") || return 1
	echo "version=$v vermagic=$m"
	[ "$v" = "$VERSION" ] && [ "${m%% *}" = "$kver" ]
}

# copy_ko KO DEST: uncompressed copy of a module file.
copy_ko() {
	local ko=$1 dst=$2
	mkdir -p "$(dirname "$dst")"
	case $ko in
	*.xz) xz -dc "$ko" >"$dst" ;;
	*.zst) zstd -dc "$ko" >"$dst" ;;
	*.gz) gzip -dc "$ko" >"$dst" ;;
	*) cp "$ko" "$dst" ;;
	esac
}

# A kernel "source dir" with only a .config, for the BUILD_EXCLUSIVE checks.
fake_kdir() {
	local dir=$1 kver=$2
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	grep -v -E "^($(IFS='|'; echo "$*"))=" "/lib/modules/$kver/build/.config" >"$dir/.config"
	echo "all:" >"$dir/Makefile"
}

# excluded DESCRIPTION KVER KDIR [ARCH]: dkms build must refuse with 77, compiling nothing.
excluded() {
	local kver=$2 kdir=$3 arch=${4:-x86_64} rc
	echo "+ dkms build -k $kver --kernelsourcedir $kdir -a $arch" >>"$LOG"
	dkms build -m "$NAME" -v "$VERSION" -k "$kver" -a "$arch" \
		--kernelsourcedir "$kdir" >>"$LOG" 2>&1
	rc=$?
	echo "exit $rc" >>"$LOG"
	if [ "$rc" -eq 77 ] && [ ! -d "/var/lib/dkms/$NAME/$VERSION/$kver" ]; then
		pass "$1"
	else
		fail "$1 (dkms exit $rc, want 77)"
	fi
}

# ---------------------------------------------------------------- setup
log "setup"
need=()
command -v dkms >/dev/null || need+=(dkms)
command -v pahole >/dev/null || need+=(dwarves)
command -v xz >/dev/null || need+=(xz-utils)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
	apt_install "${need[@]}" || abort "apt-get install ${need[*]}"
fi
pass "tools: $(dkms --version), pahole $(pahole --version)"

for s in "${SERIES[@]}"; do
	k=$(resolve_kver "$s")
	if [ -z "$k" ]; then
		apt_update_once
		k=$(resolve_kver "$s")
	fi
	[ -n "$k" ] || abort "cannot resolve the $s kernel release"
	KVER[$s]=$k
	check "headers for $s ($k) at /lib/modules/$k/build" install_headers "$s" "$k" ||
		abort "no headers for $s"
done
KVERS="${KVER[6.1]} ${KVER[6.12]}"

cleanup
check "clean before the run" is_clean || abort "could not clean up a previous run"

# ---------------------------------------------------------------- A: dkms
log "A: make dkms-install for $KVERS"
check "make dkms-install DKMS_KVERS=\"$KVERS\"" mk dkms-install DKMS_KVERS="$KVERS"
for s in "${SERIES[@]}"; do
	k=${KVER[$s]}
	check "dkms status: installed for $s ($k)" dkms_installed "$k"
	ko=$(installed_ko "$k")
	if [ -n "$ko" ]; then
		rm -f "$OUT/$s/$MOD.ko"
		copy_ko "$ko" "$OUT/$s/$MOD.ko"
		check "$s: $ko is version $VERSION for $k" ko_ok "$OUT/$s/$MOD.ko" "$k"
		check "$s: DKMS signed the module with its MOK key" \
			sh -c "modinfo -F signer '$OUT/$s/$MOD.ko' | grep -q 'DKMS module signing key'"
		echo "test-dkms: $s module for the QEMU rig: $OUT/$s/$MOD.ko"
	else
		fail "$s: no $MOD.ko under /lib/modules/$k/updates"
	fi
done
check "dkms-install put the udev rule and modules-load.d file in place" \
	test -f /usr/lib/udev/rules.d/70-secretmem.rules -a -f /usr/lib/modules-load.d/secretmem.conf

k=${KVER[6.1]}
fake_kdir "$CACHE/pkg/fake-nox86" "$k" CONFIG_X86_64
excluded "BUILD_EXCLUSIVE_CONFIG refuses a kernel without CONFIG_X86_64" \
	"6.1.999-nox86" "$CACHE/pkg/fake-nox86"
fake_kdir "$CACHE/pkg/fake-nommu" "$k" CONFIG_MMU
excluded "BUILD_EXCLUSIVE_CONFIG refuses a kernel without CONFIG_MMU" \
	"6.1.999-nommu" "$CACHE/pkg/fake-nommu"
fake_kdir "$CACHE/pkg/fake-old" "$k"
excluded "BUILD_EXCLUSIVE_KERNEL refuses kernel 5.10" "5.10.0-99-amd64" "$CACHE/pkg/fake-old"
excluded "BUILD_EXCLUSIVE_ARCH refuses i686" "6.1.999-i686" "$CACHE/pkg/fake-old" i686
fake_kdir "$CACHE/pkg/fake-nokprobes" "$k" CONFIG_KPROBES
echo "+ dkms build (no CONFIG_KPROBES: must not be excluded)" >>"$LOG"
dkms build -m "$NAME" -v "$VERSION" -k 6.1.999-nokprobes \
	--kernelsourcedir "$CACHE/pkg/fake-nokprobes" >>"$LOG" 2>&1
rc=$?
if [ "$rc" -ne 77 ]; then
	pass "a kernel without CONFIG_KPROBES is not excluded (dkms went on to build, exit $rc)"
else
	fail "a kernel without CONFIG_KPROBES is excluded"
fi
rm -rf "$CACHE"/pkg/fake-* "/var/lib/dkms/$NAME/$VERSION/6.1.999-nokprobes"

check "make dkms-uninstall" mk dkms-uninstall
check "nothing left after dkms-uninstall" is_clean || cleanup

# ---------------------------------------------------------------- B: .deb
log "B: make deb; apt-get install ./$(basename "$DEB")"
if check "make deb" mk deb && check "$DEB exists" test -s "$DEB"; then
	check "apt-get install ./$(basename "$DEB")" apt-get install -y -q "$DEB"
	for s in "${SERIES[@]}"; do
		k=${KVER[$s]}
		check "deb: dkms status: installed for $s ($k)" dkms_installed "$k"
		ko=$(installed_ko "$k")
		if [ -n "$ko" ]; then
			copy_ko "$ko" "$CACHE/pkg/deb-$s.ko"
			check "deb: $s module is version $VERSION for $k" ko_ok "$CACHE/pkg/deb-$s.ko" "$k"
			rm -f "$CACHE/pkg/deb-$s.ko"
		else
			fail "deb: no $MOD.ko under /lib/modules/$k/updates"
		fi
	done
	check "deb: udev rule and modules-load.d file installed" \
		test -f /usr/lib/udev/rules.d/70-secretmem.rules -a -f /usr/lib/modules-load.d/secretmem.conf
	check "apt-get purge $NAME-dkms" apt-get purge -y -q "$NAME-dkms"
	check "nothing left after the purge" is_clean || cleanup
fi

# ---------------------------------------------------------------- C: plain install
k=${KVER[6.1]}
log "C: make install / uninstall against $k"
src=$CACHE/pkg/plain-src
rm -rf "$src"
mkdir -p "$src"
cp -a "$TOP/dkms.conf" "$TOP/module" "$TOP/include" "$src/"
find "$src/module" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
plain() { make --no-print-directory -f "$src/module/dkms.mk" -C "$src" SM_CACHE="$CACHE" \
	KDIR="/lib/modules/$k/build" "$@"; }
check "make install KDIR=/lib/modules/$k/build" plain install
check "installed /lib/modules/$k/updates/$MOD.ko, known to depmod" \
	sh -c "test -f /lib/modules/$k/updates/$MOD.ko && grep -q '^updates/$MOD.ko:' /lib/modules/$k/modules.dep"
check "make install put the udev rule, modules-load.d file and man page in place" \
	test -f /usr/lib/udev/rules.d/70-secretmem.rules -a -f /usr/lib/modules-load.d/secretmem.conf \
	-a -f /usr/share/man/man4/secretmem.4.gz
check "make uninstall" plain uninstall
check "nothing left after make uninstall" is_clean || cleanup
rm -rf "$src"

finish
