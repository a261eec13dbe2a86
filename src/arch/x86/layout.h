/* The x86 machine's guest-physical layout: where mote puts boot structures, where RAM ends
 * and the device hole begins. The one place that picks these addresses. */
#ifndef MOTE_ARCH_X86_LAYOUT_H
#define MOTE_ARCH_X86_LAYOUT_H

#define X86_BOOT_GDT_GPA 0x500ull      /* boot GDT: null, code32/64, data, TSS */
#define X86_PVH_INFO_GPA 0x6000ull     /* struct hvm_start_info */
#define X86_PVH_MODLIST_GPA 0x6040ull  /* hvm_modlist_entry[] (initrd) */
#define X86_PVH_MEMMAP_GPA 0x6100ull   /* hvm_memmap_table_entry[] */
#define X86_PVH_MEMMAP_MAX 32
#define X86_ZERO_PAGE_GPA 0x7000ull    /* Linux struct boot_params (4 KiB) */
#define X86_BOOT_STACK_GPA 0x8ff0ull   /* initial rsp for the Linux 64-bit entry */
#define X86_BOOT_PML4_GPA 0x9000ull    /* Linux boot page tables: PML4, PDPT, 4 PDs */
#define X86_BOOT_PDPT_GPA 0xa000ull    /*   (identity map of the first 4 GiB, 2 MiB pages) */
#define X86_BOOT_PD_GPA 0xb000ull      /*   0xb000-0xefff */
#define X86_ACPI_GPA 0xe0000ull        /* ACPI tables: RSDP first, up to X86_ACPI_END */
#define X86_ACPI_END 0x100000ull
#define X86_CMDLINE_GPA 0x20000ull     /* kernel command line, NUL-terminated */
#define X86_CMDLINE_MAX 4096ull        /* bytes including the NUL */
#define X86_EBDA_START 0x9fc00ull      /* low RAM given to the guest ends here */
#define X86_VMGENID_GPA 0xdf000ull     /* VM generation ID + restore counter (reserved RAM) */
#define X86_HIMEM_START 0x100000ull    /* kernels load at or above 1 MiB */

#define X86_HOLE_START 0xc0000000ull   /* 3 GiB: start of the device hole below 4 GiB */
#define X86_HOLE_END 0x100000000ull    /* RAM resumes at 4 GiB */
#define X86_IOAPIC_GPA 0xfec00000ull
#define X86_LAPIC_GPA 0xfee00000ull
#define X86_TSS_GPA 0xfffbd000ull      /* 3 pages for KVM_SET_TSS_ADDR (Intel real mode) */
#define X86_IDENTITY_MAP_GPA 0xfffbc000ull

#endif
