/**
 * The VMCS field table: every field of SDM Vol. 3D Appendix B ("Field Encoding in VMCS"), with
 * its encoding, SDM name, width, type and the capability that makes it exist.
 *
 * An encoding (SDM Vol. 3C, "VMREAD, VMWRITE, and Encodings of VMCS Fields", table "Structure
 * of VMCS Component Encoding") is: bit 0 access type (0 full, 1 high — the high 32 bits of a
 * 64-bit field), bits 9:1 index, bits 11:10 type (0 control, 1 VM-exit information, 2 guest
 * state, 3 host state), bit 12 reserved (0), bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit,
 * 3 natural width), bits 31:15 reserved (0). The constants below are FULL encodings; the HIGH
 * access of a 64-bit field is `enc | 1`.
 *
 * Constant names are the SDM field names in UPPER_SNAKE case, with two names fixed by the
 * project: VM_EXIT_CONTROLS (SDM: "Primary VM-exit controls") and VM_EXIT_REASON (SDM: "Exit
 * reason"); both SDM spellings are exported as aliases.
 *
 * Existence (SDM Appendix B footnotes, "This field is supported only on processors that
 * support the 1-setting of the ... control"): a field with `requires` exists only if one of the
 * listed control bits is allowed to be 1 by the capability MSRs (caps.ts). VMREAD/VMWRITE of a
 * field that does not exist fail with VM-instruction error 12, as on a processor without the
 * feature. Our choices where the SDM leaves one: the executive-VMCS pointer exists only with
 * the dual-monitor treatment of SMIs, which vmxray does not offer; the PASID-directory and
 * shared-EPT-pointer fields belong to features vmxray does not model (never exist). The FRED
 * fields of the newest SDM editions are not listed (vmxray has no FRED): VMREAD/VMWRITE → 12.
 */
import { PIN, PROC, PROC2, PROC3, EXIT, ENTRY, VMFUNC } from './controls.js';

// 16-bit control fields
export const VIRTUAL_PROCESSOR_IDENTIFIER = 0x0000;
export const POSTED_INTERRUPT_NOTIFICATION_VECTOR = 0x0002;
export const EPTP_INDEX = 0x0004;
export const HLAT_PREFIX_SIZE = 0x0006;
export const LAST_PID_POINTER_INDEX = 0x0008;

// 16-bit guest-state fields
export const GUEST_ES_SELECTOR = 0x0800;
export const GUEST_CS_SELECTOR = 0x0802;
export const GUEST_SS_SELECTOR = 0x0804;
export const GUEST_DS_SELECTOR = 0x0806;
export const GUEST_FS_SELECTOR = 0x0808;
export const GUEST_GS_SELECTOR = 0x080a;
export const GUEST_LDTR_SELECTOR = 0x080c;
export const GUEST_TR_SELECTOR = 0x080e;
export const GUEST_INTERRUPT_STATUS = 0x0810;
export const PML_INDEX = 0x0812;
export const GUEST_UINV = 0x0814;

// 16-bit host-state fields
export const HOST_ES_SELECTOR = 0x0c00;
export const HOST_CS_SELECTOR = 0x0c02;
export const HOST_SS_SELECTOR = 0x0c04;
export const HOST_DS_SELECTOR = 0x0c06;
export const HOST_FS_SELECTOR = 0x0c08;
export const HOST_GS_SELECTOR = 0x0c0a;
export const HOST_TR_SELECTOR = 0x0c0c;

// 64-bit control fields
export const ADDRESS_OF_IO_BITMAP_A = 0x2000;
export const ADDRESS_OF_IO_BITMAP_B = 0x2002;
export const ADDRESS_OF_MSR_BITMAPS = 0x2004;
export const VM_EXIT_MSR_STORE_ADDRESS = 0x2006;
export const VM_EXIT_MSR_LOAD_ADDRESS = 0x2008;
export const VM_ENTRY_MSR_LOAD_ADDRESS = 0x200a;
export const EXECUTIVE_VMCS_POINTER = 0x200c;
export const PML_ADDRESS = 0x200e;
export const TSC_OFFSET = 0x2010;
export const VIRTUAL_APIC_ADDRESS = 0x2012;
export const APIC_ACCESS_ADDRESS = 0x2014;
export const POSTED_INTERRUPT_DESCRIPTOR_ADDRESS = 0x2016;
export const VM_FUNCTION_CONTROLS = 0x2018;
export const EPT_POINTER = 0x201a;
export const EOI_EXIT_BITMAP_0 = 0x201c;
export const EOI_EXIT_BITMAP_1 = 0x201e;
export const EOI_EXIT_BITMAP_2 = 0x2020;
export const EOI_EXIT_BITMAP_3 = 0x2022;
export const EPTP_LIST_ADDRESS = 0x2024;
export const VMREAD_BITMAP_ADDRESS = 0x2026;
export const VMWRITE_BITMAP_ADDRESS = 0x2028;
export const VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS = 0x202a;
export const XSS_EXITING_BITMAP = 0x202c;
export const ENCLS_EXITING_BITMAP = 0x202e;
export const SUB_PAGE_PERMISSION_TABLE_POINTER = 0x2030;
export const TSC_MULTIPLIER = 0x2032;
export const TERTIARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS = 0x2034;
export const ENCLV_EXITING_BITMAP = 0x2036;
export const LOW_PASID_DIRECTORY_ADDRESS = 0x2038;
export const HIGH_PASID_DIRECTORY_ADDRESS = 0x203a;
export const SHARED_EPT_POINTER = 0x203c;
export const PCONFIG_EXITING_BITMAP = 0x203e;
export const HYPERVISOR_MANAGED_LINEAR_ADDRESS_TRANSLATION_POINTER = 0x2040;
export const PID_POINTER_TABLE_ADDRESS = 0x2042;
export const SECONDARY_VM_EXIT_CONTROLS = 0x2044;
export const IA32_SPEC_CTRL_MASK = 0x204a;
export const IA32_SPEC_CTRL_SHADOW = 0x204c;

