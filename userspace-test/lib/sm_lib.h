/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sm_lib.h - what every test program of secretmem shares (the Check suite,
 * stress, bench, demo): the module's sysfs and parameter paths, built once
 * from the UAPI names of <secretmem.h>; its counters; saving and restoring
 * module parameters; errno names; the device; /proc and /sys readers.
 * No Check here: these return errors, the suite's sm_test.h asserts on them.
 */
#ifndef SM_LIB_H
#define SM_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <secretmem.h>

#define PAGE_SZ		4096UL
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- paths ---- */

/* The misc device's sysfs folder and one of its attributes (counters). */
#define SM_SYSFS_DEV		"/sys/class/misc/" SECRETMEM_DEVICE_NAME
#define SM_SYSFS(attr)		SM_SYSFS_DEV "/" attr
#define SM_SYSFS_PAGES		SM_SYSFS("pages")
#define SM_SYSFS_REGIONS	SM_SYSFS("regions")
#define SM_SYSFS_POOL_PAGES	SM_SYSFS("pool_pages")
#define SM_SYSFS_METHOD		SM_SYSFS("dmap_method")

/* The module and its parameters. */
#define SM_SYSFS_MODULE		"/sys/module/" SECRETMEM_MODULE_NAME
#define SM_PARAM_DIR		SM_SYSFS_MODULE "/parameters"
#define SM_PARAM(name)		SM_PARAM_DIR "/" name
#define SM_PARAM_MAX_PAGES	SM_PARAM("max_pages")
#define SM_PARAM_POOL_MAX	SM_PARAM("pool_max_pages")
#define SM_PARAM_FAULT_ALLOC	SM_PARAM("fault_alloc_nth")
#define SM_PARAM_FAULT_DMAP	SM_PARAM("fault_dmap_nth")
#define SM_PARAM_FAULT_MAP	SM_PARAM("fault_map_nth")
#define SM_PARAM_FAULT_RESTORE	SM_PARAM("fault_restore_nth")

/* The three allocation-path fault hooks, in this order. */
extern const char *const sm_fault_params[3];

/* Elsewhere in the system. */
#define SM_SNAPSHOT		"/dev/snapshot"
#define SM_CG_ROOT		"/sys/fs/cgroup"

/* ---- the module ---- */

/* open(SECRETMEM_DEVICE_PATH, O_RDWR | O_CLOEXEC): the fd or -1 (errno). */
int sm_dev_open(void);

/* Counter @name of SM_SYSFS_DEV ("pages", "tlb_flushes"...); -1 (errno) if unreadable. */
long sm_counter(const char *name);

/* GET_INFO with .size = sizeof(*info) (zeroed first) / SET_FLAGS: ioctl's result. */
int sm_get_info(int fd, struct secretmem_info *info);
int sm_set_flags(int fd, uint64_t flags);

/*
 * A module parameter saved to be put back.  0 is a value like any other
 * (max_pages, pool_max_pages and the fault hooks may be 0): whatever could
 * be read is restored.  sm_param_restore() only uses open/write/close, so
 * a signal handler may call it.
 */
struct sm_param {
	const char *path;
	long val;		/* -1: could not be read, nothing to restore */
	char text[24];		/* val as written back */
};

void sm_param_save(struct sm_param *p, const char *path);
void sm_param_restore(const struct sm_param *p);

/* Write 0 to every fault hook that exists. */
void sm_faults_off(void);

/* ---- errno, time, memory ---- */

/* "EINVAL" for EINVAL, "0" for 0, "E?" for what glibc cannot name. */
const char *sm_errname(int err);

/* CLOCK_MONOTONIC in seconds / nanoseconds; sleep @ms (EINTR resumed). */
double sm_now(void);
uint64_t sm_now_ns(void);
void sm_msleep(long ms);

/* Offset of the first nonzero 64-bit word of [p, p+len), or -1. */
long sm_first_nonzero(const volatile void *p, size_t len);
bool sm_all_zero(const volatile void *p, size_t len);

/* ---- /proc and /sys readers ---- */

/* "VmLck" etc. from /proc/PID/status (pid 0: self), in kB; -1 if absent. */
long proc_status_kb(pid_t pid, const char *key);
/* /proc/meminfo field in kB; -1 if absent. */
long meminfo_kb(const char *key);
/* A file's text (at most n-1 bytes, trailing blanks cut): 0, or -1. */
int sm_read_text(const char *path, char *buf, size_t n);
/* First integer in a file; -1 (errno set) on error. */
long read_long_file(const char *path);
int write_long_file(const char *path, long val);
/* Does the file's text (its first 4 KiB) contain word? */
bool file_has(const char *path, const char *word);
/* Write s to an existing file: 0, or -1 with errno. */
int write_str(const char *path, const char *s);
/* TAINT_DIE | TAINT_WARN bits of /proc/sys/kernel/tainted (an oops or WARN fired). */
long kernel_bad_taint(void);
/* The value after "key " in a flat-keyed file (memory.events...); -1 if absent. */
long file_key_space(const char *path, const char *key);

void hexstr(const uint8_t *buf, size_t len, char *out);
bool env_flag(const char *name);

/* ---- the kernel log ---- */

/* Occurrences of @what in the whole syslog buffer; -1 if it cannot be read. */
int klog_count(const char *what);
/* A line "<tag>: @what" in the kernel log, for a log reader. */
void kmsg_note(const char *tag, const char *what);

/* ---- cgroup v2 ---- */

/*
 * Mount cgroup2 at SM_CG_ROOT if needed and enable the memory controller
 * for its children.  0, or -1 with the reason in why.  *mounted and
 * *enabled (may be NULL) say what this call changed, for undoing it.
 */
int sm_memcg_enable(bool *mounted, bool *enabled, char *why, size_t n);

#endif /* SM_LIB_H */
