/* The hypervisor library of the VMX test kernels (see vmx.h). */
#include "vmx.h"

struct vmx_caps caps;

static u8 vmxon_region[4096] ALIGNED(4096);
static u8 vmcs_regions[8][4096] ALIGNED(4096);
static u64 ept_pml4[512] ALIGNED(4096);
static u64 ept_pdpt[512] ALIGNED(4096);
static u64 ept_pd[512] ALIGNED(4096); /* guest-physical 0..1 GiB in 2 MiB pages */

/* ---------------------------------------------------------------- report */
static int hv_passed, hv_total;
static char first_mismatch[160];

static void vline(const char *tag, const char *name, const char *fmt, va_list ap)
{
    char buf[256];
    kprintf("%s %s", tag, name);
    if (fmt && *fmt) {
        kvsnprintf(buf, sizeof buf, fmt, ap);
        kprintf(": %s", buf);
    }
    kprintf("\n");
}

void hv_pass(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("PASS", name, fmt, ap);
    va_end(ap);
    hv_passed++;
    hv_total++;
}

void hv_fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("FAIL", name, fmt, ap);
    va_end(ap);
    hv_total++;
}

void hv_expect(const char *what, u64 got, u64 want)
{
    if (got != want && !first_mismatch[0])
        ksnprintf(first_mismatch, sizeof first_mismatch, "%s is 0x%llx, expected 0x%llx", what, got, want);
}

int hv_check_end(const char *name, const char *fmt, ...)
{
    int ok = !first_mismatch[0];
    if (ok) {
        va_list ap;
        va_start(ap, fmt);
        vline("PASS", name, fmt, ap);
        va_end(ap);
        hv_passed++;
        hv_total++;
    } else {
        hv_fail(name, "%s", first_mismatch);
    }
    first_mismatch[0] = 0;
    return ok;
}

