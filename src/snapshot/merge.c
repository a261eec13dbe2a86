/* mote snapshot-merge (merge.h). */
#include "snapshot/merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dirty_log.h"
#include "core/log.h"
#include "core/status.h"
#include "snapshot/snapshot.h"

bool snapshot_merge_wanted(int argc, char **argv)
{
	return argc >= 2 && !strcmp(argv[1], "snapshot-merge");
}

static int open_regular(const char *path, int flags, const char *what, struct stat *st)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		log_error("snapshot-merge: %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		log_error("snapshot-merge: %s %s: not a regular file (give a memory file)", what, path);
		close(fd);
		return -1;
	}
	return fd;
}

int snapshot_merge_main(int argc, char **argv)
{
	if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
		printf("usage: mote snapshot-merge BASE DIFF\n"
		       "  layers the Diff memory file DIFF onto the memory file BASE (in place):\n"
		       "  copy the Full snapshot's memory file to BASE first, then merge each Diff\n"
		       "  in order; restore the last Diff's state file with BASE.\n");
		return MOTE_EXIT_OK;
	}
	if (argc != 4 || !argv[2][0] || !argv[3][0]) {
		log_error("snapshot-merge: usage: mote snapshot-merge BASE DIFF (BASE, a copy of the Full "
			  "memory file, is changed in place)");
		return MOTE_EXIT_USAGE;
	}
	struct stat bs, ds;
	int base = open_regular(argv[2], O_WRONLY, "BASE", &bs);
	if (base < 0)
		return SNAP_STATUS_FILE;
	int diff = open_regular(argv[3], O_RDONLY, "DIFF", &ds);
	if (diff < 0) {
		close(base);
		return SNAP_STATUS_FILE;
	}
	int rc = MOTE_EXIT_OK;
	char err[256];
	uint64_t bytes = 0;
	if (bs.st_dev == ds.st_dev && bs.st_ino == ds.st_ino) {
		log_error("snapshot-merge: BASE and DIFF are the same file");
		rc = MOTE_EXIT_USAGE;
	} else if (bs.st_size != ds.st_size) {
		log_error("snapshot-merge: DIFF %s is %lld bytes, BASE %s %lld: not memory files of one VM",
			  argv[3], (long long)ds.st_size, argv[2], (long long)bs.st_size);
		rc = SNAP_STATUS_FILE;
	} else if (dirty_apply_diff(base, diff, (uint64_t)bs.st_size, &bytes, err, sizeof(err)) < 0) {
		log_error("snapshot-merge: %s", err);
		rc = SNAP_STATUS_FILE;
	} else if (fsync(base) < 0) {
		log_error("snapshot-merge: BASE %s: fsync: %s", argv[2], strerror(errno));
		rc = SNAP_STATUS_FILE;
	} else {
		printf("snapshot-merge: %llu KiB of %s layered onto %s\n",
		       (unsigned long long)(bytes >> 10), argv[3], argv[2]);
	}
	close(diff);
	close(base);
	return rc;
}