// 64-bit read-only data field
export const GUEST_PHYSICAL_ADDRESS = 0x2400;

// 64-bit guest-state fields
export const VMCS_LINK_POINTER = 0x2800;
export const GUEST_IA32_DEBUGCTL = 0x2802;
export const GUEST_IA32_PAT = 0x2804;
export const GUEST_IA32_EFER = 0x2806;
export const GUEST_IA32_PERF_GLOBAL_CTRL = 0x2808;
export const GUEST_PDPTE0 = 0x280a;
export const GUEST_PDPTE1 = 0x280c;
export const GUEST_PDPTE2 = 0x280e;
export const GUEST_PDPTE3 = 0x2810;
export const GUEST_IA32_BNDCFGS = 0x2812;
export const GUEST_IA32_RTIT_CTL = 0x2814;
export const GUEST_IA32_LBR_CTL = 0x2816;
export const GUEST_IA32_PKRS = 0x2818;

// 64-bit host-state fields
export const HOST_IA32_PAT = 0x2c00;
export const HOST_IA32_EFER = 0x2c02;
export const HOST_IA32_PERF_GLOBAL_CTRL = 0x2c04;
export const HOST_IA32_PKRS = 0x2c06;

// 32-bit control fields
export const PIN_BASED_VM_EXECUTION_CONTROLS = 0x4000;
export const PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS = 0x4002;
export const EXCEPTION_BITMAP = 0x4004;
export const PAGE_FAULT_ERROR_CODE_MASK = 0x4006;
export const PAGE_FAULT_ERROR_CODE_MATCH = 0x4008;
export const CR3_TARGET_COUNT = 0x400a;
export const VM_EXIT_CONTROLS = 0x400c;
export const VM_EXIT_MSR_STORE_COUNT = 0x400e;
export const VM_EXIT_MSR_LOAD_COUNT = 0x4010;
export const VM_ENTRY_CONTROLS = 0x4012;
export const VM_ENTRY_MSR_LOAD_COUNT = 0x4014;
export const VM_ENTRY_INTERRUPTION_INFORMATION_FIELD = 0x4016;
export const VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018;
export const VM_ENTRY_INSTRUCTION_LENGTH = 0x401a;
export const TPR_THRESHOLD = 0x401c;
export const SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS = 0x401e;
export const PLE_GAP = 0x4020;
export const PLE_WINDOW = 0x4022;
export const INSTRUCTION_TIMEOUT_CONTROL = 0x4024;

// 32-bit read-only data fields
export const VM_INSTRUCTION_ERROR = 0x4400;
export const VM_EXIT_REASON = 0x4402;
export const VM_EXIT_INTERRUPTION_INFORMATION = 0x4404;
export const VM_EXIT_INTERRUPTION_ERROR_CODE = 0x4406;
export const IDT_VECTORING_INFORMATION_FIELD = 0x4408;
export const IDT_VECTORING_ERROR_CODE = 0x440a;
export const VM_EXIT_INSTRUCTION_LENGTH = 0x440c;
export const VM_EXIT_INSTRUCTION_INFORMATION = 0x440e;

