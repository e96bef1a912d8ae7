import { describe, it, expect } from 'vitest';
import * as F from '../../src/vmx/fields.js';
import { FIELDS, fieldByEncoding, fieldName, resolveEncoding, fieldExists, encWidth, encType } from '../../src/vmx/fields.js';
import { ALLOWED1 } from '../../src/vmx/caps.js';

/**
 * The VMCS field table against SDM Vol. 3D Appendix B ("Field Encoding in VMCS") and the encoding
 * structure of Vol. 3C ("Structure of VMCS Component Encoding"). Expected encodings are copied
 * from the SDM tables, not from the code.
 */
describe('VMCS field encodings', () => {
  it('named constants carry the SDM encodings', () => {
    const sdm: Record<string, number> = {
      VIRTUAL_PROCESSOR_IDENTIFIER: 0x0000, GUEST_ES_SELECTOR: 0x0800, GUEST_TR_SELECTOR: 0x080e, HOST_TR_SELECTOR: 0x0c0c,
      ADDRESS_OF_IO_BITMAP_A: 0x2000, ADDRESS_OF_MSR_BITMAPS: 0x2004, TSC_OFFSET: 0x2010, EPT_POINTER: 0x201a,
      GUEST_PHYSICAL_ADDRESS: 0x2400, VMCS_LINK_POINTER: 0x2800, GUEST_IA32_EFER: 0x2806, GUEST_PDPTE3: 0x2810,
      HOST_IA32_EFER: 0x2c02, PIN_BASED_VM_EXECUTION_CONTROLS: 0x4000, PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS: 0x4002,
      EXCEPTION_BITMAP: 0x4004, VM_EXIT_CONTROLS: 0x400c, VM_ENTRY_CONTROLS: 0x4012, VM_ENTRY_INTERRUPTION_INFORMATION_FIELD: 0x4016,
      SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS: 0x401e, VM_INSTRUCTION_ERROR: 0x4400, VM_EXIT_REASON: 0x4402,
      VM_EXIT_INSTRUCTION_INFORMATION: 0x440e, GUEST_TR_ACCESS_RIGHTS: 0x4822, GUEST_ACTIVITY_STATE: 0x4826,
      VMX_PREEMPTION_TIMER_VALUE: 0x482e, HOST_IA32_SYSENTER_CS: 0x4c00, CR0_GUEST_HOST_MASK: 0x6000, CR3_TARGET_VALUE_3: 0x600e,
      EXIT_QUALIFICATION: 0x6400, GUEST_LINEAR_ADDRESS: 0x640a, GUEST_CR0: 0x6800, GUEST_RIP: 0x681e, GUEST_RFLAGS: 0x6820,
      HOST_RSP: 0x6c14, HOST_RIP: 0x6c16, PRIMARY_VM_EXIT_CONTROLS: 0x400c, EXIT_REASON: 0x4402,
    };
    const all = F as unknown as Record<string, number>;
    for (const [name, enc] of Object.entries(sdm)) expect(all[name], name).toBe(enc);
  });

  it('every field is a FULL encoding with reserved bits 12 and 31:15 clear, listed once', () => {
    const seen = new Set<number>();
    for (const f of FIELDS) {
      expect(f.enc & 1, f.name).toBe(0);
      expect(f.enc & 0x1000, f.name).toBe(0);
      expect(f.enc >>> 15, f.name).toBe(0);
      expect(seen.has(f.enc), f.name).toBe(false);
      seen.add(f.enc);
      expect(fieldByEncoding(f.enc)).toBe(f);
    }
    expect(FIELDS.length).toBeGreaterThan(170);
  });

  it('width and type follow encoding bits 14:13 and 11:10; only VM-exit information is read-only', () => {
    expect(encWidth(0x0800)).toBe(16); expect(encWidth(0x2800)).toBe(64); expect(encWidth(0x4800)).toBe(32); expect(encWidth(0x6800)).toBe('natural');
    expect(encType(0x4000)).toBe('control'); expect(encType(0x4400)).toBe('exit-info'); expect(encType(0x4800)).toBe('guest'); expect(encType(0x4c00)).toBe('host');
    for (const f of FIELDS) {
      expect(f.readOnly, f.name).toBe(f.type === 'exit-info');
      if (/^Guest [A-Z]/.test(f.name) && !/^Guest-/.test(f.name)) expect(f.type, f.name).toBe('guest');
      if (/^Host /.test(f.name)) expect(f.type, f.name).toBe('host');
    }
    expect(fieldByEncoding(F.GUEST_PHYSICAL_ADDRESS)!.readOnly).toBe(true);
    expect(fieldByEncoding(F.GUEST_LINEAR_ADDRESS)!.readOnly).toBe(true);
  });

  it('names for messages read "guest TR access rights (0x4822)"', () => {
    expect(fieldName(0x4822)).toBe('guest TR access rights (0x4822)');
    expect(fieldName(0x6c16)).toBe('host RIP (0x6c16)');
    expect(fieldName(0x2807)).toBe('guest IA32_EFER (high 32 bits) (0x2807)');
    expect(fieldName(0x201a)).toBe('EPT pointer (EPTP) (0x201a)');
    expect(fieldName(0x4823)).toBe('unknown VMCS field (0x4823)');
    expect(fieldName(0x1234)).toBe('unknown VMCS field (0x1234)');
  });

  it('the HIGH access exists only for 64-bit fields; bits 63:15 make any encoding unsupported', () => {
    expect(resolveEncoding(0x2807)).toEqual({ field: fieldByEncoding(0x2806), high: true });
    expect(resolveEncoding(0x2806)).toEqual({ field: fieldByEncoding(0x2806), high: false });
    expect(resolveEncoding(0x6801)).toBeUndefined();   // natural width has no HIGH access
    expect(resolveEncoding(0x4823)).toBeUndefined();
    expect(resolveEncoding(0x0801)).toBeUndefined();
    expect(resolveEncoding(0x8000 | 0x4822)).toBeUndefined();
    expect(resolveEncoding(0x4822, 1)).toBeUndefined();
  });

  it('fields of features vmxray does not offer do not exist; fields of offered ones do', () => {
    const exists = (enc: number) => fieldExists(fieldByEncoding(enc)!, ALLOWED1);
    // offered: EPT, VPID, TSC offsetting, TPR shadow, MSR bitmaps, PAT/EFER save/load, preemption timer, PLE
    for (const enc of [F.EPT_POINTER, F.GUEST_PHYSICAL_ADDRESS, F.GUEST_PDPTE0, F.VIRTUAL_PROCESSOR_IDENTIFIER, F.TSC_OFFSET,
      F.VIRTUAL_APIC_ADDRESS, F.TPR_THRESHOLD, F.ADDRESS_OF_MSR_BITMAPS, F.GUEST_IA32_PAT, F.GUEST_IA32_EFER, F.HOST_IA32_PAT,
      F.HOST_IA32_EFER, F.VMX_PREEMPTION_TIMER_VALUE, F.PLE_GAP, F.PLE_WINDOW, F.SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS,
      F.VMCS_LINK_POINTER, F.GUEST_SMBASE, F.GUEST_TR_ACCESS_RIGHTS, F.EXIT_QUALIFICATION]) expect(exists(enc), fieldName(enc)).toBe(true);
    // not offered: posted interrupts, #VE, PML, VM functions, VMCS shadowing, APIC virtualization, TSC scaling,
    // tertiary controls, CET, PKRS, perf-global-ctrl load, BNDCFGS, RTIT, secondary exit controls
    for (const enc of [F.POSTED_INTERRUPT_NOTIFICATION_VECTOR, F.EPTP_INDEX, F.PML_INDEX, F.PML_ADDRESS, F.VM_FUNCTION_CONTROLS,
      F.EPTP_LIST_ADDRESS, F.VMREAD_BITMAP_ADDRESS, F.APIC_ACCESS_ADDRESS, F.EOI_EXIT_BITMAP_0, F.GUEST_INTERRUPT_STATUS,
      F.TSC_MULTIPLIER, F.TERTIARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, F.GUEST_SSP, F.HOST_IA32_S_CET, F.GUEST_IA32_PKRS,
      F.HOST_IA32_PERF_GLOBAL_CTRL, F.GUEST_IA32_PERF_GLOBAL_CTRL, F.GUEST_IA32_BNDCFGS, F.GUEST_IA32_RTIT_CTL,
      F.SECONDARY_VM_EXIT_CONTROLS, F.EXECUTIVE_VMCS_POINTER, F.XSS_EXITING_BITMAP]) expect(exists(enc), fieldName(enc)).toBe(false);
  });
});
