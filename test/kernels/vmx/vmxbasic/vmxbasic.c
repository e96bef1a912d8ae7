/*
 * vmxbasic: a minimal hypervisor. Multiboot → long mode (common/boot64.S) → VMX:
 *   CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL, the IA32_VMX_* capability MSRs (controls adjusted with
 *   their allowed-0/allowed-1 settings), CR0/CR4 fixed bits + CR4.VMXE, VMXON, VMCLEAR, VMPTRLD,
 *   a complete VMCS (64-bit host, 64-bit guest), VMLAUNCH.
 * Phase 1: the guest shares the host's page tables. Phase 2: the same guest with EPT
 * identity-mapping the first 8 MiB with 2 MiB pages.
 * The guest does CPUID, OUT to port 0xE9 (imm8 and DX forms), HLT, UD2 (caught by the exception
 * bitmap) and VMCALL; the exit loop checks every exit's reason, qualification, instruction length
 * and guest RIP against the SDM (Vol. 3C "Basic VM-Exit Information", "Exit Qualification for I/O
 * Instructions", "Information for VM Exits Due to Vectored Events", "VM-Exit Instruction Length").
 */
#include "vmx.h"

extern u8 guest64_entry[], g64_cpuid[], g64_out_imm[], g64_out_dx[], g64_hlt[], g64_ud2[], g64_vmcall[];
extern volatile u32 guest64_cpuid_result[4], guest64_after_hlt;

static u8 guest_stack[8192] ALIGNED(16);
static const char signature[12] = "vmxraytestHV";

