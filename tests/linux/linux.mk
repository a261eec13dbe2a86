# linux.mk: static helper programs for the Linux guest tests (tests/linux/*.sh), built into
# $(BUILD)/linux/. They run inside the stock Linux guest (the tests append them to the guest
# kit's initramfs) and in the nested test host (tests/nested/host.sh copies them in).
#   vsockt: a tiny socat for AF_VSOCK and mote's hybrid vsock Unix sockets (tests/linux/vsock.sh)
LINUX_TOOLS_DIR := $(BUILD)/linux
LINUX_TOOLS     := $(LINUX_TOOLS_DIR)/vsockt

all: $(LINUX_TOOLS)

$(LINUX_TOOLS_DIR)/vsockt: tests/linux/vsockt.c tests/linux/linux.mk
	@mkdir -p $(LINUX_TOOLS_DIR)
	@echo "  STATIC  $@"
	$(Q)$(CC) -std=c11 -O2 -Wall -Wextra -Werror -static -o $@ tests/linux/vsockt.c
