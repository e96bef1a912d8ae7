/**
 * The target description gdb receives (GDB manual, "Target Descriptions"): one 64-bit layout for
 * the whole session whatever mode the CPU is in (gdb cannot resize registers mid-session; 32-bit
 * code shows with zero upper halves). gdb's own features for the general, x87, SSE and segment
 * base registers, plus `org.vmxray.system` for the system state, with flag fields so gdb prints
 * `[ PG WP PE ]` for CR0. The order of REG_LAYOUT is the order of `g`/`G` and the `p`/`P` numbers.
 */
export interface RegSpec { name: string; bits: number; type: string; group?: string; feature: string }

const CORE = 'org.gnu.gdb.i386.core', SSE = 'org.gnu.gdb.i386.sse', SEGMENTS = 'org.gnu.gdb.i386.segments', SYSTEM = 'org.vmxray.system';

function layout(): RegSpec[] {
  const r: RegSpec[] = [];
  const add = (feature: string, name: string, bits: number, type: string, group?: string) => r.push({ name, bits, type, group, feature });
  for (const n of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi']) add(CORE, n, 64, 'int64');
  add(CORE, 'rbp', 64, 'data_ptr'); add(CORE, 'rsp', 64, 'data_ptr');
  for (let i = 8; i < 16; i++) add(CORE, `r${i}`, 64, 'int64');
  add(CORE, 'rip', 64, 'code_ptr');
  add(CORE, 'eflags', 32, 'i386_eflags');
  for (const s of ['cs', 'ss', 'ds', 'es', 'fs', 'gs']) add(CORE, s, 32, 'int32');
  for (let i = 0; i < 8; i++) add(CORE, `st${i}`, 80, 'i387_ext');
  for (const n of ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop']) add(CORE, n, 32, 'int', 'float');
  for (let i = 0; i < 16; i++) add(SSE, `xmm${i}`, 128, 'vec128');
  add(SSE, 'mxcsr', 32, 'i386_mxcsr', 'vector');
  add(SEGMENTS, 'fs_base', 64, 'int'); add(SEGMENTS, 'gs_base', 64, 'int');
  add(SYSTEM, 'k_gs_base', 64, 'int', 'system');
  add(SYSTEM, 'cr0', 64, 'vmxray_cr0', 'system');
  add(SYSTEM, 'cr2', 64, 'data_ptr', 'system');
  add(SYSTEM, 'cr3', 64, 'data_ptr', 'system');
  add(SYSTEM, 'cr4', 64, 'vmxray_cr4', 'system');
  add(SYSTEM, 'cr8', 64, 'int', 'system');
  add(SYSTEM, 'efer', 64, 'vmxray_efer', 'system');
  add(SYSTEM, 'gdtr_base', 64, 'data_ptr', 'system'); add(SYSTEM, 'gdtr_limit', 32, 'int', 'system');
  add(SYSTEM, 'idtr_base', 64, 'data_ptr', 'system'); add(SYSTEM, 'idtr_limit', 32, 'int', 'system');
  add(SYSTEM, 'ldtr', 32, 'int32', 'system'); add(SYSTEM, 'tr', 32, 'int32', 'system');
  for (const n of ['dr0', 'dr1', 'dr2', 'dr3']) add(SYSTEM, n, 64, 'data_ptr', 'system');
  add(SYSTEM, 'dr6', 64, 'vmxray_dr6', 'system'); add(SYSTEM, 'dr7', 64, 'vmxray_dr7', 'system');
  for (const s of ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'ldtr', 'tr']) {
    add(SYSTEM, `${s}_base`, 64, 'data_ptr', 'system');
    add(SYSTEM, `${s}_limit`, 32, 'int32', 'system');
    add(SYSTEM, `${s}_attr`, 32, 'vmxray_seg_attr', 'system');
  }
  return r;
}

export const REG_LAYOUT: readonly RegSpec[] = layout();

type Field = [name: string, start: number, end?: number];
const FLAGS: Record<string, [size: number, fields: Field[]]> = {
  i386_eflags: [4, [['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
    ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21]]],
  i386_mxcsr: [4, [['IE', 0], ['DE', 1], ['ZE', 2], ['OE', 3], ['UE', 4], ['PE', 5], ['DAZ', 6], ['IM', 7], ['DM', 8], ['ZM', 9],
    ['OM', 10], ['UM', 11], ['PM', 12], ['FZ', 15]]],
  // SDM Vol. 3A, "Control Registers"
  vmxray_cr0: [8, [['PE', 0], ['MP', 1], ['EM', 2], ['TS', 3], ['ET', 4], ['NE', 5], ['WP', 16], ['AM', 18], ['NW', 29], ['CD', 30], ['PG', 31]]],
  vmxray_cr4: [8, [['VME', 0], ['PVI', 1], ['TSD', 2], ['DE', 3], ['PSE', 4], ['PAE', 5], ['MCE', 6], ['PGE', 7], ['PCE', 8],
    ['OSFXSR', 9], ['OSXMMEXCPT', 10], ['UMIP', 11], ['LA57', 12], ['VMXE', 13], ['SMXE', 14], ['FSGSBASE', 16], ['PCIDE', 17],
    ['OSXSAVE', 18], ['SMEP', 20], ['SMAP', 21], ['PKE', 22]]],
  // SDM Vol. 3A, "IA32_EFER MSR"
  vmxray_efer: [8, [['SCE', 0], ['LME', 8], ['LMA', 10], ['NXE', 11]]],
  // SDM Vol. 3B, "Debug Status Register (DR6)" / "Debug Control Register (DR7)"
  vmxray_dr6: [8, [['B0', 0], ['B1', 1], ['B2', 2], ['B3', 3], ['BD', 13], ['BS', 14], ['BT', 15]]],
  vmxray_dr7: [8, [['L0', 0], ['G0', 1], ['L1', 2], ['G1', 3], ['L2', 4], ['G2', 5], ['L3', 6], ['G3', 7], ['LE', 8], ['GE', 9], ['GD', 13],
    ['RW0', 16, 17], ['LEN0', 18, 19], ['RW1', 20, 21], ['LEN1', 22, 23], ['RW2', 24, 25], ['LEN2', 26, 27], ['RW3', 28, 29], ['LEN3', 30, 31]]],
  // access rights in the VMCS format (SDM Vol. 3C, "Guest Register State")
  vmxray_seg_attr: [4, [['type', 0, 3], ['S', 4], ['DPL', 5, 6], ['P', 7], ['AVL', 12], ['L', 13], ['DB', 14], ['G', 15], ['unusable', 16]]],
};

const SSE_TYPES = `  <vector id="v8bf16" type="bfloat16" count="8"/>
  <vector id="v8h" type="ieee_half" count="8"/>
  <vector id="v4f" type="ieee_single" count="4"/>
  <vector id="v2d" type="ieee_double" count="2"/>
  <vector id="v16i8" type="int8" count="16"/>
  <vector id="v8i16" type="int16" count="8"/>
  <vector id="v4i32" type="int32" count="4"/>
  <vector id="v2i64" type="int64" count="2"/>
  <union id="vec128">
    <field name="v8_bfloat16" type="v8bf16"/>
    <field name="v8_half" type="v8h"/>
    <field name="v4_float" type="v4f"/>
    <field name="v2_double" type="v2d"/>
    <field name="v16_int8" type="v16i8"/>
    <field name="v8_int16" type="v8i16"/>
    <field name="v4_int32" type="v4i32"/>
    <field name="v2_int64" type="v2i64"/>
    <field name="uint128" type="uint128"/>
  </union>
`;

function flagsXml(id: string): string {
  const [size, fields] = FLAGS[id];
  const f = fields.map(([n, s, e]) => `    <field name="${n}" start="${s}" end="${e ?? s}"/>`).join('\n');
  return `  <flags id="${id}" size="${size}">\n${f}\n  </flags>\n`;
}

/** The whole description (one document; no includes). */
export function targetXml(): string {
  let x = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n  <architecture>i386:x86-64</architecture>\n';
  const features = [...new Set(REG_LAYOUT.map(r => r.feature))];
  let regnum = 0;
  for (const feat of features) {
    x += ` <feature name="${feat}">\n`;
    const regs = REG_LAYOUT.filter(r => r.feature === feat);
    const types = new Set(regs.map(r => r.type));
    for (const t of types) if (FLAGS[t]) x += flagsXml(t);
    if (types.has('vec128')) x += SSE_TYPES;
    for (const r of regs) {
      x += `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${regnum++}"${r.group ? ` group="${r.group}"` : ''}/>\n`;
    }
    x += ' </feature>\n';
  }
  return x + '</target>\n';
}
