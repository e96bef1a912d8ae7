/**
 * IDE/ATA hard disks over PIO, as on the PC's two legacy channels (ATA/ATAPI-6, T13/1410D):
 *   primary   0x1F0-0x1F7, device control / alternate status 0x3F6, IRQ 14
 *   secondary 0x170-0x177, device control / alternate status 0x376, IRQ 15
 * each with a master (device 0) and a slave (device 1) backed by a BlockDevice — an Overlay
 * by default, so a guest's writes never reach the user's image file unless asked.
 *
 * Commands execute at once (no simulated seek time): when the OUT to the command register
 * returns, the first block is ready (status exactly 0x58 = DRDY|DSC|DRQ) and, for data-in and
 * non-data commands, INTRQ is asserted. INTRQ is asserted at the start of each data-in block,
 * after each data-out block, and at the end of non-data commands (ATA-6 section 9, PIO data-in
 * / data-out / non-data protocols), unless nIEN is set. Reading the Status register clears the
 * selected device's pending interrupt; reading Alternate Status does not.
 *
 * Absent devices follow QEMU (hw/ide/core.c) and ATA-6 9.16 ("device 0 responds for an absent
 * device 1"):
 *   - a channel with no device at all floats: every register reads 0xFF (0xFFFF/0xFFFFFFFF for
 *     the data port), so a probe's register echo test fails and no status polling happens;
 *   - an absent slave next to a present master: Status, Alternate Status and Error read 0,
 *     the other registers read back what was written (the task file is written to both
 *     devices), and commands to it are ignored.
 * After a software reset (SRST) or EXECUTE DEVICE DIAGNOSTIC the registers hold the ATA
 * signature (sector count 1, LBA low 1, LBA mid/high 0, device 0) and device 0 is selected,
 * so a status poll after reset (SWEB: until status & 0x58) ends at once.
 *
 * Registers as QEMU keeps them: each device holds its own copy of the task file; writes go to
 * both, and each of the registers 1-5 is a two-byte FIFO (the previous value becomes the
 * "high order byte" read back when HOB, bit 7 of Device Control, is set; LBA48 commands use it).
 * Any write to a command block register clears HOB.
 *
 * Not modelled: DMA (IDENTIFY reports no DMA modes), ATAPI (IDENTIFY PACKET DEVICE is aborted),
 * power management states (STANDBY/IDLE/SLEEP are accepted and do nothing), SMART, security,
 * HPA. Accesses of 2 or 4 bytes to a register other than Data act on its low byte only.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import { SECTOR_SIZE, type BlockDevice } from '../disk/block-device.js';
import type { IrqLine } from './irq.js';
import { buildIdentify, defaultGeometry, type ChsGeometry } from './ata-identify.js';

// Status register bits (ATA-6 7.15.6 / 7.3 Alternate Status).
export const ATA_BSY = 0x80;
export const ATA_DRDY = 0x40;
export const ATA_DF = 0x20;
export const ATA_DSC = 0x10;
export const ATA_DRQ = 0x08;
export const ATA_ERR = 0x01;
// Error register bits (ATA-6 7.11).
export const ATA_ABRT = 0x04;
export const ATA_IDNF = 0x10;
export const ATA_UNC = 0x40;
// Device Control register bits (ATA-6 7.9).
export const ATA_NIEN = 0x02;
export const ATA_SRST = 0x04;
export const ATA_HOB = 0x80;

/** Status of an idle, ready drive: DRDY | DSC. */
export const STATUS_READY = ATA_DRDY | ATA_DSC; // 0x50
/** Status when a block is ready to transfer: DRDY | DSC | DRQ. */
export const STATUS_DATA = ATA_DRDY | ATA_DSC | ATA_DRQ; // 0x58
/** Status after an aborted command (as QEMU): DRDY | ERR. */
export const STATUS_ERROR = ATA_DRDY | ATA_ERR; // 0x41

