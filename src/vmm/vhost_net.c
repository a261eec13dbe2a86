/* vhost-net setup and teardown: the ioctl sequence of linux/vhost.h, through an ops table.
 * UNVERIFIED against a real /dev/vhost-net (none on the project's machines); the unit test
 * checks the sequence and every argument against a fake kernel. */
#include "vmm/vhost_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"

static int host_open(void *ctx)
{
	(void)ctx;
	int fd = open(VHOST_NET_DEV, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int host_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static void host_close(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

const struct vhost_net_ops vhost_net_host_ops = {
	.open = host_open,
	.ioctl = host_ioctl,
	.close = host_close,
};

const unsigned long vhost_net_runtime_ioctls[] = {
	VHOST_SET_FEATURES, VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE,
};
const size_t vhost_net_nruntime_ioctls =
	sizeof(vhost_net_runtime_ioctls) / sizeof(vhost_net_runtime_ioctls[0]);

bool vhost_net_available(void)
{
	return access(VHOST_NET_DEV, R_OK | W_OK) == 0;
}

static int call(struct vhost_net *v, unsigned long req, void *arg, const char *what, char *err,
		size_t errlen)
{
	int r = v->ops->ioctl(v->ctx, v->fd, req, arg);
	if (r < 0)
		return err_set(err, errlen, "vhost-net: %s failed: %s", what, strerror(-r));
	return 0;
}

int vhost_net_open(struct vhost_net *v, const struct vhost_net_ops *ops, void *ctx,
		   const struct guest_mem *gm, int tap_fd, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	v->ops = ops;
	v->ctx = ctx;
	v->tap_fd = tap_fd;
	v->fd = ops->open(ctx);
	if (v->fd < 0) {
		int e = -v->fd;
		v->fd = -1;
		return err_set(err, errlen, "cannot open %s: %s", VHOST_NET_DEV, strerror(e));
	}
	uint32_t n = (uint32_t)(gm->nregions < GM_MAX_REGIONS ? gm->nregions : GM_MAX_REGIONS);
	struct vhost_memory *mem = calloc(1, sizeof(*mem) + n * sizeof(mem->regions[0]));
	if (!mem) {
		ops->close(ctx, v->fd);
		v->fd = -1;
		return err_set(err, errlen, "vhost-net: out of memory");
	}
	mem->nregions = n;
	for (uint32_t i = 0; i < n; i++)
		mem->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = gm->regions[i].gpa,
			.memory_size = gm->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)gm_region_host(gm, i),
		};
	int r = call(v, VHOST_SET_OWNER, NULL, "SET_OWNER", err, errlen);
	if (r == 0)
		r = call(v, VHOST_GET_FEATURES, &v->features, "GET_FEATURES", err, errlen);
	if (r == 0)
		r = call(v, VHOST_SET_MEM_TABLE, mem, "SET_MEM_TABLE", err, errlen);
	free(mem);
	if (r < 0) {
		ops->close(ctx, v->fd);
		v->fd = -1;
		return -1;
	}
	return 0;
}

static void take_back(struct vhost_net *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vhost_vring_file f = { .index = i, .fd = -1 };
		v->ops->ioctl(v->ctx, v->fd, VHOST_NET_SET_BACKEND, &f);
	}
}

static int start_ring(struct vhost_net *v, unsigned i, const struct vhost_net_ring *r, char *err,
		      size_t errlen)
{
	struct vhost_vring_state num = { .index = i, .num = r->num };
	struct vhost_vring_state base = { .index = i, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = i, .flags = 0, .desc_user_addr = r->desc, .avail_user_addr = r->avail,
		.used_user_addr = r->used, .log_guest_addr = 0,
	};
	struct vhost_vring_file kick = { .index = i, .fd = r->kick_fd };
	struct vhost_vring_file callfd = { .index = i, .fd = r->call_fd };

	if (call(v, VHOST_SET_VRING_NUM, &num, "SET_VRING_NUM", err, errlen) < 0 ||
	    call(v, VHOST_SET_VRING_BASE, &base, "SET_VRING_BASE", err, errlen) < 0 ||
	    call(v, VHOST_SET_VRING_ADDR, &addr, "SET_VRING_ADDR", err, errlen) < 0 ||
	    call(v, VHOST_SET_VRING_KICK, &kick, "SET_VRING_KICK", err, errlen) < 0 ||
	    call(v, VHOST_SET_VRING_CALL, &callfd, "SET_VRING_CALL", err, errlen) < 0)
		return -1;
	return 0;
}

int vhost_net_start(struct vhost_net *v, uint64_t features, const struct vhost_net_ring r[2],
		    char *err, size_t errlen)
{
	uint64_t f = features & v->features;

	if (v->fd < 0)
		return err_set(err, errlen, "vhost-net: not open");
	if (call(v, VHOST_SET_FEATURES, &f, "SET_FEATURES", err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < 2; i++)
		if (start_ring(v, i, &r[i], err, errlen) < 0)
			return -1;
	for (unsigned i = 0; i < 2; i++) {
		struct vhost_vring_file b = { .index = i, .fd = v->tap_fd };
		if (call(v, VHOST_NET_SET_BACKEND, &b, "NET_SET_BACKEND", err, errlen) < 0) {
			take_back(v, i);
			return -1;
		}
	}
	v->started = true;
	return 0;
}

void vhost_net_stop(struct vhost_net *v)
{
	if (v->fd < 0 || !v->started)
		return;
	take_back(v, 2);
	for (unsigned i = 0; i < 2; i++) {
		struct vhost_vring_state s = { .index = i };
		v->ops->ioctl(v->ctx, v->fd, VHOST_GET_VRING_BASE, &s);
	}
	v->started = false;
}

void vhost_net_close(struct vhost_net *v)
{
	if (v->fd < 0)
		return;
	vhost_net_stop(v);
	v->ops->close(v->ctx, v->fd);
	v->fd = -1;
}
