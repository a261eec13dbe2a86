/* The control plane: a Firecracker-compatible REST API (HTTP/1.1 from libmicrohttpd, JSON from
 * jansson) on a Unix socket, the config file, the VM lifecycle (Not started -> Running <->
 * Paused -> ended) and the metrics. Owns: the socket (created 0600, removed on every exit
 * that runs api_destroy), libmicrohttpd's thread (all requests are handled there, one at a
 * time), the metrics thread and files. The boot itself stays in main.c's thread: the API
 * hands it a vm_config (api_wait_start) and main.c hands back a view of the running VM.
 * The API never blocks a vCPU: it reads counters and asks vCPUs to park (vcpu_pause). */
#ifndef MOTE_API_API_H
#define MOTE_API_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/api_config.h"
#include "api/api_metrics.h"
#include "arch/x86/machine.h"
#include "vmm/config.h"
#include "core/stop.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "kvm/kvm.h"
#include "snapshot/snapshot.h"

enum api_state { API_NOT_STARTED, API_STARTING, API_RUNNING, API_PAUSED, API_ENDED };

/* What the API may touch of a running VM (set by api_vm_running, cleared by api_vm_ended). */
struct api_vm_view {
	struct vcpu *vcpus;
	unsigned nvcpus;
	struct machine *machine; /* the virtio devices, for metrics */
	struct virtio_blk *blk;   /* blk[i] is drive i of the configuration */
	unsigned nblk;
	struct virtio_net *net;   /* net[i] is interface i of the configuration */
	unsigned nnet;
	struct vm_stop *stop;
	struct virtio_balloon *balloon; /* NULL: the VM has no balloon */
	const struct snap_vm *snap; /* what PUT /snapshot/create reads */
	bool paused;                /* restored with its vCPUs parked (resume_vm false, --paused) */
};

struct MHD_Daemon;
struct virtio_balloon;

struct api {
	struct api_config ac;     /* staged configuration (the API thread writes it) */
	const char *sock_path;    /* NULL: no socket (config file only) */
	const char *instance_id;
	int listen_fd;
	bool sock_created;        /* we created sock_path: api_destroy removes it */
	int sig_fd;               /* SIGINT/SIGTERM/SIGHUP before the boot */
	int start_efd;            /* signalled when InstanceStart was accepted */
	struct MHD_Daemon *mhd;
	pthread_t http_thread;    /* runs libmicrohttpd (api.c, http_thread) */
	bool http_thread_started;
	atomic_bool http_quit;    /* api_destroy ends the HTTP thread with it */
	struct timespec t0;       /* process start, for uptime and the startup metric */

	pthread_mutex_t lock;     /* everything below */
	pthread_cond_t cond;
	enum api_state state;
	int start_result;         /* 0 pending, 1 running, -1 failed */
	char start_err[512];
	bool start_delivered;     /* the InstanceStart response went out */
	bool start_in_flight;
	bool start_by_api;        /* InstanceStart came through the socket (not the file) */
	struct api_vm_view view;
	bool view_valid;
	int metrics_fd;
	pthread_t metrics_thread;
	bool metrics_thread_started;
	bool metrics_sandboxed;   /* the metrics thread took its own list (api_sandbox.c) */
	pid_t http_tid;           /* the HTTP thread (0: no socket), for its list */
	bool quit;
	uint64_t requests, errors, metrics_flushes;
	struct api_metrics_state mstate; /* per-interval metrics, request counts (api_metrics.h) */
	/* PUT /snapshot/load: the files to restore (api_wait_start hands them to main.c). */
	char load_state[CONFIG_PATH_MAX], load_mem[CONFIG_PATH_MAX];
	char load_override[CONFIG_MAX_NETS][SNAP_ID_MAX + 18]; /* "IFACE=TAP" */
	unsigned nload_override;
	bool load_requested, load_paused;
};

/* Sets up the API: loads the config file (if any), creates the socket (if any) and starts
 * serving. Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (main.c's run loop reads
 * them later). Returns 0, or -1 with a one-line reason in err; call api_destroy either way. */
int api_init(struct api *a, const struct vm_config *cli, char *err, size_t errlen);

/* Waits (main thread) for InstanceStart, or returns at once with a config file. 0: *out is the
 * configuration to boot; -1: stopped by a signal before the boot. */
int api_wait_start(struct api *a, struct vm_config *out);

/* main.c, once every thread runs (after api_vm_running): libmicrohttpd's thread takes its own
 * seccomp list (SANDBOX_API); the metrics thread takes its own when api_vm_running wakes it.
 * 0, or -1 with a reason in err. */
int api_sandbox_threads(struct api *a, char *err, size_t errlen);

/* The metrics thread, a->lock held: once the VM runs, enter SANDBOX_METRICS (once). */
void api_metrics_sandbox(struct api *a);

/* main.c: the vCPUs run (InstanceStart answers 204) / the VM ended or failed to boot (a
 * pending InstanceStart answers 400 with the last error; the final metrics are written).
 * api_vm_ended must come before the VM is torn down. */
void api_vm_running(struct api *a, const struct api_vm_view *v);

/* mote restore --api-sock: no InstanceStart; the VM is starting from a snapshot now. */
void api_restore_started(struct api *a);
void api_vm_ended(struct api *a, int status);

/* Stops serving, closes the files, removes the socket. Safe after a failed api_init. */
void api_destroy(struct api *a);

/* The metrics line (one JSON object, no newline); caller frees with free(). a->lock held. */
char *api_metrics_render(struct api *a);

#endif
