# SPDX-License-Identifier: GPL-2.0
# Top level of secretmem_dev: build the module, package it, run the QEMU test rig.
#
#   make [all] [KDIR=<kernel build dir>]  build module/secretmem_dev.ko and lib/
#   make lib      lib/build/: libsecretmem.so.0, libsecretmem.a, secretmem.pc
#                 (and the OpenSSL preload where lib/ has it)
#   make ko SERIES=<5.10|6.1|6.12|7.2> [FLAVOUR=<amd64|cloud-amd64|rt-amd64>]
#                 the module for the newest Debian kernel of that series; the
#                 last line is the .ko's path.  ARCH=arm64 (SERIES 6.1 or 6.12):
#                 cross-built for Debian's arm64 kernel (FLAVOUR arm64)
#   make deps     install what the host needs (apt-get)
#   make check    the whole suite (userspace-test/check.sh): lint; DKMS on
#                 every series and flavour; boot Debian 5.10, 6.1, 6.12, 7.2,
#                 6.1-rt, arm64 6.1 and 6.12 (and each with rodata=on: the
#                 module must refuse) and a debug 6.1 in QEMU, run the Check
#                 suite and stress; ends "N passed, M failed, K skipped"
#   make check-debug  the suite on the debug kernel only
#   make demo     run userspace-test/build/demo on 6.1
#   make bench    run userspace-test/build/bench on 5.10, 6.1, 6.12 and 7.2
#   make lint     static checks
#   make install / dkms-install / deb ...  see module/dkms.mk and lib/lib.mk
#   make clean    remove build outputs (keeps the downloaded kernels)
#   make distclean  also remove .cache/ (downloaded and built kernels)

KDIR ?= /lib/modules/$(shell uname -r)/build
SERIES ?= 6.1 6.12
# make check also runs the suite on a KASAN + lockdep + DEBUG_VM kernel built
# from Debian's linux-source-6.1 (CHECK_DEBUG=0 skips it).
CHECK_DEBUG ?= 1
CHECK_SERIES := $(SERIES) $(if $(filter 1,$(CHECK_DEBUG)),debug)
QEMU_DIR := userspace-test/qemu
# root keeps downloads, kernels and chroots in /var/cache/secretmem (fresh
# clones reuse them); others in .cache/.
export SM_CACHE ?= $(if $(filter 0,$(shell id -u)),/var/cache/secretmem,$(CURDIR)/.cache)
LOGS := $(SM_CACHE)/logs

.PHONY: all module lib check deps ko check-debug debug-kernel demo bench lint clean distclean

all: module lib

module:
	$(MAKE) -C module KDIR=$(KDIR)

lib:
	$(MAKE) -C lib

# install, uninstall, dkms-install, dkms-uninstall, deb, check-dkms
include module/dkms.mk
# lib-install, lib-uninstall, lib-deb; make install / uninstall / deb do them too
include lib/lib.mk
install: lib-install
uninstall: lib-uninstall
deb: lib-deb

# The whole suite: userspace-test/check.sh (parts, summary, the closing
# "N passed, M failed, K skipped" line).  CHECK_DEBUG=0 skips the debug kernel;
# CHECK_GUESTS="..." overrides the guest plan (see userspace-test/README.md).
check: deps
	CHECK_DEBUG=$(CHECK_DEBUG) userspace-test/check.sh

# Everything the host needs (apt-get); lint and check call it, nothing else
# installs host packages.
deps:
	@bash -c '. $(QEMU_DIR)/lib.sh && host_install "$${HOST_PKGS[@]}"'

# make ko SERIES=<5.10|6.1|6.12|7.2> [FLAVOUR=<amd64|cloud-amd64|rt-amd64>]:
# the module for the newest kernel of that series and flavour (in a chroot
# where the host cannot build it); the last line is the .ko's path.
# ARCH=arm64 (or aarch64) picks the arm64 flavour: cross-built here.
FLAVOUR ?= $(if $(filter arm64 aarch64,$(ARCH)),arm64,amd64)
ko:
	@case "$(SERIES)" in 5.10|6.1|6.12|7.2) ;; \
	*) echo "make ko: SERIES=5.10, 6.1, 6.12 or 7.2 (got '$(SERIES)')" >&2; exit 2 ;; esac
	@case "$(ARCH):$(FLAVOUR)" in :*|x86*:*amd64|x86_64:*amd64|arm64:arm64|aarch64:arm64) ;; \
	*) echo "make ko: ARCH=$(ARCH) does not go with FLAVOUR=$(FLAVOUR)" >&2; exit 2 ;; esac
	@key=$$(bash -c '. $(QEMU_DIR)/lib.sh && kernel_key "$(SERIES)" "$(FLAVOUR)"') && \
	$(QEMU_DIR)/fetch.sh "$$key" && \
	env -u ARCH -u MAKEFLAGS $(QEMU_DIR)/build-module.sh "$$key"

