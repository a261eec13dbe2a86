/* The API's threads under their own seccomp lists (core/sandbox.h, docs/security.md): the
 * metrics thread enters SANDBOX_METRICS itself when the VM runs; libmicrohttpd's thread, whose
 * code mote does not run, is given SANDBOX_API by the main thread (sandbox_enter_thread).
 * Must not: create threads (a thread inherits its creator's list). */
#include "api/api.h"
#include "core/sandbox.h"
#include "core/status.h"
#include "kvm/dirty.h"
#include "kvm/state.h"

int api_sandbox_threads(struct api *a, char *err, size_t errlen)
{
	/* SendCtrlAltDel raises the keyboard's interrupt line; PUT /snapshot/create reads the
	 * vCPUs' and the VM's state (kvm/state.c lists what it asks) */
	unsigned long ioctls[3 + 32];
	size_t n = 0;
	ioctls[n++] = kvm_irq_line_ioctl;
	/* a Diff snapshot fetches and clears KVM's dirty bitmaps (kvm/dirty.h) */
	for (size_t i = 0; i < kvm_dirty_nfetch_ioctls && n < 3; i++)
		ioctls[n++] = kvm_dirty_fetch_ioctls[i];
	for (size_t i = 0; i < kvm_state_nsave_ioctls && n < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		ioctls[n++] = kvm_state_save_ioctls[i];

	if (!sandbox_enabled() || a->http_tid <= 0)
		return 0;
	return sandbox_enter_thread(a->http_tid, SANDBOX_API, ioctls, n, err, errlen);
}

void api_metrics_sandbox(struct api *a)
{
	char err[256];

	if (a->metrics_sandboxed || !a->view_valid)
		return;
	a->metrics_sandboxed = true;
	if (sandbox_enter(SANDBOX_METRICS, NULL, 0, err, sizeof(err)) < 0 && a->view.stop)
		stop_request(a->view.stop, MOTE_EXIT_INTERNAL, "%s", err);
}