void hv_done(void)
{
    kprintf("done %d/%d\n", hv_passed, hv_total);
    u8 code = hv_passed == hv_total && hv_total > 0 ? 0 : 1;
    outb(0xf4, code); /* isa-debug-exit (vmxray, QEMU) */
    /* Bochs has no isa-debug-exit: "Shutdown" on port 8900H ends the simulation. */
    const char *s = "Shutdown";
    while (*s)
        outb(0x8900, (u8)*s++);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static int guest_bol = 1;
void guest_putc(char c)
{
    if (guest_bol)
        con_puts("[guest] ");
    con_putc(c);
    guest_bol = c == '\n';
}

/* ---------------------------------------------------------------- VMCS access */
void vmwrite(u64 enc, u64 value)
{
    int s = vmwrite_status(enc, value);
    if (s != VM_SUCCEED)
        hv_fail("vmwrite", "VMWRITE of field 0x%llx failed (%s, VM-instruction error %llu)", enc,
                s == VM_FAIL_INVALID ? "VMfailInvalid" : "VMfailValid", s == VM_FAIL_VALID ? vmread(VM_INSTRUCTION_ERROR) : 0);
}

/* ---------------------------------------------------------------- enabling VMX */
/* SDM Vol. 3C, "Discovering Support for VMX", "Enabling and Entering VMX Operation",
 * "Restrictions on VMX Operation" (CR0/CR4 fixed bits), Appendix A. */
int vmx_enable(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        hv_fail("cpuid-vmx", "CPUID.1:ECX.VMX[bit 5] is 0 (ECX=0x%x)", c);
        return 0;
    }
    hv_pass("cpuid-vmx", "CPUID.1:ECX.VMX[bit 5] = 1");

    u64 fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK)) {
        /* firmware left it unlocked: enable VMX outside SMX and lock, as a BIOS would */
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
        fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    }
    if (!(fc & FEATURE_CONTROL_LOCK) || !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        hv_fail("feature-control", "IA32_FEATURE_CONTROL = 0x%llx: VMXON would #GP", fc);
        return 0;
    }
    hv_pass("feature-control", "IA32_FEATURE_CONTROL = 0x%llx (locked, VMX outside SMX)", fc);

    caps.basic = rdmsr(MSR_IA32_VMX_BASIC);
    caps.revision = (u32)caps.basic & 0x7fffffff;
    int true_ctls = (caps.basic >> 55) & 1;
    caps.pin = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS);
    caps.proc = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS);
    caps.exit = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS);
    caps.entry = rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS);
    caps.misc = rdmsr(MSR_IA32_VMX_MISC);
    /* IA32_VMX_PROCBASED_CTLS2 exists only if "activate secondary controls" may be 1 */
    caps.proc2 = ctl_allowed(caps.proc, PROC_ACTIVATE_SECONDARY_CONTROLS) ? rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
    caps.ept_vpid = (caps.proc2 >> 32) & (PROC2_ENABLE_EPT | PROC2_ENABLE_VPID) ? rdmsr(MSR_IA32_VMX_EPT_VPID_CAP) : 0;
    caps.cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
    caps.cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    caps.cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
    caps.cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    u32 region_size = (u32)(caps.basic >> 32) & 0x1fff;
    u32 memtype = (u32)(caps.basic >> 50) & 0xf;
    hv_expect("IA32_VMX_BASIC region size <= 4096", region_size <= 4096 && region_size > 0, 1);
    hv_expect("IA32_VMX_BASIC memory type (6 = WB)", memtype, 6);
    hv_expect("IA32_VMX_BASIC bit 31", (caps.basic >> 31) & 1, 0);
    hv_expect("CR0 fixed0 within fixed1", caps.cr0_fixed0 & ~caps.cr0_fixed1, 0);
    hv_expect("CR4 fixed0 has VMXE", (caps.cr4_fixed0 & CR4_VMXE) != 0, 1);
    hv_check_end("vmx-capability-msrs", "revision 0x%x, region %u bytes, TRUE controls %d, pin 0x%llx proc 0x%llx proc2 0x%llx exit 0x%llx entry 0x%llx",
                 caps.revision, region_size, true_ctls, caps.pin, caps.proc, caps.proc2, caps.exit, caps.entry);

    /* CR0 and CR4 in VMX operation: bits fixed to 1 set, bits fixed to 0 cleared. */
    write_cr4((read_cr4() | CR4_VMXE | (u32)caps.cr4_fixed0) & caps.cr4_fixed1);
    write_cr0((read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1);
    hv_expect("CR4.VMXE", (read_cr4() & CR4_VMXE) != 0, 1);
    hv_expect("CR0 fixed-0 bits", read_cr0() & caps.cr0_fixed0, caps.cr0_fixed0);
    hv_check_end("cr-fixed-bits", "CR0 = 0x%lx, CR4 = 0x%lx", read_cr0(), read_cr4());

    memset(vmxon_region, 0, sizeof vmxon_region);
    *(u32 *)vmxon_region = caps.revision;
    int s = vmxon((u64)vmxon_region);
    if (s != VM_SUCCEED) {
        hv_fail("vmxon", "VMXON returned %d (RFLAGS CF/ZF)", s);
        return 0;
    }
    hv_pass("vmxon", "VMXON 0x%llx succeeded", (u64)vmxon_region);
    return 1;
}

u64 vmcs_fresh(int which)
{
    u64 pa = (u64)vmcs_regions[which];
    /* SDM Vol. 3C, "Software Use of Virtual-Machine Control Structures": a region that may be
     * active is VMCLEARed before software touches its memory; then the revision identifier,
     * VMCLEAR (launch state "clear") and VMPTRLD (current). */
    vmclear(pa);
    memset(vmcs_regions[which], 0, 4096);
    *(u32 *)vmcs_regions[which] = caps.revision;
    if (vmclear(pa) != VM_SUCCEED)
        hv_fail("vmclear", "VMCLEAR 0x%llx failed", pa);
    if (vmptrld(pa) != VM_SUCCEED)
        hv_fail("vmptrld", "VMPTRLD 0x%llx failed", pa);
    return pa;
}

