/*
 * vmxfail: a gallery of broken VMCS setups. Each case takes a fresh VMCS (VMCLEAR + VMPTRLD of
 * its own region), fills a complete, valid VMCS for a 64-bit guest (as vmxbasic), breaks one thing
 * and executes VMLAUNCH/VMRESUME. The hypervisor prints the outcome the processor gave it:
 * VMfailValid with the VM-instruction error (SDM Vol. 3C, "VM Instruction Error Numbers"), or a
 * VM-entry failure exit (exit reason with bit 31 set, SDM "VM-Entry Failures During or After
 * Loading Guest State").
 * Line format: "PASS <case>: <outcome>" when the outcome is the one the SDM prescribes, else
 * "FAIL <case>: got <outcome>, expected <outcome>".
 */
#include "vmx.h"

extern u8 gfail_entry[];
static u8 guest_stack[4096] ALIGNED(16);
static u64 msr_load_area[2][2] ALIGNED(16);
static u8 zero_page[4096] ALIGNED(4096);

static int region;

/* A fresh, valid VMCS (the baseline every case starts from). */
static void valid_vmcs(void)
{
    vmcs_fresh(region++ & 7);
    vmcs_set_controls(0, PROC_HLT_EXITING, 0,
                      EXIT_HOST_ADDRESS_SPACE_SIZE | (ctl_allowed(caps.exit, EXIT_LOAD_IA32_EFER) ? EXIT_LOAD_IA32_EFER : 0),
                      ENTRY_IA32E_MODE_GUEST | (ctl_allowed(caps.entry, ENTRY_LOAD_IA32_EFER) ? ENTRY_LOAD_IA32_EFER : 0));
    vmcs_set_host();
    vmcs_set_guest64((u64)gfail_entry, (u64)(guest_stack + sizeof guest_stack));
}

/* What happened, as text ("VMfailValid, VM-instruction error 7" / "VM exit, reason 0x80000021,
 * qualification 0x0"), and as numbers. */
struct outcome {
    int status;        /* VM_SUCCEED: a VM exit happened */
    u32 error, reason; /* VM-instruction error / exit reason */
    u64 qual;
};

static struct outcome enter(int resume)
{
    struct vcpu_regs g;
    struct outcome o = { 0, 0, 0, 0 };
    memset(&g, 0, sizeof g);
    o.status = vmx_enter(&g, resume);
    if (o.status == VM_FAIL_VALID)
        o.error = (u32)vmread(VM_INSTRUCTION_ERROR);
    else if (o.status == VM_SUCCEED) {
        o.reason = (u32)vmread(VM_EXIT_REASON);
        o.qual = vmread(EXIT_QUALIFICATION);
    }
    return o;
}

static void describe(char *buf, int n, const struct outcome *o)
{
    if (o->status == VM_FAIL_INVALID)
        ksnprintf(buf, n, "VMfailInvalid");
    else if (o->status == VM_FAIL_VALID)
        ksnprintf(buf, n, "VMfailValid, VM-instruction error %u", o->error);
    else
        ksnprintf(buf, n, "VM exit, reason 0x%x (%s), qualification 0x%llx", o->reason, exit_reason_name(o->reason), o->qual);
}

static void expect_fail_valid(const char *name, const struct outcome *o, u32 error)
{
    char got[128];
    describe(got, sizeof got, o);
    if (o->status == VM_FAIL_VALID && o->error == error)
        hv_pass(name, "%s", got);
    else
        hv_fail(name, "got %s, expected VMfailValid, VM-instruction error %u", got, error);
}

static void expect_exit(const char *name, const struct outcome *o, u32 reason, u64 qual)
{
    char got[128];
    describe(got, sizeof got, o);
    if (o->status == VM_SUCCEED && o->reason == reason && o->qual == qual)
        hv_pass(name, "%s", got);
    else
        hv_fail(name, "got %s, expected VM exit, reason 0x%x, qualification 0x%llx", got, reason, qual);
}

