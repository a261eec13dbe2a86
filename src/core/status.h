/* mote's process exit statuses, in one place (documented in README.md, "Exit status").
 * Guest-chosen statuses through the debug-exit port are always odd ((v << 1) | 1),
 * so every status mote itself chooses is even. */
#ifndef MOTE_STATUS_H
#define MOTE_STATUS_H

enum mote_status {
	MOTE_EXIT_OK = 0,          /* guest shut down or reset cleanly; --help, --version */
	MOTE_EXIT_USAGE = 2,       /* bad command line or configuration */
	MOTE_EXIT_IMAGE = 4,       /* kernel/initrd file missing, unreadable or not bootable */
	MOTE_EXIT_HOST = 6,        /* host cannot run VMs: no /dev/kvm, no permission, missing KVM feature */
	MOTE_EXIT_GUEST_FAULT = 8, /* guest crashed the vCPU: triple fault, internal error, failed entry */
	MOTE_EXIT_INTERNAL = 10,   /* VMM resource failure (out of memory, thread creation, ...) */
	MOTE_EXIT_USER = 12,       /* stopped by the user: escape key, SIGINT, SIGTERM, SIGHUP */
};
/* 20 to 26 are mote-jailer's own (src/jail/jail.h, docs/jail.md): keep mote's below 20. */

#endif
