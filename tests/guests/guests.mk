# guests.mk: builds the freestanding PVH test guests, $(BUILD)/guests/NAME.elf,
# from tests/guests/NAME.c plus the runtime in tests/guests/rt/ (see README.md).
# Included by the top-level Makefile; all variables here are prefixed GUEST_.

GUEST_DIR    := tests/guests
GUEST_NAMES  := hello cmdline triple badmmio badport reset portloop echo meminfo ring \
                rng blk hostile blkbench vconsole net counter kbd vsock vsockhostile idle balloon \
                blkwatch blkrate gdbtarget genid
# Guests that also link the virtio-mmio driver (rt/virtio.c).
GUEST_VIRTIO_NAMES := rng blk hostile blkbench vconsole net balloon \
                      blkwatch blkrate
# Guests that also link the virtio-net driver and IPv4 stack (rt/net.c).
GUEST_NET_NAMES := net
GUEST_OUT    := $(BUILD)/guests
GUEST_CC     := gcc
GUEST_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-pic -no-pie -static -mno-red-zone \
                -mgeneral-regs-only -fno-stack-protector -O2 -Wall -Wextra -Werror \
                -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                -fno-delete-null-pointer-checks -fcf-protection=none \
                -I$(GUEST_DIR)/rt -Isrc -MMD -MP
GUEST_LD     := $(GUEST_DIR)/rt/guest.ld
GUEST_LDFLAGS := -T $(GUEST_LD) -Wl,--build-id=none -Wl,-z,max-page-size=4096
GUEST_RT_OBJS := $(GUEST_OUT)/obj/rt/entry.o $(GUEST_OUT)/obj/rt/rt.o
GUEST_VIRTIO_OBJ := $(GUEST_OUT)/obj/rt/virtio.o
GUEST_OBJS   := $(GUEST_NAMES:%=$(GUEST_OUT)/obj/%.o)
GUEST_ELFS   := $(GUEST_NAMES:%=$(GUEST_OUT)/%.elf)

guests: $(GUEST_ELFS)

$(GUEST_VIRTIO_NAMES:%=$(GUEST_OUT)/%.elf): GUEST_EXTRA_OBJS := $(GUEST_VIRTIO_OBJ)
$(GUEST_VIRTIO_NAMES:%=$(GUEST_OUT)/%.elf): $(GUEST_VIRTIO_OBJ)

GUEST_NET_OBJ := $(GUEST_OUT)/obj/rt/net.o
$(GUEST_NET_NAMES:%=$(GUEST_OUT)/%.elf): GUEST_EXTRA_OBJS := $(GUEST_VIRTIO_OBJ) $(GUEST_NET_OBJ)
$(GUEST_NET_NAMES:%=$(GUEST_OUT)/%.elf): $(GUEST_NET_OBJ)

$(GUEST_ELFS): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj/%.o $(GUEST_RT_OBJS) $(GUEST_LD)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_RT_OBJS) $(GUEST_EXTRA_OBJS)

# Guests that link the virtio-vsock driver and stream stack (rt/vsock.c) and SHA-256.
GUEST_VSOCK_NAMES := vsock vsockhostile
GUEST_VSOCK_OBJS := $(GUEST_OUT)/obj/rt/vsock.o $(GUEST_OUT)/obj/rt/sha256.o
$(GUEST_VSOCK_NAMES:%=$(GUEST_OUT)/%.elf): GUEST_EXTRA_OBJS := $(GUEST_VIRTIO_OBJ) $(GUEST_VSOCK_OBJS)
$(GUEST_VSOCK_NAMES:%=$(GUEST_OUT)/%.elf): $(GUEST_VIRTIO_OBJ) $(GUEST_VSOCK_OBJS)

$(GUEST_OBJS) $(GUEST_OUT)/obj/rt/rt.o $(GUEST_VIRTIO_OBJ) $(GUEST_NET_OBJ) $(GUEST_VSOCK_OBJS): $(GUEST_OUT)/obj/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/obj/rt/entry.o: $(GUEST_DIR)/rt/entry.S
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

