#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# test-dkms.sh - checks DKMS, .deb and plain installs of secretmem_dev against
# the headers of every Debian kernel: 6.1 and 6.12 on the host's system DKMS,
# 5.10 and 7.2 in their build chroots (lib.sh chroot_for), each in the
# amd64, cloud-amd64 and rt-amd64 flavours.
#
# Usage (root, Debian 12): userspace-test/dkms/test-dkms.sh
# Env:   SM_CACHE   cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#        DKMS_KEYS  the kernels (default: all twelve, see lib.sh for the keys)
#
# Host tools come from make deps.  It installs linux-headers-<kver> of each
# host kernel (6.12's headers depend on a kernel image, which is satisfied by
# a local stub package so that no image, initramfs or udev is installed),
# and in each chroot the headers of its kernels, then:
#   A. make -f module/dkms.mk dkms-install for the host kernels; checks dkms
#      status, the installed .ko (version, vermagic, signature); copies each
#      DKMS-built module to $SM_CACHE/dkms/<key>/secretmem_dev.ko for the QEMU
#      rig; checks that BUILD_EXCLUSIVE refuses unsupported kernels with
#      dkms exit 77; make dkms-uninstall; checks nothing is left.
#   B. make deb; apt-get install ./secretmem-dkms_<v>_all.deb; checks it is
#      installed for the host kernels; apt-get purge; checks nothing is left.
#   C. make install / make uninstall (plain kbuild) against the 6.1 headers.
#   D. in each chroot (bullseye: 5.10, sid: 7.2): dkms add, build, install
#      for its kernels; status, version, vermagic; the .ko for the rig;
#      dkms remove --all; nothing left.
# Each check prints PASS or FAIL; the last line is "N passed, M failed".
# The result goes to .cache/logs/dkms-check.result as
# "dkms check PASS|FAIL <passed> <failed> <seconds>", the log to dkms-check.log.
# Helpers run through check "$@", which shellcheck cannot follow:
# shellcheck disable=SC2317
set -uo pipefail

# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../qemu/lib.sh"
TOP=$SM_TOP
CACHE=$SM_CACHE
OUT=$CACHE/dkms
LOGDIR=$CACHE/logs
LOG=$LOGDIR/dkms-check.log
RESULT=$LOGDIR/dkms-check.result
NAME=secretmem
MOD=secretmem_dev
read -r -a KEYS <<<"${DKMS_KEYS:-5.10 5.10-cloud 5.10-rt 6.1 6.1-cloud 6.1-rt 6.12 6.12-cloud 6.12-rt 7.2 7.2-cloud 7.2-rt}"
SERIES=()	# the host's kernels
declare -A CHROOT_KEYS	# release -> its kernels
for k in "${KEYS[@]}"; do
	r=$(chroot_for "$(key_series "$k")")
	if [ -z "$r" ]; then SERIES+=("$k"); else CHROOT_KEYS[$r]+=" $k"; fi
done
# One DKMS check at a time on this machine: they share the system's DKMS
# tree and /lib/modules (a second one waits here).
exec 9>/tmp/secretmem-dkms.lock
flock 9
START=$(date +%s)

passed=0
failed=0
declare -A KVER

mkdir -p "$LOGDIR" "$OUT"
: >"$LOG"
rm -f "$RESULT"

step() { echo "test-dkms: $*"; echo "=== $*" >>"$LOG"; }
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

# apt_install PKG...: install kernel headers for the test (the packages
# under test's prerequisites, not host tools), refreshing the lists once.
apt_install() {
	echo "+ apt-get install $*" >>"$LOG"
	apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1 && return 0
	host_apt_update >>"$LOG" 2>&1 && apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1
}

