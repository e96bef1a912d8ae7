/*
 * vmxguest32: an unrestricted guest that starts in 32-bit protected mode with paging off, as a
 * hypervisor starts a multiboot guest (SWEB): EPT identity-maps the first 8 MiB with 2 MiB pages,
 * I/O bitmap A makes only port 0xE9 exit, and a write to guest-physical 16 MiB (unmapped) is an
 * EPT violation that the hypervisor handles by mapping the page (to host-physical 18 MiB) and
 * resuming.
 * SDM Vol. 3C: "Unrestricted Guests", "I/O-Bitmap Addresses", "EPT Violations", "Exit
 * Qualification for EPT Violations", "Invalidation of TLBs and Paging-Structure Caches" (INVEPT).
 */
#include "vmx.h"

extern u8 guest32_entry[], g32_out[], g32_touch[], g32_vmcall[], g32_msg[];
extern volatile u32 g32_magic, g32_mbi, g32_readback;

static u8 io_bitmap_a[4096] ALIGNED(4096);
static u8 io_bitmap_b[4096] ALIGNED(4096);
static u8 guest_stack[4096] ALIGNED(16);
static u32 fake_mbi[8] ALIGNED(16); /* flags = 0: no information */

#define GPA_UNMAPPED 0x1000000ull /* 16 MiB */
#define HPA_BACKING 0x1200000ull  /* 18 MiB */

