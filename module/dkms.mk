# SPDX-License-Identifier: GPL-2.0
# module/dkms.mk - install, uninstall, DKMS and .deb targets; the top Makefile includes it.
#
#   make install [KDIR=<headers>]   build, then kbuild modules_install into
#                 /lib/modules/<kver>/updates, depmod, udev rule, modules-load.d,
#                 man page secretmem(4)
#   make uninstall [KDIR=<headers>] undo make install
#   make dkms-install [DKMS_KVERS="<kver>..."]  copy the source to
#                 /usr/src/secretmem-<version>, dkms add, build, install
#                 (default: the running kernel), udev rule, modules-load.d
#   make dkms-uninstall   dkms remove secretmem/<version> --all, drop the files
#   make deb      .cache/pkg/secretmem-dkms_<version>_all.deb (DKMS source package;
#                 install with: apt install ./secretmem-dkms_<version>_all.deb)
#   make check-dkms  userspace-test/dkms/test-dkms.sh (root; installs packages)
#
# Works included from the top Makefile or alone: make -f module/dkms.mk <target>.
# The version lives only in dkms.conf (PACKAGE_VERSION).

SM_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
SM_NAME := secretmem
SM_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(SM_TOP)/dkms.conf)
ifeq ($(SM_VERSION),)
$(error no PACKAGE_VERSION in $(SM_TOP)/dkms.conf)
endif

