/* The io_uring backend under mote's real seccomp lists (docs/security.md, "io_uring walks
 * around the seccomp lists"): a child opens a disk with blk_uring_open, enters the process
 * list and a ring-owning class list (I/O, vCPU), then submits SQEs through the backend's own
 * ring. OPENAT, SOCKET, and a READV naming a raw fd instead of the registered disk must
 * complete with -EACCES (the ring's restrictions), a READV of the registered disk must read
 * the image, and io_uring_setup/io_uring_register must be killed by seccomp. Skips (a `skip`
 * line) when this kernel refuses io_uring. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/blk_uring.h"
#include "core/sandbox.h"
#include "core/status.h"
#include "test.h"

#define IMG_SIZE 65536

static char img[64];       /* each child's own disk: a ring a process leaves open at its
			      exit lets go of the file (and its lock) a little later */
static char img_probe[64]; /* the parent's */
static struct blk_backend be;
static int raw_fd = -1; /* an fd the ring never registered */

static void make_image(char *name)
{
	static uint8_t buf[IMG_SIZE];

	strcpy(name, "/tmp/mote-uringsb-XXXXXX");
	int fd = mkstemp(name);
	if (fd < 0)
		exit(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		exit(1);
	close(fd);
}

/* One SQE through the ring, its CQE's result (or a value below -4095 when none came). */
static int ring_one(struct io_uring *ring, struct io_uring_sqe *sqe, uint64_t tag)
{
	struct io_uring_cqe *cqe;

	io_uring_sqe_set_data64(sqe, tag);
	if (io_uring_submit(ring) != 1)
		return -10000;
	if (io_uring_wait_cqe(ring, &cqe) < 0)
		return -10001;
	int r = io_uring_cqe_get_data64(cqe) == tag ? cqe->res : -10002;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

/* In the sandboxed child: 0 when every refusal and the one allowed read behave, else the
 * number of the step that did not (no stdio here: printf's buffer set-up is not in the lists). */
static bool through_backend;

static int try_ring(void)
{
	struct io_uring *ring = blk_uring_ring(&be);
	struct io_uring_sqe *sqe;
	uint8_t buf[512];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	if (!ring)
		return 20;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	if (ring_one(ring, sqe, 101) != -EACCES)
		return 21;
	sqe = io_uring_get_sqe(ring); /* the required flag set does not make it allowed */
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	if (ring_one(ring, sqe, 102) != -EACCES)
		return 22;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	if (ring_one(ring, sqe, 103) != -EACCES)
		return 23;
	sqe = io_uring_get_sqe(ring); /* a file the ring did not register */
	io_uring_prep_readv(sqe, raw_fd, &iov, 1, 0);
	if (ring_one(ring, sqe, 104) != -EACCES)
		return 24;
	sqe = io_uring_get_sqe(ring); /* the disk, as the backend names it: runs */
	io_uring_prep_readv(sqe, 0, &iov, 1, 512);
	sqe->flags |= IOSQE_FIXED_FILE;
	if (ring_one(ring, sqe, 105) != (int)sizeof(buf))
		return 25;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != (uint8_t)((512 + i) * 7 + 1))
			return 26;
	if (!through_backend)
		return 0;
	/* and through the backend's own calls (the I/O thread's: submit may read at once) */
	memset(buf, 0, sizeof(buf));
	struct blk_io io = { .op = BLK_OP_READ, .off = 1024, .iov = &iov, .iovcnt = 1, .cookie = 7 };
	int r = be.ops->submit(be.be, &io);
	if (r == 0) {
		struct blk_completion c;
		if (be.ops->kick(be.be) < 0 || be.ops->reap(be.be, &c, 1, true) != 1 ||
		    c.cookie != 7 || c.result != 0)
			return 27;
	} else if (r != 1) {
		return 28;
	}
	if (buf[0] != (uint8_t)(1024 * 7 + 1))
		return 29;
	return 0;
}

static int try_setup(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	syscall(SYS_io_uring_setup, 4, &p);
	return 30;
}

static int try_register(void)
{
	int fd = raw_fd;
	io_uring_register_files_update(blk_uring_ring(&be), 0, &fd, 1);
	return 31;
}

static int try_enter(void)
{
	io_uring_submit(blk_uring_ring(&be));
	return 0;
}

/* Before the lists (in the child): a read of [0, 8192) after the image shrank to 6000 bytes,
 * its short completion (6000) waiting in the CQ unreaped; then, unless `shrunk`, the image
 * grows back, so the rest can be read. */
static uint8_t short_buf[8192];
static bool shrunk;

static int prepare_short_read(void)
{
	struct iovec iov = { .iov_base = short_buf, .iov_len = sizeof(short_buf) };
	struct blk_io io = { .op = BLK_OP_READ, .off = 0, .iov = &iov, .iovcnt = 1, .cookie = 9 };
	struct io_uring_cqe *cqe;

	if (truncate(img, 6000) < 0 || be.ops->submit(be.be, &io) != 0 || be.ops->kick(be.be) < 0)
		return 40;
	if (io_uring_wait_cqe(blk_uring_ring(&be), &cqe) < 0 || cqe->res != 6000)
		return 41; /* seen, not consumed: the backend reaps it */
	if (!shrunk) {
		uint8_t rest[IMG_SIZE - 6000];
		for (size_t i = 0; i < sizeof(rest); i++)
			rest[i] = (uint8_t)((6000 + i) * 7 + 1);
		int fd = open(img, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, rest, sizeof(rest), 6000) != (ssize_t)sizeof(rest))
			return 42;
		close(fd);
	}
	return 0;
}