# The debug kernel (cached in .cache/kernels/debug) and the suite on it alone.
debug-kernel:
	$(QEMU_DIR)/debug-kernel.sh

check-debug: debug-kernel
	$(QEMU_DIR)/run.sh debug check

# The demo's own lines; the whole serial log stays in .cache/logs/6.1-demo.log.
demo:
	@echo "booting Debian 6.1 in QEMU (about a minute; building what is missing first)..."
	@mkdir -p "$(LOGS)"
	@$(QEMU_DIR)/run.sh 6.1 demo >"$(LOGS)/demo-run.out" 2>&1; rc=$$?; \
	tr -d '\r' <"$(LOGS)/demo-run.out" | \
		grep -E '^\[(owner|root|demo)\]|^VERDICT' || true; \
	if [ $$rc -ne 0 ]; then tail -n 30 "$(LOGS)/demo-run.out"; fi; \
	exit $$rc

# BENCH_SERIES picks the kernels; BENCH_QUICK=1 / BENCH_PARTS=frag,map,rw
# pass through SM_APPEND (see userspace-test/README.md). Per series two
# boots: the main bench (multi-threaded TCG), then openssl speed under
# instruction-counting TCG (SM_ICOUNT: its rates are counts, not the
# host's load).
BENCH_SERIES ?= 5.10 6.1 6.12 7.2
bench:
	@rc=0; \
	for s in $(BENCH_SERIES); do \
		SM_APPEND="sm.bench=main $${SM_APPEND:-}" $(QEMU_DIR)/run.sh $$s bench || rc=1; \
		SM_ICOUNT=0 SM_SMP=1 SM_APPEND="sm.bench=ossl" $(QEMU_DIR)/run.sh $$s bench || rc=1; \
	done; \
	exit $$rc

# checkpatch (from Debian's linux-source-6.1), sparse and a warning-free
# compile against both kernels' headers, the same (sparse, warning-free
# cross build) against both arm64 header sets, shellcheck on the scripts;
# the library: a fresh -Werror build and cppcheck.
CHECKPATCH_DIR := $(SM_CACHE)/checkpatch
LINT_CROSS ?= 6.1-arm64 6.12-arm64
lint: deps
	shellcheck -x $(QEMU_DIR)/*.sh .ci/run userspace-test/dkms/test-dkms.sh userspace-test/check.sh \
		userspace-test/ossl/stage.sh
	shellcheck -s sh $(QEMU_DIR)/init userspace-test/ossl/speed.sh module/conftest.sh \
		module/dist/deb/postinst.in module/dist/deb/prerm.in
	$(MAKE) -C lib lint
	$(QEMU_DIR)/fetch.sh $(SERIES)
	test -f $(CHECKPATCH_DIR)/scripts/checkpatch.pl || { \
		mkdir -p $(CHECKPATCH_DIR) && \
		tar -C $(CHECKPATCH_DIR) --strip-components=1 \
			-xf /usr/src/linux-source-6.1.tar.xz \
			linux-source-6.1/scripts/checkpatch.pl \
			linux-source-6.1/scripts/spelling.txt \
			linux-source-6.1/scripts/const_structs.checkpatch; }
	for s in $(SERIES); do \
		$(MAKE) -C module lint KDIR="$$(cat $(SM_CACHE)/kernels/$$s/kdir)" \
			CHECKPATCH=$(CHECKPATCH_DIR)/scripts/checkpatch.pl || exit 1; \
		$(MAKE) -C module clean KDIR="$$(cat $(SM_CACHE)/kernels/$$s/kdir)"; \
	done
	# arm64: sparse and a warning-free cross build against each arm64
	# header set (conftest.sh runs with the same ARCH and CROSS_COMPILE).
	$(QEMU_DIR)/fetch.sh $(LINT_CROSS)
	for k in $(LINT_CROSS); do \
		$(MAKE) -C module lint KDIR="$$(cat $(SM_CACHE)/kernels/$$k/kdir)" \
			ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
			CHECKPATCH=$(CHECKPATCH_DIR)/scripts/checkpatch.pl || exit 1; \
		$(MAKE) -C module clean KDIR="$$(cat $(SM_CACHE)/kernels/$$k/kdir)" \
			ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-; \
	done

clean:
	-$(MAKE) -C module clean KDIR=$(KDIR)
	-$(MAKE) -C userspace-test clean
	-$(MAKE) -C lib clean
	rm -rf $(SM_CACHE)/build $(SM_CACHE)/initramfs $(SM_CACHE)/logs

distclean: clean
	rm -rf $(SM_CACHE)
