// SPDX-License-Identifier: GPL-2.0
/* The /dev/secretmem misc device, its parameters and counters. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/cpu.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/suspend.h>
#include <linux/uaccess.h>

#include <secretmem.h>
#include "compat.h"
#include "secretmem_internal.h"

/* Kbuild passes PACKAGE_VERSION from ../dkms.conf, the version's one home. */
#ifndef SM_VERSION
#error "SM_VERSION is not set: build through module/Kbuild"
#endif

struct sm_stats sm_stats;

/*
 * 0 at load means a quarter of RAM; root may change it at run time.  Each
 * user is held to RLIMIT_MEMLOCK (8 MiB by default); this bounds all users
 * together, since the pages are unmovable and unswappable.
 */
unsigned long sm_max_pages;
module_param_named(max_pages, sm_max_pages, ulong, 0644);
MODULE_PARM_DESC(max_pages,
		 "Most pages all regions together may hold (default: a quarter of RAM)");

/* Lowering it frees the excess at once; 0 turns the pool off. */
static int sm_pool_max_set(const char *val, const struct kernel_param *kp)
{
	unsigned long max, held;
	int ret = param_set_ulong(val, kp);

	if (ret)
		return ret;
	max = READ_ONCE(sm_pool_max);
	held = atomic_long_read(&sm_stats.pool_pages);
	if (held > max)
		sm_pool_drain(held - max);
	return 0;
}

static const struct kernel_param_ops sm_pool_max_ops = {
	.set = sm_pool_max_set,
	.get = param_get_ulong,
};
module_param_cb(pool_max_pages, &sm_pool_max_ops, &sm_pool_max, 0644);
MODULE_PARM_DESC(pool_max_pages,
		 "Most zeroed pages kept out of the direct map for reuse (default: 1/8 of RAM, at most 65536; 0: no pool)");

static char *dmap_method = "auto";
module_param(dmap_method, charp, 0444);
MODULE_PARM_DESC(dmap_method,
		 "How to change the direct map: auto, kernel (the kernel's helpers) or pte (exported primitives)");

struct sm_faults sm_faults;
module_param_named(fault_alloc_nth, sm_faults.alloc_nth, uint, 0644);
MODULE_PARM_DESC(fault_alloc_nth, "Test hook: fail the Nth chunk allocation of each mmap (0: off)");
module_param_named(fault_dmap_nth, sm_faults.dmap_nth, uint, 0644);
MODULE_PARM_DESC(fault_dmap_nth, "Test hook: fail the Nth direct-map removal of each mmap (0: off)");
module_param_named(fault_map_nth, sm_faults.map_nth, uint, 0644);
MODULE_PARM_DESC(fault_map_nth, "Test hook: fail the Nth chunk mapping of each mmap (0: off)");
/* Any write also retries lost chunks (the hook's are intact: they come back). */
static int sm_restore_nth_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_uint(val, kp);

	if (!ret)
		sm_dmap_retry_lost();
	return ret;
}

static const struct kernel_param_ops sm_restore_nth_ops = {
	.set = sm_restore_nth_set,
	.get = param_get_uint,
};
module_param_cb(fault_restore_nth, &sm_restore_nth_ops, &sm_faults.restore_nth, 0644);
MODULE_PARM_DESC(fault_restore_nth,
		 "Test hook: the Nth page restore of each teardown finds its entry changed (0: off)");

/*
 * The counters show when and how much other users map: only root may read
 * them (0400).  A process learns about its own fd from GET_INFO.
 */
#define SM_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&sm_stats.name));		\
}									\
static DEVICE_ATTR_ADMIN_RO(name)

SM_STAT_ATTR(regions);
SM_STAT_ATTR(pages);
SM_STAT_ATTR(peak_pages);
SM_STAT_ATTR(alloc_failures);
SM_STAT_ATTR(tlb_flushes);
SM_STAT_ATTR(dmap_changes);
SM_STAT_ATTR(dmap_splits);
SM_STAT_ATTR(pool_pages);
SM_STAT_ATTR(lost_pages);

