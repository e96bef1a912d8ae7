/*
 * A small VMX hypervisor library for the test kernels in test/kernels/vmx: VMX instructions,
 * the capability MSRs, VMCS field encodings, a complete VMCS for a 64-bit host, EPT tables, the
 * VM-entry/VM-exit trampoline, and the PASS/FAIL report on port 0xE9.
 *
 * Field encodings: Intel SDM Vol. 3D, Appendix B "Field Encoding in VMCS". Control bits: SDM
 * Vol. 3C, "VM-Execution Control Fields", "VM-Exit Control Fields", "VM-Entry Control Fields".
 * Capability MSRs: SDM Vol. 3D, Appendix A "VMX Capability Reporting Facility".
 * Written so that the example hypervisor can share it (nothing here is vmxray-specific).
 */
#ifndef VMX_LIB_H
#define VMX_LIB_H
#include "lib64.h"

/* ---------------------------------------------------------------- capability MSRs */
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define FEATURE_CONTROL_LOCK 1u
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX 4u
#define MSR_IA32_VMX_BASIC 0x480
#define MSR_IA32_VMX_PINBASED_CTLS 0x481
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482
#define MSR_IA32_VMX_EXIT_CTLS 0x483
#define MSR_IA32_VMX_ENTRY_CTLS 0x484
#define MSR_IA32_VMX_MISC 0x485
#define MSR_IA32_VMX_CR0_FIXED0 0x486
#define MSR_IA32_VMX_CR0_FIXED1 0x487
#define MSR_IA32_VMX_CR4_FIXED0 0x488
#define MSR_IA32_VMX_CR4_FIXED1 0x489
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48b
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490
#define MSR_IA32_DEBUGCTL 0x1d9
#define MSR_IA32_PAT 0x277
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176

#define CR4_VMXE (1u << 13)
#define CR0_NE (1u << 5)
#define CR0_ET (1u << 4)

