# SPDX-License-Identifier: GPL-2.0
# lib.sh - the one shell library of the test rig: sourced (bash) by every
# script in userspace-test/qemu, userspace-test/dkms and userspace-test/check.sh.
#
#   log/warn/die         messages on stderr, prefixed with the script's name
#   SM_TOP, SM_CACHE     the repository and the cache (root: /var/cache/secretmem,
#                        others <repo>/.cache; SM_CACHE overrides)
#   host_install PKG...  the host's apt-get install of what is missing
#   HOST_PKGS            what the rig needs on the host (make deps)
#   papt RELEASE CMD...  apt-get/apt-cache with a private apt state for another
#                        Debian release (bullseye, sid); the host's sources are
#                        never touched
#   kernel_key/kernel_release/kernel_pkgs ...  the one definition of each kernel
#                        series and flavour (see below)
#   chroot_for/chroot_make ...  the build chroots (sid for 7.2, bullseye for 5.10)
#
# Kernel series (resolved at run time, never pinned):
#   5.10  5.10.0-NN-FLAVOUR        bullseye + bullseye-security (private apt)
#   6.1   6.1.0-NN-FLAVOUR         bookworm (the host's apt)
#   6.12  6.12.NN+deb12-FLAVOUR    bookworm (the host's apt)
#   7.2   7.2.NN+deb14-FLAVOUR     sid (private apt)
# Flavours: amd64 (default), cloud-amd64, rt-amd64, and arm64 (6.1, 6.12:
# bookworm through a private apt state of architecture arm64; the host's
# dpkg architectures are never changed).  A "key" names one kernel in the
# cache: SERIES for amd64, SERIES-cloud, SERIES-rt, SERIES-arm64, or "debug".
# key_arch KEY says which architecture it is built for and boots on.
# shellcheck shell=bash

SM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${SM_CACHE:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then SM_CACHE=/var/cache/secretmem; else SM_CACHE=$SM_TOP/.cache; fi
fi
export SM_CACHE
export DEBIAN_FRONTEND=noninteractive
SM_PROG=${SM_PROG:-$(basename "${0%.sh}")}

log() { echo "$SM_PROG: $*" >&2; }
warn() { echo "$SM_PROG: warning: $*" >&2; }
die() { echo "$SM_PROG: ERROR: $*" >&2; exit 1; }

# ------------------------------------------------------------------ host apt
# Everything the rig, the lint and the DKMS test need on the host (make deps).
# shellcheck disable=SC2034 # used by the Makefile's deps target
HOST_PKGS=(qemu-system-x86 qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross busybox-static check dwarves cpio kmod gcc make libsodium-dev cppcheck
	   libelf-dev libssl-dev bc flex bison xz-utils zstd openssl dkms sparse
	   shellcheck linux-source-6.1 mmdebstrap build-essential)

SM_APT_UPDATED=0
host_apt_update() {
	if [ "$SM_APT_UPDATED" = 0 ]; then
		log "apt-get update"
		apt-get update -qq >&2 || return 1
		SM_APT_UPDATED=1
	fi
}

# host_install PKG...: apt-get install those not installed yet.
host_install() {
	local missing=() p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run make deps as root"
	log "apt-get install ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 && return 0
	host_apt_update && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# host_require PKG...: die unless all are installed (make deps installs them).
host_require() {
	local missing=() p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing packages (${missing[*]}): run make deps"
}

# The host's package lists older than a day may name kernels the mirror no
# longer has.
host_lists_fresh() {
	[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*InRelease' -mtime -1 2>/dev/null)" ]
}

# --------------------------------------------------------------- private apt
# The mirror the host uses (first deb.debian.org-style URI of its sources).
sm_mirror() {
	local m
	m=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
		/etc/apt/sources.list.d/ 2>/dev/null | head -n1 | awk '{print $2}')
	echo "${m%/}"
}

# The private apt state of RELEASE: $SM_CACHE/apt/RELEASE/{sources.list,lists,cache}.
papt_dir() { echo "$SM_CACHE/apt/$1"; }

papt_opts() {
	local d
	d=$(papt_dir "$1")
	printf '%s\n' -o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=/dev/null \
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" \
		-o "Dir::State::status=$d/status" -o Acquire::Check-Valid-Until=false \
		-o APT::Get::List-Cleanup=0
	# RELEASE-ARCH: that release's packages of another architecture only.
	case $1 in
	*-arm64) printf '%s\n' -o APT::Architecture=arm64 -o APT::Architectures::=arm64 ;;
	esac
}

# release_sources RELEASE: its sources.list lines (the private apt state's
# and the chroot's): bullseye with bullseye-security, sid, and bookworm
# (with -updates and -security) for the arm64 kernels.
release_sources() {
	local m
	m=$(sm_mirror)
	[ -n "$m" ] || m=http://deb.debian.org/debian
	case $1 in
	bullseye) printf '%s\n' "deb $m bullseye main" "deb ${m%/debian}/debian-security bullseye-security main" ;;
	bookworm-arm64) printf '%s\n' "deb $m bookworm main" "deb $m bookworm-updates main" \
		"deb ${m%/debian}/debian-security bookworm-security main" ;;
	sid) echo "deb $m sid main" ;;
	*) die "no apt sources for release '$1'" ;;
	esac
}

