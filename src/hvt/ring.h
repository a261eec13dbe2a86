/* The tender's side of Solo5 0.12's shared-memory network ring (hvt/abi.h has the layout):
 * one host thread consumes the unikernel's entries (frames to send, buffers to read into)
 * without a VM exit per frame, and commits read results back.
 * Owns: the ring's index checks, the copy-then-check of every entry, the kick eventfd and the
 * thread. Must not: trust anything in the shared block (indexes, entries) beyond one copy,
 * know KVM (the caller wires the eventfd to the kick port), or touch a guest buffer except
 * through hvt_guest_range. A protocol violation (an index that runs past the ring, a buffer
 * outside the unikernel's memory, a full commit ring) ends the VM, as solo5-hvt does. */
#ifndef MOTE_HVT_RING_H
#define MOTE_HVT_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hvt/hypercall.h"

struct hvt_ring_host {
	struct hvt *h;          /* devices, the guest-memory gate, the stop */
	uint8_t *shm;           /* the ring: HVT_RING_BYTES of guest memory (through gm_ptr) */
	uint64_t gpa;
	int kick_fd;            /* eventfd signalled by the unikernel's kick (KVM ioeventfd) */
	uint32_t ent_head, com_tail; /* the tender's indexes (the shared copies are outputs) */
	void (*wake)(void *arg);     /* after the ring ended the VM: make the vCPU see the stop */
	void *wake_arg;
	pthread_t thread;
	bool started;
	bool failed;            /* the thread ended the VM for a protocol violation */
	uint64_t sent, received, dropped; /* frames, for -v statistics */
};

/* Sets up the ring at guest-physical gpa (zeroed: no entries, needs_kick 0) and its kick
 * eventfd. Returns 0, or -1 with err set. */
int hvt_ring_init(struct hvt_ring_host *r, struct hvt *h, uint64_t gpa, char *err,
		  size_t errlen);

/* Consumes every entry the unikernel has published (its ent_tail, read once), in order;
 * returns how many, or -1 after ending the VM for a protocol violation. No blocking, no
 * thread: the unit tests and the fuzzer drive it directly. */
int hvt_ring_service(struct hvt_ring_host *r);

/* The thread: services the ring, spins briefly when it runs dry, then sets needs_kick and
 * sleeps until the kick eventfd or the VM's stop. It enters the hvt allowlist itself; start it
 * after the process-wide sandbox. Returns 0, or -1 with errno. */
int hvt_ring_start(struct hvt_ring_host *r);

/* Joins the thread (the VM's stop must have been requested), then with drain services the
 * ring once more on the calling thread (the frames a unikernel queued right before it halted
 * still go out), and closes the eventfd. */
void hvt_ring_destroy(struct hvt_ring_host *r, bool drain);

#endif