/** Largest READ/WRITE MULTIPLE block (IDENTIFY word 47), as QEMU's MAX_MULT_SECTORS. */
export const MAX_MULTIPLE = 16;

export interface AtaDriveOptions {
  model?: string;
  serial?: string;
  firmware?: string;
  /** Default CHS geometry (IDENTIFY words 1/3/6); 16 heads, 63 sectors otherwise. */
  geometry?: ChsGeometry;
}

type Phase = 'none' | 'in' | 'out';

export interface AtaDriveState {
  feature: number; hobFeature: number; nsector: number; hobNsector: number;
  sector: number; hobSector: number; lcyl: number; hobLcyl: number; hcyl: number; hobHcyl: number;
  select: number; status: number; error: number; intrq: boolean;
  phase: Phase; buf: Uint8Array; pos: number; end: number;
  identifying: boolean; lba: number; remaining: number; blockSectors: number; mode: AddrMode;
  current: ChsGeometry; multiple: number;
}

type AddrMode = 'chs' | 'lba28' | 'lba48';

/** One device (master or slave) on a channel; `disk` null when absent. */
export class AtaDrive {
  readonly disk: BlockDevice | null;
  readonly geometry: ChsGeometry;
  readonly model: string;
  readonly serial: string;
  readonly firmware: string;
  // Task file (each device's copy).
  feature = 0; hobFeature = 0;
  nsector = 1; hobNsector = 0;
  sector = 1; hobSector = 0;
  lcyl = 0; hobLcyl = 0;
  hcyl = 0; hobHcyl = 0;
  select = 0xa0;
  status = 0;
  error = 0x01;
  /** INTRQ pending (the channel drives the line from the selected device's flag and nIEN). */
  intrq = false;
  // PIO transfer in progress.
  phase: Phase = 'none';
  buf = new Uint8Array(MAX_MULTIPLE * SECTOR_SIZE);
  pos = 0;
  end = 0;
  identifying = false;
  lba = 0;
  remaining = 0;
  blockSectors = 1;
  mode: AddrMode = 'lba28';
  // Settings.
  current: ChsGeometry;
  multiple = 0;

  constructor(disk: BlockDevice | null, opts: AtaDriveOptions, serial: string) {
    this.disk = disk;
    this.geometry = opts.geometry ?? defaultGeometry(disk?.sectors ?? 0);
    this.current = { ...this.geometry };
    this.model = opts.model ?? 'VMXRAY HARDDISK';
    this.serial = opts.serial ?? serial;
    this.firmware = opts.firmware ?? '0.1';
    this.status = disk ? STATUS_READY : 0;
  }

  get present(): boolean { return this.disk !== null; }

  identify(): Uint8Array {
    return buildIdentify({
      totalSectors: this.disk?.sectors ?? 0, geometry: this.geometry, current: this.current,
      multipleCount: this.multiple, maxMultiple: MAX_MULTIPLE,
      model: this.model, serial: this.serial, firmware: this.firmware,
    });
  }

  /** Load the reset signature (ATA-6 9.12, "Device signatures": 01h 01h 00h 00h 00h). */
  signature(): void {
    this.nsector = 1; this.sector = 1; this.lcyl = 0; this.hcyl = 0;
    this.hobNsector = 0; this.hobSector = 0; this.hobLcyl = 0; this.hobHcyl = 0;
    this.select = 0xa0;
    this.error = 0x01; // diagnostic code: device passed
    this.phase = 'none';
    this.intrq = false;
    this.status = this.present ? STATUS_READY : 0;
  }

  save(): AtaDriveState {
    return {
      feature: this.feature, hobFeature: this.hobFeature, nsector: this.nsector, hobNsector: this.hobNsector,
      sector: this.sector, hobSector: this.hobSector, lcyl: this.lcyl, hobLcyl: this.hobLcyl,
      hcyl: this.hcyl, hobHcyl: this.hobHcyl, select: this.select, status: this.status, error: this.error,
      intrq: this.intrq, phase: this.phase, buf: this.buf.slice(), pos: this.pos, end: this.end,
      identifying: this.identifying, lba: this.lba, remaining: this.remaining, blockSectors: this.blockSectors,
      mode: this.mode, current: { ...this.current }, multiple: this.multiple,
    };
  }
  restore(s: AtaDriveState): void {
    Object.assign(this, { ...s, buf: s.buf.slice(), current: { ...s.current } });
  }
}