/* ---------------------------------------------------------------- VMCS fields (Appendix B) */
/* 16-bit */
#define VIRTUAL_PROCESSOR_IDENTIFIER 0x0000
#define GUEST_ES_SELECTOR 0x0800
#define GUEST_CS_SELECTOR 0x0802
#define GUEST_SS_SELECTOR 0x0804
#define GUEST_DS_SELECTOR 0x0806
#define GUEST_FS_SELECTOR 0x0808
#define GUEST_GS_SELECTOR 0x080a
#define GUEST_LDTR_SELECTOR 0x080c
#define GUEST_TR_SELECTOR 0x080e
#define HOST_ES_SELECTOR 0x0c00
#define HOST_CS_SELECTOR 0x0c02
#define HOST_SS_SELECTOR 0x0c04
#define HOST_DS_SELECTOR 0x0c06
#define HOST_FS_SELECTOR 0x0c08
#define HOST_GS_SELECTOR 0x0c0a
#define HOST_TR_SELECTOR 0x0c0c
/* 64-bit (full encodings) */
#define ADDRESS_OF_IO_BITMAP_A 0x2000
#define ADDRESS_OF_IO_BITMAP_B 0x2002
#define ADDRESS_OF_MSR_BITMAPS 0x2004
#define VM_EXIT_MSR_STORE_ADDRESS 0x2006
#define VM_EXIT_MSR_LOAD_ADDRESS 0x2008
#define VM_ENTRY_MSR_LOAD_ADDRESS 0x200a
#define TSC_OFFSET 0x2010
#define EPT_POINTER 0x201a
#define GUEST_PHYSICAL_ADDRESS 0x2400
#define VMCS_LINK_POINTER 0x2800
#define GUEST_IA32_DEBUGCTL 0x2802
#define GUEST_IA32_PAT 0x2804
#define GUEST_IA32_EFER 0x2806
#define HOST_IA32_PAT 0x2c00
#define HOST_IA32_EFER 0x2c02
/* 32-bit */
#define PIN_BASED_VM_EXECUTION_CONTROLS 0x4000
#define PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS 0x4002
#define EXCEPTION_BITMAP 0x4004
#define PAGE_FAULT_ERROR_CODE_MASK 0x4006
#define PAGE_FAULT_ERROR_CODE_MATCH 0x4008
#define CR3_TARGET_COUNT 0x400a
#define VM_EXIT_CONTROLS 0x400c
#define VM_EXIT_MSR_STORE_COUNT 0x400e
#define VM_EXIT_MSR_LOAD_COUNT 0x4010
#define VM_ENTRY_CONTROLS 0x4012
#define VM_ENTRY_MSR_LOAD_COUNT 0x4014
#define VM_ENTRY_INTERRUPTION_INFORMATION_FIELD 0x4016
#define VM_ENTRY_EXCEPTION_ERROR_CODE 0x4018
#define VM_ENTRY_INSTRUCTION_LENGTH 0x401a
#define TPR_THRESHOLD 0x401c
#define SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS 0x401e
#define VM_INSTRUCTION_ERROR 0x4400
#define VM_EXIT_REASON 0x4402
#define VM_EXIT_INTERRUPTION_INFORMATION 0x4404
#define VM_EXIT_INTERRUPTION_ERROR_CODE 0x4406
#define IDT_VECTORING_INFORMATION_FIELD 0x4408
#define IDT_VECTORING_ERROR_CODE 0x440a
#define VM_EXIT_INSTRUCTION_LENGTH 0x440c
#define VM_EXIT_INSTRUCTION_INFORMATION 0x440e
#define GUEST_ES_LIMIT 0x4800
#define GUEST_CS_LIMIT 0x4802
#define GUEST_SS_LIMIT 0x4804
#define GUEST_DS_LIMIT 0x4806
#define GUEST_FS_LIMIT 0x4808
#define GUEST_GS_LIMIT 0x480a
#define GUEST_LDTR_LIMIT 0x480c
#define GUEST_TR_LIMIT 0x480e
#define GUEST_GDTR_LIMIT 0x4810
#define GUEST_IDTR_LIMIT 0x4812
#define GUEST_ES_ACCESS_RIGHTS 0x4814
#define GUEST_CS_ACCESS_RIGHTS 0x4816
#define GUEST_SS_ACCESS_RIGHTS 0x4818
#define GUEST_DS_ACCESS_RIGHTS 0x481a
#define GUEST_FS_ACCESS_RIGHTS 0x481c
#define GUEST_GS_ACCESS_RIGHTS 0x481e
#define GUEST_LDTR_ACCESS_RIGHTS 0x4820
#define GUEST_TR_ACCESS_RIGHTS 0x4822
#define GUEST_INTERRUPTIBILITY_STATE 0x4824
#define GUEST_ACTIVITY_STATE 0x4826
#define GUEST_SMBASE 0x4828
#define GUEST_IA32_SYSENTER_CS 0x482a
#define HOST_IA32_SYSENTER_CS 0x4c00
/* natural width */
#define CR0_GUEST_HOST_MASK 0x6000
#define CR4_GUEST_HOST_MASK 0x6002
#define CR0_READ_SHADOW 0x6004
#define CR4_READ_SHADOW 0x6006
#define EXIT_QUALIFICATION 0x6400
#define GUEST_LINEAR_ADDRESS 0x640a
#define GUEST_CR0 0x6800
#define GUEST_CR3 0x6802
#define GUEST_CR4 0x6804
#define GUEST_ES_BASE 0x6806
#define GUEST_CS_BASE 0x6808
#define GUEST_SS_BASE 0x680a
#define GUEST_DS_BASE 0x680c
#define GUEST_FS_BASE 0x680e
#define GUEST_GS_BASE 0x6810
#define GUEST_LDTR_BASE 0x6812
#define GUEST_TR_BASE 0x6814
#define GUEST_GDTR_BASE 0x6816
#define GUEST_IDTR_BASE 0x6818
#define GUEST_DR7 0x681a
#define GUEST_RSP 0x681c
#define GUEST_RIP 0x681e
#define GUEST_RFLAGS 0x6820
#define GUEST_PENDING_DEBUG_EXCEPTIONS 0x6822
#define GUEST_IA32_SYSENTER_ESP 0x6824
#define GUEST_IA32_SYSENTER_EIP 0x6826
#define HOST_CR0 0x6c00
#define HOST_CR3 0x6c02
#define HOST_CR4 0x6c04
#define HOST_FS_BASE 0x6c06
#define HOST_GS_BASE 0x6c08
#define HOST_TR_BASE 0x6c0a
#define HOST_GDTR_BASE 0x6c0c
#define HOST_IDTR_BASE 0x6c0e
#define HOST_IA32_SYSENTER_ESP 0x6c10
#define HOST_IA32_SYSENTER_EIP 0x6c12
#define HOST_RSP 0x6c14
#define HOST_RIP 0x6c16

