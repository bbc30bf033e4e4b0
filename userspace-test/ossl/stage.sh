#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# stage.sh - put what the OpenSSL tests need into an initramfs staging tree:
# the host's own (Debian 12) openssl binary with its dynamic loader and
# libraries, openssl.cnf, libsecretmem-openssl.so, the unit-test program,
# and fresh keys: for each of RSA-2048, P-256 and Ed25519 one key the
# preloaded server uses and one for the control server, each with a
# self-signed certificate and its needle file (lib/needles.h).
#
# Usage: userspace-test/ossl/stage.sh STAGE_DIR     (called by mkinitramfs.sh)
#
# The keys are made here, at every initramfs build, and never kept in git.
# The guest gets each key only as its PEM file (base64 text: no binary
# needle occurs in it) and the needles only masked (needle = mask ^ masked).
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../qemu/lib.sh"
TOP=$SM_TOP
STAGE=${1:?usage: stage.sh STAGE_DIR}
BUILD=$TOP/userspace-test/build/ossl
PRELOAD=$TOP/lib/build/libsecretmem-openssl.so
OPENSSL=$(command -v openssl || true)

if [ -z "$OPENSSL" ] || [ ! -x "$BUILD/needles" ] || [ ! -x "$BUILD/ossl_unit" ] || [ ! -f "$PRELOAD" ]; then
	die "the OpenSSL tests need openssl, $BUILD/needles and $PRELOAD (make -C userspace-test all)"
fi

# The binary and everything ld.so loads for it, at the same paths.
copy_with_libs() {
	local f=$1 lib
	install -D -m 0755 "$f" "$STAGE$f"
	for lib in $(ldd "$f" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
		[ -e "$STAGE$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$STAGE$lib"
	done
}
copy_with_libs "$OPENSSL"
copy_with_libs "$BUILD/ossl_unit"
# Debian's /lib64 and /lib are /usr symlinks on the host; ld.so's own path.
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$STAGE/lib64/ld-linux-x86-64.so.2" ]; then
	install -D -m 0755 "$(readlink -f /lib64/ld-linux-x86-64.so.2)" \
		"$STAGE/lib64/ld-linux-x86-64.so.2"
fi
CNF=$(readlink -f /usr/lib/ssl/openssl.cnf 2>/dev/null || true)
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
		"$OPENSSL" pkey -in "$k.pem" -text -noout | "$BUILD/needles" "$kind$use" $fields >"$k.needles"
		chmod 0644 "$k.pem" "$k.crt" "$k.needles"
	done
done
log "OpenSSL tests: $("$OPENSSL" version | cut -d' ' -f1-2), keys in /tests/ossl"