export interface AtaChannelOptions {
  /** Command block base port (0x1F0 / 0x170). */
  base: number;
  /** Device control / alternate status port (0x3F6 / 0x376). */
  ctrl: number;
  /** ISA IRQ number (14 / 15). */
  irq: number;
  irqLine: IrqLine;
  master?: BlockDevice | null;
  slave?: BlockDevice | null;
  masterOptions?: AtaDriveOptions;
  slaveOptions?: AtaDriveOptions;
  /** Told about disk errors the guest sees as UNC (a damaged image, say). */
  onDiskError?: (message: string) => void;
  name?: string;
}

export interface AtaChannelState { unit: number; devCtrl: number; line: boolean; drives: [AtaDriveState, AtaDriveState] }

export class AtaChannel implements PortDevice {
  readonly base: number;
  readonly ctrl: number;
  readonly irq: number;
  readonly name: string;
  readonly drives: [AtaDrive, AtaDrive];
  /** Selected device (DEV bit of the Device register). */
  unit = 0;
  /** Device Control register (nIEN, SRST, HOB). */
  devCtrl = 0;
  private line = false;
  private readonly irqLine: IrqLine;
  private readonly onDiskError?: (message: string) => void;

  constructor(o: AtaChannelOptions) {
    this.base = o.base; this.ctrl = o.ctrl; this.irq = o.irq; this.irqLine = o.irqLine;
    this.name = o.name ?? `ata@${o.base.toString(16)}`;
    this.onDiskError = o.onDiskError;
    const tag = o.base.toString(16).toUpperCase();
    this.drives = [
      new AtaDrive(o.master ?? null, o.masterOptions ?? {}, `VMX${tag}0`),
      new AtaDrive(o.slave ?? null, o.slaveOptions ?? {}, `VMX${tag}1`),
    ];
  }

  /** True when at least one device is attached (otherwise the channel floats). */
  get present(): boolean { return this.drives[0].present || this.drives[1].present; }

  register(bus: PortBus): void {
    bus.register(this, { from: this.base, to: this.base + 7 });
    bus.register(this, [this.ctrl]);
  }

  // ---- port I/O -------------------------------------------------------------------------

  portRead(port: number, size: 1 | 2 | 4): number {
    if (!this.present) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    if (port === this.ctrl) return this.statusOf(this.drives[this.unit]); // alternate status
    const reg = port - this.base;
    const d = this.drives[this.unit];
    const hob = (this.devCtrl & ATA_HOB) !== 0;
    switch (reg) {
      case 0: return this.readData(d, size);
      case 1: return d.present ? (hob ? d.hobFeature : d.error) : 0;
      case 2: return hob ? d.hobNsector : d.nsector;
      case 3: return hob ? d.hobSector : d.sector;
      case 4: return hob ? d.hobLcyl : d.lcyl;
      case 5: return hob ? d.hobHcyl : d.hcyl;
      case 6: return d.select;
      default: { // 7: status; reading it acknowledges the interrupt
        const st = this.statusOf(d);
        if (d.intrq) { d.intrq = false; this.updateLine(); }
        return st;
      }
    }
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if (!this.present) return;
    if (port === this.ctrl) { this.writeControl(value & 0xff); return; }
    const reg = port - this.base;
    if (reg === 0) { this.writeData(this.drives[this.unit], size, value); return; }
    const v = value & 0xff;
    this.devCtrl &= ~ATA_HOB;
    for (const d of this.drives) {
      switch (reg) {
        case 1: d.hobFeature = d.feature; d.feature = v; break;
        case 2: d.hobNsector = d.nsector; d.nsector = v; break;
        case 3: d.hobSector = d.sector; d.sector = v; break;
        case 4: d.hobLcyl = d.lcyl; d.lcyl = v; break;
        case 5: d.hobHcyl = d.hcyl; d.hcyl = v; break;
        case 6: d.select = v | 0xa0; break;
      }
    }
    if (reg === 6) { this.unit = (v >> 4) & 1; this.updateLine(); }
    if (reg === 7) this.command(v);
  }