KDIR ?= /lib/modules/$(shell uname -r)/build
SM_CACHE ?= $(if $(filter 0,$(shell id -u)),/var/cache/secretmem,$(SM_TOP)/.cache)
# Kernel release of KDIR (make install); KVER= overrides.
SM_KVER = $(or $(KVER),$(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(shell uname -r))
DKMS_KVERS ?= $(shell uname -r)
DESTDIR ?=
UDEV_RULES_DIR ?= /usr/lib/udev/rules.d
MODULES_LOAD_DIR ?= /usr/lib/modules-load.d
MANDIR ?= /usr/share/man

SM_PKG := $(SM_CACHE)/pkg
SM_SRC_STAGE := $(SM_PKG)/src/$(SM_NAME)-$(SM_VERSION)
SM_DEB_ROOT := $(SM_PKG)/deb-root
SM_DEB := $(SM_PKG)/$(SM_NAME)-dkms_$(SM_VERSION)_all.deb
SM_DKMS_SRC := /usr/src/$(SM_NAME)-$(SM_VERSION)
SM_DIST := $(SM_TOP)/module/dist

.PHONY: install uninstall dkms-install dkms-uninstall deb check-dkms \
	sm-dkms-src sm-install-data sm-uninstall-data

# The DKMS source tree: dkms.conf, module/ sources, include/ (no build outputs).
sm-dkms-src:
	rm -rf $(SM_SRC_STAGE)
	mkdir -p $(SM_SRC_STAGE)/module $(SM_SRC_STAGE)/include
	cd $(SM_TOP) && cp dkms.conf $(SM_SRC_STAGE)/ && \
	cp module/Kbuild module/Makefile module/conftest.sh $(SM_SRC_STAGE)/module/ && \
	for f in module/*.c module/*.h; do \
		case $$f in *.mod.c|*/compat_autoconf.h) ;; *) cp "$$f" $(SM_SRC_STAGE)/module/ ;; esac; \
	done && \
	cp include/*.h $(SM_SRC_STAGE)/include/ && \
	if [ -f LICENSE ]; then cp LICENSE $(SM_SRC_STAGE)/; fi

sm-install-data:
	install -D -m 0644 $(SM_DIST)/70-secretmem.rules $(DESTDIR)$(UDEV_RULES_DIR)/70-secretmem.rules
	install -D -m 0644 $(SM_DIST)/secretmem.conf $(DESTDIR)$(MODULES_LOAD_DIR)/secretmem.conf
	mkdir -p $(DESTDIR)$(MANDIR)/man4
	gzip -9n <$(SM_TOP)/module/secretmem.4 >$(DESTDIR)$(MANDIR)/man4/secretmem.4.gz
	-if [ -z "$(DESTDIR)" ] && [ -S /run/udev/control ]; then udevadm control --reload; fi

sm-uninstall-data:
	rm -f $(DESTDIR)$(UDEV_RULES_DIR)/70-secretmem.rules $(DESTDIR)$(MODULES_LOAD_DIR)/secretmem.conf \
		$(DESTDIR)$(MANDIR)/man4/secretmem.4.gz

install:
	$(MAKE) -C $(SM_TOP)/module KDIR=$(KDIR)
	$(MAKE) -C $(KDIR) M=$(SM_TOP)/module INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	if [ -z "$(DESTDIR)" ]; then depmod -a $(SM_KVER); fi
	$(MAKE) -f $(SM_TOP)/module/dkms.mk sm-install-data

uninstall: sm-uninstall-data
	rm -f $(DESTDIR)/lib/modules/$(SM_KVER)/updates/secretmem_dev.ko \
		$(DESTDIR)/lib/modules/$(SM_KVER)/updates/secretmem_dev.ko.xz \
		$(DESTDIR)/lib/modules/$(SM_KVER)/updates/secretmem_dev.ko.zst \
		$(DESTDIR)/lib/modules/$(SM_KVER)/updates/secretmem_dev.ko.gz
	if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(SM_KVER) ]; then depmod -a $(SM_KVER); fi

# Refuse to touch a tree that the secretmem-dkms package owns.
define sm_not_packaged
	@if dpkg -S $(SM_DKMS_SRC) >/dev/null 2>&1; then \
		echo "$(SM_DKMS_SRC) belongs to a package: use apt remove $(SM_NAME)-dkms" >&2; \
		exit 1; \
	fi
endef

dkms-install: sm-dkms-src
	@command -v dkms >/dev/null || { echo "dkms is not installed" >&2; exit 1; }
	$(sm_not_packaged)
	if [ -d /var/lib/dkms/$(SM_NAME)/$(SM_VERSION) ]; then \
		dkms remove $(SM_NAME)/$(SM_VERSION) --all; fi
	rm -rf $(SM_DKMS_SRC)
	cp -a $(SM_SRC_STAGE) $(SM_DKMS_SRC)
	dkms add -m $(SM_NAME) -v $(SM_VERSION)
	set -e; for k in $(DKMS_KVERS); do \
		dkms build -m $(SM_NAME) -v $(SM_VERSION) -k $$k; \
		dkms install -m $(SM_NAME) -v $(SM_VERSION) -k $$k; \
	done
	$(MAKE) -f $(SM_TOP)/module/dkms.mk sm-install-data

dkms-uninstall:
	$(sm_not_packaged)
	if [ -d /var/lib/dkms/$(SM_NAME)/$(SM_VERSION) ]; then \
		dkms remove $(SM_NAME)/$(SM_VERSION) --all; fi
	rm -rf $(SM_DKMS_SRC)
	$(MAKE) -f $(SM_TOP)/module/dkms.mk sm-uninstall-data

# A Debian package of the DKMS source; its maintainer scripts are the ones
# dh_dkms writes (common.postinst builds for the installed kernels' headers).
deb: sm-dkms-src
	rm -rf $(SM_DEB_ROOT) $(SM_DEB)
	mkdir -p $(SM_DEB_ROOT)/DEBIAN $(SM_DEB_ROOT)/usr/src \
		$(SM_DEB_ROOT)/usr/share/doc/$(SM_NAME)-dkms
	cp -a $(SM_SRC_STAGE) $(SM_DEB_ROOT)/usr/src/
	$(MAKE) -f $(SM_TOP)/module/dkms.mk sm-install-data DESTDIR=$(SM_DEB_ROOT)
	printf '%s\n' "secretmem_dev $(SM_VERSION)" "License: GPL-2.0" \
		"On Debian systems the license text is /usr/share/common-licenses/GPL-2." \
		>$(SM_DEB_ROOT)/usr/share/doc/$(SM_NAME)-dkms/copyright
	for f in control postinst prerm; do \
		sed -e '/^#/d' -e 's/@NAME@/$(SM_NAME)/g' -e 's/@VERSION@/$(SM_VERSION)/g' \
			-e "s/@SIZE@/$$(du -sk $(SM_DEB_ROOT)/usr | cut -f1)/g" \
			$(SM_DIST)/deb/$$f.in >$(SM_DEB_ROOT)/DEBIAN/$$f; \
	done
	sed -i '1i #!/bin/sh' $(SM_DEB_ROOT)/DEBIAN/postinst $(SM_DEB_ROOT)/DEBIAN/prerm
	chmod 0755 $(SM_DEB_ROOT)/DEBIAN/postinst $(SM_DEB_ROOT)/DEBIAN/prerm
	dpkg-deb --root-owner-group -Zxz --build $(SM_DEB_ROOT) $(SM_DEB)
	@echo "built $(SM_DEB)"

check-dkms:
	$(SM_TOP)/userspace-test/dkms/test-dkms.sh
