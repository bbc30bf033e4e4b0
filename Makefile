# SPDX-License-Identifier: GPL-2.0
# Top level of secretmem_dev: build the module, package it, run the QEMU test rig.
#
#   make [all] [KDIR=<kernel build dir>]  build module/secretmem_dev.ko
#   make check    the whole suite: lint; DKMS for 6.1 and 6.12; boot Debian
#                 6.1, 6.12 and a debug 6.1 in QEMU, run the Check suite and
#                 stress with dmap_method=kernel and pte; ends "N passed, M failed"
#   make check-debug  the suite on the debug kernel only
#   make demo     run userspace-test/build/demo on 6.1
#   make bench    run userspace-test/build/bench on 6.1 and 6.12
#   make lint     static checks
#   make install / dkms-install / deb ...  see module/dkms.mk
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

.PHONY: all module check check-debug debug-kernel demo bench lint clean distclean

all: module

module:
	$(MAKE) -C module KDIR=$(KDIR)

# install, uninstall, dkms-install, dkms-uninstall, deb, check-dkms
include module/dkms.mk

# Run every series even if one fails; count Check test cases over all runs.
# A run that crashed, hung or had a kernel splat counts at least 1 failed.
# First DKMS builds, installs and removes the module for both kernels (and
# through the .deb); then each guest boots the .ko that DKMS built, if it did.
# Every part runs even if one fails; Check test cases are counted over all
# runs, and a run that crashed, hung or had a kernel splat counts at least 1.
check:
	@rc=0; mkdir -p "$(LOGS)"; \
	for s in lint dkms $(CHECK_SERIES); do rm -f "$(LOGS)/$$s-check.result"; done; \
	if $(MAKE) lint; then r="PASS 1 0"; else r="FAIL 0 1"; rc=1; fi; \
	echo "lint check $$r 0" >"$(LOGS)/lint-check.result"; \
	userspace-test/dkms/test-dkms.sh || rc=1; \
	for s in $(CHECK_SERIES); do \
		ko="$(SM_CACHE)/dkms/$$s/secretmem_dev.ko"; \
		if [ -f "$$ko" ]; then export SM_KO="$$ko"; else unset SM_KO; fi; \
		$(QEMU_DIR)/run.sh $$s check || rc=1; \
	done; \
	echo; echo "=== summary ==="; \
	passed=0; failed=0; \
	for s in lint dkms $(CHECK_SERIES); do \
		r="$(LOGS)/$$s-check.result"; \
		if [ -f "$$r" ]; then \
			read -r _ _ v p f t <"$$r"; \
			echo "$$s: $$v ($$p passed, $$f failed, $${t}s)"; \
		else \
			v=FAIL; p=0; f=1; rc=1; echo "$$s: FAIL (no result)"; \
		fi; \
		passed=$$((passed + p)); failed=$$((failed + f)); \
	done; \
	echo "$$passed passed, $$failed failed"; \
	exit $$rc

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

bench:
	@rc=0; \
	for s in $(SERIES); do $(QEMU_DIR)/run.sh $$s bench || rc=1; done; \
	exit $$rc

# checkpatch (from Debian's linux-source-6.1), sparse and a warning-free
# compile against both kernels' headers, shellcheck on the scripts.
CHECKPATCH_DIR := $(SM_CACHE)/checkpatch
lint:
	shellcheck $(QEMU_DIR)/*.sh .ci/run userspace-test/dkms/test-dkms.sh
	shellcheck -s sh $(QEMU_DIR)/init module/conftest.sh \
		module/dist/deb/postinst.in module/dist/deb/prerm.in
	$(QEMU_DIR)/fetch.sh $(SERIES)
	dpkg -s sparse linux-source-6.1 >/dev/null 2>&1 || \
		apt-get install -y -q sparse linux-source-6.1
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

clean:
	-$(MAKE) -C module clean KDIR=$(KDIR)
	-$(MAKE) -C userspace-test clean
	rm -rf $(SM_CACHE)/build $(SM_CACHE)/initramfs $(SM_CACHE)/logs

distclean: clean
	rm -rf $(SM_CACHE)
