#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run.sh - build everything for one Debian kernel, boot it in QEMU (TCG)
# with the test initramfs, save the serial log and judge the run.
#
# Usage: userspace-test/qemu/run.sh KEY MODE
#   KEY     SERIES (amd64 flavour), SERIES-cloud, SERIES-rt or SERIES-arm64,
#           SERIES one of 5.10, 6.1, 6.12, 7.2 (lib.sh; arm64: 6.1, 6.12);
#           or debug (6.1 + KASAN/lockdep, built by debug-kernel.sh)
#   MODE    check | demo | bench | shell | refuse (arm64: booted with
#           rodata=on, the module must refuse to load: fail closed)
# Env:
#   SM_APPEND   extra kernel command-line arguments (e.g. "sm.methods=pte")
#   SM_MEM      guest memory (default 512M, debug: 1024M)
#   SM_SMP      guest CPUs (default 2)
#   SM_TIMEOUT  hard limit in seconds for the QEMU run (default 900, arm64: 1800,
#               debug: 2400)
#   SM_CACHE    cache directory (default: /var/cache/secretmem for root, else <repo>/.cache)
#   SM_NO_BUILD set to 1 to skip fetch/module/userspace builds (reuse cache)
#   SM_ICOUNT   N: instruction-counting TCG (-icount shift=N, one TCG thread):
#               guest time is 2^N ns per guest instruction, so a CPU-bound
#               rate depends on the guest's instruction count, not on the
#               host's load (the openssl speed part of make bench)
#
# Output: serial log in $SM_CACHE/logs/<key>-<mode>.log (also on stdout),
#         result in $SM_CACHE/logs/<key>-<mode>.result
#         ("<key> <mode> PASS|FAIL <passed> <failed> <seconds>"),
#         and one line "VERDICT <key> <mode>: PASS|FAIL ..." at the end.
# Exit status: 0 only if the run passed.
set -euo pipefail
# shellcheck source=userspace-test/qemu/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOP=$SM_TOP
HERE=$TOP/userspace-test/qemu
CACHE=$SM_CACHE
SERIES=${1:?usage: run.sh KEY MODE}
MODE=${2:?usage: run.sh KEY MODE}
MEM=${SM_MEM:-512M}
SMP=${SM_SMP:-2}
TIMEOUT=${SM_TIMEOUT:-900}
FETCH=("$HERE/fetch.sh" "$SERIES")
if [ "$SERIES" = debug ]; then
	# KASAN takes 1/8 of RAM for its shadow; KASAN+lockdep under TCG is slow.
	MEM=${SM_MEM:-1024M}
	TIMEOUT=${SM_TIMEOUT:-2400}
	FETCH=("$HERE/debug-kernel.sh")
else
	case $(key_series "$SERIES") in
	5.10|6.1|6.12|7.2) ;;
	*) echo "run.sh: unknown kernel '$SERIES'" >&2; exit 2 ;;
	esac
	[ "$(kernel_key "$(key_series "$SERIES")" "$(key_flavour "$SERIES")")" = "$SERIES" ] ||
		{ echo "run.sh: unknown kernel '$SERIES'" >&2; exit 2; }
fi
# The key's architecture: arm64 keys are cross-built and boot in
# qemu-system-aarch64 (virt board, -cpu max: BTI, PAC, MTE emulated).
ARCH_KEY=amd64
[ "$SERIES" = debug ] || ARCH_KEY=$(key_arch "$SERIES")
UMAKE=()
if [ "$ARCH_KEY" = arm64 ]; then
	UMAKE=(ARCH=arm64 SYSROOT="$CACHE/sysroot/arm64")
	# TCG emulates arm64 about 2x slower than x86_64 here.
	TIMEOUT=${SM_TIMEOUT:-1800}
fi
EXPECTED_SKIPS=$TOP/userspace-test/expected-skips.txt
skipped=0
LOGDIR=$CACHE/logs
LOG=$LOGDIR/$SERIES-$MODE${SM_ICOUNT:+-icount}.log
RESULT=$LOGDIR/$SERIES-$MODE${SM_ICOUNT:+-icount}.result
INITRD=$CACHE/initramfs/$SERIES.cpio.gz