// 32-bit guest-state fields
export const GUEST_ES_LIMIT = 0x4800;
export const GUEST_CS_LIMIT = 0x4802;
export const GUEST_SS_LIMIT = 0x4804;
export const GUEST_DS_LIMIT = 0x4806;
export const GUEST_FS_LIMIT = 0x4808;
export const GUEST_GS_LIMIT = 0x480a;
export const GUEST_LDTR_LIMIT = 0x480c;
export const GUEST_TR_LIMIT = 0x480e;
export const GUEST_GDTR_LIMIT = 0x4810;
export const GUEST_IDTR_LIMIT = 0x4812;
export const GUEST_ES_ACCESS_RIGHTS = 0x4814;
export const GUEST_CS_ACCESS_RIGHTS = 0x4816;
export const GUEST_SS_ACCESS_RIGHTS = 0x4818;
export const GUEST_DS_ACCESS_RIGHTS = 0x481a;
export const GUEST_FS_ACCESS_RIGHTS = 0x481c;
export const GUEST_GS_ACCESS_RIGHTS = 0x481e;
export const GUEST_LDTR_ACCESS_RIGHTS = 0x4820;
export const GUEST_TR_ACCESS_RIGHTS = 0x4822;
export const GUEST_INTERRUPTIBILITY_STATE = 0x4824;
export const GUEST_ACTIVITY_STATE = 0x4826;
export const GUEST_SMBASE = 0x4828;
export const GUEST_IA32_SYSENTER_CS = 0x482a;
export const VMX_PREEMPTION_TIMER_VALUE = 0x482e;

// 32-bit host-state field
export const HOST_IA32_SYSENTER_CS = 0x4c00;

// natural-width control fields
export const CR0_GUEST_HOST_MASK = 0x6000;
export const CR4_GUEST_HOST_MASK = 0x6002;
export const CR0_READ_SHADOW = 0x6004;
export const CR4_READ_SHADOW = 0x6006;
export const CR3_TARGET_VALUE_0 = 0x6008;
export const CR3_TARGET_VALUE_1 = 0x600a;
export const CR3_TARGET_VALUE_2 = 0x600c;
export const CR3_TARGET_VALUE_3 = 0x600e;

// natural-width read-only data fields
export const EXIT_QUALIFICATION = 0x6400;
export const IO_RCX = 0x6402;
export const IO_RSI = 0x6404;
export const IO_RDI = 0x6406;
export const IO_RIP = 0x6408;
export const GUEST_LINEAR_ADDRESS = 0x640a;

// natural-width guest-state fields
export const GUEST_CR0 = 0x6800;
export const GUEST_CR3 = 0x6802;
export const GUEST_CR4 = 0x6804;
export const GUEST_ES_BASE = 0x6806;
export const GUEST_CS_BASE = 0x6808;
export const GUEST_SS_BASE = 0x680a;
export const GUEST_DS_BASE = 0x680c;
export const GUEST_FS_BASE = 0x680e;
export const GUEST_GS_BASE = 0x6810;
export const GUEST_LDTR_BASE = 0x6812;
export const GUEST_TR_BASE = 0x6814;
export const GUEST_GDTR_BASE = 0x6816;
export const GUEST_IDTR_BASE = 0x6818;
export const GUEST_DR7 = 0x681a;
export const GUEST_RSP = 0x681c;
export const GUEST_RIP = 0x681e;
export const GUEST_RFLAGS = 0x6820;
export const GUEST_PENDING_DEBUG_EXCEPTIONS = 0x6822;
export const GUEST_IA32_SYSENTER_ESP = 0x6824;
export const GUEST_IA32_SYSENTER_EIP = 0x6826;
export const GUEST_IA32_S_CET = 0x6828;
export const GUEST_SSP = 0x682a;
export const GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR = 0x682c;

// natural-width host-state fields
export const HOST_CR0 = 0x6c00;
export const HOST_CR3 = 0x6c02;
export const HOST_CR4 = 0x6c04;
export const HOST_FS_BASE = 0x6c06;
export const HOST_GS_BASE = 0x6c08;
export const HOST_TR_BASE = 0x6c0a;
export const HOST_GDTR_BASE = 0x6c0c;
export const HOST_IDTR_BASE = 0x6c0e;
export const HOST_IA32_SYSENTER_ESP = 0x6c10;
export const HOST_IA32_SYSENTER_EIP = 0x6c12;
export const HOST_RSP = 0x6c14;
export const HOST_RIP = 0x6c16;
export const HOST_IA32_S_CET = 0x6c18;
export const HOST_SSP = 0x6c1a;
export const HOST_IA32_INTERRUPT_SSP_TABLE_ADDR = 0x6c1c;

/** Aliases: the SDM's own spellings of the two fields the project names differently. */
export const PRIMARY_VM_EXIT_CONTROLS = VM_EXIT_CONTROLS;
export const EXIT_REASON = VM_EXIT_REASON;

export type FieldWidth = 16 | 32 | 64 | 'natural';
export type FieldType = 'control' | 'exit-info' | 'guest' | 'host';
/** A control word whose allowed-1 settings decide whether a field exists. */
export type CapWord = 'pin' | 'proc' | 'proc2' | 'proc3' | 'exit' | 'entry' | 'vmfunc' | 'never';
/** The allowed-1 settings of the control words (from caps.ts). proc3 is the low half of the tertiary controls. */
export type Allowed1 = Readonly<Record<Exclude<CapWord, 'never'>, number>>;

