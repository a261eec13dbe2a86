# hvt.mk: the Solo5 hvt test unikernels, $(BUILD)/guests/hvt/NAME.hvt, from
# tests/guests/hvt/NAME.c and the bindings in tests/guests/hvt/rt/ (no Solo5 code).
# Included from tests/guests/guests.mk; variables here are prefixed HVTG_.

HVTG_DIR    := tests/guests/hvt
HVTG_OUT    := $(BUILD)/guests/hvt
HVTG_NAMES  := hello blk time fault hostile net net_ring idle
HVTG_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-pic -no-pie -static -mno-red-zone \
               -mgeneral-regs-only -fno-stack-protector -O2 -Wall -Wextra -Werror \
               -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
               -fno-delete-null-pointer-checks -fcf-protection=none -fno-builtin \
               -I$(HVTG_DIR)/rt -MMD -MP
HVTG_LD     := $(HVTG_DIR)/rt/hvt.ld
HVTG_LDFLAGS := -T $(HVTG_LD) -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
                -Wl,--no-warn-rwx-segments
HVTG_RT     := $(HVTG_OUT)/obj/rt/start.o $(HVTG_OUT)/obj/rt/hvt_rt.o
HVTG_BINS   := $(HVTG_NAMES:%=$(HVTG_OUT)/%.hvt)

guests: $(HVTG_BINS)

# The network unikernels share the ARP/ping answers (rt/ping.c).
HVTG_PING := $(HVTG_OUT)/obj/rt/ping.o
$(HVTG_OUT)/net.hvt $(HVTG_OUT)/net_ring.hvt: HVTG_EXTRA := $(HVTG_PING)
$(HVTG_OUT)/net.hvt $(HVTG_OUT)/net_ring.hvt: $(HVTG_PING)

$(HVTG_BINS): $(HVTG_OUT)/%.hvt: $(HVTG_OUT)/obj/%.o $(HVTG_RT) $(HVTG_LD)
	@echo "  HVT     $@"
	$(Q)$(GUEST_CC) $(HVTG_CFLAGS) $(HVTG_LDFLAGS) -o $@ $< $(HVTG_RT) $(HVTG_EXTRA)

$(HVTG_OUT)/obj/%.o: $(HVTG_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  HVT     $@"
	$(Q)$(GUEST_CC) $(HVTG_CFLAGS) -c -o $@ $<

$(HVTG_OUT)/obj/rt/start.o: $(HVTG_DIR)/rt/start.S
	@mkdir -p $(dir $@)
	@echo "  HVT     $@"
	$(Q)$(GUEST_CC) $(HVTG_CFLAGS) -c -o $@ $<

-include $(HVTG_NAMES:%=$(HVTG_OUT)/obj/%.d) $(HVTG_OUT)/obj/rt/hvt_rt.d $(HVTG_OUT)/obj/rt/ping.d

# `make` also leaves a solo5-hvt link next to mote: started through it, mote is solo5-hvt.
all: $(BUILD)/solo5-hvt
$(BUILD)/solo5-hvt: $(BUILD)/mote
	$(Q)ln -sf mote $@