# papt_update RELEASE: write its sources.list and update (once a day).
papt_update() {
	local rel=$1 d
	d=$(papt_dir "$rel")
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	[ -f "$d/status" ] || : >"$d/status"
	release_sources "$rel" >"$d/sources.list.new" || return 1
	if ! cmp -s "$d/sources.list.new" "$d/sources.list"; then
		mv "$d/sources.list.new" "$d/sources.list"
		rm -f "$d/.updated"
	else
		rm -f "$d/sources.list.new"
	fi
	if [ -z "$(find "$d/.updated" -mtime -1 2>/dev/null)" ]; then
		log "apt-get update ($rel, private state in $d)"
		# shellcheck disable=SC2046 # one option per line
		apt-get -qq $(papt_opts "$rel") update >&2 || return 1
		touch "$d/.updated"
	fi
}

# papt RELEASE apt-get|apt-cache ARGS...: run with the private state.
papt() {
	local rel=$1 tool=$2
	shift 2
	# shellcheck disable=SC2046
	"$tool" $(papt_opts "$rel") "$@"
}

# ------------------------------------------------------------ kernel series
# kernel_key SERIES [FLAVOUR]: the cache name of one kernel.
kernel_key() {
	local s=$1 f=${2:-amd64}
	case $f in
	amd64) echo "$s" ;;
	cloud-amd64) echo "$s-cloud" ;;
	rt-amd64) echo "$s-rt" ;;
	arm64)
		case $s in
		6.1|6.12) echo "$s-arm64" ;;
		*) die "no arm64 kernel key for series '$s' (6.1, 6.12)" ;;
		esac
		;;
	*) die "unknown flavour '$f' (amd64, cloud-amd64, rt-amd64, arm64)" ;;
	esac
}

# key_series KEY / key_flavour KEY: the inverse of kernel_key.
key_series() { echo "${1%%-*}"; }
key_flavour() {
	case $1 in
	*-cloud) echo cloud-amd64 ;;
	*-rt) echo rt-amd64 ;;
	*-arm64) echo arm64 ;;
	*) echo amd64 ;;
	esac
}

# key_arch KEY: the Debian architecture of that kernel (amd64, arm64).
key_arch() {
	case $1 in
	*-arm64) echo arm64 ;;
	*) echo amd64 ;;
	esac
}

# arch_cross ARCH: the CROSS_COMPILE prefix for ARCH on this amd64 host.
arch_cross() {
	case $1 in
	amd64) echo "" ;;
	arm64) echo aarch64-linux-gnu- ;;
	*) die "unknown architecture '$1'" ;;
	esac
}