export interface VmcsField {
  /** FULL encoding. */
  readonly enc: number;
  /** SDM name, e.g. "Guest TR access rights". */
  readonly name: string;
  readonly width: FieldWidth;
  readonly type: FieldType;
  /** VM-exit information fields are read-only (VMWRITE → error 13 unless MISC bit 29 is offered). */
  readonly readOnly: boolean;
  /** The field exists if any of these control bits may be 1; null = always exists. */
  readonly requires: readonly (readonly [CapWord, number])[] | null;
  /** Dense index 0..FIELDS.length-1 (slot of the field in a VMCS's value arrays). */
  readonly slot: number;
}

type Req = readonly (readonly [CapWord, number])[];
const NEVER: Req = [['never', 0]];
type Def = readonly [enc: number, name: string, requires?: Req];

const DEFS: readonly Def[] = [
  // 16-bit control fields
  [VIRTUAL_PROCESSOR_IDENTIFIER, 'Virtual-processor identifier (VPID)', [['proc2', PROC2.ENABLE_VPID]]],
  [POSTED_INTERRUPT_NOTIFICATION_VECTOR, 'Posted-interrupt notification vector', [['pin', PIN.PROCESS_POSTED_INTERRUPTS]]],
  [EPTP_INDEX, 'EPTP index', [['proc2', PROC2.EPT_VIOLATION_VE]]],
  [HLAT_PREFIX_SIZE, 'HLAT prefix size', [['proc3', PROC3.ENABLE_HLAT]]],
  [LAST_PID_POINTER_INDEX, 'Last PID-pointer index', [['proc3', PROC3.IPI_VIRTUALIZATION]]],
  // 16-bit guest-state fields
  [GUEST_ES_SELECTOR, 'Guest ES selector'],
  [GUEST_CS_SELECTOR, 'Guest CS selector'],
  [GUEST_SS_SELECTOR, 'Guest SS selector'],
  [GUEST_DS_SELECTOR, 'Guest DS selector'],
  [GUEST_FS_SELECTOR, 'Guest FS selector'],
  [GUEST_GS_SELECTOR, 'Guest GS selector'],
  [GUEST_LDTR_SELECTOR, 'Guest LDTR selector'],
  [GUEST_TR_SELECTOR, 'Guest TR selector'],
  [GUEST_INTERRUPT_STATUS, 'Guest interrupt status', [['proc2', PROC2.VIRTUAL_INTERRUPT_DELIVERY]]],
  [PML_INDEX, 'PML index', [['proc2', PROC2.ENABLE_PML]]],
  [GUEST_UINV, 'Guest UINV', [['entry', ENTRY.LOAD_UINV], ['exit', EXIT.CLEAR_UINV]]],
  // 16-bit host-state fields
  [HOST_ES_SELECTOR, 'Host ES selector'],
  [HOST_CS_SELECTOR, 'Host CS selector'],
  [HOST_SS_SELECTOR, 'Host SS selector'],
  [HOST_DS_SELECTOR, 'Host DS selector'],
  [HOST_FS_SELECTOR, 'Host FS selector'],
  [HOST_GS_SELECTOR, 'Host GS selector'],
  [HOST_TR_SELECTOR, 'Host TR selector'],
  // 64-bit control fields
  [ADDRESS_OF_IO_BITMAP_A, 'Address of I/O bitmap A'],
  [ADDRESS_OF_IO_BITMAP_B, 'Address of I/O bitmap B'],
  [ADDRESS_OF_MSR_BITMAPS, 'Address of MSR bitmaps', [['proc', PROC.USE_MSR_BITMAPS]]],
  [VM_EXIT_MSR_STORE_ADDRESS, 'VM-exit MSR-store address'],
  [VM_EXIT_MSR_LOAD_ADDRESS, 'VM-exit MSR-load address'],
  [VM_ENTRY_MSR_LOAD_ADDRESS, 'VM-entry MSR-load address'],
  [EXECUTIVE_VMCS_POINTER, 'Executive-VMCS pointer', NEVER],
  [PML_ADDRESS, 'PML address', [['proc2', PROC2.ENABLE_PML]]],
  [TSC_OFFSET, 'TSC offset', [['proc', PROC.USE_TSC_OFFSETTING]]],
  [VIRTUAL_APIC_ADDRESS, 'Virtual-APIC address', [['proc', PROC.USE_TPR_SHADOW]]],
  [APIC_ACCESS_ADDRESS, 'APIC-access address', [['proc2', PROC2.VIRTUALIZE_APIC_ACCESSES]]],
  [POSTED_INTERRUPT_DESCRIPTOR_ADDRESS, 'Posted-interrupt descriptor address', [['pin', PIN.PROCESS_POSTED_INTERRUPTS]]],
  [VM_FUNCTION_CONTROLS, 'VM-function controls', [['proc2', PROC2.ENABLE_VM_FUNCTIONS]]],
  [EPT_POINTER, 'EPT pointer (EPTP)', [['proc2', PROC2.ENABLE_EPT]]],
  [EOI_EXIT_BITMAP_0, 'EOI-exit bitmap 0', [['proc2', PROC2.VIRTUAL_INTERRUPT_DELIVERY]]],
  [EOI_EXIT_BITMAP_1, 'EOI-exit bitmap 1', [['proc2', PROC2.VIRTUAL_INTERRUPT_DELIVERY]]],
  [EOI_EXIT_BITMAP_2, 'EOI-exit bitmap 2', [['proc2', PROC2.VIRTUAL_INTERRUPT_DELIVERY]]],
  [EOI_EXIT_BITMAP_3, 'EOI-exit bitmap 3', [['proc2', PROC2.VIRTUAL_INTERRUPT_DELIVERY]]],
  [EPTP_LIST_ADDRESS, 'EPTP-list address', [['vmfunc', VMFUNC.EPTP_SWITCHING]]],
  [VMREAD_BITMAP_ADDRESS, 'VMREAD-bitmap address', [['proc2', PROC2.VMCS_SHADOWING]]],
  [VMWRITE_BITMAP_ADDRESS, 'VMWRITE-bitmap address', [['proc2', PROC2.VMCS_SHADOWING]]],
  [VIRTUALIZATION_EXCEPTION_INFORMATION_ADDRESS, 'Virtualization-exception information address', [['proc2', PROC2.EPT_VIOLATION_VE]]],
  [XSS_EXITING_BITMAP, 'XSS-exiting bitmap', [['proc2', PROC2.ENABLE_XSAVES_XRSTORS]]],
  [ENCLS_EXITING_BITMAP, 'ENCLS-exiting bitmap', [['proc2', PROC2.ENABLE_ENCLS_EXITING]]],
  [SUB_PAGE_PERMISSION_TABLE_POINTER, 'Sub-page-permission-table pointer', [['proc2', PROC2.SUB_PAGE_WRITE_PERMISSIONS_FOR_EPT]]],
  [TSC_MULTIPLIER, 'TSC multiplier', [['proc2', PROC2.USE_TSC_SCALING]]],
  [TERTIARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 'Tertiary processor-based VM-execution controls', [['proc', PROC.ACTIVATE_TERTIARY_CONTROLS]]],
  [ENCLV_EXITING_BITMAP, 'ENCLV-exiting bitmap', [['proc2', PROC2.ENABLE_ENCLV_EXITING]]],
  [LOW_PASID_DIRECTORY_ADDRESS, 'Low PASID directory address', NEVER],
  [HIGH_PASID_DIRECTORY_ADDRESS, 'High PASID directory address', NEVER],
  [SHARED_EPT_POINTER, 'Shared EPT pointer', NEVER],
  [PCONFIG_EXITING_BITMAP, 'PCONFIG-exiting bitmap', [['proc2', PROC2.ENABLE_PCONFIG]]],
  [HYPERVISOR_MANAGED_LINEAR_ADDRESS_TRANSLATION_POINTER, 'Hypervisor-managed linear-address translation pointer (HLATP)', [['proc3', PROC3.ENABLE_HLAT]]],
  [PID_POINTER_TABLE_ADDRESS, 'PID-pointer table address', [['proc3', PROC3.IPI_VIRTUALIZATION]]],
  [SECONDARY_VM_EXIT_CONTROLS, 'Secondary VM-exit controls', [['exit', EXIT.ACTIVATE_SECONDARY_CONTROLS]]],
  [IA32_SPEC_CTRL_MASK, 'IA32_SPEC_CTRL mask', [['proc3', PROC3.VIRTUALIZE_IA32_SPEC_CTRL]]],
  [IA32_SPEC_CTRL_SHADOW, 'IA32_SPEC_CTRL shadow', [['proc3', PROC3.VIRTUALIZE_IA32_SPEC_CTRL]]],
  // 64-bit read-only data field
  [GUEST_PHYSICAL_ADDRESS, 'Guest-physical address', [['proc2', PROC2.ENABLE_EPT]]],
  // 64-bit guest-state fields
  [VMCS_LINK_POINTER, 'VMCS link pointer'],
  [GUEST_IA32_DEBUGCTL, 'Guest IA32_DEBUGCTL'],
  [GUEST_IA32_PAT, 'Guest IA32_PAT', [['entry', ENTRY.LOAD_IA32_PAT], ['exit', EXIT.SAVE_IA32_PAT]]],
  [GUEST_IA32_EFER, 'Guest IA32_EFER', [['entry', ENTRY.LOAD_IA32_EFER], ['exit', EXIT.SAVE_IA32_EFER]]],
  [GUEST_IA32_PERF_GLOBAL_CTRL, 'Guest IA32_PERF_GLOBAL_CTRL', [['entry', ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL], ['exit', EXIT.SAVE_IA32_PERF_GLOBAL_CTRL]]],
  [GUEST_PDPTE0, 'Guest PDPTE0', [['proc2', PROC2.ENABLE_EPT]]],
  [GUEST_PDPTE1, 'Guest PDPTE1', [['proc2', PROC2.ENABLE_EPT]]],
  [GUEST_PDPTE2, 'Guest PDPTE2', [['proc2', PROC2.ENABLE_EPT]]],
  [GUEST_PDPTE3, 'Guest PDPTE3', [['proc2', PROC2.ENABLE_EPT]]],
  [GUEST_IA32_BNDCFGS, 'Guest IA32_BNDCFGS', [['entry', ENTRY.LOAD_IA32_BNDCFGS], ['exit', EXIT.CLEAR_IA32_BNDCFGS]]],
  [GUEST_IA32_RTIT_CTL, 'Guest IA32_RTIT_CTL', [['entry', ENTRY.LOAD_IA32_RTIT_CTL], ['exit', EXIT.CLEAR_IA32_RTIT_CTL]]],
  [GUEST_IA32_LBR_CTL, 'Guest IA32_LBR_CTL', [['entry', ENTRY.LOAD_GUEST_IA32_LBR_CTL], ['exit', EXIT.CLEAR_IA32_LBR_CTL]]],
  [GUEST_IA32_PKRS, 'Guest IA32_PKRS', [['entry', ENTRY.LOAD_PKRS]]],
  // 64-bit host-state fields
  [HOST_IA32_PAT, 'Host IA32_PAT', [['exit', EXIT.LOAD_IA32_PAT]]],
  [HOST_IA32_EFER, 'Host IA32_EFER', [['exit', EXIT.LOAD_IA32_EFER]]],
  [HOST_IA32_PERF_GLOBAL_CTRL, 'Host IA32_PERF_GLOBAL_CTRL', [['exit', EXIT.LOAD_IA32_PERF_GLOBAL_CTRL]]],
  [HOST_IA32_PKRS, 'Host IA32_PKRS', [['exit', EXIT.LOAD_PKRS]]],
  // 32-bit control fields
  [PIN_BASED_VM_EXECUTION_CONTROLS, 'Pin-based VM-execution controls'],
  [PRIMARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 'Primary processor-based VM-execution controls'],
  [EXCEPTION_BITMAP, 'Exception bitmap'],
  [PAGE_FAULT_ERROR_CODE_MASK, 'Page-fault error-code mask'],
  [PAGE_FAULT_ERROR_CODE_MATCH, 'Page-fault error-code match'],
  [CR3_TARGET_COUNT, 'CR3-target count'],
  [VM_EXIT_CONTROLS, 'Primary VM-exit controls'],
  [VM_EXIT_MSR_STORE_COUNT, 'VM-exit MSR-store count'],
  [VM_EXIT_MSR_LOAD_COUNT, 'VM-exit MSR-load count'],
  [VM_ENTRY_CONTROLS, 'VM-entry controls'],
  [VM_ENTRY_MSR_LOAD_COUNT, 'VM-entry MSR-load count'],
  [VM_ENTRY_INTERRUPTION_INFORMATION_FIELD, 'VM-entry interruption-information field'],
  [VM_ENTRY_EXCEPTION_ERROR_CODE, 'VM-entry exception error code'],
  [VM_ENTRY_INSTRUCTION_LENGTH, 'VM-entry instruction length'],
  [TPR_THRESHOLD, 'TPR threshold', [['proc', PROC.USE_TPR_SHADOW]]],
  [SECONDARY_PROCESSOR_BASED_VM_EXECUTION_CONTROLS, 'Secondary processor-based VM-execution controls', [['proc', PROC.ACTIVATE_SECONDARY_CONTROLS]]],
  [PLE_GAP, 'PLE_Gap', [['proc2', PROC2.PAUSE_LOOP_EXITING]]],
  [PLE_WINDOW, 'PLE_Window', [['proc2', PROC2.PAUSE_LOOP_EXITING]]],
  [INSTRUCTION_TIMEOUT_CONTROL, 'Instruction-timeout control', [['proc2', PROC2.INSTRUCTION_TIMEOUT]]],
  // 32-bit read-only data fields
  [VM_INSTRUCTION_ERROR, 'VM-instruction error'],
  [VM_EXIT_REASON, 'Exit reason'],
  [VM_EXIT_INTERRUPTION_INFORMATION, 'VM-exit interruption information'],
  [VM_EXIT_INTERRUPTION_ERROR_CODE, 'VM-exit interruption error code'],
  [IDT_VECTORING_INFORMATION_FIELD, 'IDT-vectoring information field'],
  [IDT_VECTORING_ERROR_CODE, 'IDT-vectoring error code'],
  [VM_EXIT_INSTRUCTION_LENGTH, 'VM-exit instruction length'],
  [VM_EXIT_INSTRUCTION_INFORMATION, 'VM-exit instruction information'],
  // 32-bit guest-state fields
  [GUEST_ES_LIMIT, 'Guest ES limit'],
  [GUEST_CS_LIMIT, 'Guest CS limit'],
  [GUEST_SS_LIMIT, 'Guest SS limit'],
  [GUEST_DS_LIMIT, 'Guest DS limit'],
  [GUEST_FS_LIMIT, 'Guest FS limit'],
  [GUEST_GS_LIMIT, 'Guest GS limit'],
  [GUEST_LDTR_LIMIT, 'Guest LDTR limit'],
  [GUEST_TR_LIMIT, 'Guest TR limit'],
  [GUEST_GDTR_LIMIT, 'Guest GDTR limit'],
  [GUEST_IDTR_LIMIT, 'Guest IDTR limit'],
  [GUEST_ES_ACCESS_RIGHTS, 'Guest ES access rights'],
  [GUEST_CS_ACCESS_RIGHTS, 'Guest CS access rights'],
  [GUEST_SS_ACCESS_RIGHTS, 'Guest SS access rights'],
  [GUEST_DS_ACCESS_RIGHTS, 'Guest DS access rights'],
  [GUEST_FS_ACCESS_RIGHTS, 'Guest FS access rights'],
  [GUEST_GS_ACCESS_RIGHTS, 'Guest GS access rights'],
  [GUEST_LDTR_ACCESS_RIGHTS, 'Guest LDTR access rights'],
  [GUEST_TR_ACCESS_RIGHTS, 'Guest TR access rights'],
  [GUEST_INTERRUPTIBILITY_STATE, 'Guest interruptibility state'],
  [GUEST_ACTIVITY_STATE, 'Guest activity state'],
  [GUEST_SMBASE, 'Guest SMBASE'],
  [GUEST_IA32_SYSENTER_CS, 'Guest IA32_SYSENTER_CS'],
  [VMX_PREEMPTION_TIMER_VALUE, 'VMX-preemption timer value', [['pin', PIN.ACTIVATE_VMX_PREEMPTION_TIMER]]],
  // 32-bit host-state field
  [HOST_IA32_SYSENTER_CS, 'Host IA32_SYSENTER_CS'],
  // natural-width control fields
  [CR0_GUEST_HOST_MASK, 'CR0 guest/host mask'],
  [CR4_GUEST_HOST_MASK, 'CR4 guest/host mask'],
  [CR0_READ_SHADOW, 'CR0 read shadow'],
  [CR4_READ_SHADOW, 'CR4 read shadow'],
  [CR3_TARGET_VALUE_0, 'CR3-target value 0'],
  [CR3_TARGET_VALUE_1, 'CR3-target value 1'],
  [CR3_TARGET_VALUE_2, 'CR3-target value 2'],
  [CR3_TARGET_VALUE_3, 'CR3-target value 3'],
  // natural-width read-only data fields
  [EXIT_QUALIFICATION, 'Exit qualification'],
  [IO_RCX, 'I/O RCX'],
  [IO_RSI, 'I/O RSI'],
  [IO_RDI, 'I/O RDI'],
  [IO_RIP, 'I/O RIP'],
  [GUEST_LINEAR_ADDRESS, 'Guest-linear address'],
  // natural-width guest-state fields
  [GUEST_CR0, 'Guest CR0'],
  [GUEST_CR3, 'Guest CR3'],
  [GUEST_CR4, 'Guest CR4'],
  [GUEST_ES_BASE, 'Guest ES base'],
  [GUEST_CS_BASE, 'Guest CS base'],
  [GUEST_SS_BASE, 'Guest SS base'],
  [GUEST_DS_BASE, 'Guest DS base'],
  [GUEST_FS_BASE, 'Guest FS base'],
  [GUEST_GS_BASE, 'Guest GS base'],
  [GUEST_LDTR_BASE, 'Guest LDTR base'],
  [GUEST_TR_BASE, 'Guest TR base'],
  [GUEST_GDTR_BASE, 'Guest GDTR base'],
  [GUEST_IDTR_BASE, 'Guest IDTR base'],
  [GUEST_DR7, 'Guest DR7'],
  [GUEST_RSP, 'Guest RSP'],
  [GUEST_RIP, 'Guest RIP'],
  [GUEST_RFLAGS, 'Guest RFLAGS'],
  [GUEST_PENDING_DEBUG_EXCEPTIONS, 'Guest pending debug exceptions'],
  [GUEST_IA32_SYSENTER_ESP, 'Guest IA32_SYSENTER_ESP'],
  [GUEST_IA32_SYSENTER_EIP, 'Guest IA32_SYSENTER_EIP'],
  [GUEST_IA32_S_CET, 'Guest IA32_S_CET', [['entry', ENTRY.LOAD_CET_STATE]]],
  [GUEST_SSP, 'Guest SSP', [['entry', ENTRY.LOAD_CET_STATE]]],
  [GUEST_IA32_INTERRUPT_SSP_TABLE_ADDR, 'Guest IA32_INTERRUPT_SSP_TABLE_ADDR', [['entry', ENTRY.LOAD_CET_STATE]]],
  // natural-width host-state fields
  [HOST_CR0, 'Host CR0'],
  [HOST_CR3, 'Host CR3'],
  [HOST_CR4, 'Host CR4'],
  [HOST_FS_BASE, 'Host FS base'],
  [HOST_GS_BASE, 'Host GS base'],
  [HOST_TR_BASE, 'Host TR base'],
  [HOST_GDTR_BASE, 'Host GDTR base'],
  [HOST_IDTR_BASE, 'Host IDTR base'],
  [HOST_IA32_SYSENTER_ESP, 'Host IA32_SYSENTER_ESP'],
  [HOST_IA32_SYSENTER_EIP, 'Host IA32_SYSENTER_EIP'],
  [HOST_RSP, 'Host RSP'],
  [HOST_RIP, 'Host RIP'],
  [HOST_IA32_S_CET, 'Host IA32_S_CET', [['exit', EXIT.LOAD_CET_STATE]]],
  [HOST_SSP, 'Host SSP', [['exit', EXIT.LOAD_CET_STATE]]],
  [HOST_IA32_INTERRUPT_SSP_TABLE_ADDR, 'Host IA32_INTERRUPT_SSP_TABLE_ADDR', [['exit', EXIT.LOAD_CET_STATE]]],
];