case $MODE in check|demo|bench|shell|refuse) ;; *) echo "run.sh: unknown mode '$MODE'" >&2; exit 2 ;; esac
if [ "$MODE" = refuse ] && [ "$ARCH_KEY" != arm64 ]; then
	echo "run.sh: mode refuse needs an arm64 key (rodata=on leaves the linear map in blocks)" >&2
	exit 2
fi

mkdir -p "$LOGDIR"
rm -f "$RESULT" "$LOGDIR/$SERIES-$MODE.why"

# Record a result and print the verdict line; exits with the verdict.
# The result file is "<series> <mode> PASS|FAIL <passed> <failed> <secs>
# <skipped>"; a skipped test is neither passed nor failed.
verdict() {
	local v=$1 passed=$2 failed=$3 secs=$4 why=$5
	if [ "$v" = FAIL ] && [ "$failed" -eq 0 ]; then
		failed=1
	fi
	echo "$SERIES $MODE $v $passed $failed $secs $skipped" >"$RESULT"
	echo "VERDICT $SERIES $MODE: $v ($passed passed, $failed failed, $skipped skipped, ${secs}s wall)${why:+ - $why}"
	[ "$v" = PASS ]
}

if [ "${SM_NO_BUILD:-0}" != 1 ]; then
	if ! "${FETCH[@]}" ||
	   ! "$HERE/build-module.sh" "$SERIES" >/dev/null; then
		verdict FAIL 0 1 0 "fetch or module build failed"
		exit 1
	fi
	if [ ! -f "$TOP/userspace-test/Makefile" ]; then
		echo "run.sh: ERROR: userspace-test/Makefile is missing" >&2
		verdict FAIL 0 1 0 "no userspace-test/Makefile"
		exit 1
	fi
	if ! make -C "$TOP/userspace-test" "${UMAKE[@]}" all; then
		verdict FAIL 0 1 0 "userspace-test build failed"
		exit 1
	fi
fi
if ! "$HERE/mkinitramfs.sh" "$SERIES" "$INITRD"; then
	verdict FAIL 0 1 0 "initramfs build failed"
	exit 1
fi

KDIR=$CACHE/kernels/$SERIES
VMLINUZ=$(readlink -f "$KDIR/vmlinuz" || true)
if [ ! -f "$VMLINUZ" ]; then
	verdict FAIL 0 1 0 "no kernel image for $SERIES (headers only: see fetch.sh)"
	exit 1
fi
# no_console_suspend: an oops while hibernation images are made in the
# guest (test_hibernate.c) would otherwise never reach the serial log.
# log_buf_len: the dmesg dump at the end must still hold every OOM report
# the limits tests provoke (each about 10 kB, with the markers before them).
CONSOLE=ttyS0
[ "$ARCH_KEY" = arm64 ] && CONSOLE=ttyAMA0
APPEND="console=$CONSOLE panic=-1 quiet no_console_suspend log_buf_len=8M sm.mode=$MODE"
# arm64 has one direct-map method (module/README.md).
[ "$ARCH_KEY" = arm64 ] && APPEND="$APPEND sm.methods=kernel"
case $SERIES in
6.1|6.1-*|debug)
	APPEND="$APPEND secretmem.enable=1"   # memfd_secret is off by default on 6.1
	;;
esac
# refuse: a linear map of block mappings, where the kernel's helpers do
# nothing (can_set_direct_map() false, arch/arm64/mm/pageattr.c): rodata=on
# instead of Debian's default full, and KFENCE's early pool (6.12 has
# KFENCE; a late pool alone makes can_set_direct_map() true).
[ "$MODE" = refuse ] && APPEND="$APPEND rodata=on kfence.sample_interval=100"
APPEND="$APPEND ${SM_APPEND:-}"

QEMU=(qemu-system-x86_64)
[ "$ARCH_KEY" = arm64 ] && QEMU=(qemu-system-aarch64 -M virt)
if [ -n "${SM_ICOUNT:-}" ]; then
	QEMU+=(-accel "tcg,thread=single" -icount "shift=$SM_ICOUNT")