static ssize_t dmap_method_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", sm_dmap_method_name());
}
static DEVICE_ATTR_RO(dmap_method);

static struct attribute *sm_attrs[] = {
	&dev_attr_regions.attr,
	&dev_attr_pages.attr,
	&dev_attr_peak_pages.attr,
	&dev_attr_alloc_failures.attr,
	&dev_attr_tlb_flushes.attr,
	&dev_attr_dmap_changes.attr,
	&dev_attr_dmap_splits.attr,
	&dev_attr_pool_pages.attr,
	&dev_attr_lost_pages.attr,
	&dev_attr_dmap_method.attr,
	NULL,
};
ATTRIBUTE_GROUPS(sm);

static int sm_open(struct inode *inode, struct file *file)
{
	struct sm_file *smf = kzalloc(sizeof(*smf), GFP_KERNEL_ACCOUNT);

	if (!smf)
		return -ENOMEM;
	mutex_init(&smf->lock);
	file->private_data = smf;
	return 0;
}

/* Called after the last VMA (each holds the file) is gone. */
static int sm_release(struct inode *inode, struct file *file)
{
	struct sm_file *smf = file->private_data;

	WARN_ON_ONCE(atomic_long_read(&smf->pages));
	mutex_destroy(&smf->lock);
	kfree(smf);
	return 0;
}

static bool sm_hibernation_veto;

/*
 * RLIMIT_MEMLOCK bytes an mmap may still take: the limit less what the
 * user and this mm already hold, whichever is more.  A query: no
 * capable(), which would audit and mark the task PF_SUPERPRIV.
 */
static u64 sm_memlock_left(void)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK);
	unsigned long locked;

	if (limit == RLIM_INFINITY || !current->mm ||
	    sm_has_cap_noaudit(CAP_IPC_LOCK))
		return ~0ULL;
	locked = max_t(unsigned long, READ_ONCE(current->mm->locked_vm),
		       atomic_long_read(&current_user()->locked_vm));
	locked <<= PAGE_SHIFT;
	return limit > locked ? limit - locked : 0;
}

static u64 sm_platform(void)
{
	u64 plat = 0;

	if (cc_platform_has(CC_ATTR_MEM_ENCRYPT))
		plat |= SECRETMEM_PLAT_MEM_ENCRYPT;
	if (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
		plat |= SECRETMEM_PLAT_GUEST_ENCRYPT;
#ifdef CONFIG_X86
	if (boot_cpu_has_bug(X86_BUG_L1TF))
		plat |= SECRETMEM_PLAT_L1TF;
	if (boot_cpu_has_bug(X86_BUG_MDS))
		plat |= SECRETMEM_PLAT_MDS;
#endif
	if (cpu_mitigations_off())
		plat |= SECRETMEM_PLAT_MITIGATIONS_OFF;
	if (sm_dmap_ibt_enforced())
		plat |= SECRETMEM_PLAT_IBT;
#ifdef CONFIG_X86
	if (boot_cpu_has(X86_FEATURE_PTI))
		plat |= SECRETMEM_PLAT_KPTI;
#endif
	return plat | sm_dmap_arch_platform();
}

static long sm_get_info(struct sm_file *smf, void __user *uarg)
{
	struct secretmem_info info = {};
	u32 usize;
	size_t n;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < SECRETMEM_INFO_SIZE_V1 || usize > PAGE_SIZE)
		return -EINVAL;

	n = min_t(size_t, usize, sizeof(info));
	info.size = n;
	info.version = SECRETMEM_UAPI_VERSION;
	info.protections = SECRETMEM_PROT_DIRECT_MAP | SECRETMEM_PROT_NO_CORE_DUMP |
			   SECRETMEM_PROT_NO_GUP | SECRETMEM_PROT_NO_SWAP |
			   SECRETMEM_PROT_SCRUB;
	if (sm_hibernation_veto)
		info.protections |= SECRETMEM_PROT_HIBERNATION;
	mutex_lock(&smf->lock);
	info.flags = smf->flags;
	mutex_unlock(&smf->lock);
	if (info.flags & SECRETMEM_FLAG_UNCACHED)
		info.protections |= SECRETMEM_PROT_UNCACHED;
	if (!(info.flags & SECRETMEM_FLAG_INHERIT))
		info.protections |= SECRETMEM_PROT_NO_FORK;
	info.platform = sm_platform();
	info.mapped_bytes = (u64)atomic_long_read(&smf->pages) << PAGE_SHIFT;
	info.memlock_left = sm_memlock_left();
	info.max_bytes = (u64)READ_ONCE(sm_max_pages) << PAGE_SHIFT;
	info.page_size = PAGE_SIZE;
	info.arch = IS_ENABLED(CONFIG_ARM64) ? SECRETMEM_ARCH_ARM64 : SECRETMEM_ARCH_X86_64;

	if (copy_to_user(uarg, &info, n))
		return -EFAULT;
	/* A newer caller's struct is longer: zero what we know nothing of. */
	if (usize > n && clear_user(uarg + n, usize - n))
		return -EFAULT;
	return 0;
}