const WIDTHS: readonly FieldWidth[] = [16, 64, 32, 'natural'];
const TYPES: readonly FieldType[] = ['control', 'exit-info', 'guest', 'host'];

/** Width of an encoding (bits 14:13). */
export function encWidth(enc: number): FieldWidth { return WIDTHS[(enc >>> 13) & 3]; }
/** Type of an encoding (bits 11:10). */
export function encType(enc: number): FieldType { return TYPES[(enc >>> 10) & 3]; }

/** Every VMCS field, in Appendix B order. */
export const FIELDS: readonly VmcsField[] = DEFS.map(([enc, name, requires], slot) => {
  const type = encType(enc);
  return Object.freeze({ enc, name, width: encWidth(enc), type, readOnly: type === 'exit-info', requires: requires ?? null, slot });
});

const BY_ENC = new Map<number, VmcsField>(FIELDS.map(f => [f.enc, f]));

/**
 * The field a FULL encoding names, or undefined. For the HIGH access (enc|1) of a 64-bit field
 * use `resolveEncoding`.
 */
export function fieldByEncoding(enc: number): VmcsField | undefined { return BY_ENC.get(enc); }

/**
 * Resolve a VMREAD/VMWRITE operand: the field, and whether it is the HIGH access (bits 63:32 of
 * a 64-bit field, accessed as a 32-bit field). `encLo/encHi` are the two halves of the register
 * or memory operand (encHi = 0 outside 64-bit mode). Undefined = "unsupported VMCS component"
 * (any of bits 63:15 set, a HIGH access to a non-64-bit field, or an unknown encoding). Whether
 * the field EXISTS on this processor is a separate question (fieldExists).
 */