else
	QEMU+=(-accel "tcg,thread=multi")
fi
QEMU+=(-cpu max -smp "$SMP" -m "$MEM"
      -nographic -no-reboot -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND")

echo "run.sh: booting $(cat "$KDIR/kver") mode=$MODE (timeout ${TIMEOUT}s)" >&2
echo "run.sh: ${QEMU[*]}" >&2

if [ "$MODE" = shell ]; then
	# Interactive: keep the terminal (Ctrl-A x quits QEMU).
	exec "${QEMU[@]}"
fi

# One boot more, once, only when the kernel died before /init printed
# SM-BOOTED: nothing of the project (module, tests) had run yet.  Under
# TCG a boot has been seen to die in the kernel's own early code (an int3
# of a text patch, 6.12, "Modules linked in:" empty).  The first log is
# kept as $LOG.boot1; a hang (timeout) is never booted again.
start=$(date +%s)
for attempt in 1 2; do
	set +e
	timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1 | tee "$LOG"
	qrc=${PIPESTATUS[0]}
	set -e
	if [ "$attempt" -eq 2 ] || [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ] ||
	   grep -q 'SM-BOOTED' "$LOG"; then
		break
	fi
	mv "$LOG" "$LOG.boot1"
	echo "run.sh: the kernel died before /init ran (no SM-BOOTED; log: $LOG.boot1): booting once more" >&2
done
secs=$(( $(date +%s) - start ))

# Judge the log (serial output has CRLF line ends and the firmware's
# terminal escapes before the first guest line).
clean=$(tr -d '\r' <"$LOG" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g')
fails=()
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	fails+=("QEMU timed out after ${TIMEOUT}s")
elif [ "$qrc" -ne 0 ]; then
	fails+=("QEMU exited with $qrc")
fi
if ! grep -q '^SM-DONE' <<<"$clean"; then
	fails+=("guest never reached SM-DONE (crash, panic or hang)")
	while IFS= read -r l; do
		fails+=("  console: $l")
	done < <(grep -E "Kernel panic|BUG:|Oops|general protection fault|RIP:|pc :" <<<"$clean" | head -n 10 || true)
fi
while IFS= read -r l; do
	fails+=("guest: $l")
done < <(grep '^SM-FAIL' <<<"$clean" || true)
while IFS= read -r l; do
	fails+=("nonzero exit: $l")
done < <(grep -E '^SM-EXIT [^ ]+ ' <<<"$clean" | grep -vE '^SM-EXIT [^ ]+ 0$' || true)

# Check summaries: "100%: Checks: 12, Failures: 0, Errors: 0".
read -r passed failed nsum < <(
	grep -oE 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$clean" |
	awk -F'[:,] *' '{ p += $2 - $4 - $6; f += $4 + $6; n++ }
			END { print p + 0, f + 0, n + 0 }')
if [ "$MODE" = check ]; then
	# Each stress run counts as one test (its exit status is its verdict).
	spass=$(grep -cE '^SM-EXIT stress-[^ ]+ 0$' <<<"$clean" || true)
	sruns=$(grep -cE '^SM-EXIT stress-' <<<"$clean" || true)
	passed=$((passed + spass))
	failed=$((failed + sruns - spass))
	nexit=$(grep -E '^SM-EXIT ' <<<"$clean" | grep -cvE '^SM-EXIT stress-' || true)
	methods=$(grep -cE '^SM-METHOD ' <<<"$clean" || true)
	[ "$methods" -gt 0 ] || fails+=("no test method ran")
	[ "$nexit" -eq "$methods" ] || fails+=("$methods methods started, $nexit finished")
	[ "$nsum" -ge "$methods" ] || fails+=("only $nsum Check summaries for $methods methods")
	[ "$failed" -eq 0 ] || fails+=("$failed Check test(s) failed")
	# Check's own lines for them ("file:line:F|E:tcase:test:iter: why").
	while IFS= read -r l; do
		fails+=("  $l")
	done < <(grep -E '^[^ :]+:[0-9]+:[FE]:' <<<"$clean" | head -n 20 || true)

	# Skips: the runner prints "SM-SKIP <test>: <why>" for each skipped
	# test and "SM-SKIPPED <k>" after Check's summary, which counts them as
	# passed; the stress program prints "SM-SKIP stress-<part>: <why>".
	skipped=$(awk '/^SM-SKIPPED [0-9]+$/ { k += $2 } END { print k + 0 }' <<<"$clean")
	passed=$((passed - skipped))
	# Each skip must be on the written list for this series and method.
	while IFS= read -r l; do
		fails+=("unexpected skip ($l)")
	done < <(awk -v series="$SERIES" '
		FNR == NR {
			if ($0 ~ /^#/ || NF < 3)
				next
			if ($3 ~ /\*$/) {	# a prefix: "ossl_*"
				np++
				ps[np] = $1; pm[np] = $2
				pp[np] = substr($3, 1, length($3) - 1)
			} else {
				ok[$1 SUBSEP $2 SUBSEP $3] = 1
			}
			next
		}
		/^SM-METHOD / { m = $2 }
		/^SM-SKIP / {
			n = $2
			sub(/:$/, "", n)
			found = ((series, m, n) in ok) || (("*", m, n) in ok) ||
				((series, "*", n) in ok) || (("*", "*", n) in ok)
			for (i = 1; !found && i <= np; i++)
				if ((ps[i] == series || ps[i] == "*") &&
				    (pm[i] == m || pm[i] == "*") && index(n, pp[i]) == 1)
					found = 1
			if (!found)
				print "method " m ": " $0
		}' FS='\t' "$EXPECTED_SKIPS" FS=' ' - <<<"$clean")
fi

if [ "$MODE" = refuse ]; then
	if grep -q '^SM-REFUSED ' <<<"$clean"; then
		passed=1
	else
		fails+=("the module did not refuse to load in a refuse run")
	fi
fi

# Kernel splats in the guest's dmesg dump.
# Boot banners of debug kernels that name a checker without reporting anything.
BENIGN='RCU lockdep checking is enabled'
# The OOM test provokes OOM kills on purpose and says so in the log
# ("expected OOM kills begin/end"): between those markers the kernel's OOM
# reports (from "invoked oom-killer" to "Killed process", with their Call
# Trace) are not splats; anything else there still is.
dmesg_text=$(sed -n '/^SM-DMESG-BEGIN/,/^SM-DMESG-END/p' <<<"$clean" | grep -vE "$BENIGN" |
	awk '/expected OOM kills begin/ { in_oom = 1 } /expected OOM kills end/ { in_oom = 0 }
	     in_oom && /invoked oom-killer/ { skip = 1 }
	     !skip { print } skip && /Killed process/ { skip = 0 }' || true)
# "Call trace:" is arm64's spelling of x86's "Call Trace:".
SPLAT='BUG:|WARNING:|Oops|KASAN|lockdep|possible circular locking|general protection fault|Call Trace|Call trace|kernel BUG|UBSAN|hung_task|blocked for more than'
if grep -qE "$SPLAT" <<<"$dmesg_text"; then
	fails+=("kernel splat in dmesg:")
	while IFS= read -r l; do
		fails+=("  $l")
	done < <(grep -E "$SPLAT" <<<"$dmesg_text" | head -n 20)
fi

echo
if [ ${#fails[@]} -eq 0 ]; then
	verdict PASS "$passed" "$failed" "$secs" ""
else
	printf 'run.sh: %s\n' "${fails[@]}" >&2
	# Why, for check.sh's summary; and the log kept under a name no later
	# run of this key overwrites.
	printf '%s\n' "${fails[@]}" >"$LOGDIR/$SERIES-$MODE.why"
	mkdir -p "$LOGDIR/failed"
	cp "$LOG" "$LOGDIR/failed/$SERIES-$MODE-$(date -u +%Y%m%dT%H%M%S).log" || true
	verdict FAIL "$passed" "$failed" "$secs" "${fails[0]}; log: $LOG" || true
	exit 1
fi