/* ---------------------------------------------------------------- control bits */
#define PIN_EXTERNAL_INTERRUPT_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PROC_HLT_EXITING (1u << 7)
#define PROC_CR3_LOAD_EXITING (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_UNCONDITIONAL_IO_EXITING (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_ACTIVATE_SECONDARY_CONTROLS (1u << 31)
#define PROC2_ENABLE_EPT (1u << 1)
#define PROC2_ENABLE_VPID (1u << 5)
#define PROC2_UNRESTRICTED_GUEST (1u << 7)
#define EXIT_SAVE_DEBUG_CONTROLS (1u << 2)
#define EXIT_HOST_ADDRESS_SPACE_SIZE (1u << 9)
#define EXIT_SAVE_IA32_EFER (1u << 20)
#define EXIT_LOAD_IA32_EFER (1u << 21)
#define ENTRY_LOAD_DEBUG_CONTROLS (1u << 2)
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_LOAD_IA32_EFER (1u << 15)

/* IA32_VMX_EPT_VPID_CAP bits */
#define EPT_CAP_WALK_LENGTH_4 (1ull << 6)
#define EPT_CAP_MEMTYPE_WB (1ull << 14)
#define EPT_CAP_PDE_2MB (1ull << 16)
#define EPT_CAP_INVEPT (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE_CONTEXT (1ull << 25)
#define EPT_CAP_INVEPT_ALL_CONTEXT (1ull << 26)

/* ---------------------------------------------------------------- exit reasons (Appendix C) */
#define EXIT_REASON_EXCEPTION_OR_NMI 0
#define EXIT_REASON_CPUID 10
#define EXIT_REASON_HLT 12
#define EXIT_REASON_VMCALL 18
#define EXIT_REASON_IO_INSTRUCTION 30
#define EXIT_REASON_INVALID_GUEST_STATE 33
#define EXIT_REASON_MSR_LOADING 34
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_EPT_MISCONFIGURATION 49
#define EXIT_REASON_ENTRY_FAILURE (1u << 31)

/* Access rights (the VMCS format: descriptor bits 47:40 and 55:52 in bits 15:0, bit 16 unusable). */
#define AR_UNUSABLE 0x10000u
#define AR_CODE64 0xa09bu  /* G, L, P, S, type 11 (execute/read, accessed) */
#define AR_CODE32 0xc09bu  /* G, D, P, S, type 11 */
#define AR_DATA 0xc093u    /* G, D/B, P, S, type 3 (read/write, accessed) */
#define AR_TSS64_BUSY 0x008bu
#define AR_TSS16_BUSY 0x0083u

/* ---------------------------------------------------------------- VMX instructions */
/* Result of a VMX instruction (SDM Vol. 3C, "Conventions" of the VMX instruction reference):
 * 0 = VMsucceed, 1 = VMfailInvalid (CF=1), 2 = VMfailValid (ZF=1; error in the current VMCS). */
#define VM_SUCCEED 0
#define VM_FAIL_INVALID 1
#define VM_FAIL_VALID 2
static inline int vmx_status(u64 rflags) { return (rflags & 1) ? VM_FAIL_INVALID : (rflags & 0x40) ? VM_FAIL_VALID : VM_SUCCEED; }

static inline int vmxon(u64 pa)
{
    u64 f;
    __asm__ volatile("vmxon %1; pushfq; popq %0" : "=r"(f) : "m"(pa) : "cc", "memory");
    return vmx_status(f);
}
static inline int vmxoff(void)
{
    u64 f;
    __asm__ volatile("vmxoff; pushfq; popq %0" : "=r"(f) : : "cc", "memory");
    return vmx_status(f);
}
static inline int vmclear(u64 pa)
{
    u64 f;
    __asm__ volatile("vmclear %1; pushfq; popq %0" : "=r"(f) : "m"(pa) : "cc", "memory");
    return vmx_status(f);
}
static inline int vmptrld(u64 pa)
{
    u64 f;
    __asm__ volatile("vmptrld %1; pushfq; popq %0" : "=r"(f) : "m"(pa) : "cc", "memory");
    return vmx_status(f);
}
static inline u64 vmptrst(void)
{
    u64 pa;
    __asm__ volatile("vmptrst %0" : "=m"(pa) : : "memory");
    return pa;
}
static inline int vmwrite_status(u64 enc, u64 value)
{
    u64 f;
    __asm__ volatile("vmwrite %1, %2; pushfq; popq %0" : "=r"(f) : "rm"(value), "r"(enc) : "cc", "memory");
    return vmx_status(f);
}
static inline u64 vmread(u64 enc)
{
    u64 v = 0;
    __asm__ volatile("vmread %1, %0" : "+r"(v) : "r"(enc) : "cc");
    return v;
}
static inline int invept(u64 type, u64 eptp)
{
    struct { u64 eptp, zero; } desc = { eptp, 0 };
    u64 f;
    __asm__ volatile("invept %1, %2; pushfq; popq %0" : "=r"(f) : "m"(desc), "r"(type) : "cc", "memory");
    return vmx_status(f);
}

