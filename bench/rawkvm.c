/*
 * rawkvm: the smallest VMM that can run mote's PVH test guests.
 *
 * It is the floor for bench/startup.sh: the cost of a port exit (guest ->
 * KVM -> this process -> KVM -> guest) with nothing in the way, and the
 * smallest exec-to-exit time and peak RSS a KVM process can have.
 *
 * usage: rawkvm GUEST.elf [CMDLINE]
 *
 * Guest RAM: 64 MiB of anonymous memory at guest-physical 0. The ELF's
 * PT_LOAD segments go to p_paddr; the entry point is the PVH entry from the
 * PT_NOTE "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY). The vCPU starts in
 * 32-bit protected mode, paging off, with RBX = the struct hvm_start_info.
 *
 * Exits handled: outb to 0x80 (ignored), writes to 0x3f8 (to stdout), reads
 * of 0x3fd (0x60: transmitter empty), writes to 0xf4 (exit((v << 1) | 1), as
 * QEMU's isa-debug-exit). Anything else is reported and exits with 99.
 *
 * With RAWKVM_STATS=1 in the environment it also prints, to stderr, when the
 * guest exits: "rawkvm: port80_exits=N guest_resident_kib=N", the number of
 * outb to port 0x80 and how much guest RAM is resident (mincore), i.e. how
 * much guest memory the load and the guest touched.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE       (64ull << 20)
#define START_INFO_GPA 0x6000ull
#define MEMMAP_GPA     0x7000ull
#define CMDLINE_GPA    0x20000ull
#define CMDLINE_MAX    4096ull
#define TSS_ADDR       0xfffbd000ul

#define PVH_MAGIC          0x336ec578u
#define XEN_ELFNOTE_PHYS32 18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fflush(stdout);
	fputs("rawkvm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	exit(99);
}

#define XIOCTL(fd, req, arg) xioctl((fd), (req), (unsigned long)(arg), #req)
static int xioctl(int fd, unsigned long req, unsigned long arg, const char *name)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die("ioctl %s", name);
	return r;
}

static void xpread(int fd, void *buf, size_t len, uint64_t off, const char *what)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			die("reading %s", what);
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

/* Is [addr, addr+len) inside guest RAM? */
static int in_ram(uint64_t addr, uint64_t len)
{
	return addr <= RAM_SIZE && len <= RAM_SIZE - addr;
}

/* Searches one PT_NOTE segment for the PVH entry note; 0 if absent. */
static uint64_t find_pvh_entry(int fd, uint64_t off, uint64_t len)
{
	uint8_t buf[4096];
	uint64_t pos = 0;

	errno = 0;
	if (len > sizeof(buf))
		len = sizeof(buf); /* the note is always near the front */
	xpread(fd, buf, (size_t)len, off, "PT_NOTE");
	while (pos + 12 <= len) {
		uint32_t namesz, descsz, type;
		uint64_t name, desc, next;

		memcpy(&namesz, buf + pos, 4);
		memcpy(&descsz, buf + pos + 4, 4);
		memcpy(&type, buf + pos + 8, 4);
		name = pos + 12;
		desc = name + (((uint64_t)namesz + 3) & ~3ull);
		next = desc + (((uint64_t)descsz + 3) & ~3ull);
		if (next > len)
			break;
		if (type == XEN_ELFNOTE_PHYS32 && namesz == 4 && memcmp(buf + name, "Xen", 4) == 0) {
			if (descsz == 4) {
				uint32_t e;
				memcpy(&e, buf + desc, 4);
				return e;
			}
			if (descsz == 8) {
				uint64_t e;
				memcpy(&e, buf + desc, 8);
				return e;
			}
			errno = 0;
			die("PVH note has a %u-byte descriptor", descsz);
		}
		pos = next;
	}
	return 0;
}

