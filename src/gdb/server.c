/* The GDB server (server.h): sockets, the debugger's thread, and the stub's target over KVM
 * vCPUs. All-stop: while gdb looks at the VM every vCPU is parked (the pause machinery of
 * kvm/vcpu.c), so register and memory access never races the guest. A vCPU's debug exit
 * parks it and wakes this thread (wake_fd), which parks the others and reports the stop. */
#include "gdb/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/status.h"
#include "core/usock.h"
#include "gdb/addr.h"
#include "gdb/walk.h"
#include "kvm/debug.h"
#include "kvm/kvm.h"

#define PARK_TIMEOUT_MS 2000

/* Mode 0600 from the start, a stale socket replaced, anything else at path refused (usock). */
static int listen_unix(struct gdb_server *g, const char *path, char *err, size_t errlen)
{
	bool created = false;
	if (gdb_check_socket_path("--gdb-socket", path, err, errlen) < 0)
		return -1;
	int r = usock_listen("--gdb-socket", path, &g->listen_fd, &created, 1, err, errlen);
	if (created)
		snprintf(g->path, sizeof(g->path), "%s", path);
	snprintf(g->where, sizeof(g->where), "%s", path);
	return r;
}

static int listen_tcp(struct gdb_server *g, const char *tcp, char *err, size_t errlen)
{
	int v6, one = 1;
	uint32_t ip4 = 0;
	uint16_t port;
	struct sockaddr_storage ss;
	socklen_t len;
	if (gdb_parse_tcp("--gdb-tcp", tcp, &v6, &ip4, &port, err, errlen) < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(ip4);
		a->sin_port = htons(port);
		len = sizeof(*a);
	}
	g->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->listen_fd < 0)
		return err_set(err, errlen, "--gdb-tcp: socket: %s", strerror(errno));
	setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(g->listen_fd, (struct sockaddr *)&ss, len) < 0)
		return err_set(err, errlen, "--gdb-tcp %s: %s", tcp, strerror(errno));
	if (getsockname(g->listen_fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	if (v6)
		snprintf(g->where, sizeof(g->where), "[::1]:%u", port);
	else
		snprintf(g->where, sizeof(g->where), "%u.%u.%u.%u:%u", ip4 >> 24, ip4 >> 16 & 255,
			 ip4 >> 8 & 255, ip4 & 255, port);
	return 0;
}

int gdb_server_listen(struct gdb_server *g, const char *unix_path, const char *tcp, char *err,
		      size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->listen_fd = g->conn_fd = g->wake_fd = g->sig_fd = -1;
	atomic_init(&g->vm_ended, false);
	if (unix_path) {
		if (listen_unix(g, unix_path, err, errlen) < 0)
			return -1;
	} else {
		if (listen_tcp(g, tcp, err, errlen) < 0)
			return -1;
		if (listen(g->listen_fd, 1) < 0)
			return err_set(err, errlen, "gdb: listen on %s: %s", g->where, strerror(errno));
	}
	g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->wake_fd < 0)
		return err_set(err, errlen, "gdb: eventfd: %s", strerror(errno));
	return 0;
}