/* ---------------------------------------------------------------- filling the VMCS */
static int set_ctl(const char *what, u64 enc, u64 msr, u32 want)
{
    if (!ctl_allowed(msr, want)) {
        hv_fail("controls", "%s: wanted 0x%x, allowed-1 settings are 0x%x", what, want, (u32)(msr >> 32));
        return 0;
    }
    vmwrite(enc, ctl_adjust(msr, want));
    return 1;
}

int vmcs_set_controls(u32 pin, u32 proc, u32 proc2, u32 exit, u32 entry)
{
    int ok = 1;
    if (proc2)
        proc |= PROC_ACTIVATE_SECONDARY_CONTROLS;
    ok &= set_ctl("pin-based", PIN_BASED_VM_EXECUTION_CONTROLS, caps.pin, pin);
    ok &= set_ctl("primary processor-based", PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, caps.proc, proc);
    if (proc & PROC_ACTIVATE_SECONDARY_CONTROLS)
        ok &= set_ctl("secondary processor-based", SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, caps.proc2, proc2);
    ok &= set_ctl("VM-exit", VM_EXIT_CONTROLS, caps.exit, exit);
    ok &= set_ctl("VM-entry", VM_ENTRY_CONTROLS, caps.entry, entry);
    vmwrite(EXCEPTION_BITMAP, 0);
    vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 0);
    vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
    vmwrite(CR3_TARGET_COUNT, 0);
    vmwrite(VM_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VM_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 0);
    vmwrite(CR0_GUEST_HOST_MASK, 0);
    vmwrite(CR4_GUEST_HOST_MASK, 0);
    vmwrite(CR0_READ_SHADOW, 0);
    vmwrite(CR4_READ_SHADOW, 0);
    vmwrite(VMCS_LINK_POINTER, ~0ull);
    return ok;
}

struct dtr {
    u16 limit;
    u64 base;
} __attribute__((packed));

static struct dtr sgdt(void)
{
    struct dtr d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d;
}
static struct dtr sidt(void)
{
    struct dtr d;
    __asm__ volatile("sidt %0" : "=m"(d));
    return d;
}
static u16 str(void)
{
    u16 v;
    __asm__ volatile("str %0" : "=r"(v));
    return v;
}