export function resolveEncoding(encLo: number, encHi = 0): { field: VmcsField; high: boolean } | undefined {
  if (encHi !== 0 || (encLo >>> 0) > 0x7fff) return undefined;
  const high = (encLo & 1) === 1;
  const f = BY_ENC.get(encLo & ~1);
  if (!f || (high && f.width !== 64)) return undefined;
  return { field: f, high };
}

/** Does this field exist on a processor with these allowed-1 control settings? */
export function fieldExists(f: VmcsField, allowed1: Allowed1): boolean {
  if (!f.requires) return true;
  for (const [w, m] of f.requires) if (w !== 'never' && (allowed1[w] & m) !== 0) return true;
  return false;
}

/** The highest index (bits 9:1) of any encoding among the given fields (IA32_VMX_VMCS_ENUM bits 9:1). */
export function highestIndex(fields: readonly VmcsField[]): number {
  let m = 0;
  for (const f of fields) m = Math.max(m, (f.enc >>> 1) & 0x1ff);
  return m;
}

/** The SDM name as it reads inside a sentence: "Guest TR access rights" → "guest TR access rights". */
function lowerName(n: string): string {
  return /^[A-Z][a-z]/.test(n) ? n[0].toLowerCase() + n.slice(1) : n;
}

/**
 * A field's name for messages, the monitor and traces: fieldName(0x4822) → "guest TR access
 * rights (0x4822)"; a HIGH access → "guest IA32_EFER (high 32 bits) (0x2807)"; an unknown
 * encoding → "unknown VMCS field (0x1234)".
 */
export function fieldName(enc: number): string {
  const hex = '0x' + (enc >>> 0).toString(16).padStart(4, '0');
  const r = resolveEncoding(enc >>> 0);
  if (!r) return `unknown VMCS field (${hex})`;
  return `${lowerName(r.field.name)}${r.high ? ' (high 32 bits)' : ''} (${hex})`;
}
