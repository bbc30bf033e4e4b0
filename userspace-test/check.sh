#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check.sh - the whole suite (make check): lint, DKMS on every kernel, then
# the Check suite and stress in QEMU guests.  Every part runs even if one
# fails; each writes $SM_CACHE/logs/<part>-check.result
# ("<part> check PASS|FAIL <passed> <failed> <seconds>"); the summary has a
# line per part and ends with exactly "N passed, M failed, K skipped".  Exit status 0
# only if every part passed.
#
# Usage: userspace-test/check.sh
# Env:   CHECK_GUESTS  the guests, "KEY[/MODE][:SM_APPEND words joined by ,]..."
#                      (MODE check by default, or refuse: arm64 booted with
#                      rodata=on, the module must refuse to load; default
#                      below; the plan is in userspace-test/README.md)
#        CHECK_DEBUG=0 leave out the debug kernel
#        SM_CACHE      as everywhere (lib.sh)
set -uo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/qemu/lib.sh"

QEMU_DIR=$SM_TOP/userspace-test/qemu
LOGS=$SM_CACHE/logs
# Both methods, full suite and stress on every series' generic kernel; the
# rt kernel once (PREEMPT_RT); the debug kernel (KASAN, lockdep) last.
# arm64 (cross-built, qemu-system-aarch64, one method): the suite and
# stress on 6.1 and 6.12 (about 7 min each under load), and on both the
# fail-closed boot (rodata=on, about 1 min each).
# The openssl topic (the preload: user space, the same on every kernel)
# runs on 5.10 (no memfd_secret), 6.1, 7.2 and both arm64 kernels, not on
# 6.12, 6.1-rt and the debug kernel (Debian's openssl and nginx under KASAN
# cost about 5 minutes there; the libsecretmem topic still drives the
# module's fork paths everywhere).  6.1-rt runs the pte method only (the
# module's own flush and locks under PREEMPT_RT; the kernel method is the
# kernel's own code); 6.12-arm64 runs without stress (6.1-arm64 has it).
CHECK_GUESTS=${CHECK_GUESTS:-"5.10 6.1 6.12:sm.exclude=openssl 7.2 6.1-rt:sm.methods=pte,sm.exclude=openssl 6.1-arm64 6.12-arm64:sm.stress=0 6.1-arm64/refuse 6.12-arm64/refuse"}
if [ "${CHECK_DEBUG:-1}" = 1 ]; then
	CHECK_GUESTS="$CHECK_GUESTS debug:sm.exclude=openssl"
fi

rc=0
parts=()
declare -A result_of=()
mkdir -p "$LOGS"

# part NAME CMD...: run one part; a part that leaves no result file fails.
part() {
	local name=$1 start st=0 r
	shift
	parts+=("$name")
	rm -f "${result_of[$name]:-$LOGS/$name-check.result}"
	start=$(date +%s)
	log "=== $name"
	"$@" || st=$?
	[ "$st" = 0 ] || rc=1
	# lint writes no result of its own: it counts as one test.
	if [ "$name" = lint ]; then
		if [ "$st" = 0 ]; then r="PASS 1 0"; else r="FAIL 0 1"; fi
		echo "lint check $r $(($(date +%s) - start))" >"$LOGS/lint-check.result"
	fi
}

part lint make -C "$SM_TOP" --no-print-directory lint
part dkms "$SM_TOP/userspace-test/dkms/test-dkms.sh"
for g in $CHECK_GUESTS; do
	key=${g%%:*}
	append=
	[ "$key" = "$g" ] || append=$(tr ',' ' ' <<<"${g#*:}")
	mode=check
	case $key in */*) mode=${key#*/} key=${key%%/*} ;; esac
	ko=$SM_CACHE/dkms/$key/secretmem_dev.ko
	if [ -f "$ko" ]; then export SM_KO=$ko; else unset SM_KO; fi
	name=$key
	[ "$mode" = check ] || name=$key-$mode
	result_of[$name]=$LOGS/$key-$mode.result
	part "$name" env SM_APPEND="${SM_APPEND:-} $append" "$QEMU_DIR/run.sh" "$key" "$mode"
done

# ------------------------------------------------------------ the counting
# One place: each part's result line adds its passed and failed counts; a
# part without a result counts as one failure.
echo
echo "=== summary ==="
passed=0
failed=0
skipped=0
for p in "${parts[@]}"; do
	r=${result_of[$p]:-$LOGS/$p-check.result}
	if [ -f "$r" ]; then
		# "<part> check PASS|FAIL <passed> <failed> <secs> [<skipped>]"
		read -r _ _ v np nf t ns _ <"$r"
		ns=${ns:-0}
		echo "$p: $v ($np passed, $nf failed, $ns skipped, ${t}s)"
		[ "$v" = PASS ] || rc=1
		# run.sh's reasons for a failed guest (at most 12 lines).
		w=${r%.result}.why
		[ "$v" = PASS ] || [ ! -f "$w" ] || sed -n '1,12s/^/    /p' "$w"
	else
		np=0
		nf=1
		ns=0
		rc=1
		echo "$p: FAIL (no result)"
	fi
	passed=$((passed + np))
	failed=$((failed + nf))
	skipped=$((skipped + ns))
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
