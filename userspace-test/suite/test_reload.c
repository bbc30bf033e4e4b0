// SPDX-License-Identifier: GPL-2.0
// test_reload.c - module unload refused while mapped, then unload and reload (runs last).
#include <sys/syscall.h>

#include "sm_test.h"

SM_FILE("reload", 999, 900);

SM_TEST(test_module_unload_reload)
{
	const char *ko = getenv("SECRETMEM_KO");
	const char *method = getenv("SECRETMEM_METHOD");
	int fd, kofd, busy_rc, busy_err, rc, err, load_rc = -1, load_err = 0, i, st = 0;
	int go[2], ready[2];
	pid_t child;
	char c = 0;
	bool sysfs_gone = false;
	char params[128] = "";
	long taint0;
	uint8_t *p;

	if (!ko || !*ko)
		SKIP("SECRETMEM_KO not set: would not be able to reload the module");
	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	if (kofd < 0)
		SKIP("SECRETMEM_KO=%s: %s", ko, strerror(errno));
	if (method && *method)
		snprintf(params, sizeof(params), "dmap_method=%s", method);
	ck_assert_msg(!access(SM_SYSFS_MODULE, F_OK), "module %s not loaded",
		      SECRETMEM_MODULE_NAME);
	taint0 = kernel_bad_taint();

	/*
	 * The mapping lives in a child: a process that has mapped the device
	 * keeps the module (its mm's notifier) until it exits.
	 */
	ck_assert(!pipe2(go, O_CLOEXEC) && !pipe2(ready, O_CLOEXEC));
	child = fork();
	ck_assert(child >= 0);
	if (!child) {
		char c = 0;

		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR);
		p = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		close(fd);
		memset(p, 0x11, 4 * PAGE_SZ);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		/* still usable while the unload was refused */
		if (p[4095] != 0x11)
			_exit(4);
		p[0] = 0x22;
		fd = open(SECRETMEM_DEVICE_PATH, O_RDWR);
		if (fd < 0 || munmap(p, 4 * PAGE_SZ))
			_exit(5);
		close(fd);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	ck_assert_msg(read(ready[0], &c, 1) == 1, "the mapping child failed");
	busy_rc = syscall(SYS_delete_module, SECRETMEM_MODULE_NAME, O_NONBLOCK);
	busy_err = errno;
	if (busy_rc)
		ck_assert(write(go[1], &c, 1) == 1);
	close(go[1]);
	close(ready[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	ck_assert_msg(!busy_rc || (WIFEXITED(st) && !WEXITSTATUS(st)),
		      "the mapping child failed (status 0x%x)", st);

	/* the last references (file, notifier) may go a moment after exit */
	rc = busy_rc;		/* unloaded while mapped (a bug): still reload */
	err = 0;
	for (i = 0; busy_rc && i < 50; i++) {
		rc = syscall(SYS_delete_module, SECRETMEM_MODULE_NAME, O_NONBLOCK);
		err = errno;
		if (!rc || (err != EAGAIN && err != EBUSY))
			break;
		usleep(100000);
	}
	if (!rc) {
		sysfs_gone = access(SM_SYSFS_MODULE, F_OK) != 0;
		load_rc = syscall(SYS_finit_module, kofd, params, 0);
		load_err = errno;
	}
	close(kofd);

	ck_assert_msg(busy_rc != 0, "module unloaded while a mapping existed");
	ck_assert_msg(!rc, "delete_module after the mapping process exited: %s", strerror(err));
	ck_assert_msg(sysfs_gone, "%s still there after unload", SM_SYSFS_MODULE);
	ck_assert_msg(!load_rc, "finit_module(%s, \"%s\"): %s", ko, params,
		      strerror(load_err));
	for (i = 0; i < 50 && access(SECRETMEM_DEVICE_PATH, F_OK); i++)
		usleep(100000);
	p = sm_map_pages(1);
	ck_assert(p[0] == 0);
	ck_assert(!munmap(p, PAGE_SZ));
	ck_assert_msg(kernel_bad_taint() == taint0,
		      "kernel taint gained WARN/DIE (check dmesg)");
	printf("%s: refused while mapped with %s; reloaded with \"%s\"\n",
	       tcase_name(), strerror(busy_err), params);
}
END_TEST