void vmcs_set_host(void)
{
    /* SDM Vol. 3C, "Host-State Area"; checked by "Checks on Host Control Registers, MSRs and
     * SSP", "Checks on Host Segment and Descriptor-Table Registers", "Checks Related to
     * Address-Space Size". */
    vmwrite(HOST_CR0, read_cr0());
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, read_cr4());
    vmwrite(HOST_CS_SELECTOR, KCODE64);
    vmwrite(HOST_SS_SELECTOR, KDATA);
    vmwrite(HOST_DS_SELECTOR, KDATA);
    vmwrite(HOST_ES_SELECTOR, KDATA);
    vmwrite(HOST_FS_SELECTOR, 0);
    vmwrite(HOST_GS_SELECTOR, 0);
    vmwrite(HOST_TR_SELECTOR, str());
    vmwrite(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    vmwrite(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(HOST_TR_BASE, (u64)&tss);
    vmwrite(HOST_GDTR_BASE, sgdt().base);
    vmwrite(HOST_IDTR_BASE, sidt().base);
    vmwrite(HOST_IA32_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    vmwrite(HOST_IA32_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    vmwrite(HOST_IA32_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    if (ctl_allowed(caps.exit, EXIT_LOAD_IA32_EFER))
        vmwrite(HOST_IA32_EFER, rdmsr(MSR_EFER));
    vmwrite(HOST_RSP, 0); /* vmx_enter writes the real one */
    vmwrite(HOST_RIP, (u64)vmx_exit_landing);
}

static void guest_seg(u64 sel_enc, u16 sel, u64 base, u32 limit, u32 ar)
{
    /* The fields of one segment register are at fixed distances from the selector's encoding
     * (Appendix B: selector 08xxH, limit 48xxH, access rights 4814H + 2n, base 6806H + 2n). */
    u32 n = (u32)(sel_enc - GUEST_ES_SELECTOR) / 2;
    vmwrite(sel_enc, sel);
    vmwrite(GUEST_ES_LIMIT + 2 * n, limit);
    vmwrite(GUEST_ES_ACCESS_RIGHTS + 2 * n, ar);
    vmwrite(GUEST_ES_BASE + 2 * n, base);
}

static void guest_common(u64 rip, u64 rsp)
{
    struct dtr g = sgdt(), i = sidt();
    vmwrite(GUEST_GDTR_BASE, g.base);
    vmwrite(GUEST_GDTR_LIMIT, g.limit);
    vmwrite(GUEST_IDTR_BASE, i.base);
    vmwrite(GUEST_IDTR_LIMIT, i.limit);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_RSP, rsp);
    vmwrite(GUEST_RIP, rip);
    vmwrite(GUEST_RFLAGS, 0x2);
    vmwrite(GUEST_PENDING_DEBUG_EXCEPTIONS, 0);
    vmwrite(GUEST_IA32_SYSENTER_CS, 0);
    vmwrite(GUEST_IA32_SYSENTER_ESP, 0);
    vmwrite(GUEST_IA32_SYSENTER_EIP, 0);
    vmwrite(GUEST_IA32_DEBUGCTL, 0);
    vmwrite(GUEST_INTERRUPTIBILITY_STATE, 0);
    vmwrite(GUEST_ACTIVITY_STATE, 0);
    guest_seg(GUEST_LDTR_SELECTOR, 0, 0, 0, AR_UNUSABLE);
}

void vmcs_set_guest64(u64 rip, u64 rsp)
{
    /* SDM Vol. 3C, "Guest-State Area"; "Checks on the Guest State Area". */
    vmwrite(GUEST_CR0, read_cr0());
    vmwrite(GUEST_CR3, read_cr3());
    vmwrite(GUEST_CR4, read_cr4());
    if (ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER))
        vmwrite(GUEST_IA32_EFER, rdmsr(MSR_EFER));
    guest_seg(GUEST_CS_SELECTOR, KCODE64, 0, 0xffffffff, AR_CODE64);
    guest_seg(GUEST_SS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_DS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_ES_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_FS_SELECTOR, 0, 0, 0, AR_UNUSABLE);
    guest_seg(GUEST_GS_SELECTOR, 0, 0, 0, AR_UNUSABLE);
    guest_seg(GUEST_TR_SELECTOR, str(), (u64)&tss, sizeof(tss) - 1, AR_TSS64_BUSY);
    guest_common(rip, rsp);
}

void vmcs_set_guest32_flat(u64 rip, u64 rsp)
{
    /* A multiboot-style start: protected mode, paging off, flat 4 GiB segments. With
     * "unrestricted guest" CR0.PG (and PE) may be 0 in the guest CR0 field ("Checks on Guest
     * Control Registers, Debug Registers, and MSRs"); the other fixed bits still apply. */
    u64 cr0 = ((CR0_PE | CR0_ET | CR0_NE) | (caps.cr0_fixed0 & ~(u64)(CR0_PE | CR0_PG))) & caps.cr0_fixed1;
    vmwrite(GUEST_CR0, cr0);
    vmwrite(GUEST_CR3, 0);
    vmwrite(GUEST_CR4, caps.cr4_fixed0 & caps.cr4_fixed1);
    if (ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER))
        vmwrite(GUEST_IA32_EFER, 0);
    guest_seg(GUEST_CS_SELECTOR, KCODE32, 0, 0xffffffff, AR_CODE32);
    guest_seg(GUEST_SS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_DS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_ES_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_FS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    guest_seg(GUEST_GS_SELECTOR, KDATA, 0, 0xffffffff, AR_DATA);
    /* outside IA-32e mode TR must be a busy 16-bit or 32-bit TSS: type 11 */
    guest_seg(GUEST_TR_SELECTOR, str(), (u64)&tss, sizeof(tss) - 1, AR_TSS64_BUSY);
    guest_common(rip, rsp);
    vmwrite(GUEST_IDTR_BASE, 0);
    vmwrite(GUEST_IDTR_LIMIT, 0x3ff);
}

/* ---------------------------------------------------------------- EPT */
/* SDM Vol. 3C, "EPT Translation Mechanism", "Format of the Extended-Page-Table Pointer". */
#define EPT_RWX 7ull
#define EPT_MEMTYPE_WB (6ull << 3)
#define EPT_LARGE (1ull << 7)

u64 ept_identity(u64 bytes)
{
    memset(ept_pml4, 0, sizeof ept_pml4);
    memset(ept_pdpt, 0, sizeof ept_pdpt);
    memset(ept_pd, 0, sizeof ept_pd);
    ept_pml4[0] = (u64)ept_pdpt | EPT_RWX;
    ept_pdpt[0] = (u64)ept_pd | EPT_RWX;
    for (u64 a = 0; a < bytes; a += 0x200000)
        ept_map_2m(a, a);
    return (u64)ept_pml4 | (3ull << 3) /* walk length 4 */ | 6 /* WB */;
}

void ept_map_2m(u64 gpa, u64 hpa) { ept_pd[(gpa >> 21) & 511] = hpa | EPT_RWX | EPT_MEMTYPE_WB | EPT_LARGE; }
void ept_unmap_2m(u64 gpa) { ept_pd[(gpa >> 21) & 511] = 0; }

int ept_flush(u64 eptp)
{
    if (caps.ept_vpid & EPT_CAP_INVEPT_SINGLE_CONTEXT)
        return invept(1, eptp);
    return invept(2, 0);
}

/* ---------------------------------------------------------------- exits */
void vm_exit_read(struct vm_exit *e)
{
    e->reason = (u32)vmread(VM_EXIT_REASON);
    e->qual = vmread(EXIT_QUALIFICATION);
    e->instr_len = (u32)vmread(VM_EXIT_INSTRUCTION_LENGTH);
    e->intr_info = (u32)vmread(VM_EXIT_INTERRUPTION_INFORMATION);
    e->intr_error = (u32)vmread(VM_EXIT_INTERRUPTION_ERROR_CODE);
    e->idt_vectoring = (u32)vmread(IDT_VECTORING_INFORMATION_FIELD);
    e->instr_info = (u32)vmread(VM_EXIT_INSTRUCTION_INFORMATION);
    e->guest_rip = vmread(GUEST_RIP);
    e->gpa = (caps.proc2 >> 32) & PROC2_ENABLE_EPT ? vmread(GUEST_PHYSICAL_ADDRESS) : 0;
    e->gla = vmread(GUEST_LINEAR_ADDRESS);
}

void guest_skip_instruction(const struct vm_exit *e) { vmwrite(GUEST_RIP, e->guest_rip + e->instr_len); }

const char *exit_reason_name(u32 reason)
{
    switch (reason & 0xffff) {
    case 0: return "exception or NMI";
    case 1: return "external interrupt";
    case 2: return "triple fault";
    case 10: return "CPUID";
    case 12: return "HLT";
    case 18: return "VMCALL";
    case 28: return "control-register access";
    case 30: return "I/O instruction";
    case 31: return "RDMSR";
    case 32: return "WRMSR";
    case 33: return "VM-entry failure due to invalid guest state";
    case 34: return "VM-entry failure due to MSR loading";
    case 48: return "EPT violation";
    case 49: return "EPT misconfiguration";
    default: return "other";
    }
}