# arch_kbuild ARCH: the ARCH= of kbuild for a Debian architecture.
arch_kbuild() {
	case $1 in
	amd64) echo x86 ;;
	arm64) echo arm64 ;;
	*) die "unknown architecture '$1'" ;;
	esac
}

# series_release SERIES|KEY: the Debian release whose archive has it
# ("" = host); an arm64 key's is a private state of that architecture.
series_release() {
	local s
	s=$(key_series "$1")
	case $(key_arch "$1"):$s in
	arm64:6.1|arm64:6.12) echo bookworm-arm64 ;;
	arm64:*) die "no arm64 kernels of series '$s'" ;;
	*:5.10) echo bullseye ;;
	*:6.1|*:6.12) echo "" ;;
	*:7.2) echo sid ;;
	*) die "unknown series '$s' (5.10, 6.1, 6.12, 7.2)" ;;
	esac
}

# sapt SERIES|KEY apt-get|apt-cache ARGS...: apt of the key's release.
sapt() {
	local rel
	rel=$(series_release "$1")
	shift
	if [ -n "$rel" ]; then papt "$rel" "$@"; else "$@"; fi
}

# The one definition of each series: the header package's name pattern
# (kernel release in \1).  The newest by version sort wins.
series_headers_re() {
	local f=${2//./\\.}
	case $1 in
	5.10) echo "^linux-headers-\(5\.10\.0-[0-9]*-$f\)$" ;;
	6.1) echo "^linux-headers-\(6\.1\.0-[0-9]*-$f\)$" ;;
	6.12) echo "^linux-headers-\(6\.12\.[0-9]*+deb12-$f\)$" ;;
	7.2) echo "^linux-headers-\(7\.2\.[0-9]*+deb14-$f\)$" ;;
	*) die "unknown series '$1' (5.10, 6.1, 6.12, 7.2)" ;;
	esac
}

# kernel_apt_ready SERIES|KEY: package lists of the key's release are there.
kernel_apt_ready() {
	local rel
	rel=$(series_release "$1")
	if [ -n "$rel" ]; then
		papt_update "$rel"
	elif ! host_lists_fresh; then
		host_apt_update
	fi
}

# kernel_release SERIES [FLAVOUR]: the newest kernel release (uname -r).
kernel_release() {
	local s=$1 f=${2:-amd64} re v k
	k=$(kernel_key "$s" "$f")
	re=$(series_headers_re "$s" "$f")
	v=$(sapt "$k" apt-cache pkgnames linux-headers- 2>/dev/null | sed -n "s/$re/\1/p" | sort -V | tail -n1)
	if [ -z "$v" ] && [ -z "$(series_release "$k")" ] && [ "$SM_APT_UPDATED" = 0 ]; then
		host_apt_update >/dev/null 2>&1 && v=$(kernel_release "$s" "$f")
	fi
	echo "$v"
}

# kernel_pkgs KEY KVER: the packages to unpack (image with vmlinuz,
# headers, their -common and linux-kbuild), one a line; "A|B": A, else B
# (the mirror here lacks some -unsigned images; the signed one has the
# same kernel).  A cross key's linux-kbuild (host programs: fixdep,
# modpost) is the host's own: PKG:amd64, from the host's apt.
kernel_pkgs() {
	local key=$1 k=$2 kb=
	[ "$(key_arch "$key")" = amd64 ] || kb=:amd64
	case $(key_series "$key") in
	7.2) echo "linux-binary-$k" ;;
	*) echo "linux-image-$k-unsigned|linux-image-$k" ;;
	esac
	echo "linux-headers-$k"
	sapt "$key" apt-cache depends "linux-headers-$k" 2>/dev/null |
		sed -n -e 's/^ *Depends: \(linux-headers-[^ ]*-common[^ ]*\)$/\1/p' \
			-e "s/^ *Depends: \\(linux-kbuild-[^ ]*\\)\$/\\1$kb/p" | sort -u
}

