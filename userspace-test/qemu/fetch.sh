#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch.sh - unpack Debian kernels (image + headers) into the cache, without
# touching /boot or the host's apt sources.
#
# Usage: userspace-test/qemu/fetch.sh [KEY...]   (default: 6.1 6.12)
#   KEY  SERIES (amd64 flavour), SERIES-cloud, SERIES-rt or SERIES-arm64;
#        SERIES is 5.10, 6.1, 6.12 or 7.2 (arm64: 6.1, 6.12; see lib.sh for
#        how each is resolved)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#
# Per key it writes $SM_CACHE/kernels/<key>/{vmlinuz,kdir,kver,root/}; an
# arm64 key also $SM_CACHE/sysroot/arm64 (the guest's busybox, libcheck.a).
# The newest kernel of the series is resolved from apt at run time; work
# already done is skipped.  Host packages: make deps (lib.sh HOST_PKGS).
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE=$SM_CACHE

# download_deb KEY PKG[|ALT...]: the .deb of PKG (else of the first ALT
# that downloads) in $CACHE/debs, downloaded once, of the key's
# architecture (or "all") from the key's apt; PKG:amd64 is a host package
# (a cross key's linux-kbuild) from the host's apt.
download_deb() {
	local key=$1 alts=$2 pkg name arch deb retried=0
	IFS='|' read -r -a alts <<<"$alts"
	# find_deb NAME ARCH: the newest cached .deb of NAME for ARCH or all.
	find_deb() {
		find "$CACHE/debs/" -maxdepth 1 \( -name "${1}_*_$2.deb" -o -name "${1}_*_all.deb" \) |
			sort -V | tail -n1
	}
	while :; do
		for pkg in "${alts[@]}"; do
			name=${pkg%:amd64} arch=$(key_arch "$key")
			[ "$name" = "$pkg" ] || arch=amd64
			deb=$(find_deb "$name" "$arch")
			[ -n "$deb" ] && { echo "$deb"; return 0; }
		done
		for pkg in "${alts[@]}"; do
			name=${pkg%:amd64} arch=$(key_arch "$key")
			log "downloading $pkg"
			if [ "$name" != "$pkg" ]; then
				arch=amd64
				(cd "$CACHE/debs" && apt-get download -qq "$name" >/dev/null 2>&1) || continue
			else
				(cd "$CACHE/debs" && sapt "$key" apt-get download -qq "$name" >/dev/null 2>&1) || continue
			fi
			deb=$(find_deb "$name" "$arch")
			[ -n "$deb" ] && { echo "$deb"; return 0; }
		done
		[ "$retried" = 0 ] || die "apt-get download ${alts[*]} failed"
		# Stale package lists give 404s: refresh once and retry.
		retried=1
		if [ -z "$(series_release "$key")" ] || [ "$name" != "$pkg" ]; then
			host_apt_update
		else
			rm -f "$(papt_dir "$(series_release "$key")")/.updated"
			kernel_apt_ready "$key"
		fi
	done
}

# The guest's userland of a cross key: busybox-static, libcheck.a (with
# libsubunit.a), and libcrypto.a and libsodium.a for the bench's allocator
# part, of that architecture, unpacked into $CACHE/sysroot/ARCH
# (the initramfs takes its busybox, the test build links against it);
# for the OpenSSL tests Debian 12's openssl and nginx binaries of that
# architecture with their libraries (libssl3, libc6, libpcre2-8-0, zlib1g,
# libcrypt1), which the initramfs copies.
fetch_sysroot() {
	local key=$1 arch pkg deb dir
	arch=$(key_arch "$key")
	dir=$CACHE/sysroot/$arch
	local pkgs="busybox-static check libsubunit-dev libsubunit0 libssl-dev libsodium-dev openssl libssl3 libc6 nginx libpcre2-8-0 zlib1g libcrypt1"
	[ "$(cat "$dir/.done" 2>/dev/null)" = "$pkgs" ] && return 0
	rm -rf "$dir"
	mkdir -p "$dir"
	for pkg in $pkgs; do
		deb=$(download_deb "$key" "$pkg") || exit 1
		dpkg -x "$deb" "$dir"
	done
	[ -x "$dir/bin/busybox" ] || die "no busybox in $dir"
	echo "$pkgs" >"$dir/.done"
	log "$arch userland for the guest: $dir"
}

