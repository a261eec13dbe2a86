/* Unit tests for blk_swap_file (PATCH /drives on a running VM, backends/blk_uring.c): an
 * io_uring backend keeps its ring and eventfd and reads the new file through its fixed-file
 * slot, its size follows, the old file comes back to the caller, the ring still refuses what
 * it refused before (OPENAT, other register operations); a synchronous backend is swapped
 * whole; an asynchronous new backend is refused and nothing changes. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <unistd.h>

#include "backends/blk.h"
#include "backends/blk_uring.h"
#include "test.h"

static char path_a[] = "/tmp/mote-swap-a-XXXXXX", path_b[] = "/tmp/mote-swap-b-XXXXXX";

static int make_image(char *path, char fill, off_t size)
{
	int fd = mkstemp(path);
	char buf[4096];
	memset(buf, fill, sizeof(buf));
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || ftruncate(fd, size) < 0)
		return -1;
	close(fd);
	return 0;
}

/* One READV of 512 bytes at 0 through the ring's fixed file 0, submitted and reaped here
 * (the backend is idle). The CQE's result. */
static int ring_read0(struct io_uring *ring, char *buf)
{
	struct iovec v = {.iov_base = buf, .iov_len = 512};
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	if (!sqe)
		return -ENOSPC;
	io_uring_prep_readv(sqe, 0, &v, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, 1u << 30); /* names no backend slot */
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe) < 0)
		return -EIO;
	int r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

static int ring_openat(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	if (!sqe)
		return -ENOSPC;
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	io_uring_sqe_set_data64(sqe, 1u << 30);
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe) < 0)
		return -EIO;
	int r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

static void uring_backend_takes_the_new_file(void)
{
	struct blk_backend be, f;
	char err[256], buf[512];
	int r = blk_uring_open(path_a, false, false, 8, &be, err, sizeof(err));
	if (r == -2) {
		printf("note blk_uring_swap: io_uring unavailable here: %s\n", err);
		return;
	}
	CHECK_EQ(r, 0);
	struct io_uring *ring = blk_uring_ring(&be);
	int efd = be.completion_fd;
	CHECK(ring != NULL);
	CHECK_EQ(ring_read0(ring, buf), 512);
	CHECK_EQ(buf[0], 'A');
	CHECK_EQ(be.size, 1u << 20);

	CHECK_EQ(blk_file_open(path_b, false, false, &f, err, sizeof(err)), 0);
	CHECK_EQ(blk_swap_file(&be, &f, err, sizeof(err)), 0);
	CHECK(blk_uring_ring(&be) == ring); /* the same ring, eventfd, depth */
	CHECK_EQ(be.completion_fd, efd);
	CHECK_EQ(be.size, 2u << 20);
	CHECK_EQ(ring_read0(ring, buf), 512);
	CHECK_EQ(buf[0], 'B');
	/* The backend's own calls use the new file too. */
	struct iovec v = {.iov_base = buf, .iov_len = 512};
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(be.ops->read(be.be, 4096 - 512, &v, 1), 0);
	CHECK_EQ(buf[0], 'B');
	CHECK_EQ(be.ops->read(be.be, (2u << 20) - 512, &v, 1), 0); /* inside the new size only */
	/* f is the old file now: its fd reads A. */
	CHECK(blk_file_fd(&f) >= 0);
	CHECK_EQ(pread(blk_file_fd(&f), buf, 1, 0), 1);
	CHECK_EQ(buf[0], 'A');
	blk_close(&f);
	/* The restrictions are those of before: no OPENAT, no other register operation. */
	CHECK_EQ(ring_openat(ring), -EACCES);
	CHECK_EQ(io_uring_register_buffers(ring, &v, 1), -EACCES);
	/* An asynchronous new backend is refused and changes nothing. */
	struct blk_backend other;
	CHECK_EQ(blk_uring_open(path_a, true, false, 4, &other, err, sizeof(err)), 0);
	CHECK_EQ(blk_swap_file(&be, &other, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "synchronous");
	CHECK_EQ(be.size, 2u << 20);
	blk_close(&other);
	blk_close(&be);
}

static void file_backend_swapped_whole(void)
{
	struct blk_backend be, f;
	char err[256], buf[1];
	CHECK_EQ(blk_file_open(path_a, true, false, &be, err, sizeof(err)), 0);
	CHECK_EQ(blk_file_open(path_b, true, false, &f, err, sizeof(err)), 0);
	int fa = blk_file_fd(&be), fb = blk_file_fd(&f);
	CHECK_EQ(blk_swap_file(&be, &f, err, sizeof(err)), 0);
	CHECK_EQ(blk_file_fd(&be), fb);
	CHECK_EQ(blk_file_fd(&f), fa);
	CHECK_EQ(be.size, 2u << 20);
	struct iovec v = {.iov_base = buf, .iov_len = 1};
	CHECK_EQ(be.ops->read(be.be, 0, &v, 1), 0);
	CHECK_EQ(buf[0], 'B');
	blk_close(&f);
	blk_close(&be);
}

int main(void)
{
	test_suite_name = "blk_uring_swap";
	if (make_image(path_a, 'A', 1 << 20) < 0 || make_image(path_b, 'B', 2 << 20) < 0) {
		printf("fail blk_uring_swap.setup: cannot make images\n");
		return 1;
	}
	RUN(uring_backend_takes_the_new_file);
	RUN(file_backend_swapped_whole);
	unlink(path_a);
	unlink(path_b);
	TEST_MAIN_END();
}