  private statusOf(d: AtaDrive): number {
    return d.present ? d.status : 0;
  }

  private writeControl(v: number): void {
    const old = this.devCtrl;
    this.devCtrl = v;
    if (!(old & ATA_SRST) && (v & ATA_SRST)) {
      // SRST asserted: devices go busy and abandon any command (ATA-6 9.2, software reset protocol).
      for (const d of this.drives) { d.phase = 'none'; d.intrq = false; if (d.present) d.status = ATA_BSY; }
    } else if ((old & ATA_SRST) && !(v & ATA_SRST)) {
      // SRST released: the reset completes at once; the signature is loaded, device 0 selected.
      for (const d of this.drives) d.signature();
      this.unit = 0;
    }
    this.updateLine();
  }

  private updateLine(): void {
    const d = this.drives[this.unit];
    const level = d.present && d.intrq && !(this.devCtrl & ATA_NIEN);
    if (level !== this.line) {
      this.line = level;
      this.irqLine(this.irq, level);
    }
  }

  private raise(d: AtaDrive): void {
    d.intrq = true;
    this.updateLine();
  }

  // ---- data port --------------------------------------------------------------------------

  private readData(d: AtaDrive, size: 1 | 2 | 4): number {
    // Outside a data-in phase the data port holds nothing (QEMU returns 0 and stays put).
    if (d.phase !== 'in' || !(d.status & ATA_DRQ)) return 0;
    const n = size === 4 ? 4 : 2; // a byte read consumes a word, as QEMU (Solaris' loader relies on it)
    if (d.pos + n > d.end) return 0;
    const b = d.buf, p = d.pos;
    const v = n === 4
      ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
      : b[p] | (b[p + 1] << 8);
    d.pos = p + n;
    if (d.pos >= d.end) this.endInBlock(d);
    return size === 1 ? v & 0xff : v;
  }

  private writeData(d: AtaDrive, size: 1 | 2 | 4, value: number): void {
    if (d.phase !== 'out' || !(d.status & ATA_DRQ)) return;
    const n = size === 4 ? 4 : 2;
    if (d.pos + n > d.end) return;
    const b = d.buf, p = d.pos;
    b[p] = value & 0xff; b[p + 1] = (value >>> 8) & 0xff;
    if (n === 4) { b[p + 2] = (value >>> 16) & 0xff; b[p + 3] = (value >>> 24) & 0xff; }
    d.pos = p + n;
    if (d.pos >= d.end) this.endOutBlock(d);
  }

  // ---- commands ---------------------------------------------------------------------------

