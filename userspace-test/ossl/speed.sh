#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# speed.sh - the OpenSSL part of the guest's bench mode: `openssl speed`
# sign operations per second for rsa2048, ecdsap256 and ed25519 without
# and with libsecretmem-openssl.so, in the same run.  With two CPUs or
# more the two runs of a round run at the same time, each pinned to its
# own CPU (the CPUs swapped from round to round), so that the host's load
# and QEMU's own pauses hit both alike; with one CPU they run one after
# the other, their order alternating.  Under TCG only the ratio means
# something.  Each algorithm starts with one pair that is not counted:
# under TCG the first run of a code path also pays for translating it.
#
# Usage: speed.sh [SECONDS [ROUNDS]]   (default 2 s per phase, 10 rounds)
# Prints one "BENCH ossl_speed alg=A plain=N preload=N ratio=R" line per
# algorithm: the mean sign ops/s, and the median of the rounds' ratios.
D=${OSSL_DIR:-/tests/ossl}
SECS=${1:-2}
ROUNDS=${2:-10}
OPENSSL=/usr/bin/openssl

if [ ! -x "$OPENSSL" ] || [ ! -f "$D/libsecretmem-openssl.so" ]; then
	echo "SM-SKIP ossl_speed: no $OPENSSL or preload in this initramfs"
	exit 0
fi

# sign/s of one run: +F2 (RSA) and +F4 (ECDSA) give sign/s in field 4,
# +F6 (EdDSA) in field 5.
sign_rate() {
	"$@" speed -seconds "$SECS" -mr "$ALG" 2>/dev/null |
		awk -F: '/^\+F2:|^\+F4:/ { print $4; exit } /^\+F6:/ { print $5; exit }'
}

# One round: plain and preload sign/s into $TMP/plain and $TMP/preload.
# $1 (0 or 1) picks the CPU of the plain run, or which runs first.
pair() {
	if [ "$NCPU" -ge 2 ]; then
		sign_rate taskset -c "$1" env -u LD_PRELOAD "$OPENSSL" >"$TMP/plain" &
		p1=$!
		sign_rate taskset -c $((1 - $1)) env LD_PRELOAD="$PRE" "$OPENSSL" >"$TMP/preload" &
		p2=$!
		wait "$p1" "$p2"
	elif [ "$1" -eq 0 ]; then
		sign_rate env -u LD_PRELOAD "$OPENSSL" >"$TMP/plain"
		sign_rate env LD_PRELOAD="$PRE" "$OPENSSL" >"$TMP/preload"
	else
		sign_rate env LD_PRELOAD="$PRE" "$OPENSSL" >"$TMP/preload"
		sign_rate env -u LD_PRELOAD "$OPENSSL" >"$TMP/plain"
	fi
}

PRE=$D/libsecretmem-openssl.so
NCPU=$(nproc 2>/dev/null || echo 1)
command -v taskset >/dev/null 2>&1 || NCPU=1
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
rc=0
for ALG in rsa2048 ecdsap256 ed25519; do
	plain=0
	pre=0
	ratios=
	r=0
	# the warm-up pair, not counted
	pair 0 >/dev/null
	while [ "$r" -lt "$ROUNDS" ]; do
		pair $((r % 2))
		a=$(cat "$TMP/plain")
		b=$(cat "$TMP/preload")
		if [ -z "$a" ] || [ -z "$b" ]; then
			echo "SM-FAIL ossl_speed $ALG: openssl speed gave no result (plain '$a', preload '$b')"
			rc=1
			break
		fi
		plain=$(awk -v x="$plain" -v y="$a" 'BEGIN { printf "%.1f", x + y }')
		pre=$(awk -v x="$pre" -v y="$b" 'BEGIN { printf "%.1f", x + y }')
		ratios="$ratios $(awk -v x="$a" -v y="$b" 'BEGIN { printf "%.4f", (x > 0 ? y / x : 0) }')"
		r=$((r + 1))
	done
	# the median of the rounds' ratios: a round's two runs overlap or
	# are adjacent in time, so load from outside the guest hits both alike
	med=$(for x in $ratios; do echo "$x"; done | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	awk -v a="$ALG" -v p="$plain" -v q="$pre" -v n="$ROUNDS" -v m="$med" -v all="$ratios" 'BEGIN {
		printf "BENCH ossl_speed alg=%s plain=%.1f preload=%.1f ratio=%.3f (sign/s means, median of %d rounds\x27 ratios:%s)\n",
		       a, p / n, q / n, m, n, all }'
done
exit $rc