static void run_guest(const char *phase, const char *msg, u32 proc2, u64 eptp)
{
    char name[64];
    vmcs_fresh(0);
    ksnprintf(name, sizeof name, "%s-vmcs-current", phase);
    if (vmptrst() == (u64)0)
        hv_fail(name, "VMPTRST stored 0");
    /* CPUID always exits ("Instructions That Cause VM Exits Unconditionally"); HLT exits with
     * "HLT exiting"; I/O with "unconditional I/O exiting". */
    if (!vmcs_set_controls(0, PROC_HLT_EXITING | PROC_UNCONDITIONAL_IO_EXITING, proc2,
                           EXIT_HOST_ADDRESS_SPACE_SIZE | (ctl_allowed(caps.exit, EXIT_LOAD_IA32_EFER) ? EXIT_LOAD_IA32_EFER | EXIT_SAVE_IA32_EFER : 0),
                           ENTRY_IA32E_MODE_GUEST | (ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER) ? ENTRY_LOAD_IA32_EFER : 0)))
        return;
    vmwrite(EXCEPTION_BITMAP, 1u << 6); /* #UD */
    if (proc2 & PROC2_ENABLE_EPT)
        vmwrite(EPT_POINTER, eptp);
    vmcs_set_host();
    vmcs_set_guest64((u64)guest64_entry, (u64)(guest_stack + sizeof guest_stack));

    struct vcpu_regs g;
    memset(&g, 0, sizeof g);
    g.rdi = (u64)msg;
    guest64_after_hlt = 0;
    for (int i = 0; i < 4; i++)
        guest64_cpuid_result[i] = 0;

    int launched = 0, outs = 0, step = 0, stop = 0;
    const char *expect_next = msg;
    while (!stop) {
        int s = vmx_enter(&g, launched);
        if (s != 0) {
            ksnprintf(name, sizeof name, "%s-vmentry", phase);
            hv_fail(name, "%s failed: %s, VM-instruction error %llu", launched ? "VMRESUME" : "VMLAUNCH",
                    s == VM_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", s == VM_FAIL_VALID ? vmread(VM_INSTRUCTION_ERROR) : 0);
            return;
        }
        if (!launched) {
            ksnprintf(name, sizeof name, "%s-vmlaunch", phase);
            hv_pass(name, "first VM exit after VMLAUNCH");
        }
        launched = 1;
        struct vm_exit e;
        vm_exit_read(&e);
        switch (step) {
        case 0: /* CPUID: exit reason 10, CPUID is 2 bytes (0F A2) */
            hv_expect("exit reason", e.reason, EXIT_REASON_CPUID);
            hv_expect("instruction length", e.instr_len, 2);
            hv_expect("guest RIP", e.guest_rip, (u64)g64_cpuid);
            hv_expect("guest RAX (leaf)", (u32)g.rax, 0x40000000);
            ksnprintf(name, sizeof name, "%s-exit-cpuid", phase);
            if (hv_check_end(name, "reason 10, length 2, RIP = CPUID")) {
                /* emulate the hypervisor leaf: max leaf in EAX, signature in EBX, ECX, EDX */
                g.rax = 0x40000000;
                g.rbx = *(const u32 *)&signature[0];
                g.rcx = *(const u32 *)&signature[4];
                g.rdx = *(const u32 *)&signature[8];
                guest_skip_instruction(&e);
                step++;
            } else
                stop = 1;
            break;
        case 1: /* OUT: exit reason 30; qualification: size-1 in 2:0, direction 0 = out (bit 3),
                 * string (4), REP (5), operand encoding 1 = immediate (6), port in 31:16 */
            if (e.reason == EXIT_REASON_IO_INSTRUCTION) {
                int first = outs == 0;
                hv_expect("guest RIP", e.guest_rip, first ? (u64)g64_out_imm : (u64)g64_out_dx);
                hv_expect("exit qualification", e.qual, first ? 0x00e90040 : 0x00e90000);
                hv_expect("instruction length", e.instr_len, first ? 2 : 1);
                hv_expect("guest AL", (u8)g.rax, (u8)*expect_next);
                expect_next++;
                guest_putc((char)g.rax);
                guest_skip_instruction(&e);
                outs++;
                break;
            }
            ksnprintf(name, sizeof name, "%s-exit-io", phase);
            hv_expect("bytes written to port 0xE9", outs, (u64)(expect_next - msg));
            hv_expect("message bytes", *expect_next, 0);
            if (!hv_check_end(name, "%d OUT exits to port 0xE9: qualification 0x00E90040 (OUT imm8) then 0x00E90000 (OUT DX), lengths 2 and 1", outs)) {
                stop = 1;
                break;
            }
            step++;
            /* fall through: this exit is the HLT */
            __attribute__((fallthrough));
        case 2: /* HLT: exit reason 12, length 1 */
            hv_expect("exit reason", e.reason, EXIT_REASON_HLT);
            hv_expect("instruction length", e.instr_len, 1);
            hv_expect("guest RIP", e.guest_rip, (u64)g64_hlt);
            hv_expect("guest activity state (active)", vmread(GUEST_ACTIVITY_STATE), 0);
            ksnprintf(name, sizeof name, "%s-exit-hlt", phase);
            if (hv_check_end(name, "reason 12, length 1, RIP = HLT")) {
                guest_skip_instruction(&e);
                step++;
            } else
                stop = 1;
            break;
        case 3: /* #UD: exit reason 0; interruption information valid (31), type 3 = hardware
                 * exception (10:8), vector 6, no error code (11); not during event delivery */
            hv_expect("exit reason", e.reason, EXIT_REASON_EXCEPTION_OR_NMI);
            hv_expect("VM-exit interruption information", e.intr_info, 0x80000306);
            hv_expect("exit qualification", e.qual, 0);
            hv_expect("IDT-vectoring information valid", e.idt_vectoring >> 31, 0);
            hv_expect("guest RIP", e.guest_rip, (u64)g64_ud2);
            hv_expect("instruction after HLT ran", guest64_after_hlt, 1);
            ksnprintf(name, sizeof name, "%s-exit-ud-exception-bitmap", phase);
            if (hv_check_end(name, "reason 0, interruption information 0x80000306, RIP = UD2")) {
                vmwrite(GUEST_RIP, e.guest_rip + 2); /* skip UD2 (the instruction length field is undefined for #UD) */
                step++;
            } else
                stop = 1;
            break;
        case 4: /* VMCALL: exit reason 18, length 3 */
            hv_expect("exit reason", e.reason, EXIT_REASON_VMCALL);
            hv_expect("instruction length", e.instr_len, 3);
            hv_expect("guest RIP", e.guest_rip, (u64)g64_vmcall);
            ksnprintf(name, sizeof name, "%s-exit-vmcall", phase);
            hv_check_end(name, "reason 18, length 3, RIP = VMCALL");
            stop = 1;
            break;
        }
        if (stop && step < 4) {
            ksnprintf(name, sizeof name, "%s-last-exit", phase);
            hv_fail(name, "step %d: exit reason %u (%s), qualification 0x%llx, length %u, RIP 0x%llx, interruption info 0x%x",
                    step, e.reason, exit_reason_name(e.reason), e.qual, e.instr_len, e.guest_rip, e.intr_info);
        }
    }
    /* the guest saw the hypervisor's CPUID answer */
    hv_expect("guest EAX", guest64_cpuid_result[0], 0x40000000);
    hv_expect("guest EBX", guest64_cpuid_result[1], *(const u32 *)&signature[0]);
    hv_expect("guest ECX", guest64_cpuid_result[2], *(const u32 *)&signature[4]);
    hv_expect("guest EDX", guest64_cpuid_result[3], *(const u32 *)&signature[8]);
    ksnprintf(name, sizeof name, "%s-cpuid-emulated", phase);
    hv_check_end(name, "the guest read the signature \"vmxraytestHV\"");
    /* VM exits save guest state: the host reads it back from the VMCS */
    hv_expect("guest CS selector", vmread(GUEST_CS_SELECTOR), KCODE64);
    hv_expect("guest CS access rights", vmread(GUEST_CS_ACCESS_RIGHTS), AR_CODE64);
    hv_expect("IA-32e mode guest after exit", (vmread(VM_ENTRY_CONTROLS) & ENTRY_IA32E_MODE_GUEST) != 0, 1);
    ksnprintf(name, sizeof name, "%s-guest-state-saved", phase);
    hv_check_end(name, "guest CS 0x10 / AR 0xA09B, IA-32e mode guest");
}

void kernel_main(void)
{
    if (!vmx_enable())
        hv_done();
    run_guest("shared-pt", "hello from a 64-bit guest on the host's page tables\n", 0, 0);

    if (!ctl_allowed(caps.proc, PROC_ACTIVATE_SECONDARY_CONTROLS) || !ctl_allowed(caps.proc2, PROC2_ENABLE_EPT) ||
        !(caps.ept_vpid & EPT_CAP_WALK_LENGTH_4) || !(caps.ept_vpid & EPT_CAP_MEMTYPE_WB) || !(caps.ept_vpid & EPT_CAP_PDE_2MB)) {
        hv_fail("ept-capabilities", "EPT with 4-level walks, WB and 2 MiB pages is not offered (EPT/VPID cap 0x%llx)", caps.ept_vpid);
        hv_done();
    }
    hv_pass("ept-capabilities", "IA32_VMX_EPT_VPID_CAP = 0x%llx", caps.ept_vpid);
    u64 eptp = ept_identity(8ull << 20);
    run_guest("ept", "hello from a 64-bit guest with EPT\n", PROC2_ENABLE_EPT, eptp);

    hv_expect("VMXOFF", vmxoff(), VM_SUCCEED);
    hv_check_end("vmxoff", "");
    hv_done();
}