  private command(cmd: number): void {
    if (cmd === 0x90) { this.executeDiagnostic(); return; }
    const d = this.drives[this.unit];
    if (!d.present) return;            // an absent device 1 does not execute commands
    if (d.status & ATA_BSY) return;    // writes to Command while busy are ignored
    d.error = 0;
    d.phase = 'none';
    switch (cmd) {
      case 0xec: this.startIdentify(d); return;                 // IDENTIFY DEVICE
      case 0x20: case 0x21: this.startRead(d, false, false); return; // READ SECTORS (with/without retry)
      case 0x24: this.startRead(d, true, false); return;        // READ SECTORS EXT
      case 0xc4: this.startRead(d, false, true); return;        // READ MULTIPLE
      case 0x29: this.startRead(d, true, true); return;         // READ MULTIPLE EXT
      case 0x30: case 0x31: this.startWrite(d, false, false); return; // WRITE SECTORS
      case 0x34: this.startWrite(d, true, false); return;       // WRITE SECTORS EXT
      case 0xc5: this.startWrite(d, false, true); return;       // WRITE MULTIPLE
      case 0x39: this.startWrite(d, true, true); return;        // WRITE MULTIPLE EXT
      case 0x40: case 0x41: this.verify(d, false); return;      // READ VERIFY SECTORS
      case 0x42: this.verify(d, true); return;                  // READ VERIFY SECTORS EXT
      case 0xc6: this.setMultiple(d); return;                   // SET MULTIPLE MODE
      case 0x91: this.initializeParameters(d); return;          // INITIALIZE DEVICE PARAMETERS
      case 0xe7: case 0xea: {                                   // FLUSH CACHE (EXT)
        try { d.disk!.flush(); } catch (e) { this.diskError(d, e); return; }
        this.complete(d); return;
      }
      case 0xef: this.complete(d); return;                      // SET FEATURES: accepted, no effect
      case 0xe5: case 0x98: d.nsector = 0xff; this.complete(d); return; // CHECK POWER MODE: active/idle
      case 0xe0: case 0xe1: case 0xe2: case 0xe3:               // STANDBY/IDLE (IMMEDIATE)
      case 0x94: case 0x95: case 0x96: case 0x97:               // their ATA-1 opcodes
        this.complete(d); return;
      default:
        if (cmd >= 0x10 && cmd <= 0x1f) { this.complete(d); return; } // RECALIBRATE (obsolete)
        if (cmd >= 0x70 && cmd <= 0x7f) { this.seek(d); return; }     // SEEK
        this.abort(d, ATA_ABRT); // IDENTIFY PACKET DEVICE (0xA1), DEVICE RESET, NOP, unknown
    }
  }

  /** Successful end of a non-data command. */
  private complete(d: AtaDrive): void {
    d.status = STATUS_READY;
    this.raise(d);
  }

  private abort(d: AtaDrive, error: number): void {
    d.phase = 'none';
    d.error = error;
    d.status = STATUS_ERROR;
    this.raise(d);
  }

  private diskError(d: AtaDrive, e: unknown): void {
    this.onDiskError?.(`${this.name} device ${d === this.drives[0] ? 0 : 1}: ${(e as Error).message}`);
    this.abort(d, ATA_UNC);
  }

  private executeDiagnostic(): void {
    if (this.drives[0].status & ATA_BSY) return;
    for (const d of this.drives) d.signature();
    this.unit = 0;
    const d0 = this.drives[0];
    if (d0.present) this.raise(d0); else this.updateLine();
  }

  private startIdentify(d: AtaDrive): void {
    d.buf.set(d.identify());
    d.pos = 0; d.end = SECTOR_SIZE;
    d.identifying = true;
    d.remaining = 1; d.blockSectors = 1;
    d.phase = 'in';
    d.status = STATUS_DATA;
    this.raise(d);
  }

  /** The starting address the task file names, or null for an invalid CHS address. */
  private address(d: AtaDrive, lba48: boolean): number | null {
    if (lba48) {
      d.mode = 'lba48';
      return ((d.hobHcyl * 256 + d.hobLcyl) * 256 + d.hobSector) * 2 ** 24 + ((d.hcyl << 16) | (d.lcyl << 8) | d.sector);
    }
    if (d.select & 0x40) {
      d.mode = 'lba28';
      return ((d.select & 0x0f) << 24 | d.hcyl << 16 | d.lcyl << 8 | d.sector) >>> 0;
    }
    d.mode = 'chs';
    // CHS -> LBA with the current geometry: (cylinder * heads + head) * sectors + sector - 1.
    const { heads, sectors } = d.current;
    const head = d.select & 0x0f;
    if (sectors === 0 || d.sector === 0 || d.sector > sectors || head >= heads) return null;
    const cyl = (d.hcyl << 8) | d.lcyl;
    return (cyl * heads + head) * sectors + d.sector - 1;
  }

  private count(d: AtaDrive, lba48: boolean): number {
    if (lba48) return ((d.hobNsector << 8) | d.nsector) || 65536;
    return d.nsector || 256;
  }

