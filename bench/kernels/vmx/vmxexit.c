/*
 * vmxexit: the `vmexit` benchmark workload (bench/run.ts). A minimal hypervisor, built on the
 * test kernels' hypervisor library (test/kernels/vmx/lib), runs a 64-bit guest that loops on
 * instructions that cause VM exits:
 *
 *   1: vmcall             exit reason 18 ("Instructions That Cause VM Exits Unconditionally")
 *      out %al, $0x80      exit reason 30 (I/O bitmap A has port 80H set: "Use I/O bitmaps")
 *      dec %rcx
 *      jnz 1b
 *      hlt                 exit reason 12 ("HLT exiting"): the end
 *
 * The exit handler does what a hypervisor's fast path does: VMREAD the exit reason, GUEST_RIP
 * and the VM-exit instruction length, VMWRITE GUEST_RIP past the instruction, VMRESUME
 * (through vmx_enter, which also VMWRITEs HOST_RSP and swaps the guest GPRs). EPT is on
 * (identity map of the first 8 MiB with 2 MiB pages), as for a course hypervisor's guest.
 * One iteration = 2 VM exits and 2 VM entries.
 *
 * Parameters: vmxray boots the ELF, Bochs a disk image; neither has a command line here, so
 * bench/ patches the block after the "VXBPARAM" magic (u32 workload id, u32 iterations).
 * Output on port 0xE9: "VXB <16 hex digits>" = (VMCALL exits << 32) | I/O exits, then
 * isa-debug-exit (vmxray) and "Shutdown" on port 8900H (Bochs).
 */
#include "vmx.h"

extern u8 bench_guest_entry[];

/* patched by bench/vmxray.ts and bench/bochs.ts; volatile so the compiler reads it at run time */
volatile struct { char magic[8]; u32 workload, iterations; } bench_param = {
    { 'V', 'X', 'B', 'P', 'A', 'R', 'A', 'M' }, 5, 1000
};

static u8 io_bitmap_a[4096] ALIGNED(4096);
static u8 io_bitmap_b[4096] ALIGNED(4096);
static u8 guest_stack[4096] ALIGNED(16);

void kernel_main(void)
{
    if (!vmx_enable())
        hv_done();
    u64 eptp = ept_identity(8ull << 20);
    vmcs_fresh(0);
    memset(io_bitmap_a, 0, sizeof io_bitmap_a);
    memset(io_bitmap_b, 0, sizeof io_bitmap_b);
    io_bitmap_a[0x80 / 8] |= 1u << (0x80 % 8);
    u32 exit = EXIT_HOST_ADDRESS_SPACE_SIZE | (ctl_allowed(caps.exit, EXIT_LOAD_IA32_EFER) ? EXIT_LOAD_IA32_EFER | EXIT_SAVE_IA32_EFER : 0);
    u32 entry = ENTRY_IA32E_MODE_GUEST | (ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER) ? ENTRY_LOAD_IA32_EFER : 0);
    if (!vmcs_set_controls(0, PROC_HLT_EXITING | PROC_USE_IO_BITMAPS, PROC2_ENABLE_EPT, exit, entry))
        hv_done();
    vmwrite(ADDRESS_OF_IO_BITMAP_A, (u64)io_bitmap_a);
    vmwrite(ADDRESS_OF_IO_BITMAP_B, (u64)io_bitmap_b);
    vmwrite(EPT_POINTER, eptp);
    vmcs_set_host();
    vmcs_set_guest64((u64)bench_guest_entry, (u64)(guest_stack + sizeof guest_stack));

    struct vcpu_regs g;
    memset(&g, 0, sizeof g);
    g.rcx = bench_param.iterations ? bench_param.iterations : 1;
    u64 vmcalls = 0, ios = 0;
    int launched = 0;
    for (;;) {
        int s = vmx_enter(&g, launched);
        if (s != 0) {
            hv_fail("vmentry", "%s failed: status %d, VM-instruction error %llu", launched ? "VMRESUME" : "VMLAUNCH", s,
                    s == VM_FAIL_VALID ? vmread(VM_INSTRUCTION_ERROR) : 0);
            hv_done();
        }
        launched = 1;
        u32 reason = (u32)vmread(VM_EXIT_REASON);
        if (reason == EXIT_REASON_VMCALL)
            vmcalls++;
        else if (reason == EXIT_REASON_IO_INSTRUCTION)
            ios++;
        else if (reason == EXIT_REASON_HLT)
            break;
        else {
            hv_fail("exit", "unexpected exit reason %u (%s) at RIP 0x%llx", reason, exit_reason_name(reason), vmread(GUEST_RIP));
            hv_done();
        }
        vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(VM_EXIT_INSTRUCTION_LENGTH));
    }
    kprintf("VXB %016llx\n", (vmcalls << 32) | ios);
    hv_pass("vmexit", "%llu VMCALL and %llu I/O exits", vmcalls, ios);
    hv_done();
}
