/* SPDX-License-Identifier: GPL-2.0 */
/* The one place where kernel-version differences are handled. */
#ifndef _SECRETMEM_COMPAT_H
#define _SECRETMEM_COMPAT_H

#include <linux/mm.h>

/*
 * Feature macros come from compat_autoconf.h, which conftest.sh writes by
 * compiling a small test against the target kernel's headers.
 */
#include "compat_autoconf.h"

/* vm_flags became read-only in 6.3; writers go through vm_flags_set(). */
#ifdef SM_HAVE_VM_FLAGS_SET
static inline void sm_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}

static inline void sm_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_clear(vma, flags);
}
#else
static inline void sm_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void sm_vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#endif /* _SECRETMEM_COMPAT_H */