static long sm_set_flags(struct sm_file *smf, u64 __user *uarg)
{
	long ret = 0;
	u64 flags;

	if (get_user(flags, uarg))
		return -EFAULT;
	if (flags & ~SECRETMEM_FLAGS_ALL)
		return -EINVAL;
	if ((flags & SECRETMEM_FLAG_UNCACHED) && !IS_ENABLED(CONFIG_X86))
		return -EOPNOTSUPP;

	mutex_lock(&smf->lock);
	if (smf->mmapped || smf->mmaps_in_flight)
		ret = -EBUSY;
	else
		smf->flags = flags;
	mutex_unlock(&smf->lock);
	return ret;
}

/* GET_INFO's number without its size field: .size carries the size. */
#define SM_IOC_NOSIZE(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long sm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct sm_file *smf = file->private_data;

	if (SM_IOC_NOSIZE(cmd) == SM_IOC_NOSIZE(SECRETMEM_IOC_GET_INFO))
		return sm_get_info(smf, (void __user *)arg);
	if (cmd == SECRETMEM_IOC_SET_FLAGS)
		return sm_set_flags(smf, (u64 __user *)arg);
	return -ENOTTY;
}

static const struct file_operations sm_fops = {
	.owner = THIS_MODULE,
	.open = sm_open,
	.release = sm_release,
	.mmap = sm_mmap,
	.unlocked_ioctl = sm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/*
 * A hibernation image is written to disk with every page in it: refuse to
 * hibernate, or to restore an image over them, while secret pages exist,
 * and let no new secret page come into existence from the PREPARE event
 * until the matching POST one (PM_POST_HIBERNATION / PM_POST_RESTORE):
 * with /dev/snapshot, tasks are frozen long after PREPARE
 * (SNAPSHOT_FREEZE), and even the kernel's own path syncs filesystems
 * between the two.
 *
 * An mmap() holds sm_pm_sem for read from its start to its end and fails
 * with EBUSY if the block is on; PREPARE sets the block under the write
 * side, so once it has the lock no mmap() is half way and none can start:
 * the page count it then reads is final.  It drains the pool before and
 * after reading it (a teardown gives its scrubbed pages to the pool before
 * it drops the count).  While blocked the pool takes nothing in
 * (sm_pool_has_room()) and serves nothing (only mmap() serves).  If
 * PREPARE is refused, the PM core sends no POST to this notifier
 * (notifier_call_chain_robust() rolls back only the ones before it), so
 * the block is lifted here.
 */
static DECLARE_RWSEM(sm_pm_sem);
static bool sm_pm_block_on;

bool sm_pm_blocked(void)
{
	return READ_ONCE(sm_pm_block_on);
}

/**
 * sm_pm_enter - start making secret pages, unless hibernation is under way
 *
 * Return: true, and the caller calls sm_pm_exit() when done; false while
 * hibernation or an image restore is being prepared.
 */
bool sm_pm_enter(void)
{
	down_read(&sm_pm_sem);
	if (!sm_pm_block_on)
		return true;
	up_read(&sm_pm_sem);
	return false;
}

void sm_pm_exit(void)
{
	up_read(&sm_pm_sem);
}

static void sm_pm_block(bool on)
{
	down_write(&sm_pm_sem);
	WRITE_ONCE(sm_pm_block_on, on);
	up_write(&sm_pm_sem);
}

static int sm_pm_notify(struct notifier_block *nb, unsigned long action,
			void *data)
{
	long pages;

	switch (action) {
	case PM_HIBERNATION_PREPARE:
	case PM_RESTORE_PREPARE:
		break;
	case PM_POST_HIBERNATION:
	case PM_POST_RESTORE:
		sm_pm_block(false);
		return NOTIFY_DONE;
	default:
		return NOTIFY_DONE;
	}
	sm_pm_block(true);
	/* Pooled pages hold nothing; they need not stop hibernation. */
	sm_pool_drain(ULONG_MAX);
	/*
	 * Lost pages may still hold a secret out of the direct map, where
	 * the image writer would map and copy them: they block it for good.
	 */
	pages = atomic_long_read(&sm_stats.pages) +
		atomic_long_read(&sm_stats.lost_pages);
	if (!pages) {
		sm_pool_drain(ULONG_MAX);
		return NOTIFY_DONE;
	}
	sm_pm_block(false);
	pr_info("refusing to %s: %ld secret pages in use\n",
		action == PM_HIBERNATION_PREPARE ? "hibernate" : "restore a hibernation image",
		pages);
	return NOTIFY_BAD;
}

static struct notifier_block sm_pm_nb = {
	.notifier_call = sm_pm_notify,
};

static struct miscdevice sm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = SECRETMEM_DEVICE_NAME,
	.fops = &sm_fops,
	.groups = sm_groups,
	.mode = 0666,
};