/* VMWRITE that reports a failure (the field name is printed): a hypervisor bug, not a test outcome. */
void vmwrite(u64 enc, u64 value);

/* ---------------------------------------------------------------- report (port 0xE9) */
/* One line per check: "PASS <name>[: detail]" or "FAIL <name>: detail". hv_done() prints
 * "done <passed>/<total>" and exits through isa-debug-exit (0 if all passed, else 1). */
void hv_pass(const char *name, const char *fmt, ...);
void hv_fail(const char *name, const char *fmt, ...);
/* Compare and remember the first mismatch of the current check (reset by hv_check_end). */
void hv_expect(const char *what, u64 got, u64 want);
int hv_check_end(const char *name, const char *pass_detail_fmt, ...); /* 1 if it passed */
NORETURN void hv_done(void);
/* Print a byte that the guest wrote to port 0xE9, with "[guest] " at the start of each line. */
void guest_putc(char c);

/* ---------------------------------------------------------------- capabilities */
struct vmx_caps {
    u64 basic, misc, ept_vpid;
    u64 pin, proc, proc2, exit, entry; /* the TRUE_ MSRs when IA32_VMX_BASIC[55] = 1 */
    u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    u32 revision;
};
extern struct vmx_caps caps;

/* Allowed-0 / allowed-1 adjustment, as hypervisors do: must-be-1 bits are forced on,
 * must-be-0 bits off. */
static inline u32 ctl_adjust(u64 msr, u32 want) { return (want | (u32)msr) & (u32)(msr >> 32); }
static inline int ctl_allowed(u64 msr, u32 bits) { return (bits & (u32)(msr >> 32)) == bits; }

/* CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL (lock + VMX outside SMX when unlocked), the capability
 * MSRs, CR0/CR4 fixed bits, CR4.VMXE, VMXON. Prints a PASS/FAIL line per step; returns 1 if
 * VMX operation was entered. */
int vmx_enable(void);

/* VMCLEAR + revision id + VMPTRLD of VMCS region number `which` (0..7). Returns its address. */
u64 vmcs_fresh(int which);

/* Controls, adjusted with the capability MSRs; prints FAIL and returns 0 if a wanted bit is not allowed. */
int vmcs_set_controls(u32 pin, u32 proc, u32 proc2, u32 exit, u32 entry);
/* Host state = the current hypervisor state (64-bit), HOST_RIP = vmx_exit_landing. */
void vmcs_set_host(void);
/* Guest state for a 64-bit guest that shares the host's GDT, IDT, TSS and page tables. */
void vmcs_set_guest64(u64 rip, u64 rsp);
/* Guest state for a 32-bit protected-mode guest with paging off (needs unrestricted guest). */
void vmcs_set_guest32_flat(u64 rip, u64 rsp);

/* ---------------------------------------------------------------- EPT */
/* One EPT with 2 MiB pages below 1 GiB: identity-map [0, bytes). Returns the EPTP (WB, 4-level). */
u64 ept_identity(u64 bytes);
/* Map the 2 MiB guest-physical page gpa to host-physical hpa (read/write/execute, WB). */
void ept_map_2m(u64 gpa, u64 hpa);
void ept_unmap_2m(u64 gpa);
/* INVEPT single-context if supported, else all-context. Returns the VMX status. */
int ept_flush(u64 eptp);

/* ---------------------------------------------------------------- running the guest */
struct vcpu_regs {
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
/* VMLAUNCH (resume = 0) or VMRESUME with the guest GPRs in *g. Returns 0 after a VM exit (the
 * guest GPRs are back in *g; a VM-entry failure exit also lands here), or VM_FAIL_INVALID /
 * VM_FAIL_VALID when the instruction failed. vmxasm.S. */
int vmx_enter(struct vcpu_regs *g, int resume);
extern u8 vmx_exit_landing[];

struct vm_exit {
    u32 reason, instr_len, intr_info, intr_error, idt_vectoring, instr_info;
    u64 qual, guest_rip, gpa, gla;
};
void vm_exit_read(struct vm_exit *e);
/* Advance GUEST_RIP by the VM-exit instruction length. */
void guest_skip_instruction(const struct vm_exit *e);
const char *exit_reason_name(u32 reason);

#endif