void kernel_main(void)
{
    struct outcome o;
    if (!vmx_enable())
        hv_done();

    /* 0. The baseline is valid: VMLAUNCH enters the guest, which exits with VMCALL (18). */
    valid_vmcs();
    o = enter(0);
    expect_exit("baseline-valid-vmcs", &o, EXIT_REASON_VMCALL, 0);

    /* 1. A reserved pin-based control bit set ("Checks on VMX Controls", "VM-Execution Control
     *    Fields": reserved bits must be set per IA32_VMX_(TRUE_)PINBASED_CTLS) → VMfailValid 7. */
    valid_vmcs();
    {
        u32 bit = 0;
        for (int b = 31; b >= 0 && !bit; b--)
            if (!((caps.pin >> 32) & (1u << b)))
                bit = 1u << b; /* allowed-1 setting is 0: the bit must be 0 */
        vmwrite(PIN_BASED_VM_EXECUTION_CONTROLS, ctl_adjust(caps.pin, 0) | bit);
        o = enter(0);
        expect_fail_valid("reserved-pin-control-bit", &o, 7);
    }

    /* 2. Host CR4.VMXE clear ("Checks on Host Control Registers, MSRs, and SSP": host CR4 must
     *    satisfy IA32_VMX_CR4_FIXED0/1) → VMfailValid 8. */
    valid_vmcs();
    vmwrite(HOST_CR4, read_cr4() & ~(u64)CR4_VMXE);
    o = enter(0);
    expect_fail_valid("host-cr4-vmxe-clear", &o, 8);

    /* 3. Guest TR unusable in an IA-32e mode guest ("Checks on Guest Segment Registers": TR must
     *    be usable) → VM-entry failure, exit reason 33 | bit 31, qualification 0. */
    valid_vmcs();
    vmwrite(GUEST_TR_ACCESS_RIGHTS, AR_UNUSABLE | AR_TSS64_BUSY);
    o = enter(0);
    expect_exit("guest-tr-unusable-ia32e", &o, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_INVALID_GUEST_STATE, 0);

    /* 4. Guest TR type 3 (busy 16-bit TSS) in an IA-32e mode guest (TR type must be 11) → 33. */
    valid_vmcs();
    vmwrite(GUEST_TR_ACCESS_RIGHTS, AR_TSS16_BUSY);
    o = enter(0);
    expect_exit("guest-tr-type-16bit-tss-ia32e", &o, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_INVALID_GUEST_STATE, 0);

    /* 5. Guest RFLAGS bit 1 clear ("Checks on Guest RIP, RFLAGS, and SSP": bit 1 must be 1) → 33. */
    valid_vmcs();
    vmwrite(GUEST_RFLAGS, 0);
    o = enter(0);
    expect_exit("guest-rflags-bit1-clear", &o, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_INVALID_GUEST_STATE, 0);

    /* 6. VMCS link pointer to a page without our revision identifier ("Checks on Guest
     *    Non-Register State") → 33 with qualification 4. */
    valid_vmcs();
    memset(zero_page, 0, sizeof zero_page);
    vmwrite(VMCS_LINK_POINTER, (u64)zero_page);
    o = enter(0);
    expect_exit("vmcs-link-pointer-bad-revision", &o, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_INVALID_GUEST_STATE, 4);

    /* 7. A bad VM-entry MSR-load entry ("Loading MSRs": bits 63:32 of an entry must be 0): the
     *    second of two entries → exit reason 34 | bit 31, qualification 2 (entries count from 1). */
    valid_vmcs();
    msr_load_area[0][0] = MSR_KERNEL_GS_BASE; /* valid */
    msr_load_area[0][1] = 0x1234000;
    msr_load_area[1][0] = MSR_KERNEL_GS_BASE | (1ull << 32); /* reserved bit 32 set */
    msr_load_area[1][1] = 0;
    vmwrite(VM_ENTRY_MSR_LOAD_ADDRESS, (u64)msr_load_area);
    vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 2);
    o = enter(0);
    expect_exit("msr-load-entry-reserved-bits", &o, EXIT_REASON_ENTRY_FAILURE | EXIT_REASON_MSR_LOADING, 2);

    /* 8. VMRESUME on a VMCS whose launch state is clear → VMfailValid 5. */
    valid_vmcs();
    o = enter(1);
    expect_fail_valid("vmresume-clear-vmcs", &o, 5);

    /* 9. VMLAUNCH on a launched VMCS → VMfailValid 4; VMRESUME then enters the guest. */
    valid_vmcs();
    o = enter(0);
    if (o.status != VM_SUCCEED || o.reason != EXIT_REASON_VMCALL) {
        char got[128];
        describe(got, sizeof got, &o);
        hv_fail("vmlaunch-launched-vmcs", "the first VMLAUNCH did not enter the guest: %s", got);
    } else {
        o = enter(0);
        expect_fail_valid("vmlaunch-launched-vmcs", &o, 4);
        o = enter(1);
        expect_exit("vmresume-launched-vmcs", &o, EXIT_REASON_VMCALL, 0);
    }

    hv_done();
}
