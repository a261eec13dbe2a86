# mote: build, test and demo. `make` builds build/mote and the test guests.
# `make check` and `make demo` first install missing Debian packages (scripts/deps.sh).

CC        ?= gcc
CLANG     ?= clang
BUILD     ?= build
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN      := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual -Wwrite-strings \
             -Wstrict-prototypes -Wmissing-prototypes -Wimplicit-fallthrough -Wformat=2 \
             -Wno-format-nonliteral
HARDEN    := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS    ?= -O2 -g
# No .eh_frame: C without exceptions never unwinds at run time (the debugger reads
# .debug_frame), and the unused tables cost resident pages next to .rodata.
ALLCFLAGS_EXTRA := -fno-asynchronous-unwind-tables
# io_uring for the asynchronous disk backend (Debian liburing-dev, see scripts/deps.sh).
URING_CFLAGS := $(shell pkg-config --cflags liburing 2>/dev/null)
URING_LIBS   := $(shell pkg-config --libs liburing 2>/dev/null || echo -luring)
ALLCFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) $(ALLCFLAGS_EXTRA) -Isrc -I$(BUILD)/gen -MMD -MP \
             -DMOTE_VERSION='"$(VERSION)"' $(URING_CFLAGS)
LDFLAGS   += -pie -Wl,-z,relro,-z,now,-z,pack-relative-relocs
# The seccomp filters are BPF compiled at build time (tools/seccomp_gen.c): no libseccomp.
LDLIBS    += -lpthread
# liburing and jansson are linked statically: `mote hvt` (a unikernel in a few ms) uses neither,
# and as shared objects each cost a load and resident pages in every run (docs/performance.md).
LDLIBS    += -Wl,-Bstatic $(URING_LIBS)
# The API server (src/api/): HTTP from libmicrohttpd, JSON from jansson (scripts/deps.sh).
# libmicrohttpd is dlopen()ed in API mode only (src/api/api.c says why): headers, no link.
API_PKGS  := libmicrohttpd jansson
API_CFLAGS := $(shell pkg-config --cflags $(API_PKGS) 2>/dev/null)
ALLCFLAGS += $(API_CFLAGS)
LDLIBS    += $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson) -Wl,-Bdynamic -ldl
# build/mote itself is a static PIE: no dynamic loader, no libc.so relocations and resident
# libc pages in every run (docs/performance.md, "Static linking"). libmicrohttpd is still
# dlopen()ed in API mode, into its own namespace (src/api/api.c says what that asks of the
# code); the linker's warning about dlopen in a static program is expected.
MOTE_LDFLAGS := -static-pie -Wl,-z,relro,-z,now,-z,pack-relative-relocs
MOTE_LDLIBS  := -lpthread $(URING_LIBS) $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson) -ldl