  /** Write an address back into the task file in the mode the command used. */
  private setAddress(d: AtaDrive, lba: number): void {
    if (d.mode === 'chs') {
      const { heads, sectors } = d.current;
      const perCyl = heads * sectors;
      const cyl = Math.floor(lba / perCyl);
      const r = lba - cyl * perCyl;
      d.hcyl = (cyl >> 8) & 0xff; d.lcyl = cyl & 0xff;
      d.select = (d.select & 0xf0) | Math.floor(r / sectors);
      d.sector = (r % sectors) + 1;
      return;
    }
    d.sector = lba & 0xff; d.lcyl = (lba >>> 8) & 0xff; d.hcyl = (lba >>> 16) & 0xff;
    if (d.mode === 'lba28') {
      d.select = (d.select & 0xf0) | ((lba >>> 24) & 0x0f);
    } else {
      const hi = Math.floor(lba / 2 ** 24);
      d.hobSector = hi & 0xff; d.hobLcyl = (hi >>> 8) & 0xff; d.hobHcyl = (hi >>> 16) & 0xff;
    }
  }

  private setRemaining(d: AtaDrive): void {
    d.nsector = d.remaining & 0xff;
    if (d.mode === 'lba48') d.hobNsector = (d.remaining >>> 8) & 0xff;
  }

  private beginTransfer(d: AtaDrive, lba48: boolean, multiple: boolean): boolean {
    if (multiple && d.multiple === 0) { this.abort(d, ATA_ABRT); return false; } // SET MULTIPLE MODE not done
    const lba = this.address(d, lba48);
    if (lba === null) { this.abort(d, ATA_IDNF); return false; }
    d.lba = lba;
    d.remaining = this.count(d, lba48);
    d.blockSectors = multiple ? d.multiple : 1;
    d.identifying = false;
    return true;
  }

  /** Sectors in the next block, or 0 (after signalling IDNF) when it leaves the disk. */
  private nextBlock(d: AtaDrive): number {
    const n = Math.min(d.blockSectors, d.remaining);
    if (d.lba + n > d.disk!.sectors) { this.setAddress(d, d.lba); this.abort(d, ATA_IDNF); return 0; }
    return n;
  }

  private startRead(d: AtaDrive, lba48: boolean, multiple: boolean): void {
    if (this.beginTransfer(d, lba48, multiple)) this.loadInBlock(d);
  }

  private loadInBlock(d: AtaDrive): void {
    const n = this.nextBlock(d);
    if (n === 0) return;
    try {
      d.buf.set(d.disk!.read(d.lba, n));
    } catch (e) { this.setAddress(d, d.lba); this.diskError(d, e); return; }
    d.pos = 0; d.end = n * SECTOR_SIZE;
    d.phase = 'in';
    d.status = STATUS_DATA;
    this.raise(d);
  }

  private endInBlock(d: AtaDrive): void {
    if (d.identifying) { d.identifying = false; d.phase = 'none'; d.status = STATUS_READY; return; }
    const n = d.end / SECTOR_SIZE;
    d.lba += n; d.remaining -= n;
    this.setAddress(d, d.lba);
    this.setRemaining(d);
    if (d.remaining > 0) { this.loadInBlock(d); return; }
    d.phase = 'none';
    d.status = STATUS_READY; // no interrupt at the end of a PIO data-in command
  }

  private startWrite(d: AtaDrive, lba48: boolean, multiple: boolean): void {
    if (!this.beginTransfer(d, lba48, multiple)) return;
    const n = this.nextBlock(d);
    if (n === 0) return;
    d.pos = 0; d.end = n * SECTOR_SIZE;
    d.phase = 'out';
    d.status = STATUS_DATA; // first block: DRQ without an interrupt
  }