# kernel_dir KEY: where fetch.sh unpacked it ({vmlinuz,kdir,kver,root}).
kernel_dir() { echo "$SM_CACHE/kernels/$1"; }

# ------------------------------------------------------------------ chroots
# chroot_for SERIES: the Debian release to build that series in, or "" for
# the host.  7.2's headers need gcc-16 and glibc >= 2.38; 5.10's headers
# name gcc-10 (.kernelvariables: CC = gcc-10), which Debian 12 does not have,
# so DKMS cannot build there on the host either: bullseye's gcc-10.
chroot_for() {
	case $1 in
	5.10) echo bullseye ;;
	7.2) echo sid ;;
	*) echo "" ;;
	esac
}

chroot_dir() { echo "$SM_CACHE/chroots/$1"; }

# chroot_ensure RELEASE: a minbase chroot with make, gcc and kmod; rebuilt
# when older than a week (sid moves).  DKMS inside it too (the DKMS test).
chroot_ensure() {
	local rel=$1 d
	d=$(chroot_dir "$rel")
	if [ -f "$d/.done" ] && [ -n "$(find "$d/.done" -mtime -7 2>/dev/null)" ]; then
		release_sources "$rel" >"$d/etc/apt/sources.list"
		return 0
	fi
	host_require mmdebstrap
	log "mmdebstrap $rel into $d"
	mkdir -p "$SM_CACHE/chroots"
	# Never rm -rf through a bind mount of the cache or the repository.
	chroot_umount "$d"
	rm -rf "$d.new"
	mkdir -p "$(dirname "$d")"
	# one-line sources: mmdebstrap reads a file named *.sources as deb822
	release_sources "$rel" >"$SM_CACHE/chroots/$rel.list"
	mmdebstrap --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
		--include=make,gcc,libc6-dev,kmod,libelf-dev,bc,flex,bison,dwarves,xz-utils,dkms,openssl,zstd,sudo \
		"$rel" "$d.new" "$SM_CACHE/chroots/$rel.list" >&2 || { rm -rf "$d.new"; return 1; }
	rm -rf "$d"
	mv "$d.new" "$d"
	touch "$d/.done"
}

# chroot_umount DIR: unmount whatever is mounted below DIR; fail if any stays.
# /proc/mounts names the resolved path: DIR may lie below a symlink (a side
# cache whose chroots/ links to another cache).
chroot_umount() {
	local d m
	d=$(readlink -f "$1")
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$d/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
	! awk -v d="$d/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts ||
		die "cannot unmount what is mounted below $d"
}

# chroot_run RELEASE CMD...: run a command in the chroot; the cache and the
# repository are bind-mounted at their own paths, so paths are the same
# inside and out.  One user of a chroot at a time (flock).
chroot_run() {
	local rel=$1 d rc=0 m
	shift
	d=$(chroot_dir "$rel")
	[ -f "$d/.done" ] || die "no chroot $d"
	exec 9>"$d.lock"
	flock 9
	# A cache may link kernels/ to another cache: bind that too, unless it
	# is inside this cache (a bind below a bind of the cache that holds the
	# chroot itself is one umount(8) then cannot find).
	local binds=("$SM_CACHE") k c
	k=$(readlink -f "$SM_CACHE/kernels")
	c=$(readlink -f "$SM_CACHE")
	case $k/ in "$c"/*) ;; *) binds+=("$k") ;; esac
	for m in "${binds[@]}" "$SM_TOP" /proc /dev; do
		mkdir -p "$d$m"
		mountpoint -q "$d$m" || mount --bind "$m" "$d$m"
	done
	chroot "$d" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@" || rc=$?
	chroot_umount "$d"
	exec 9>&-
	return $rc
}
