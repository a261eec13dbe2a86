/* The GDB server: one debugger connection (Unix socket or loopback TCP) served by its own
 * thread, which runs the stub (stub.h) over the VM's vCPUs (kvm/debug.h) and guest memory
 * (translated by walk.h, read and written only through the guest-memory gate).
 * Order of use (main.c, hvt/main.c): gdb_server_listen before anything runs (a bad address
 * costs no VM), gdb_server_accept once the VM is built (blocks until gdb connects: the VM
 * waits before its first instruction), gdb_server_bind (vCPUs paused, debug hooks set)
 * before the vCPUs start, gdb_server_start after the process sandbox, gdb_server_end when the
 * VM has stopped (gdb is told the exit status) and before the vCPUs are destroyed. */
#ifndef MOTE_GDB_SERVER_H
#define MOTE_GDB_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/guest_mem.h"
#include "core/stop.h"
#include "gdb/stub.h"

struct vcpu;

struct gdb_server {
	int listen_fd, conn_fd, wake_fd;
	int sig_fd;              /* hvt: the stop signals, read here while the vCPU is parked */
	char path[108];          /* the Unix socket, removed once gdb is connected */
	char where[128];         /* for messages */
	struct vcpu *vcpus;
	unsigned nvcpus;
	const struct guest_mem *gm;
	const struct gm_region *ro; /* guest memory mote cannot write (hvt text), or NULL */
	size_t nro;
	struct vm_stop *stop;
	int kill_status;         /* the VM's status when gdb kills it */
	pthread_t thread;
	bool started;
	bool interrupt_req;
	atomic_bool vm_ended;
	int end_status;
	struct gdb_stub stub;
};

/* Creates the listening socket: unix_path, or tcp ("127.0.0.1:PORT"). 0, or -1 with err. */
int gdb_server_listen(struct gdb_server *g, const char *unix_path, const char *tcp, char *err,
		      size_t errlen);

/* Waits for gdb (or a stop signal on sig_fd: returns 1). 0 when connected, -1 with err. */
int gdb_server_accept(struct gdb_server *g, int sig_fd, char *err, size_t errlen);

/* Takes the VM: every vCPU paused before it runs, their KVM_EXIT_DEBUG hooks set.
 * kill_status: the VM's exit status when gdb kills it. */
void gdb_server_bind(struct gdb_server *g, struct vcpu *vcpus, unsigned n,
		     const struct guest_mem *gm, const struct gm_region *ro, size_t nro,
		     struct vm_stop *stop, int kill_status);

/* Starts the server thread (in its own seccomp class). 0, or -1 with err. */
int gdb_server_start(struct gdb_server *g, char *err, size_t errlen);

/* The VM has stopped with status: gdb is told (W packet), the thread joined, fds closed. */
void gdb_server_end(struct gdb_server *g, int status);

/* Closes whatever is open (also when gdb_server_start never ran). */
void gdb_server_close(struct gdb_server *g);

#endif