SRCS      := $(sort $(wildcard src/*.c src/*/*.c src/*/*/*.c))
MAIN_SRC  := src/vmm/main.c
# mote-jailer (src/jail/, docs/jail.md) is its own binary: build/mote links none of its code.
# The unit tests and fuzzers link both (every source but the two main files).
JAIL_SRCS := $(filter src/jail/%,$(SRCS))
JAIL_MAIN := src/jail/main.c
VMM_SRCS  := $(filter-out src/jail/%,$(SRCS))
LIB_SRCS  := $(filter-out $(MAIN_SRC) $(JAIL_MAIN),$(SRCS))
OBJS      := $(VMM_SRCS:%.c=$(BUILD)/obj/%.o)
JAIL_OBJS := $(JAIL_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
ASAN_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit-asan/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Wno-unused-command-line-argument -O1 -g -Isrc -I$(BUILD)/gen $(URING_CFLAGS) \
              -DMOTE_VERSION='"$(VERSION)"' $(API_CFLAGS)

.PHONY: all mote guests unit unit-asan fuzz check check-slow demo demo-linux deps bench clean fuzz-long \
        man install uninstall deb
all: $(BUILD)/mote $(BUILD)/mote-jailer guests

mote: $(BUILD)/mote

# The seccomp filters, compiled at build time: tools/seccomp_gen.c includes the rule tables of
# src/core/sandbox.c and prints them as BPF (docs/security.md, "The filters").
SECCOMP_GEN := $(BUILD)/gen/seccomp_bpf.h
$(BUILD)/gen/seccomp_gen: tools/seccomp_gen.c src/core/sandbox.c src/core/sandbox.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O1 -Isrc -o $@ tools/seccomp_gen.c
$(SECCOMP_GEN): $(BUILD)/gen/seccomp_gen
	@echo "  GEN     $@"
	$(Q)$< >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/src/core/sandbox.o $(BUILD)/asan-obj/src/core/sandbox.o \
$(BUILD)/fuzz-obj/src/core/sandbox.o: $(SECCOMP_GEN)

# The debug build without seccomp filters (it says so when it starts).
$(BUILD)/mote-unsandboxed: $(VMM_SRCS) $(SECCOMP_GEN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALLCFLAGS) -MF /dev/null -DMOTE_NO_SANDBOX $(MOTE_LDFLAGS) -o $@ $(VMM_SRCS) $(MOTE_LDLIBS)

# V=1 shows full command lines.
Q := $(if $(V),,@)

# The code `mote hvt` runs is linked first, then the rest: it then shares few of the 64 KiB
# windows the kernel maps a binary's pages in (fault-around), which is most of the resident
# size of a unikernel run (docs/performance.md, "Solo5 hvt unikernels"). A file missing from
# this list costs resident pages, not correctness.
HOT_SRCS  := hvt/main hvt/cli hvt/hypercall hvt/layout hvt/mft hvt/ring kvm/vm kvm/vcpu \
             core/guest_mem core/log core/bus core/exit core/stop core/event core/sandbox \
             boot/elf boot/image backends/blk_file backends/net_tap arch/x86/cpuid vmm/main
HOT_OBJS  := $(filter $(HOT_SRCS:%=$(BUILD)/obj/src/%.o),$(OBJS))
# Next, what `mote run` of a PVH guest adds (found with a breakpoint on every function of one
# run): its code then shares a few windows instead of touching every one of the text.
RUN_HOT_SRCS := arch/x86/acpi arch/x86/boot arch/x86/linux arch/x86/machine arch/x86/pvh \
             devices/acpi_pm devices/debug_exit devices/i8042 devices/uart8250 devices/vmgenid \
             vmm/config vmm/console
RUN_HOT_OBJS := $(filter $(RUN_HOT_SRCS:%=$(BUILD)/obj/src/%.o),$(OBJS))
$(BUILD)/mote: $(OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(MOTE_LDFLAGS) -o $@ $(HOT_OBJS) $(RUN_HOT_OBJS) \
		$(filter-out $(HOT_OBJS) $(RUN_HOT_OBJS),$^) $(MOTE_LDLIBS)

# The jailer needs only libc and jansson (the dlopen notes it reads, src/jail/elfdeps.c), linked
# statically like Firecracker's: no dynamic loading in every jailed start (docs/jail.md).
$(BUILD)/mote-jailer: $(JAIL_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -static-pie -Wl,-z,relro,-z,now -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLCFLAGS) -c -o $@ $<

# Unit tests link every source file except main.c.
unit: $(UNIT_BINS)
$(BUILD)/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  UNIT    $@"
	$(Q)$(CC) $(ALLCFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# The same unit tests under ASan+UBSan (clang): the library compiled once, linked into each.
ASAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan-obj/%.o)
$(BUILD)/asan-obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-ASAN $<"
	$(Q)$(CLANG) $(SAN_CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

unit-asan: $(ASAN_BINS)
$(BUILD)/unit-asan/%: tests/unit/%.c $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	@echo "  ASAN    $@"
	$(Q)$(CLANG) $(SAN_CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(ASAN_OBJS) $(LDLIBS)

# libFuzzer targets (clang): the library compiled once with coverage, linked into each.
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz-obj/%.o)
$(BUILD)/fuzz-obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -MMD -MP -c -o $@ $<

fuzz: $(FUZZ_BINS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(SAN_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

include tests/guests/guests.mk
include bench/bench.mk
include tests/linux/linux.mk

deps:
	@sh scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all unit unit-asan fuzz bench-bins $(BUILD)/mote-unsandboxed
	@sh tests/run.sh

check-slow: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all unit unit-asan fuzz bench-bins $(BUILD)/mote-unsandboxed
	@MOTE_SLOW=1 sh tests/run.sh

fuzz-long: fuzz guests
	@FUZZ_SMOKE_SECONDS=$${FUZZ_SECONDS:-300} sh tests/fuzz/smoke.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

demo-linux: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo-linux.sh

bench: deps
	@$(MAKE) --no-print-directory all bench-bins
	@sh bench/startup.sh

# The manual page, generated from `mote --help` and `mote --version` (help2man) plus
# docs/mote.h2m (exit statuses, files, environment): it cannot drift from the binary.
man: $(BUILD)/mote.1 $(BUILD)/mote-jailer.1
$(BUILD)/mote.1: $(BUILD)/mote docs/mote.h2m
	@echo "  MAN     $@"
	$(Q)help2man --no-info --section=1 --name="a small KVM hypervisor for microVMs and unikernels" \
		--include=docs/mote.h2m --output=$@.tmp $(BUILD)/mote && mv $@.tmp $@
$(BUILD)/mote-jailer.1: $(BUILD)/mote-jailer
	@echo "  MAN     $@"
	$(Q)help2man --no-info --section=1 --name="run one mote VMM in a jail (namespaces, chroot, cgroup, no privileges)" \
		--output=$@.tmp $(BUILD)/mote-jailer && mv $@.tmp $@

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the solo5-hvt link, mote-jailer, the
# manual page and the documentation. make uninstall removes exactly what install created.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/mote
DOCS      := README.md $(filter-out docs/mote.h2m,$(wildcard docs/*.md))
install: $(BUILD)/mote $(BUILD)/mote-jailer $(BUILD)/mote.1 $(BUILD)/mote-jailer.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/mote $(DESTDIR)$(BINDIR)/mote
	ln -sf mote $(DESTDIR)$(BINDIR)/solo5-hvt
	install -m 0755 $(BUILD)/mote-jailer $(DESTDIR)$(BINDIR)/mote-jailer
	install -m 0644 $(BUILD)/mote.1 $(DESTDIR)$(MANDIR)/man1/mote.1
	install -m 0644 $(BUILD)/mote-jailer.1 $(DESTDIR)$(MANDIR)/man1/mote-jailer.1
	ln -sf mote.1 $(DESTDIR)$(MANDIR)/man1/solo5-hvt.1
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mote $(DESTDIR)$(BINDIR)/solo5-hvt $(DESTDIR)$(BINDIR)/mote-jailer \
		$(DESTDIR)$(MANDIR)/man1/mote.1 $(DESTDIR)$(MANDIR)/man1/mote-jailer.1 \
		$(DESTDIR)$(MANDIR)/man1/solo5-hvt.1
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

# A Debian package (debian/): ../mote_VERSION_ARCH.deb, then lintian on it.
deb:
	dpkg-buildpackage -us -uc -b
	lintian --fail-on error --display-info ../mote_$$(dpkg-parsechangelog -SVersion)_amd64.changes

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(JAIL_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