-include $(GUEST_OBJS:.o=.d) $(GUEST_RT_OBJS:.o=.d) $(GUEST_VIRTIO_OBJ:.o=.d) $(GUEST_NET_OBJ:.o=.d) \
         $(GUEST_VSOCK_OBJS:.o=.d)

# An ELF32 PVH kernel: the cmdline guest's code (its PVH entry is 32-bit protected mode; the
# runtime then enters long mode itself) in an ELFCLASS32 EM_386 file, as multiboot-style and
# BSD kernels ship. objcopy rewrites the container only; segments and the note stay.
guests: $(GUEST_OUT)/cmdline32.elf
$(GUEST_OUT)/cmdline32.elf: $(GUEST_OUT)/cmdline.elf
	@echo "  GUEST   $@"
	$(Q)objcopy -I elf64-x86-64 -O elf32-i386 $< $@

# The bzImage test guest (tests/guests/bzimage/): a hand-made Linux boot-protocol image,
# $(BUILD)/guests/bzimage.bin, for mote's 64-bit Linux boot path. head.S holds the setup
# header and the entries, bzimage.ld places the setup area right before the kernel linked
# at pref_address, and objcopy -O binary gives the file. The kernel part is compiled -fpie
# (relocatable_kernel = 1); the link step refuses any absolute relocation outside .setup.
GUEST_BZ_DIR    := $(GUEST_DIR)/bzimage
GUEST_BZ_OBJ    := $(GUEST_OUT)/obj/bzimage
GUEST_BZ_OBJS   := $(GUEST_BZ_OBJ)/head.o $(GUEST_BZ_OBJ)/main.o
GUEST_BZ_LD     := $(GUEST_BZ_DIR)/bzimage.ld
GUEST_BZ_CFLAGS := -std=c11 -ffreestanding -nostdlib -fpie -fvisibility=hidden -mno-red-zone \
                   -mgeneral-regs-only -fno-stack-protector -O2 -Wall -Wextra -Werror \
                   -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                   -fno-delete-null-pointer-checks -fcf-protection=none -MMD -MP
GUEST_BZ_LDFLAGS := -nostdlib -static -no-pie -T $(GUEST_BZ_LD) -Wl,--build-id=none \
                    -Wl,--no-warn-rwx-segments
GUEST_OBJCOPY   := objcopy
GUEST_OBJDUMP   := objdump

guests: $(GUEST_OUT)/bzimage.bin

$(GUEST_OUT)/bzimage.bin: $(GUEST_BZ_OBJ)/bzimage.elf
	@echo "  GUEST   $@"
	$(Q)$(GUEST_OBJCOPY) -O binary $< $@

$(GUEST_BZ_OBJ)/bzimage.elf: $(GUEST_BZ_OBJS) $(GUEST_BZ_LD)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_OBJDUMP) -r $(GUEST_BZ_OBJS) | awk '/^RELOCATION RECORDS FOR/ { sec = $$4 } \
	  $$2 ~ /^R_X86_64_/ && $$2 !~ /^R_X86_64_(PC32|PLT32)$$/ && sec != "[.setup]:" \
	  { print "bzimage: absolute relocation " $$2 " " $$3 " in " sec; bad = 1 } END { exit bad }'
	$(Q)$(GUEST_CC) $(GUEST_BZ_CFLAGS) $(GUEST_BZ_LDFLAGS) -o $@ $(GUEST_BZ_OBJS)

$(GUEST_BZ_OBJ)/head.o: $(GUEST_BZ_OBJ)/%.o: $(GUEST_BZ_DIR)/%.S
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_BZ_CFLAGS) -c -o $@ $<

$(GUEST_BZ_OBJ)/main.o: $(GUEST_BZ_OBJ)/%.o: $(GUEST_BZ_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_BZ_CFLAGS) -c -o $@ $<

-include $(GUEST_BZ_OBJS:.o=.d)

# The GDB stub's test guest carries debug information, so gdb finds its functions and globals.
$(GUEST_OUT)/obj/gdbtarget.o: GUEST_CFLAGS += -g
include tests/guests/hvt/hvt.mk
