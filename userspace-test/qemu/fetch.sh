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

# download_deb SERIES PKG[|ALT...]: the .deb of PKG (else of the first ALT
# that downloads) in $CACHE/debs, downloaded once.
download_deb() {
	local s=$1 alts=$2 pkg deb retried=0
	IFS='|' read -r -a alts <<<"$alts"
	while :; do
		for pkg in "${alts[@]}"; do
			deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
			[ -n "$deb" ] && { echo "$deb"; return 0; }
		done
		for pkg in "${alts[@]}"; do
			log "downloading $pkg"
			if (cd "$CACHE/debs" && sapt "$s" apt-get download -qq "$pkg" >/dev/null 2>&1); then
				deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
				[ -n "$deb" ] && { echo "$deb"; return 0; }
			fi
		done
		[ "$retried" = 0 ] || die "apt-get download ${alts[*]} failed"
		# Stale package lists give 404s: refresh once and retry.
		retried=1
		if [ -z "$(series_release "$s")" ]; then
			host_apt_update
		else
			rm -f "$(papt_dir "$(series_release "$s")")/.updated"
			kernel_apt_ready "$s"
		fi
	done
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
	local first=1
	while IFS= read -r pkg; do
		# The image (first) may be missing from the mirror while its
		# headers are there (5.10 rt-amd64 here): then build only.
		if [ "$first" = 1 ]; then
			first=0
			if ! deb=$(download_deb "$series" "$pkg"); then
				warn "$key: no image package on the mirror ($pkg): headers only, cannot boot it"
				continue
			fi
		else
			deb=$(download_deb "$series" "$pkg") || exit 1
		fi
		dpkg -x "$deb" "$root"
	done < <(kernel_pkgs "$series" "$kver")

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
