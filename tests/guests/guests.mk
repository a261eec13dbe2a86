# guests.mk: builds the freestanding PVH test guests, $(BUILD)/guests/NAME.elf,
# from tests/guests/NAME.c plus the runtime in tests/guests/rt/ (see README.md).
# Included by the top-level Makefile; all variables here are prefixed GUEST_.

GUEST_DIR    := tests/guests
GUEST_NAMES  := hello cmdline triple badmmio badport reset portloop echo meminfo ring
GUEST_OUT    := $(BUILD)/guests
GUEST_CC     := gcc
GUEST_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-pic -no-pie -static -mno-red-zone \
                -mgeneral-regs-only -fno-stack-protector -O2 -Wall -Wextra -Werror \
                -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                -fno-delete-null-pointer-checks -fcf-protection=none \
                -I$(GUEST_DIR)/rt -MMD -MP
GUEST_LD     := $(GUEST_DIR)/rt/guest.ld
GUEST_LDFLAGS := -T $(GUEST_LD) -Wl,--build-id=none -Wl,-z,max-page-size=4096
GUEST_RT_OBJS := $(GUEST_OUT)/obj/rt/entry.o $(GUEST_OUT)/obj/rt/rt.o
GUEST_OBJS   := $(GUEST_NAMES:%=$(GUEST_OUT)/obj/%.o)
GUEST_ELFS   := $(GUEST_NAMES:%=$(GUEST_OUT)/%.elf)

guests: $(GUEST_ELFS)

$(GUEST_ELFS): $(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj/%.o $(GUEST_RT_OBJS) $(GUEST_LD)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_RT_OBJS)

$(GUEST_OBJS) $(GUEST_OUT)/obj/rt/rt.o: $(GUEST_OUT)/obj/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/obj/rt/entry.o: $(GUEST_DIR)/rt/entry.S
	@mkdir -p $(dir $@)
	@echo "  GUEST   $@"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

-include $(GUEST_OBJS:.o=.d) $(GUEST_RT_OBJS:.o=.d)