void kernel_main(void)
{
    if (!vmx_enable())
        hv_done();
    if (!ctl_allowed(caps.proc, PROC_ACTIVATE_SECONDARY_CONTROLS | PROC_USE_IO_BITMAPS) ||
        !ctl_allowed(caps.proc2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST) || !(caps.ept_vpid & EPT_CAP_PDE_2MB) ||
        !(caps.ept_vpid & EPT_CAP_INVEPT)) {
        hv_fail("unrestricted-guest-capabilities", "needs I/O bitmaps, EPT (2 MiB pages, INVEPT) and unrestricted guest: proc 0x%llx proc2 0x%llx ept 0x%llx",
                caps.proc, caps.proc2, caps.ept_vpid);
        hv_done();
    }
    hv_pass("unrestricted-guest-capabilities", "");

    /* SDM Vol. 3C, "I/O-Bitmap Addresses": bitmap A covers ports 0000H-7FFFH, one bit per port */
    memset(io_bitmap_a, 0, sizeof io_bitmap_a);
    memset(io_bitmap_b, 0, sizeof io_bitmap_b);
    io_bitmap_a[0xe9 / 8] |= 1u << (0xe9 % 8);
    /* the backing page the hypervisor will map, with a marker the guest overwrites */
    *(volatile u32 *)HPA_BACKING = 0x12345678;

    u64 eptp = ept_identity(8ull << 20);
    vmcs_fresh(0);
    u32 entry = ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER) ? ENTRY_LOAD_IA32_EFER : 0; /* IA-32e mode guest = 0 */
    u32 exit = EXIT_HOST_ADDRESS_SPACE_SIZE | (ctl_allowed(caps.exit, EXIT_LOAD_IA32_EFER) ? EXIT_LOAD_IA32_EFER | EXIT_SAVE_IA32_EFER : 0);
    if (!vmcs_set_controls(0, PROC_USE_IO_BITMAPS, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST, exit, entry))
        hv_done();
    vmwrite(ADDRESS_OF_IO_BITMAP_A, (u64)io_bitmap_a);
    vmwrite(ADDRESS_OF_IO_BITMAP_B, (u64)io_bitmap_b);
    vmwrite(EPT_POINTER, eptp);
    vmcs_set_host();
    vmcs_set_guest32_flat((u64)guest32_entry, (u64)(guest_stack + sizeof guest_stack));

    struct vcpu_regs g;
    memset(&g, 0, sizeof g);
    g.rax = 0x2badb002;
    g.rbx = (u64)fake_mbi;

    const char *expect_next = (const char *)g32_msg;
    int launched = 0, outs = 0, step = 0, stop = 0;
    while (!stop) {
        int s = vmx_enter(&g, launched);
        if (s != 0) {
            hv_fail(launched ? "vmresume" : "vmlaunch", "VM entry failed: %s, VM-instruction error %llu",
                    s == VM_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", s == VM_FAIL_VALID ? vmread(VM_INSTRUCTION_ERROR) : 0);
            hv_done();
        }
        if (!launched)
            hv_pass("vmlaunch-unrestricted-guest", "VMLAUNCH of a 32-bit guest with CR0.PG = 0");
        launched = 1;
        struct vm_exit e;
        vm_exit_read(&e);
        switch (step) {
        case 0: /* OUT DX, AL to port 0xE9: qualification 0x00E90000, length 1 (EE) */
            if (e.reason == EXIT_REASON_IO_INSTRUCTION) {
                hv_expect("guest RIP", e.guest_rip, (u64)g32_out);
                hv_expect("exit qualification", e.qual, 0x00e90000);
                hv_expect("instruction length", e.instr_len, 1);
                hv_expect("guest AL", (u8)g.rax, (u8)*expect_next);
                expect_next++;
                guest_putc((char)g.rax);
                guest_skip_instruction(&e);
                outs++;
                break;
            }
            hv_expect("bytes written to port 0xE9", *expect_next, 0);
            if (!hv_check_end("io-bitmap-exits", "%d exits for port 0xE9 (qualification 0x00E90000, length 1); port 0x80 did not exit", outs)) {
                stop = 1;
                break;
            }
            step++;
            /* fall through: this exit is the EPT violation */
            __attribute__((fallthrough));
        case 1: /* EPT violation (48). Qualification: bit 1 = data write, bits 5:3 = 0 (the
                 * guest-physical address was not readable/writable/executable), bit 7 = guest
                 * linear-address field valid, bit 8 = the access was to the translation of a
                 * linear address (not to a paging-structure entry). */
            hv_expect("exit reason", e.reason, EXIT_REASON_EPT_VIOLATION);
            hv_expect("exit qualification", e.qual & 0x1ff, 0x182);
            hv_expect("guest-physical address", e.gpa, GPA_UNMAPPED);
            hv_expect("guest linear address", e.gla, GPA_UNMAPPED);
            hv_expect("guest RIP", e.guest_rip, (u64)g32_touch);
            if (hv_check_end("ept-violation", "reason 48, qualification 0x182, guest-physical 0x1000000, RIP = the write")) {
                ept_map_2m(GPA_UNMAPPED, HPA_BACKING);
                hv_expect("INVEPT", ept_flush(eptp), VM_SUCCEED);
                hv_check_end("invept", "");
                step++; /* resume at the same RIP: the write is retried */
            } else
                stop = 1;
            break;
        case 2: /* VMCALL */
            hv_expect("exit reason", e.reason, EXIT_REASON_VMCALL);
            hv_expect("instruction length", e.instr_len, 3);
            hv_expect("guest RIP", e.guest_rip, (u64)g32_vmcall);
            hv_check_end("exit-vmcall", "reason 18, length 3");
            stop = 1;
            break;
        }
        if (stop && step < 2)
            hv_fail("last-exit", "step %d: exit reason %u (%s), qualification 0x%llx, length %u, RIP 0x%llx, GPA 0x%llx",
                    step, e.reason, exit_reason_name(e.reason), e.qual, e.instr_len, e.guest_rip, e.gpa);
    }

    hv_expect("guest EAX at entry", g32_magic, 0x2badb002);
    hv_expect("guest EBX at entry", g32_mbi, (u64)fake_mbi);
    hv_check_end("multiboot-registers", "the guest started with EAX = 0x2BADB002, EBX = multiboot info");
    hv_expect("host-physical 18 MiB", *(volatile u32 *)HPA_BACKING, 0xc0ffee32);
    hv_expect("guest read back", g32_readback, 0xc0ffee32);
    hv_check_end("ept-mapped-page", "the guest's write to guest-physical 16 MiB landed at host-physical 18 MiB");
    u64 cr0 = vmread(GUEST_CR0);
    hv_expect("guest CR0.PG", (cr0 >> 31) & 1, 0);
    hv_expect("guest CR0.PE", cr0 & 1, 1);
    hv_expect("guest CS access rights", vmread(GUEST_CS_ACCESS_RIGHTS), AR_CODE32);
    hv_expect("IA-32e mode guest", (vmread(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST) != 0, 0);
    hv_check_end("guest-state-saved", "CR0.PE = 1, CR0.PG = 0, CS AR 0xC09B, not IA-32e mode");
    hv_done();
}
