#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch.sh - install the host tools of the QEMU test rig and unpack Debian's
# 6.1 and 6.12 kernels (image + headers) into the git-ignored cache .cache/.
#
# Usage: userspace-test/qemu/fetch.sh [SERIES...]   (default: 6.1 6.12)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#
# Per series it writes .cache/kernels/<series>/{vmlinuz,kdir,kver}.
# Package versions are resolved from apt at run time; work already done is
# skipped.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# root keeps the cache in /var/cache/secretmem, so that fresh clones reuse it.
CACHE=${SM_CACHE:-$([ "$(id -u)" -eq 0 ] && echo /var/cache/secretmem || echo "$TOP/.cache")}
export DEBIAN_FRONTEND=noninteractive

HOST_PKGS=(qemu-system-x86 busybox-static check dwarves cpio kmod gcc make
	   libelf-dev bc flex bison)

log() { echo "fetch: $*" >&2; }
die() { echo "fetch: ERROR: $*" >&2; exit 1; }

APT_UPDATED=0
apt_update_once() {
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		apt-get update -qq || die "apt-get update failed"
		APT_UPDATED=1
	fi
}

install_host_pkgs() {
	local missing=() p
	for p in "${HOST_PKGS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing: ${missing[*]}"
	apt_update_once
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
		|| die "apt-get install ${missing[*]} failed"
}

# Kernel version (uname -r style) of a series, from apt's package lists.
resolve_kver() {
	local series=$1 v=
	case $series in
	6.1)
		v=$(apt-cache depends linux-image-amd64 2>/dev/null |
		    sed -n 's/^ *Depends: linux-image-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' |
		    head -n1)
		;;
	6.12)
		v=$(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
		    sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)-unsigned$/\1/p' |
		    sort -V | tail -n1)
		;;
	*) die "unknown series '$series' (want 6.1 or 6.12)" ;;
	esac
	echo "$v"
}

# Download package $1 into $CACHE/debs unless a .deb of it is already there;
# print the path of the .deb.
download_deb() {
	local pkg=$1 deb
	deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		if ! (cd "$CACHE/debs" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
			# Stale package lists give 404s: refresh once and retry.
			apt_update_once
			(cd "$CACHE/debs" && apt-get download -qq "$pkg") \
				|| die "apt-get download $pkg failed"
		fi
		deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	fi
	[ -n "$deb" ] || die "no .deb for $pkg"
	echo "$deb"
}

fetch_series() {
	local series=$1 kver dir root kbuild pkg deb hdr common mk
	dir=$CACHE/kernels/$series
	root=$dir/root

	kver=$(resolve_kver "$series")
	if [ -z "$kver" ]; then
		apt_update_once
		kver=$(resolve_kver "$series")
	fi
	[ -n "$kver" ] || die "cannot resolve the $series kernel version from apt"

	if [ -f "$dir/.done" ] && [ "$(cat "$dir/kver" 2>/dev/null)" = "$kver" ]; then
		log "$series: $kver already unpacked"
		return 0
	fi
	log "$series: kernel $kver"

	kbuild=$(apt-cache depends "linux-headers-$kver" 2>/dev/null |
		 sed -n 's/^ *Depends: \(linux-kbuild-[^ ]*\)$/\1/p' | head -n1)
	[ -n "$kbuild" ] || die "cannot find the linux-kbuild package of linux-headers-$kver"

	rm -rf "$dir"
	mkdir -p "$root"
	for pkg in "linux-image-$kver-unsigned" "linux-headers-$kver" \
		   "linux-headers-${kver%-amd64}-common" "$kbuild"; do
		deb=$(download_deb "$pkg")
		dpkg -x "$deb" "$root"
	done

	hdr=$root/usr/src/linux-headers-$kver
	common=$root/usr/src/linux-headers-${kver%-amd64}-common
	[ -d "$hdr" ] || die "headers not unpacked: $hdr"
	[ -d "$common" ] || die "headers not unpacked: $common"
	[ -f "$root/boot/vmlinuz-$kver" ] || die "no vmlinuz-$kver in the image package"

	# The arch headers include the common Makefile by absolute path.
	mk=$hdr/Makefile
	sed -i "s|^include /usr/src/\(linux-headers-[^/]*-common\)/Makefile|include $root/usr/src/\1/Makefile|" "$mk"
	grep -q "^include $common/Makefile" "$mk" || die "could not redirect the include in $mk"

	# The arch headers' scripts/ and tools/ are symlinks to
	# /usr/lib/linux-kbuild-*; point them into the unpacked copy.
	local l t
	while IFS= read -r l; do
		t=$(readlink "$l")
		case $t in
		/usr/*) ln -sfn "$root$t" "$l" ;;
		esac
	done < <(find "$hdr" "$common" -maxdepth 2 -type l)

	ln -sfn "$root/boot/vmlinuz-$kver" "$dir/vmlinuz"
	echo "$hdr" >"$dir/kdir"
	echo "$kver" >"$dir/kver"
	touch "$dir/.done"
	log "$series: ready (kdir $hdr)"
}

# Package lists older than a day may name kernels the mirror no longer has.
lists_stale() {
	[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*InRelease' -mtime -1 2>/dev/null)" ]
}

main() {
	local s
	if lists_stale; then
		apt_update_once
	fi
	install_host_pkgs
	mkdir -p "$CACHE/debs" "$CACHE/kernels"
	if [ $# -eq 0 ]; then set -- 6.1 6.12; fi
	for s in "$@"; do
		fetch_series "$s"
	done
}

main "$@"