int gdb_server_accept(struct gdb_server *g, int sig_fd, char *err, size_t errlen)
{
	log_msg(LOG_WARN, "waiting for gdb on %s (gdb -ex 'target remote %s')", g->where, g->where);
	for (;;) {
		struct pollfd p[2] = {{.fd = g->listen_fd, .events = POLLIN},
				      {.fd = sig_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, errlen, "gdb: poll: %s", strerror(errno));
		}
		if (p[1].revents & POLLIN)
			return 1;
		if (!(p[0].revents & POLLIN))
			continue;
		g->conn_fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (g->conn_fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			return err_set(err, errlen, "gdb: accept: %s", strerror(errno));
		}
		break;
	}
	int one = 1;
	setsockopt(g->conn_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on AF_UNIX */
	close(g->listen_fd); /* one debugger per VM */
	g->listen_fd = -1;
	if (g->path[0]) {
		unlink(g->path);
		g->path[0] = '\0';
	}
	log_info("gdb connected on %s", g->where);
	return 0;
}

/* ---- the stub's target ---- */

static unsigned t_ncpus(void *t) { return ((struct gdb_server *)t)->nvcpus; }

static int t_get(void *t, unsigned cpu, struct x86_cpu_state *s)
{
	struct gdb_server *g = t;
	return cpu < g->nvcpus ? vcpu_debug_get(&g->vcpus[cpu], s) : -1;
}

static int t_set(void *t, unsigned cpu, const struct x86_cpu_state *s)
{
	struct gdb_server *g = t;
	return cpu < g->nvcpus ? vcpu_debug_set(&g->vcpus[cpu], s) : -1;
}

/* Bytes of [gpa, gpa + n) before the first read-only range (n when none is inside). */
static uint64_t writable(const struct gdb_server *g, uint64_t gpa, uint64_t n)
{
	for (size_t i = 0; i < g->nro; i++) {
		uint64_t a = g->ro[i].gpa, e = a + g->ro[i].size;
		if (gpa < e && gpa + n > a)
			n = gpa >= a ? 0 : a - gpa;
	}
	return n;
}

static size_t access_mem(struct gdb_server *g, unsigned cpu, uint64_t va, uint8_t *buf,
			 size_t len, bool write)
{
	struct x86_cpu_state s;
	if (cpu >= g->nvcpus || vcpu_debug_get(&g->vcpus[cpu], &s) < 0)
		return 0;
	const struct x86_paging p = {.cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer};
	size_t done = 0;
	while (done < len) {
		uint64_t gpa, left;
		if (walk_translate(g->gm, &p, va + done, &gpa, &left) < 0)
			break;
		uint64_t n = len - done < left ? len - done : left;
		if (write)
			n = writable(g, gpa, n);
		if (n == 0 || (write ? gm_write(g->gm, gpa, buf + done, n)
				     : gm_read(g->gm, gpa, buf + done, n)) < 0)
			break;
		done += n;
		if (va + done < va)
			break; /* the top of the address space */
	}
	return done;
}

static size_t t_read(void *t, unsigned cpu, uint64_t va, uint8_t *buf, size_t len)
{
	return access_mem(t, cpu, va, buf, len, false);
}

static size_t t_write(void *t, unsigned cpu, uint64_t va, const uint8_t *buf, size_t len)
{
	return access_mem(t, cpu, va, (uint8_t *)(uintptr_t)buf, len, true);
}

static void clear_pending(struct gdb_server *g)
{
	for (unsigned i = 0; i < g->nvcpus; i++) {
		struct vcpu *v = &g->vcpus[i];
		pthread_mutex_lock(&v->pause_lock);
		v->dbg.pending = false;
		pthread_mutex_unlock(&v->pause_lock);
	}
}

static int t_resume(void *t, int step_cpu, const struct gdb_hwdebug *d)
{
	struct gdb_server *g = t;
	for (unsigned i = 0; i < g->nvcpus; i++)
		if (vcpu_debug_control(&g->vcpus[i], d->sw_bp, d->dr, d->dr7, (int)i == step_cpu) < 0) {
			log_error("gdb: KVM_SET_GUEST_DEBUG on vCPU %u: %s", i, strerror(errno));
			return -1;
		}
	clear_pending(g);
	for (unsigned i = 0; i < g->nvcpus; i++)
		if (step_cpu < 0 || (int)i == step_cpu)
			vcpu_resume(&g->vcpus[i]);
	return 0;
}

static void t_interrupt(void *t) { ((struct gdb_server *)t)->interrupt_req = true; }

static void kick_all(struct gdb_server *g)
{
	for (unsigned i = 0; i < g->nvcpus; i++)
		vcpu_kick(&g->vcpus[i]);
}

static void t_kill(void *t)
{
	struct gdb_server *g = t;
	stop_request(g->stop, g->kill_status, "killed by gdb");
	kick_all(g); /* parked vCPUs see the stop */
}

static void t_send(void *t, const char *buf, size_t len)
{
	struct gdb_server *g = t;
	log_debug("gdb <- %.*s", (int)(len > 200 ? 200 : len), buf);
	while (len > 0 && g->conn_fd >= 0) {
		ssize_t n = write(g->conn_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("gdb: connection lost: %s", n < 0 ? strerror(errno) : "closed");
			close(g->conn_fd);
			g->conn_fd = -1;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static const struct gdb_target_ops target_ops = {
	.ncpus = t_ncpus, .get_state = t_get, .set_state = t_set, .read_mem = t_read,
	.write_mem = t_write, .resume = t_resume, .interrupt = t_interrupt, .kill = t_kill,
	.send = t_send,
};

/* ---- the thread ---- */

static void on_debug(void *arg) { event_signal(((struct gdb_server *)arg)->wake_fd); }

void gdb_server_bind(struct gdb_server *g, struct vcpu *vcpus, unsigned n,
		     const struct guest_mem *gm, const struct gm_region *ro, size_t nro,
		     struct vm_stop *stop, int kill_status)
{
	g->vcpus = vcpus;
	g->nvcpus = n;
	g->gm = gm;
	g->ro = ro;
	g->nro = nro;
	g->stop = stop;
	g->kill_status = kill_status;
	for (unsigned i = 0; i < n; i++) {
		vcpus[i].on_debug = on_debug;
		vcpus[i].debug_arg = g;
		vcpu_pause(&vcpus[i]); /* not started yet: it parks before its first KVM_RUN */
	}
	gdb_stub_init(&g->stub, &target_ops, g);
}

/* Parks every vCPU; returns the one whose debug exit is waiting (or -1), clearing them. */
static int stop_all(struct gdb_server *g, struct gdb_stop *st)
{
	int found = -1;
	for (unsigned i = 0; i < g->nvcpus; i++)
		vcpu_pause(&g->vcpus[i]);
	for (unsigned i = 0; i < g->nvcpus; i++)
		if (vcpu_wait_parked(&g->vcpus[i], PARK_TIMEOUT_MS) < 0)
			log_warn("gdb: vCPU %u did not stop within %u ms", i, PARK_TIMEOUT_MS);
	for (unsigned i = 0; i < g->nvcpus; i++) {
		struct vcpu *v = &g->vcpus[i];
		pthread_mutex_lock(&v->pause_lock);
		if (v->dbg.pending && found < 0) {
			found = (int)i;
			*st = (struct gdb_stop){.kind = GDB_STOP_DEBUG, .cpu = i,
						.exception = v->dbg.exception, .dr6 = v->dbg.dr6,
						.pc = v->dbg.pc};
		}
		v->dbg.pending = false;
		pthread_mutex_unlock(&v->pause_lock);
	}
	return found;
}

static bool any_pending(struct gdb_server *g)
{
	bool p = false;
	for (unsigned i = 0; i < g->nvcpus && !p; i++) {
		pthread_mutex_lock(&g->vcpus[i].pause_lock);
		p = g->vcpus[i].dbg.pending;
		pthread_mutex_unlock(&g->vcpus[i].pause_lock);
	}
	return p;
}

/* Parks every vCPU and reports why: a pending debug exit, else an interrupt. */
static void report_stop(struct gdb_server *g)
{
	struct gdb_stop st = {.kind = GDB_STOP_INTERRUPT, .cpu = g->stub.g_cpu};
	stop_all(g, &st);
	gdb_stub_stopped(&g->stub, &st);
}

/* hvt: a stop signal while the vCPU (the main thread) is parked under gdb. */
static void take_signal(struct gdb_server *g)
{
	struct signalfd_siginfo si;
	if (read(g->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		stop_request(g->stop, g->kill_status, "stopped by signal %s",
			     strsignal((int)si.ssi_signo));
		kick_all(g);
	}
}

static void serve(struct gdb_server *g)
{
	uint8_t buf[4096];
	while (g->conn_fd >= 0) {
		enum gdb_state s = g->stub.state;
		if (s == GDB_DETACHED || s == GDB_KILLED)
			break;
		struct pollfd p[3] = {{.fd = g->conn_fd, .events = POLLIN},
				      {.fd = g->wake_fd, .events = POLLIN},
				      {.fd = g->stub.state == GDB_STOPPED ? g->sig_fd : -1,
				       .events = POLLIN}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents & POLLIN)
			take_signal(g);
		if (p[1].revents & POLLIN) {
			uint64_t cnt;
			if (read(g->wake_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
				break;
			if (atomic_load(&g->vm_ended)) {
				gdb_stub_stopped(&g->stub, &(struct gdb_stop){.kind = GDB_STOP_EXITED,
									   .status = g->end_status});
				break;
			}
			if (g->stub.state == GDB_RUNNING && any_pending(g))
				report_stop(g);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(g->conn_fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			log_debug("gdb -> %.*s", (int)(n > 200 ? 200 : n), (const char *)buf);
			gdb_stub_input(&g->stub, buf, (size_t)n);
			if (g->interrupt_req && g->stub.state == GDB_RUNNING)
				report_stop(g);
			g->interrupt_req = false;
		}
	}
	enum gdb_state st = g->stub.state;
	if (!atomic_load(&g->vm_ended) && (st == GDB_RUNNING || st == GDB_STOPPED)) {
		/* The connection ended without a detach: every vCPU stopped, then resumed with
		 * the breakpoints out and debugging off. */
		struct gdb_stop ignored;
		if (st == GDB_RUNNING)
			stop_all(g, &ignored);
		gdb_stub_drop(&g->stub);
		log_info("gdb disconnected; the guest runs on");
	} else if (st == GDB_DETACHED) {
		log_info("gdb detached; the guest runs on");
	}
	for (unsigned i = 0; i < g->nvcpus; i++) {
		struct vcpu *v = &g->vcpus[i];
		v->on_debug = NULL; /* no debug exits after the debugger left */
		pthread_mutex_lock(&v->pause_lock);
		bool parked_for_us = v->dbg.pending; /* a crash in the moment gdb left */
		v->dbg.pending = false;
		pthread_mutex_unlock(&v->pause_lock);
		if (parked_for_us)
			vcpu_resume(v);
	}
}

static void *gdb_thread(void *arg)
{
	struct gdb_server *g = arg;
	char err[160];
	if (sandbox_enter(SANDBOX_GDB, vcpu_debug_ioctls, vcpu_debug_nioctls, err, sizeof(err)) < 0) {
		stop_request(g->stop, MOTE_EXIT_INTERNAL, "gdb: %s", err);
		kick_all(g);
		return NULL;
	}
	serve(g);
	return NULL;
}

int gdb_server_start(struct gdb_server *g, char *err, size_t errlen)
{
	int r = pthread_create(&g->thread, NULL, gdb_thread, g);
	if (r != 0)
		return err_set(err, errlen, "cannot start the gdb thread: %s", strerror(r));
	g->started = true;
	return 0;
}

void gdb_server_end(struct gdb_server *g, int status)
{
	if (!g->started)
		return;
	g->end_status = status;
	atomic_store(&g->vm_ended, true);
	event_signal(g->wake_fd);
	pthread_join(g->thread, NULL);
	g->started = false;
}

void gdb_server_close(struct gdb_server *g)
{
	if (g->conn_fd >= 0)
		close(g->conn_fd);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	if (g->path[0])
		unlink(g->path);
	g->conn_fd = g->listen_fd = g->wake_fd = -1;
	g->path[0] = '\0';
}
