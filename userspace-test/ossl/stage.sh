#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# stage.sh - put what the OpenSSL tests need into an initramfs staging tree:
# the host's own (Debian 12) openssl binary with its dynamic loader and
# libraries, openssl.cnf, Debian 12's nginx (/usr/sbin/nginx, for the
# master/worker tests), libsecretmem-openssl.so, the unit-test program,
# and fresh keys: for each of RSA-2048, P-256 and Ed25519 one key the
# preloaded server uses and one for the control server, each with a
# self-signed certificate and its needle file (lib/needles.h).
#
# Usage: userspace-test/ossl/stage.sh STAGE_DIR [ARCH]   (called by mkinitramfs.sh)
#   ARCH  amd64 (default: the host's openssl and libraries, and the nginx
#         package of the host's apt unpacked into $SM_CACHE/nginx/amd64) or
#         arm64 (Debian 12's arm64 openssl, nginx and their libraries from
#         $SM_CACHE/sysroot/arm64, which fetch.sh unpacks; the keys are still
#         made by the host's openssl)
#
# The keys are made here, at every initramfs build, and never kept in git.
# The guest gets each key only as its PEM file (base64 text: no binary
# needle occurs in it) and the needles only masked (needle = mask ^ masked).
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../qemu/lib.sh"
TOP=$SM_TOP
STAGE=${1:?usage: stage.sh STAGE_DIR [ARCH]}
ARCH=${2:-amd64}
OPENSSL=$(command -v openssl || true)	# the host's: makes the keys
case $ARCH in
amd64)
	BUILD=$TOP/userspace-test/build/ossl
	PRELOAD=$TOP/lib/build/libsecretmem-openssl.so
	ROOT=			# the guest's openssl is the host's
	LIBDIRS=
	;;
arm64)
	BUILD=$TOP/userspace-test/build/arm64/ossl
	PRELOAD=$TOP/lib/build/arm64/libsecretmem-openssl.so
	ROOT=$SM_CACHE/sysroot/arm64
	LIBDIRS="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu"
	[ -x "$ROOT/usr/bin/openssl" ] || die "no $ROOT/usr/bin/openssl (fetch.sh 6.1-arm64)"
	;;
*)	die "stage.sh: unknown architecture '$ARCH'" ;;
esac
# The host's needles tool, not the cross build's.
NEEDLES=$TOP/userspace-test/build/ossl/needles
[ -x "$NEEDLES" ] || NEEDLES=$BUILD/needles

if [ -z "$OPENSSL" ] || [ ! -x "$NEEDLES" ] || [ ! -x "$BUILD/ossl_unit" ] || [ ! -f "$PRELOAD" ]; then
	die "the OpenSSL tests need openssl, $NEEDLES and $PRELOAD (make -C userspace-test all)"
fi