/* Loads the PT_LOAD segments of an ELF32 or ELF64 file; returns the PVH entry. */
static uint64_t load_elf(const char *path, uint8_t *ram)
{
	unsigned char ident[EI_NIDENT];
	uint64_t phoff, entry = 0;
	unsigned phnum, phentsize, i;
	int is64, fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", path);
	errno = 0;
	xpread(fd, ident, sizeof(ident), 0, "ELF ident");
	if (memcmp(ident, ELFMAG, SELFMAG) != 0 || ident[EI_DATA] != ELFDATA2LSB ||
	    (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64))
		die("%s: not a little-endian ELF file", path);
	is64 = ident[EI_CLASS] == ELFCLASS64;
	if (is64) {
		Elf64_Ehdr eh;
		xpread(fd, &eh, sizeof(eh), 0, "ELF header");
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			die("%s: bad e_phentsize %u", path, phentsize);
	} else {
		Elf32_Ehdr eh;
		xpread(fd, &eh, sizeof(eh), 0, "ELF header");
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			die("%s: bad e_phentsize %u", path, phentsize);
	}
	if (phnum == 0 || phnum > 64)
		die("%s: %u program headers", path, phnum);

	for (i = 0; i < phnum; i++) {
		uint64_t type, off, paddr, filesz, memsz;

		if (is64) {
			Elf64_Phdr ph;
			xpread(fd, &ph, sizeof(ph), phoff + (uint64_t)i * phentsize, "program header");
			type = ph.p_type;
			off = ph.p_offset;
			paddr = ph.p_paddr;
			filesz = ph.p_filesz;
			memsz = ph.p_memsz;
		} else {
			Elf32_Phdr ph;
			xpread(fd, &ph, sizeof(ph), phoff + (uint64_t)i * phentsize, "program header");
			type = ph.p_type;
			off = ph.p_offset;
			paddr = ph.p_paddr;
			filesz = ph.p_filesz;
			memsz = ph.p_memsz;
		}
		if (type == PT_NOTE && !entry) {
			entry = find_pvh_entry(fd, off, filesz);
		} else if (type == PT_LOAD && memsz) {
			if (filesz > memsz || !in_ram(paddr, memsz))
				die("%s: segment %u (paddr 0x%llx, memsz 0x%llx) outside guest RAM", path, i,
				    (unsigned long long)paddr, (unsigned long long)memsz);
			/* RAM is fresh anonymous memory: the bss is already zero. */
			if (filesz)
				xpread(fd, ram + paddr, (size_t)filesz, off, "segment");
		}
	}
	close(fd);
	if (!entry)
		die("%s: no PVH entry note (\"Xen\", type 18)", path);
	if (entry >= RAM_SIZE)
		die("%s: PVH entry 0x%llx outside guest RAM", path, (unsigned long long)entry);
	return entry;
}

static void write_start_info(uint8_t *ram, const char *cmdline)
{
	struct hvm_start_info si = {
		.magic = PVH_MAGIC,
		.version = 1,
		.cmdline_paddr = CMDLINE_GPA,
		.memmap_paddr = MEMMAP_GPA,
		.memmap_entries = 2,
	};
	struct hvm_memmap_entry mm[2] = {
		{ .addr = 0, .size = 0x9fc00, .type = 1 },
		{ .addr = 0x100000, .size = RAM_SIZE - 0x100000, .type = 1 },
	};
	size_t len = strlen(cmdline);

	errno = 0;
	if (len >= CMDLINE_MAX)
		die("command line longer than %llu bytes", CMDLINE_MAX - 1);
	memcpy(ram + CMDLINE_GPA, cmdline, len + 1);
	memcpy(ram + MEMMAP_GPA, mm, sizeof(mm));
	memcpy(ram + START_INFO_GPA, &si, sizeof(si));
}

static void set_cpuid(int kvm, int vcpu)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned n = 64;

	for (;;) {
		c = realloc(c, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			die("out of memory");
		memset(c, 0, sizeof(*c));
		c->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || n >= 4096)
			die("ioctl KVM_GET_SUPPORTED_CPUID");
		n *= 2;
	}
	XIOCTL(vcpu, KVM_SET_CPUID2, c);
	free(c);
}

static void set_flat(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
}

static void set_regs(int vcpu, uint64_t entry)
{
	struct kvm_sregs sr;
	struct kvm_regs r;

	XIOCTL(vcpu, KVM_GET_SREGS, &sr);
	set_flat(&sr.cs, 0x08, 0xb);
	set_flat(&sr.ds, 0x18, 0x3);
	sr.es = sr.ds;
	sr.ss = sr.ds;
	sr.fs = sr.ds;
	sr.gs = sr.ds;
	sr.tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1, .s = 0,
	};
	sr.cr0 = 0x11; /* PE | ET */
	sr.cr3 = 0;
	sr.cr4 = 0;
	sr.efer = 0;
	XIOCTL(vcpu, KVM_SET_SREGS, &sr);

	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rbx = START_INFO_GPA;
	r.rflags = 0x2;
	XIOCTL(vcpu, KVM_SET_REGS, &r);
}