static int __init sm_init(void)
{
	int ret;

	if (!sm_max_pages)
		sm_max_pages = totalram_pages() / 4;

	ret = sm_dmap_init(dmap_method);
	if (ret) {
		pr_err("cannot take pages out of the kernel direct map on this kernel; refusing to load\n");
		return ret;
	}
	ret = sm_pool_init();
	if (ret)
		return ret;
	sm_hibernation_veto = IS_ENABLED(CONFIG_HIBERNATION) &&
			      !register_pm_notifier(&sm_pm_nb);
	if (IS_ENABLED(CONFIG_HIBERNATION) && !sm_hibernation_veto) {
		pr_err("cannot register the hibernation veto; refusing to load\n");
		ret = -EIO;
		goto out_pool;
	}
	ret = misc_register(&sm_misc);
	if (ret)
		goto out_pm;
	pr_info("version %s, direct map changed by the %s method, max_pages=%lu, pool_max_pages=%lu\n",
		SM_VERSION, sm_dmap_method_name(), sm_max_pages, sm_pool_max);
	return 0;

out_pm:
	if (sm_hibernation_veto)
		unregister_pm_notifier(&sm_pm_nb);
out_pool:
	sm_pool_exit();
	sm_mmap_exit();
	return ret;
}

static void __exit sm_exit(void)
{
	/* Every region holds its VMA's file, and so this module. */
	misc_deregister(&sm_misc);
	if (sm_hibernation_veto)
		unregister_pm_notifier(&sm_pm_nb);
	sm_pool_exit();
	sm_mmap_exit();
}

module_init(sm_init);
module_exit(sm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Secret memory: pages removed from the kernel direct map, mapped only by their owner");
MODULE_VERSION(SM_VERSION);
MODULE_AUTHOR("secretmem developers");