# key_kver KEY: the kernel release of a key (lib.sh's one definition).
key_kver() {
	local key=$1
	kernel_apt_ready "$(key_series "$key")" >>"$LOG" 2>&1
	kernel_release "$(key_series "$key")" "$(key_flavour "$key")"
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
	local kver=$2 stub deps st
	if [ -f "/lib/modules/$kver/build/Makefile" ] &&
	   dpkg -s "linux-headers-$kver" >/dev/null 2>&1; then
		return 0
	fi
	# (Captured first: grep -q closing the pipe early fails it under pipefail.)
	deps=$(apt-cache depends "linux-headers-$kver" 2>/dev/null)
	st=$(dpkg -s "linux-image-$kver" "linux-image-$kver-unsigned" 2>/dev/null || true)
	if grep -q "Depends: linux-image-" <<<"$deps" &&
	   ! grep -q '^Status: install ok installed' <<<"$st"; then
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

# warning_free KVER [ROOT]: DKMS's make.log of KVER (under ROOT) exists and
# has no compiler warning.
warning_free() {
	local k=$1 root=${2:-} f
	for f in "$root/var/lib/dkms/$NAME/$VERSION/$k/x86_64/log/make.log" \
		 "$root/var/lib/dkms/$NAME/$VERSION/build/make.log"; do
		[ -f "$f" ] || continue
		echo "$f"
		! grep -E 'warning:|error:' "$f"
		return
	done
	echo "no make.log of $k"
	return 1
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
step "setup"
for t in dkms pahole xz openssl zstd mmdebstrap; do
	command -v "$t" >/dev/null || abort "no $t: run make deps"
done
pass "tools: $(dkms --version), pahole $(pahole --version)"

# The host parts need the 6.1 kernel among the keys (the fake kernels of
# the BUILD_EXCLUSIVE checks and the plain install are made from it).
if [[ " ${SERIES[*]} " == *" 6.1 "* ]]; then
	for s in "${SERIES[@]}"; do
		k=$(key_kver "$s")
		[ -n "$k" ] || abort "cannot resolve the $s kernel release"
		KVER[$s]=$k
		check "headers for $s ($k) at /lib/modules/$k/build" install_headers "$s" "$k" ||
			abort "no headers for $s"
	done
	KVERS=
	for s in "${SERIES[@]}"; do KVERS="$KVERS ${KVER[$s]}"; done
	KVERS=${KVERS# }

	cleanup
	check "clean before the run" is_clean || abort "could not clean up a previous run"

	# ---------------------------------------------------------------- A: dkms
	step "A: make dkms-install for $KVERS"
	check "make dkms-install DKMS_KVERS=\"$KVERS\"" mk dkms-install DKMS_KVERS="$KVERS"
	for s in "${SERIES[@]}"; do
		k=${KVER[$s]}
		check "dkms status: installed for $s ($k)" dkms_installed "$k"
		check "$s: DKMS's build log has no warning" warning_free "$k"
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
	fake_kdir "$CACHE/pkg/fake-nommu" "$k" CONFIG_MMU
	excluded "BUILD_EXCLUSIVE_CONFIG refuses a kernel without CONFIG_MMU" \
		"6.1.999-nommu" "$CACHE/pkg/fake-nommu"
	fake_kdir "$CACHE/pkg/fake-old" "$k"
	excluded "BUILD_EXCLUSIVE_KERNEL refuses kernel 5.4" "5.4.0-99-amd64" "$CACHE/pkg/fake-old"
	excluded "BUILD_EXCLUSIVE_KERNEL refuses kernel 4.19" "4.19.0-99-amd64" "$CACHE/pkg/fake-old"
	excluded "BUILD_EXCLUSIVE_ARCH refuses i686" "6.1.999-i686" "$CACHE/pkg/fake-old" i686
	excluded "BUILD_EXCLUSIVE_ARCH refuses riscv64" "6.1.999-riscv64" "$CACHE/pkg/fake-old" riscv64
	# aarch64 is supported (the fake kernel then builds nothing: any exit but 77).
	echo "+ dkms build -a aarch64 (must not be excluded)" >>"$LOG"
	dkms build -m "$NAME" -v "$VERSION" -k 6.1.999-arm64 -a aarch64 \
		--kernelsourcedir "$CACHE/pkg/fake-old" >>"$LOG" 2>&1
	rc=$?
	if [ "$rc" -ne 77 ]; then
		pass "BUILD_EXCLUSIVE_ARCH lets aarch64 through (dkms went on to build, exit $rc)"
	else
		fail "BUILD_EXCLUSIVE_ARCH refuses aarch64"
	fi
	rm -rf "/var/lib/dkms/$NAME/$VERSION/6.1.999-arm64"
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
	step "B: make deb; apt-get install ./$(basename "$DEB")"
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
	step "C: make install / uninstall against $k"
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

fi

# ---------------------------------------------------------------- D: chroots
# in_chroot REL CMD...: a command in the build chroot (cache and repo bind-mounted).
in_chroot() { chroot_run "$@"; }

# chroot_clean REL: nothing of the module left in the chroot's DKMS tree.
chroot_clean() {
	local d
	d=$(chroot_dir "$1")
	[ ! -e "$d/var/lib/dkms/$NAME" ] || { echo "left: $d/var/lib/dkms/$NAME"; return 1; }
	[ ! -e "$d/usr/src/$NAME-$VERSION" ] || { echo "left: $d/usr/src/$NAME-$VERSION"; return 1; }
	[ -z "$(find "$d/lib/modules" -name "$MOD.ko*" 2>/dev/null)" ] || { echo "left: a $MOD.ko"; return 1; }
}

for rel in "${!CHROOT_KEYS[@]}"; do
	read -r -a ckeys <<<"${CHROOT_KEYS[$rel]}"
	step "D: DKMS in the $rel chroot for ${ckeys[*]}"
	check "$rel chroot ready" chroot_ensure "$rel" || continue
	croot=$(chroot_dir "$rel")
	ckvers=()
	hdrs=()
	for key in "${ckeys[@]}"; do
		k=$(key_kver "$key")
		[ -n "$k" ] || { fail "cannot resolve the $key kernel release"; continue; }
		KVER[$key]=$k
		ckvers+=("$k")
		[ -f "$croot/lib/modules/$k/build/Makefile" ] || hdrs+=("linux-headers-$k")
	done
	[ ${#ckvers[@]} -gt 0 ] || continue
	if [ ${#hdrs[@]} -gt 0 ]; then
		check "$rel chroot: apt-get install ${hdrs[*]}" in_chroot "$rel" sh -c \
			"apt-get -qq -o Acquire::Check-Valid-Until=false update &&
			 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${hdrs[*]}" ||
			continue
	fi
	in_chroot "$rel" sh -c "for v in /var/lib/dkms/$NAME/*/; do [ -d \"\$v\" ] &&
		dkms remove $NAME/\$(basename \"\$v\") --all; done; rm -rf /var/lib/dkms/$NAME /usr/src/$NAME-*" >>"$LOG" 2>&1
	find "$croot/lib/modules" -name "$MOD.ko*" -delete 2>/dev/null
	check "$rel chroot: make sm-dkms-src" mk sm-dkms-src || continue
	rm -rf "$croot/usr/src/$NAME-$VERSION"
	cp -a "$CACHE/pkg/src/$NAME-$VERSION" "$croot/usr/src/"
	check "$rel chroot: dkms add" in_chroot "$rel" dkms add -m "$NAME" -v "$VERSION"
	for key in "${ckeys[@]}"; do
		k=${KVER[$key]:-}
		[ -n "$k" ] || continue
		# dkms runs make -j<cores>; the build is warning-free or fails here.
		check "$key ($k): dkms build + install in the $rel chroot" in_chroot "$rel" sh -c \
			"dkms build -m $NAME -v $VERSION -k $k && dkms install -m $NAME -v $VERSION -k $k" || continue
		check "$key: DKMS's build log has no warning" warning_free "$k" "$croot"
		check "$key: dkms status installed" in_chroot "$rel" sh -c \
			"dkms status -m $NAME -v $VERSION -k $k | tee /dev/stderr | grep -q ': installed'"
		ko=$(find "$croot/lib/modules/$k/updates" -name "$MOD.ko*" 2>/dev/null | head -n1)
		if [ -n "$ko" ]; then
			rm -f "$OUT/$key/$MOD.ko"
			copy_ko "$ko" "$OUT/$key/$MOD.ko"
			check "$key: the module is version $VERSION for $k" ko_ok "$OUT/$key/$MOD.ko" "$k"
			echo "test-dkms: $key module for the QEMU rig: $OUT/$key/$MOD.ko"
		else
			fail "$key: no $MOD.ko under $croot/lib/modules/$k/updates"
		fi
	done
	check "$rel chroot: dkms remove --all" in_chroot "$rel" dkms remove "$NAME/$VERSION" --all
	rm -rf "$croot/usr/src/$NAME-$VERSION"
	check "$rel chroot: nothing left" chroot_clean "$rel"
done

finish