/* Under the lists: what a reset does (virtio_blk_quiesce: reap, waiting). */
static int reap_short_read(void)
{
	struct blk_completion c;

	if (be.ops->reap(be.be, &c, 1, true) != 1 || c.cookie != 9)
		return 43;
	if (shrunk)
		return c.result == -EIO ? 0 : 44;
	if (c.result != 0)
		return 45;
	for (size_t i = 0; i < sizeof(short_buf); i++)
		if (short_buf[i] != (uint8_t)(i * 7 + 1))
			return 46;
	return 0;
}

static int (*child_prepare)(void); /* runs in the child before the lists, when set */

/* Runs fn in a child after the process list and class c's list; its status, its stderr. */
static int in_child(enum sandbox_class c, int (*fn)(void), char *out, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	make_image(img);
	pid_t pid = fork();
	if (pid == 0) {
		char err[160];
		dup2(p[1], STDERR_FILENO);
		/* a ring of its own, opened before the lists as mote does (a forked copy of the
		 * parent's liburing state would disagree with the shared ring memory) */
		if (blk_uring_open(img, false, false, 8, &be, err, sizeof(err)) < 0) {
			ssize_t w = write(STDERR_FILENO, err, strlen(err));
			(void)w;
			_exit(98);
		}
		int pr = child_prepare ? child_prepare() : 0;
		if (pr)
			_exit(pr);
		if (sandbox_enter(SANDBOX_PROCESS, NULL, 0, err, sizeof(err)) < 0 ||
		    (c != SANDBOX_PROCESS && sandbox_enter(c, NULL, 0, err, sizeof(err)) < 0))
			_exit(99);
		_exit(fn());
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < cap && (k = read(p[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(p[0]);
	int st;
	pid_t w = waitpid(pid, &st, 0);
	unlink(img);
	if (w < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void ring_refuses_open_socket_and_raw_fds(void)
{
	char out[256];
	through_backend = true;
	int st = in_child(SANDBOX_IO, try_ring, out, sizeof(out));
	through_backend = false; /* a vCPU thread only waits for the ring (a reset) */
	if (st != 0)
		printf("note uring_sandbox: I/O child failed at step %d: %s\n", st, out);
	CHECK_EQ(st, 0);
	st = in_child(SANDBOX_VCPU, try_ring, out, sizeof(out));
	if (st != 0)
		printf("note uring_sandbox: vCPU child failed at step %d: %s\n", st, out);
	CHECK_EQ(st, 0);
}

static int try_register_refused(void)
{
	char b[64];
	struct iovec v = {.iov_base = b, .iov_len = sizeof(b)};
	return io_uring_register_buffers(blk_uring_ring(&be), &v, 1) == -EACCES ? 0 : 32;
}

/* A new, unrestricted ring: killed in every class; io_uring_register: killed in the ring
 * users' classes, refused by the ring in the process list beyond its two operations
 * (teardown unregisters the file, a drive swap updates its slot). */
static void no_new_ring_no_register(void)
{
	char out[256];
	static const enum sandbox_class classes[] = {SANDBOX_PROCESS, SANDBOX_VCPU, SANDBOX_IO};
	CHECK_EQ(in_child(SANDBOX_PROCESS, try_register_refused, out, sizeof(out)), 0);
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		CHECK_EQ(in_child(classes[i], try_setup, out, sizeof(out)), MOTE_EXIT_INTERNAL);
		if (!strstr(out, "forbidden system call 425"))
			printf("note uring_sandbox: %s\n", out);
		CHECK_STR_CONTAINS(out, "forbidden system call 425");
		if (classes[i] == SANDBOX_PROCESS)
			continue;
		CHECK_EQ(in_child(classes[i], try_register, out, sizeof(out)), MOTE_EXIT_INTERNAL);
		CHECK_STR_CONTAINS(out, "forbidden system call 427");
	}
}

/* Unsandboxed too, the enabled ring takes two register operations: updating its one file
 * slot (a drive swap, blk_swap_file) and unregistering its file. */
static void ring_refuses_register_ops(void)
{
	char err[256];
	int fd = raw_fd;
	CHECK_EQ(blk_uring_open(img_probe, false, false, 8, &be, err, sizeof(err)), 0);
	struct io_uring *ring = blk_uring_ring(&be);
	if (!ring)
		return;
	CHECK_EQ(io_uring_register_files_update(ring, 0, &fd, 1), 1);
	CHECK_EQ(io_uring_register_files_update(ring, 1, &fd, 1), -EINVAL); /* one slot only */
	CHECK_EQ(io_uring_register_buffers(ring, &(struct iovec){.iov_base = err, .iov_len = 64}, 1),
		 -EACCES);
	CHECK_EQ(io_uring_register_eventfd(ring, fd), -EACCES);
	CHECK_EQ(io_uring_unregister_files(ring), 0);
	CHECK_EQ(io_uring_register_files(ring, &fd, 1), -EACCES); /* not back in */
	blk_close(&be);
}

static void ring_owners_only(void)
{
	char out[256];
	CHECK_EQ(in_child(SANDBOX_IO, try_enter, out, sizeof(out)), 0);
	CHECK_EQ(in_child(SANDBOX_VCPU, try_enter, out, sizeof(out)), 0);
}

/* A reset reaps on a vCPU thread: a short read is finished there through the ring (no
 * preadv, which the vCPU list lacks), with the image's data, or -EIO when it shrank. */
static void short_read_finished_under_vcpu_list(void)
{
	char out[256];
	child_prepare = prepare_short_read;
	shrunk = false;
	int st = in_child(SANDBOX_VCPU, reap_short_read, out, sizeof(out));
	if (st)
		printf("note uring_sandbox: short read: step %d: %s\n", st, out);
	CHECK_EQ(st, 0);
	shrunk = true;
	st = in_child(SANDBOX_VCPU, reap_short_read, out, sizeof(out));
	if (st)
		printf("note uring_sandbox: shrunk image: step %d: %s\n", st, out);
	CHECK_EQ(st, 0);
	child_prepare = NULL;
}

int main(void)
{
	char err[256] = "";

	test_suite_name = "uring_sandbox";
	if (!sandbox_enabled()) {
		printf("skip uring_sandbox: built with MOTE_NO_SANDBOX\n");
		return 0;
	}
	make_image(img_probe);
	int r = blk_uring_open(img_probe, false, false, 8, &be, err, sizeof(err));
	if (r == -2) {
		printf("skip uring_sandbox: io_uring refused here: %s\n", err);
		unlink(img_probe);
		return 0;
	}
	if (r < 0) {
		printf("fail uring_sandbox.open: %s\n", err);
		unlink(img_probe);
		return 1;
	}
	blk_close(&be); /* each case opens its own */
	raw_fd = open(img_probe, O_RDONLY | O_CLOEXEC);
	RUN(ring_refuses_open_socket_and_raw_fds);
	RUN(no_new_ring_no_register);
	RUN(ring_refuses_register_ops);
	RUN(ring_owners_only);
	RUN(short_read_finished_under_vcpu_list);
	close(raw_fd);
	unlink(img_probe);
	TEST_MAIN_END();
}