static void dump_regs(int vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (ioctl(vcpu, KVM_GET_REGS, &r) == 0 && ioctl(vcpu, KVM_GET_SREGS, &sr) == 0)
		fprintf(stderr,
			"rawkvm: rip=0x%llx rsp=0x%llx rax=0x%llx rflags=0x%llx cr0=0x%llx cr3=0x%llx "
			"cr4=0x%llx efer=0x%llx cs=0x%x\n",
			(unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rax,
			(unsigned long long)r.rflags, (unsigned long long)sr.cr0, (unsigned long long)sr.cr3,
			(unsigned long long)sr.cr4, (unsigned long long)sr.efer, sr.cs.selector);
}

static unsigned long long port80_exits;

static void print_stats(uint8_t *ram)
{
	static unsigned char vec[RAM_SIZE / 4096];
	unsigned long long resident = 0;
	size_t i;

	if (!getenv("RAWKVM_STATS"))
		return;
	if (mincore(ram, RAM_SIZE, vec) < 0)
		die("mincore");
	for (i = 0; i < sizeof(vec); i++)
		resident += vec[i] & 1;
	fprintf(stderr, "rawkvm: port80_exits=%llu guest_resident_kib=%llu\n", port80_exits, resident * 4);
}

static uint32_t io_value(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	memcpy(&v, p, size > 4 ? 4 : size);
	return v;
}

/* Handles one KVM_EXIT_IO; returns -1 to keep running, else the exit status. */
static int handle_io(struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size, count = run->io.count, i;
	uint16_t port = run->io.port;

	if (run->io.direction == KVM_EXIT_IO_OUT) {
		if (port == 0x80) {
			port80_exits += count;
			return -1;
		}
		if (port == 0x3f8 && size == 1) {
			if (fwrite(data, 1, count, stdout) != count)
				die("writing guest output");
			return -1;
		}
		if (port == 0xf4) {
			fflush(stdout);
			return (int)(((io_value(data, size) << 1) | 1) & 0xff);
		}
	} else if (port == 0x3fd && size == 1) {
		for (i = 0; i < count; i++)
			data[i] = 0x60;
		return -1;
	}
	fflush(stdout);
	fprintf(stderr, "rawkvm: unhandled port %s: port 0x%x size %u count %u value 0x%x\n",
		run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", port, size, count,
		run->io.direction == KVM_EXIT_IO_OUT ? io_value(data, size) : 0);
	return 99;
}

int main(int argc, char **argv)
{
	const char *cmdline = argc > 2 ? argv[2] : "";
	struct kvm_userspace_memory_region region;
	struct kvm_run *run;
	uint64_t entry;
	uint8_t *ram;
	int kvm, vm, vcpu, mmap_size;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: rawkvm GUEST.elf [CMDLINE]\n");
		return 2;
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	if (XIOCTL(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = 0;
		die("unexpected KVM API version");
	}
	vm = XIOCTL(kvm, KVM_CREATE_VM, 0);
	XIOCTL(vm, KVM_SET_TSS_ADDR, TSS_ADDR);
	XIOCTL(vm, KVM_CREATE_IRQCHIP, 0);

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap guest RAM");
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	XIOCTL(vm, KVM_SET_USER_MEMORY_REGION, &region);

	entry = load_elf(argv[1], ram);
	write_start_info(ram, cmdline);

	vcpu = XIOCTL(vm, KVM_CREATE_VCPU, 0);
	mmap_size = XIOCTL(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run)) {
		errno = 0;
		die("KVM_GET_VCPU_MMAP_SIZE too small: %d", mmap_size);
	}
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	set_cpuid(kvm, vcpu);
	set_regs(vcpu, entry);

	for (;;) {
		int status;

		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("ioctl KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			status = handle_io(run);
			if (status >= 0) {
				if (status == 99)
					dump_regs(vcpu);
				else
					print_stats(ram);
				return status;
			}
			break;
		case KVM_EXIT_MMIO:
			fflush(stdout);
			fprintf(stderr, "rawkvm: unhandled MMIO %s at 0x%llx, %u bytes\n",
				run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr,
				run->mmio.len);
			dump_regs(vcpu);
			return 99;
		case KVM_EXIT_FAIL_ENTRY:
			fflush(stdout);
			fprintf(stderr, "rawkvm: KVM_EXIT_FAIL_ENTRY, reason 0x%llx\n",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			dump_regs(vcpu);
			return 99;
		case KVM_EXIT_INTERNAL_ERROR:
			fflush(stdout);
			fprintf(stderr, "rawkvm: KVM_EXIT_INTERNAL_ERROR, suberror %u\n", run->internal.suberror);
			dump_regs(vcpu);
			return 99;
		default:
			fflush(stdout);
			fprintf(stderr, "rawkvm: unhandled exit reason %u\n", run->exit_reason);
			dump_regs(vcpu);
			return 99;
		}
	}
}