fetch_key() {
	local key=$1 series flavour kver dir root pkg deb hdr mk l t vmlinuz
	series=$(key_series "$key")
	flavour=$(key_flavour "$key")
	[ "$(kernel_key "$series" "$flavour")" = "$key" ] || die "bad kernel key '$key'"
	dir=$(kernel_dir "$key")
	root=$dir/root

	kernel_apt_ready "$key" || die "apt-get update for $series failed"
	kver=$(kernel_release "$series" "$flavour")
	[ -n "$kver" ] || die "cannot resolve the $series $flavour kernel from apt"

	[ "$(key_arch "$key")" = amd64 ] || fetch_sysroot "$key"
	if [ -f "$dir/.done" ] && [ "$(cat "$dir/kver" 2>/dev/null)" = "$kver" ]; then
		log "$key: $kver already unpacked"
		return 0
	fi
	log "$key: kernel $kver"

	rm -rf "$dir"
	mkdir -p "$root"
	# The paths written into the headers are physical ones: kernels/ may be
	# a symlink into a cache shared with other users.
	root=$(cd "$root" && pwd -P)
	local first=1
	while IFS= read -r pkg; do
		# The image (first) may be missing from the mirror while its
		# headers are there (5.10 rt-amd64 here): then build only.
		if [ "$first" = 1 ]; then
			first=0
			if ! deb=$(download_deb "$key" "$pkg"); then
				warn "$key: no image package on the mirror ($pkg): headers only, cannot boot it"
				continue
			fi
		else
			deb=$(download_deb "$key" "$pkg") || exit 1
		fi
		dpkg -x "$deb" "$root"
	done < <(kernel_pkgs "$key" "$kver")

	hdr=$root/usr/src/linux-headers-$kver
	[ -d "$hdr" ] || die "headers not unpacked: $hdr"
	# 7.2 ships it as /usr/lib/modules/<rel>/vmlinuz (linux-binary-<rel>).
	vmlinuz=
	for t in "$root/boot/vmlinuz-$kver" "$root/usr/lib/modules/$kver/vmlinuz"; do
		[ -f "$t" ] && { vmlinuz=$t; break; }
	done
	[ -n "$vmlinuz" ] || warn "$key: no vmlinuz of $kver"

	# The arch headers name the common ones (include) and, since 7.2,
	# themselves (KBUILD_OUTPUT) by absolute /usr/src paths.
	mk=$hdr/Makefile
	sed -i -E "s#(^|[ =])/usr/src/(linux-headers-[^/ ]*)#\\1$root/usr/src/\\2#g" "$mk"
	grep -q "^include $root/usr/src/" "$mk" || die "could not redirect the include in $mk"
	! grep -q "[ =]/usr/src/" "$mk" || die "an absolute /usr/src path is left in $mk"

	# scripts/ and tools/ are symlinks to /usr/lib/linux-kbuild-*; point
	# them into the unpacked copy.
	while IFS= read -r l; do
		t=$(readlink "$l")
		case $t in
		/usr/*) ln -sfn "$root$t" "$l" ;;
		esac
	done < <(find "$root/usr/src" -maxdepth 3 -type l)

	[ -z "$vmlinuz" ] || ln -sfn "$vmlinuz" "$dir/vmlinuz"
	echo "$hdr" >"$dir/kdir"
	echo "$kver" >"$dir/kver"
	touch "$dir/.done"
	log "$key: ready (kdir $hdr)"
}

main() {
	local k
	mkdir -p "$CACHE/debs" "$CACHE/kernels"
	if [ $# -eq 0 ]; then set -- 6.1 6.12; fi
	for k in "$@"; do
		fetch_key "$k"
	done
}

main "$@"