  private endOutBlock(d: AtaDrive): void {
    const n = d.end / SECTOR_SIZE;
    try {
      d.disk!.write(d.lba, d.buf.slice(0, d.end));
    } catch (e) { this.setAddress(d, d.lba); this.diskError(d, e); return; }
    d.lba += n; d.remaining -= n;
    this.setAddress(d, d.lba);
    this.setRemaining(d);
    if (d.remaining > 0) {
      const m = this.nextBlock(d);
      if (m === 0) return;
      d.pos = 0; d.end = m * SECTOR_SIZE;
      d.status = STATUS_DATA;
    } else {
      d.phase = 'none';
      d.status = STATUS_READY;
    }
    this.raise(d);
  }

  private verify(d: AtaDrive, lba48: boolean): void {
    if (!this.beginTransfer(d, lba48, false)) return;
    if (d.lba + d.remaining > d.disk!.sectors) {
      this.setAddress(d, Math.min(d.lba, d.disk!.sectors));
      this.abort(d, ATA_IDNF); return;
    }
    d.lba += d.remaining; d.remaining = 0;
    this.setAddress(d, d.lba); this.setRemaining(d);
    this.complete(d);
  }

  private seek(d: AtaDrive): void {
    const lba = this.address(d, false);
    if (lba === null || lba >= d.disk!.sectors) { this.abort(d, ATA_IDNF); return; }
    this.complete(d);
  }

  private setMultiple(d: AtaDrive): void {
    // ATA-6 8.39: a count that is not a supported block size aborts; 0 disables multiple mode.
    const n = d.nsector;
    if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) { this.abort(d, ATA_ABRT); return; }
    d.multiple = n;
    this.complete(d);
  }

  private initializeParameters(d: AtaDrive): void {
    // ATA-6 8.16 (obsolete since ATA-6 but used by CHS drivers): sectors per track from the
    // Sector Count register, heads = Device/Head bits 3:0 + 1.
    const sectors = d.nsector;
    const heads = (d.select & 0x0f) + 1;
    const total = d.disk!.sectors;
    const cylinders = sectors === 0 ? 0 : Math.min(65535, Math.floor(total / (heads * sectors)));
    d.current = { cylinders, heads, sectors };
    this.complete(d);
  }

  // ---- snapshots --------------------------------------------------------------------------

  save(): AtaChannelState {
    return { unit: this.unit, devCtrl: this.devCtrl, line: this.line, drives: [this.drives[0].save(), this.drives[1].save()] };
  }
  restore(s: AtaChannelState): void {
    this.unit = s.unit; this.devCtrl = s.devCtrl; this.line = s.line;
    this.drives[0].restore(s.drives[0]); this.drives[1].restore(s.drives[1]);
  }
}

export interface AtaControllerOptions {
  irqLine: IrqLine;
  primary?: { master?: BlockDevice | null; slave?: BlockDevice | null };
  secondary?: { master?: BlockDevice | null; slave?: BlockDevice | null };
  onDiskError?: (message: string) => void;
}

/** Both legacy channels (what the PIIX IDE function 00:01.1 decodes in compatibility mode). */
export class AtaController {
  readonly primary: AtaChannel;
  readonly secondary: AtaChannel;

  constructor(o: AtaControllerOptions) {
    this.primary = new AtaChannel({
      base: 0x1f0, ctrl: 0x3f6, irq: 14, irqLine: o.irqLine, name: 'ide0', onDiskError: o.onDiskError,
      master: o.primary?.master, slave: o.primary?.slave,
    });
    this.secondary = new AtaChannel({
      base: 0x170, ctrl: 0x376, irq: 15, irqLine: o.irqLine, name: 'ide1', onDiskError: o.onDiskError,
      master: o.secondary?.master, slave: o.secondary?.slave,
    });
  }

  register(bus: PortBus): void {
    this.primary.register(bus);
    this.secondary.register(bus);
  }

  save(): [AtaChannelState, AtaChannelState] { return [this.primary.save(), this.secondary.save()]; }
  restore(s: [AtaChannelState, AtaChannelState]): void { this.primary.restore(s[0]); this.secondary.restore(s[1]); }
}