# A file of $ROOT (the sysroot), its symlinks followed inside $ROOT.
root_file() {
	local f=$1 t _
	for _ in 1 2 3 4 5 6 7 8; do
		[ -L "$ROOT$f" ] || break
		t=$(readlink "$ROOT$f")
		case $t in /*) f=$t ;; *) f=$(dirname "$f")/$t ;; esac
	done
	echo "$ROOT$f"
}

# Everything ld.so loads for the host binary @1 (ldd), at the host's paths.
copy_libs() {
	local lib
	for lib in $(ldd "$1" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
		[ -e "$STAGE$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$STAGE$lib"
	done
}

# A host binary and its libraries, at the same paths.
copy_with_libs() {
	install -D -m 0755 "$1" "$STAGE$1"
	copy_libs "$1"
}

# Debian 12's amd64 nginx binary: the host apt's package, downloaded once
# into $SM_CACHE/debs and unpacked into $SM_CACHE/nginx/amd64 (never
# installed: its service would start).  Its path.
host_nginx() {
	local dir=$SM_CACHE/nginx/amd64 deb
	if [ ! -x "$dir/usr/sbin/nginx" ]; then
		mkdir -p "$SM_CACHE/debs"
		(cd "$SM_CACHE/debs" && apt-get download -qq nginx >/dev/null 2>&1) ||
			{ host_apt_update && (cd "$SM_CACHE/debs" && apt-get download -qq nginx >/dev/null); } ||
			die "apt-get download nginx failed"
		deb=$(find "$SM_CACHE/debs/" -maxdepth 1 -name 'nginx_*_amd64.deb' | sort -V | tail -n1)
		[ -n "$deb" ] || die "no nginx .deb in $SM_CACHE/debs"
		rm -rf "$dir.new"
		mkdir -p "$dir.new"
		dpkg -x "$deb" "$dir.new"
		rm -rf "$dir"
		mv "$dir.new" "$dir"
	fi
	echo "$dir/usr/sbin/nginx"
}

# What ld.so loads for the sysroot ELF file @2 (named @1 in messages): its
# interpreter and its NEEDED libraries, each looked up in LIBDIRS, and
# theirs in turn; staged at their paths in the sysroot.
copy_root_libs() {
	local name=$1 elf=$2 lib dir found src
	lib=$(readelf -l "$elf" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
	if [ -n "$lib" ] && [ ! -e "$STAGE$lib" ]; then
		install -D -m 0755 "$(root_file "$lib")" "$STAGE$lib"
	fi
	for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		found=
		for dir in $LIBDIRS; do
			if [ -e "$ROOT$dir/$lib" ]; then
				found=$dir/$lib
				break
			fi
		done
		[ -n "$found" ] || die "$lib (needed by $name) is not in $ROOT"
		[ ! -e "$STAGE$found" ] || continue
		src=$(root_file "$found")
		install -D -m 0755 "$src" "$STAGE$found"
		copy_root_libs "$found" "$src"
	done
}

if [ -z "$ROOT" ]; then
	copy_with_libs "$OPENSSL"
	copy_with_libs "$BUILD/ossl_unit"
	NGINX=$(host_nginx)
	install -D -m 0755 "$NGINX" "$STAGE/usr/sbin/nginx"
	copy_libs "$NGINX"
	# Debian's /lib64 and /lib are /usr symlinks on the host; ld.so's own path.
	if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$STAGE/lib64/ld-linux-x86-64.so.2" ]; then
		install -D -m 0755 "$(readlink -f /lib64/ld-linux-x86-64.so.2)" \
			"$STAGE/lib64/ld-linux-x86-64.so.2"
	fi
	CNF=$(readlink -f /usr/lib/ssl/openssl.cnf 2>/dev/null || true)
else
	install -D -m 0755 "$ROOT/usr/bin/openssl" "$STAGE/usr/bin/openssl"
	copy_root_libs /usr/bin/openssl "$ROOT/usr/bin/openssl"
	copy_root_libs ossl_unit "$BUILD/ossl_unit"
	[ -x "$ROOT/usr/sbin/nginx" ] || die "no $ROOT/usr/sbin/nginx (fetch.sh 6.1-arm64)"
	install -D -m 0755 "$ROOT/usr/sbin/nginx" "$STAGE/usr/sbin/nginx"
	copy_root_libs /usr/sbin/nginx "$ROOT/usr/sbin/nginx"
	CNF=$(root_file /usr/lib/ssl/openssl.cnf)
fi
if [ -n "$CNF" ] && [ -f "$CNF" ]; then
	install -D -m 0644 "$CNF" "$STAGE/usr/lib/ssl/openssl.cnf"
fi

D=$STAGE/tests/ossl
mkdir -p "$D"
install -m 0755 "$PRELOAD" "$D/libsecretmem-openssl.so"
install -m 0755 "$BUILD/ossl_unit" "$D/ossl_unit"
install -m 0755 "$TOP/userspace-test/ossl/speed.sh" "$D/speed.sh"

RSA_FIELDS="privateExponent prime1 prime2 exponent1 exponent2 coefficient"
for kind in rsa p256 ed25519; do
	for use in "" -ctl; do
		k=$D/$kind$use
		case $kind in
		rsa)     "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k.pem" 2>/dev/null
			 fields=$RSA_FIELDS ;;
		p256)    "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k.pem"
			 fields=priv ;;
		ed25519) "$OPENSSL" genpkey -algorithm ED25519 -out "$k.pem"
			 fields=priv ;;
		esac
		"$OPENSSL" req -new -x509 -key "$k.pem" -subj "/CN=secretmem-test" -days 3650 \
			-out "$k.crt" 2>/dev/null
		# shellcheck disable=SC2086 # one word per field
		"$OPENSSL" pkey -in "$k.pem" -text -noout | "$NEEDLES" "$kind$use" $fields >"$k.needles"
		chmod 0644 "$k.pem" "$k.crt" "$k.needles"
	done
done
log "OpenSSL tests ($ARCH): $("$OPENSSL" version | cut -d' ' -f1-2) on the host made the keys in /tests/ossl"
