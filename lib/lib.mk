# SPDX-License-Identifier: LGPL-2.1-or-later
# lib/lib.mk - install and package libsecretmem; the top Makefile includes it.
#
#   make lib-install [PREFIX=/usr/local] [LIBDIR=...] [DESTDIR=...]
#                 the library, header, secretmem.pc, man pages; ldconfig
#                 (make install runs it too)
#   make lib-uninstall
#   make lib-deb  libsecretmem0_<version>_<arch>.deb (the shared library) and
#                 libsecretmem-dev_<version>_<arch>.deb (header, static
#                 library, .so link, secretmem.pc, man pages) in $(SM_CACHE)/pkg
#                 (make deb builds them too)

SML_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
SML_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(SML_TOP)/dkms.conf)
SML_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
SML_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
SML_PKG := $(or $(SM_CACHE),$(SML_TOP)/.cache)/pkg
SML_DEB_ROOT := $(SML_PKG)/lib-deb-root

.PHONY: lib-install lib-uninstall lib-deb

lib-install:
	$(MAKE) -C $(SML_TOP)/lib install

lib-uninstall:
	$(MAKE) -C $(SML_TOP)/lib uninstall

# Debian layout: /usr, multiarch libdir.
lib-deb:
	rm -rf $(SML_DEB_ROOT)
	$(MAKE) -C $(SML_TOP)/lib clean
	$(MAKE) -C $(SML_TOP)/lib install PREFIX=/usr LIBDIR=/usr/lib/$(SML_MULTIARCH) \
		MANDIR=/usr/share/man DESTDIR=$(SML_DEB_ROOT)/all
	set -e; r=$(SML_DEB_ROOT); v=$(SML_VERSION); a=$(SML_ARCH); \
	ld=usr/lib/$(SML_MULTIARCH); \
	mkdir -p $$r/0/DEBIAN $$r/0/$$ld $$r/0/usr/share/doc/libsecretmem0 \
		$$r/dev/DEBIAN $$r/dev/usr/share/doc/libsecretmem-dev; \
	mv $$r/all/$$ld/libsecretmem.so.0 $$r/0/$$ld/; \
	cp -a $$r/all/usr $$r/dev/; \
	for p in libsecretmem0 libsecretmem-dev; do \
		case $$p in *-dev) d=$$r/dev ;; *) d=$$r/0 ;; esac; \
		printf '%s\n' "libsecretmem $$v" "License: LGPL-2.1-or-later" \
			"On Debian systems the license text is /usr/share/common-licenses/LGPL-2.1." \
			>$$d/usr/share/doc/$$p/copyright; \
	done; \
	size0=$$(du -sk $$r/0/usr | cut -f1); sizedev=$$(du -sk $$r/dev/usr | cut -f1); \
	printf '%s\n' "Package: libsecretmem0" "Version: $$v" "Architecture: $$a" \
		"Multi-Arch: same" "Maintainer: secretmem developers <secretmem@localhost>" \
		"Installed-Size: $$size0" "Depends: libc6 (>= 2.25)" \
		"Recommends: secretmem-dkms" "Section: libs" "Priority: optional" \
		"Description: malloc for secrets in secret memory (libsecretmem)" \
		" Allocates objects of any size, small ones packed, in memory removed from" \
		" the kernel's direct map: /dev/secretmem (secretmem-dkms), else" \
		" memfd_secret(2). Canaries, double-free detection, guard pages." \
		>$$r/0/DEBIAN/control; \
	echo "libsecretmem 0 libsecretmem0 (>= $$v)" >$$r/0/DEBIAN/shlibs; \
	echo "activate-noawait ldconfig" >$$r/0/DEBIAN/triggers; \
	printf '%s\n' "Package: libsecretmem-dev" "Version: $$v" "Architecture: $$a" \
		"Multi-Arch: same" "Maintainer: secretmem developers <secretmem@localhost>" \
		"Installed-Size: $$sizedev" "Depends: libsecretmem0 (= $$v), linux-libc-dev" \
		"Section: libdevel" "Priority: optional" \
		"Description: malloc for secrets in secret memory (development files)" \
		" Header, static library, pkg-config file (secretmem) and manual pages" \
		" of libsecretmem." \
		>$$r/dev/DEBIAN/control; \
	dpkg-deb --root-owner-group -Zxz --build $$r/0 $(SML_PKG)/libsecretmem0_$${v}_$$a.deb; \
	dpkg-deb --root-owner-group -Zxz --build $$r/dev $(SML_PKG)/libsecretmem-dev_$${v}_$$a.deb
	@echo "built $(SML_PKG)/libsecretmem0_$(SML_VERSION)_$(SML_ARCH).deb $(SML_PKG)/libsecretmem-dev_$(SML_VERSION)_$(SML_ARCH).deb"
