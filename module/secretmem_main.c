// SPDX-License-Identifier: GPL-2.0
/* secretmem_main.c - the /dev/secretmem misc device, its parameters and counters. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>

#include <secretmem.h>
#include "secretmem_internal.h"

#define SM_VERSION "0.1.0"

struct sm_stats sm_stats;

/* 0 at load means half of RAM; root may change it at run time. */
unsigned long sm_max_pages;
module_param_named(max_pages, sm_max_pages, ulong, 0644);
MODULE_PARM_DESC(max_pages,
		 "Most pages all regions together may hold (default: half of RAM)");

static char *dmap_method = "auto";
module_param(dmap_method, charp, 0444);
MODULE_PARM_DESC(dmap_method,
		 "How to change the direct map: auto, kernel (the kernel's helpers) or pte (exported primitives)");

#define SM_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&sm_stats.name));		\
}									\
static DEVICE_ATTR_RO(name)

SM_STAT_ATTR(regions);
SM_STAT_ATTR(pages);
SM_STAT_ATTR(peak_pages);
SM_STAT_ATTR(alloc_failures);
SM_STAT_ATTR(tlb_flushes);
SM_STAT_ATTR(dmap_changes);
SM_STAT_ATTR(dmap_splits);

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
	&dev_attr_dmap_method.attr,
	NULL,
};
ATTRIBUTE_GROUPS(sm);

static const struct file_operations sm_fops = {
	.owner = THIS_MODULE,
	.mmap = sm_mmap,
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
		sm_max_pages = totalram_pages() / 2;

	ret = sm_dmap_init(dmap_method);
	if (ret) {
		pr_err("cannot take pages out of the kernel direct map on this kernel; refusing to load\n");
		return ret;
	}
	ret = misc_register(&sm_misc);
	if (ret)
		return ret;
	pr_info("version %s, direct map changed by the %s method, max_pages=%lu\n",
		SM_VERSION, sm_dmap_method_name(), sm_max_pages);
	return 0;
}

static void __exit sm_exit(void)
{
	/* Every region holds its VMA's file, and so this module. */
	misc_deregister(&sm_misc);
}

module_init(sm_init);
module_exit(sm_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Secret memory: pages removed from the kernel direct map, mapped only by their owner");
MODULE_VERSION(SM_VERSION);
MODULE_AUTHOR("secretmem developers");
