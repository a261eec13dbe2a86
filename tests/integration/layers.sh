# The architecture's include rules (docs/architecture.md), checked on the source tree.
. "$(dirname "$0")/lib.sh"

# rule NAME FILES PATTERN WHY: no line of FILES may match PATTERN.
rule() {
	local name=$1 files=$2 pattern=$3 why=$4 hits
	# shellcheck disable=SC2086
	hits=$(grep -nE "$pattern" $files 2>/dev/null)
	if [ -n "$hits" ]; then fail "$name" "$why: $(echo "$hits" | head -3 | tr '\n' ' ')"
	else pass "$name"; fi
}

rule core-is-leaf "src/core/*.c src/core/*.h" '#include "(kvm|devices|arch|boot|console|config|vsock)/' \
	"core/ must not include kvm/, devices/, arch/, boot/"
rule kvm-header-only-in-kvm "$(find src -name '*.[ch]' ! -path 'src/kvm/*')" '#include <linux/kvm.h>' \
	"only src/kvm/ may include <linux/kvm.h>"
rule devices-know-no-kvm "src/devices/*.c src/devices/*.h" '#include "(kvm)/|#include <linux/kvm.h>' \
	"devices must not know KVM"
rule backends-are-host-only "src/backends/*.c src/backends/*.h" '#include "(virtio|devices|kvm|arch)/|#include "core/guest_mem.h"' \
	"backends must not see guest memory, virtio, devices or KVM"
rule vsock-host-side-is-host-only "src/vsock/*.c src/vsock/*.h" '#include "(virtio|devices|kvm|arch|api|hvt)/|#include "core/guest_mem.h"|#include <linux/kvm.h>' \
	"the vsock multiplexer and its Unix sockets must not see guest memory, virtio, devices or KVM"
rule vsock-mux-knows-no-sockets "src/vsock/mux.c src/vsock/table.c src/vsock/packet.c src/vsock/conn.h src/vsock/mux.h src/vsock/packet.h" '#include <sys/socket.h>|#include "core/event.h"|(^|[^>_a-z])(socket|accept4|connect|epoll_ctl)\(' \
	"the multiplexer does host I/O only through struct vsock_host_ops (testable without sockets)"
rule virtqueue-needs-only-the-gate "src/virtio/virtqueue.c src/virtio/virtqueue.h" '#include "(kvm|devices|arch|backends|boot)/|#include "core/(bus|exit|event|stop)\.h"' \
	"the virtqueue core includes only the memory gate"
rule virtio-knows-no-kvm "src/virtio/*.c src/virtio/*.h" '#include "(kvm|arch)/|#include <linux/kvm.h>' \
	"the transport and devices know no KVM and no addresses"
rule boot-writes-through-gate "src/boot/*.c src/arch/x86/*.c" '(gm|mem)->(base|map)\b' \
	"loaders must use gm_ptr/gm_write, not the host mapping"
rule one-gate "$(find src -name '*.c' ! -name guest_mem.c)" 'gm(->|\.)base|->regions\[[^]]*\]\.offset' \
	"only core/guest_mem.c turns guest addresses into host pointers"
rule no-assert-on-guest-paths "src/core/*.c src/devices/*.c src/kvm/*.c" '\<assert\(' \
	"no assert() on paths that handle guest input"
rule no-constructors "$(find src -name '*.c')" '__attribute__\(\(constructor' \
	"no constructor attributes: the machine file is the inventory"
rule snapshot-stream-is-leaf "src/snapshot/stream.c src/snapshot/stream.h" '#include "(core|kvm|virtio|devices|arch|boot|backends|api|hvt)/|#include "[a-z_]+\.h"' \
	"snapshot streams are included by devices: they include nothing of mote's"
rule abi-is-constants-only "src/virtio/abi.h" '#include|struct|typedef' \
	"src/virtio/abi.h is shared with freestanding guests: constants only"
rule guests-share-only-the-abi "$(find tests/guests -name '*.[ch]')" '#include "(core|kvm|devices|arch|boot|backends|api|hvt)/|#include "virtio/(device|mmio|virtqueue)' \
	"test guests may include only src/virtio/abi.h of mote's sources"
rule jail-is-its-own-program "$(find src -name '*.[ch]' ! -path 'src/jail/*')" '#include "jail/' \
	"only src/jail/ (mote-jailer) includes the jail's headers: build/mote links none of it"
rule jail-includes-only-jail "src/jail/*.c src/jail/*.h" '#include "(core|kvm|virtio|devices|arch|boot|backends|api|hvt|snapshot)/|#include "[a-z_]+\.h"' \
	"mote-jailer includes nothing of the VMM: it must build and run without it"
rule gdb-protocol-knows-no-kvm "src/gdb/packet.[ch] src/gdb/stub.[ch] src/gdb/tdesc.[ch] src/gdb/walk.[ch] src/gdb/addr.[ch]" '#include "(kvm|devices|virtio|backends|api|hvt|vmm)/|#include <linux/kvm.h>|#include <sys/socket.h>' \
	"the GDB protocol, target description and page walker are pure (a target vtable, the memory gate): only gdb/server.c knows KVM and sockets"
