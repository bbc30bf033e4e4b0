#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch.sh - unpack Debian kernels (image + headers) into the cache, without
# touching /boot or the host's apt sources.
#
# Usage: userspace-test/qemu/fetch.sh [KEY...]   (default: 6.1 6.12)
#   KEY  SERIES (amd64 flavour), SERIES-cloud or SERIES-rt; SERIES is
#        5.10, 6.1, 6.12 or 7.2 (see lib.sh for how each is resolved)
# Env:   SM_CACHE  cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#
# Per key it writes $SM_CACHE/kernels/<key>/{vmlinuz,kdir,kver,root/}.
# The newest kernel of the series is resolved from apt at run time; work
# already done is skipped.  Host packages: make deps (lib.sh HOST_PKGS).
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE=$SM_CACHE

# download_deb SERIES PKG: the .deb of PKG in $CACHE/debs (downloaded once).
download_deb() {
	local s=$1 pkg=$2 deb
	deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		if ! (cd "$CACHE/debs" && sapt "$s" apt-get download -qq "$pkg" >/dev/null 2>&1); then
			# Stale package lists give 404s: refresh once and retry.
			if [ -z "$(series_release "$s")" ]; then host_apt_update; else
				rm -f "$(papt_dir "$(series_release "$s")")/.updated"; kernel_apt_ready "$s"; fi
			(cd "$CACHE/debs" && sapt "$s" apt-get download -qq "$pkg") >&2 \
				|| die "apt-get download $pkg failed"
		fi
		deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	fi
	[ -n "$deb" ] || die "no .deb for $pkg"
	echo "$deb"
}

fetch_key() {
	local key=$1 series flavour kver dir root pkg deb hdr mk l t vmlinuz
	series=$(key_series "$key")
	flavour=$(key_flavour "$key")
	[ "$(kernel_key "$series" "$flavour")" = "$key" ] || die "bad kernel key '$key'"
	dir=$(kernel_dir "$key")
	root=$dir/root

	kernel_apt_ready "$series" || die "apt-get update for $series failed"
	kver=$(kernel_release "$series" "$flavour")
	[ -n "$kver" ] || die "cannot resolve the $series $flavour kernel from apt"

	if [ -f "$dir/.done" ] && [ "$(cat "$dir/kver" 2>/dev/null)" = "$kver" ]; then
		log "$key: $kver already unpacked"
		return 0
	fi
	log "$key: kernel $kver"

	rm -rf "$dir"
	mkdir -p "$root"
	while IFS= read -r pkg; do
		deb=$(download_deb "$series" "$pkg")
		dpkg -x "$deb" "$root"
	done < <(kernel_pkgs "$series" "$kver")

	hdr=$root/usr/src/linux-headers-$kver
	[ -d "$hdr" ] || die "headers not unpacked: $hdr"
	# 7.2 ships it as /usr/lib/modules/<rel>/vmlinuz (linux-binary-<rel>).
	vmlinuz=
	for t in "$root/boot/vmlinuz-$kver" "$root/usr/lib/modules/$kver/vmlinuz"; do
		[ -f "$t" ] && { vmlinuz=$t; break; }
	done
	[ -n "$vmlinuz" ] || die "no vmlinuz of $kver in the image package"

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

	ln -sfn "$vmlinuz" "$dir/vmlinuz"
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
