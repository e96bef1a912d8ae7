/**
 * VGA in text mode, as far as a kernel that writes 0xB8000 and moves the cursor needs it.
 *
 * The text buffer lives in guest RAM (the device only reads it, through `readBytes`): cell i
 * of the screen is the byte pair (character, attribute) at base + 2·(start address + offset),
 * base per the graphics controller's memory map select (GR6 bits 3:2; 0xB8000 in mode 3).
 * Registers follow the IBM VGA technical reference: the CRT controller at 0x3D4/0x3D5
 * (0x3B4/0x3B5 when the miscellaneous output register selects mono addressing) with
 * CR0A/CR0B cursor start/end (bit 5 of CR0A hides the cursor), CR0C/CR0D start address,
 * CR0E/CR0F cursor location and the CR11 bit 7 write protection of CR0–CR7; the sequencer
 * 0x3C4/0x3C5; the graphics controller 0x3CE/0x3CF; the attribute controller 0x3C0/0x3C1 with
 * its index/data flip-flop, reset by reading input status 1; the DAC ports 0x3C7–0x3C9; the
 * miscellaneous output register (write 0x3C2, read 0x3CC); input status 0 (0x3C2) and input
 * status 1 (0x3DA/0x3BA). Registers start with the standard mode 3 (80×25, 16 colours) values
 * a BIOS leaves.
 *
 * Input status 1 comes from virtual time: a 70 Hz frame of 449 lines (the 720×400 text
 * timing); bit 3 (vertical retrace) is set during lines 412–413, bit 0 (display disabled)
 * during retrace, vertical blanking (lines ≥ 400) and the last fifth of every line.
 *
 * Not modelled: graphics modes, planar memory, fonts, the attribute palette and DAC colours
 * (the frame uses the 16 CGA colours directly), split screen, smooth scrolling.
 */
import type { PortBus, PortDevice } from '../memory/ports.js';
import type { VirtualClock } from '../machine/clock.js';

export interface VgaOptions {
  /** Read guest physical memory (the machine's RAM). */
  readBytes: (pa: number, len: number) => Uint8Array;
  clock: VirtualClock;
}

export interface VgaState {
  misc: number; crtcIndex: number; crtc: number[]; seqIndex: number; seq: number[];
  gcIndex: number; gc: number[]; attrIndex: number; attrFlip: boolean; attr: number[];
  dacReadIndex: number; dacWriteIndex: number; dacComponent: number; dacState: number;
  dac: number[]; pelMask: number; featureControl: number;
}

/** Code page 437 → Unicode for the glyphs of the VGA ROM font (0x00 shows as a space). */
export const CP437: readonly string[] = Array.from(
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0',
);

/** CGA colour index (IRGB) → ANSI colour number. */
const CGA_TO_ANSI = [0, 4, 2, 6, 1, 5, 3, 7];

const MODE3_SEQ = [0x03, 0x00, 0x03, 0x00, 0x02];
const MODE3_CRTC = [0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00,
  0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff];
const MODE3_GC = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];
const MODE3_ATTR = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
  0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00];

const FRAME_HZ = 70;
const FRAME_LINES = 449;

export class VgaText implements PortDevice {
  private readonly readBytes: (pa: number, len: number) => Uint8Array;
  private readonly clock: VirtualClock;
  /** Miscellaneous output register; bit 0 selects colour (0x3Dx) addressing. */
  misc = 0x67;
  crtcIndex = 0;
  readonly crtc = Uint8Array.from(MODE3_CRTC);
  seqIndex = 0;
  readonly seq = Uint8Array.from(MODE3_SEQ);
  gcIndex = 0;
  readonly gc = Uint8Array.from(MODE3_GC);
  /** Attribute controller index (bit 5 = palette address source) and flip-flop (true = data next). */
  attrIndex = 0x20;
  attrFlip = false;
  readonly attr = Uint8Array.from(MODE3_ATTR);
  private dacReadIndex = 0;
  private dacWriteIndex = 0;
  private dacComponent = 0;
  /** DAC state for port 0x3C7 reads: 0 = last access was a write (0x3C8), 3 = a read (0x3C7). */
  private dacState = 0;
  private readonly dac = new Uint8Array(256 * 3);
  private pelMask = 0xff;
  private featureControl = 0;

  constructor(opts: VgaOptions) {
    this.readBytes = opts.readBytes;
    this.clock = opts.clock;
  }

  register(bus: PortBus): void {
    bus.register(this, { from: 0x3c0, to: 0x3cf });
    bus.register(this, [0x3b4, 0x3b5, 0x3ba, 0x3d4, 0x3d5, 0x3da]);
  }

  private get colorAddressing(): boolean { return (this.misc & 1) !== 0; }

  // ---- geometry ----------------------------------------------------------------------------

  /** Columns and rows shown (80×25 unless the CRTC is programmed otherwise). */
  dimensions(): { cols: number; rows: number } {
    const cr = this.crtc;
    const cols = cr[0x01] + 1;
    const vde = (cr[0x12] | ((cr[0x07] & 0x02) << 7) | ((cr[0x07] & 0x40) << 3)) + 1;
    const rows = Math.floor(vde / ((cr[0x09] & 0x1f) + 1));
    if (cols < 1 || cols > 132 || rows < 1 || rows > 60) return { cols: 80, rows: 25 };
    return { cols, rows };
  }
  /** CRTC start address (in character cells). */
  startAddress(): number { return (this.crtc[0x0c] << 8) | this.crtc[0x0d]; }
  /** CRTC cursor location (in character cells). */
  cursorLocation(): number { return (this.crtc[0x0e] << 8) | this.crtc[0x0f]; }
  /** Cursor row/column on screen, and whether it is shown. */
  cursor(): { row: number; col: number; visible: boolean } {
    const { cols, rows } = this.dimensions();
    const rel = this.cursorLocation() - this.startAddress();
    const row = Math.floor(rel / this.stride(cols)), col = rel - row * this.stride(cols);
    const visible = !(this.crtc[0x0a] & 0x20) && rel >= 0 && row < rows && col < cols;
    return { row, col, visible };
  }
  /** Characters from one row to the next (CR13 offset × 2 in word mode). */
  private stride(cols: number): number { return this.crtc[0x13] ? this.crtc[0x13] * 2 : cols; }
  /** Physical address of the text buffer. */
  bufferBase(): number { return [0xa0000, 0xa0000, 0xb0000, 0xb8000][(this.gc[0x06] >> 2) & 3]; }

  /** The screen's cells: row-major (character, attribute) pairs. */
  private cells(): { cols: number; rows: number; bytes: Uint8Array } {
    const { cols, rows } = this.dimensions();
    const stride = this.stride(cols);
    const bytes = new Uint8Array(cols * rows * 2);
    // Text memory is 32 KiB (16 K cells) from the buffer base; cell addresses wrap inside it.
    const mem = this.readBytes(this.bufferBase(), 0x8000);
    const start = this.startAddress();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const cell = (start + r * stride + c) & 0x3fff;
        bytes[(r * cols + c) * 2] = mem[cell * 2];
        bytes[(r * cols + c) * 2 + 1] = mem[cell * 2 + 1];
      }
    }
    return { cols, rows, bytes };
  }

  /** The screen as text: one string per row, CP437 mapped to Unicode, trailing spaces trimmed. */
  text(): string[] {
    const { cols, rows, bytes } = this.cells();
    const out: string[] = [];
    for (let r = 0; r < rows; r++) {
      let line = '';
      for (let c = 0; c < cols; c++) line += CP437[bytes[(r * cols + c) * 2]];
      out.push(line.replace(/[ \u00a0]+$/, ''));
    }
    return out;
  }

  /**
   * One ANSI terminal frame: cursor home, every row painted with the 16 CGA colours (bright
   * foregrounds as 90–97; attribute bit 7 as blink, or as a bright background when the
   * attribute mode control register disables blinking), then the cursor moved to its place and
   * shown or hidden.
   */
  /**
   * The screen as ANSI text. Default: a full-screen frame (cursor home first, hardware cursor
   * placed last). `inline`: for printing into a scrolling terminal — no cursor movement, and
   * trailing blank rows left out.
   */
  renderAnsi(opts: { inline?: boolean } = {}): string {
    const cells = this.cells();
    const { cols, bytes } = cells;
    let rows = cells.rows;
    if (opts.inline) {
      const blankRow = (r: number) => { for (let c = 0; c < cols; c++) { const ch = bytes[(r * cols + c) * 2]; if (ch !== 0x20 && ch !== 0) return false; } return true; };
      while (rows > 0 && blankRow(rows - 1)) rows--;
    }
    const blink = (this.attr[0x10] & 0x08) !== 0;
    let s = opts.inline ? '' : '\x1b[?25l\x1b[H';
    let cur = -1;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = (r * cols + c) * 2;
        const a = bytes[i + 1];
        if (a !== cur) {
          cur = a;
          const fg = a & 0x0f, bg = (a >> 4) & (blink ? 0x07 : 0x0f);
          const f = (fg & 8 ? 90 : 30) + CGA_TO_ANSI[fg & 7];
          const b = (bg & 8 ? 100 : 40) + CGA_TO_ANSI[bg & 7];
          s += `\x1b[0;${f};${b}${blink && a & 0x80 ? ';5' : ''}m`;
        }
        s += CP437[bytes[i]];
      }
      s += '\x1b[0m';
      cur = -1;
      if (r < rows - 1) s += '\r\n';
    }
    if (opts.inline) return s;
    const { row, col, visible } = this.cursor();
    if (visible) s += `\x1b[${row + 1};${col + 1}H\x1b[?25h`;
    return s;
  }

  // ---- timing ------------------------------------------------------------------------------

  /** Input status 1: bit 0 display disabled (blanking), bit 3 vertical retrace. */
  private inputStatus1(): number {
    const framePos = ((this.clock.icount * FRAME_HZ) / this.clock.ips) % 1;
    const linePos = framePos * FRAME_LINES;
    const line = Math.floor(linePos);
    const vretrace = line >= 412 && line < 414;
    const blank = line >= 400 || linePos - line >= 0.8;
    return (vretrace ? 0x08 : 0) | (vretrace || blank ? 0x01 : 0);
  }

  // ---- ports -------------------------------------------------------------------------------

  portRead(port: number): number {
    switch (port) {
      case 0x3b4: case 0x3d4:
        return this.isActive(port) ? this.crtcIndex : 0xff;
      case 0x3b5: case 0x3d5:
        return this.isActive(port) ? (this.crtcIndex < this.crtc.length ? this.crtc[this.crtcIndex] : 0xff) : 0xff;
      case 0x3ba: case 0x3da:
        if (!this.isActive(port)) return 0xff;
        this.attrFlip = false; // reading input status 1 resets the attribute flip-flop
        return this.inputStatus1();
      case 0x3c0: return this.attrIndex;
      case 0x3c1: return (this.attrIndex & 0x1f) < this.attr.length ? this.attr[this.attrIndex & 0x1f] : 0;
      case 0x3c2: return 0x10; // input status 0: switch sense (a colour monitor is attached)
      case 0x3c3: return 1;    // video subsystem enable
      case 0x3c4: return this.seqIndex;
      case 0x3c5: return this.seqIndex < this.seq.length ? this.seq[this.seqIndex] : 0xff;
      case 0x3c6: return this.pelMask;
      case 0x3c7: return this.dacState;
      case 0x3c8: return this.dacWriteIndex;
      case 0x3c9: {
        const v = this.dac[this.dacReadIndex * 3 + this.dacComponent];
        if (++this.dacComponent === 3) { this.dacComponent = 0; this.dacReadIndex = (this.dacReadIndex + 1) & 0xff; }
        return v;
      }
      case 0x3ca: return this.featureControl;
      case 0x3cc: return this.misc;
      case 0x3ce: return this.gcIndex;
      case 0x3cf: return this.gcIndex < this.gc.length ? this.gc[this.gcIndex] : 0xff;
    }
    return 0xff;
  }

  portWrite(port: number, size: 1 | 2 | 4, value: number): void {
    if (size === 2 && (port === 0x3d4 || port === 0x3b4 || port === 0x3c4 || port === 0x3ce)) {
      // outw index/data pairs: the chipset splits them into two byte writes
      this.portWrite(port, 1, value & 0xff);
      this.portWrite(port + 1, 1, value >> 8);
      return;
    }
    const v = value & 0xff;
    switch (port) {
      case 0x3b4: case 0x3d4:
        if (this.isActive(port)) this.crtcIndex = v & 0x3f;
        return;
      case 0x3b5: case 0x3d5: {
        if (!this.isActive(port)) return;
        const i = this.crtcIndex;
        if (i >= this.crtc.length) return;
        if (this.crtc[0x11] & 0x80 && i <= 7) {
          if (i === 7) this.crtc[7] = (this.crtc[7] & ~0x10) | (v & 0x10); // only line compare bit 8
          return;
        }
        this.crtc[i] = v;
        return;
      }
      case 0x3ba: case 0x3da:
        if (this.isActive(port)) this.featureControl = v;
        return;
      case 0x3c0:
        if (!this.attrFlip) this.attrIndex = v & 0x3f;
        else if ((this.attrIndex & 0x1f) < this.attr.length) this.attr[this.attrIndex & 0x1f] = v;
        this.attrFlip = !this.attrFlip;
        return;
      case 0x3c2: this.misc = v; return;
      case 0x3c4: this.seqIndex = v & 0x07; return;
      case 0x3c5: if (this.seqIndex < this.seq.length) this.seq[this.seqIndex] = v; return;
      case 0x3c6: this.pelMask = v; return;
      case 0x3c7: this.dacReadIndex = v; this.dacComponent = 0; this.dacState = 3; return;
      case 0x3c8: this.dacWriteIndex = v; this.dacComponent = 0; this.dacState = 0; return;
      case 0x3c9:
        this.dac[this.dacWriteIndex * 3 + this.dacComponent] = v & 0x3f;
        if (++this.dacComponent === 3) { this.dacComponent = 0; this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff; }
        return;
      case 0x3ce: this.gcIndex = v & 0x0f; return;
      case 0x3cf: if (this.gcIndex < this.gc.length) this.gc[this.gcIndex] = v; return;
    }
  }

  /** The 0x3Bx ports answer in mono addressing, the 0x3Dx ports in colour addressing. */
  private isActive(port: number): boolean { return (port >= 0x3d0) === this.colorAddressing; }

  save(): VgaState {
    return {
      misc: this.misc, crtcIndex: this.crtcIndex, crtc: Array.from(this.crtc),
      seqIndex: this.seqIndex, seq: Array.from(this.seq), gcIndex: this.gcIndex, gc: Array.from(this.gc),
      attrIndex: this.attrIndex, attrFlip: this.attrFlip, attr: Array.from(this.attr),
      dacReadIndex: this.dacReadIndex, dacWriteIndex: this.dacWriteIndex, dacComponent: this.dacComponent,
      dacState: this.dacState, dac: Array.from(this.dac), pelMask: this.pelMask, featureControl: this.featureControl,
    };
  }
  restore(s: VgaState): void {
    this.misc = s.misc; this.crtcIndex = s.crtcIndex; this.crtc.set(s.crtc);
    this.seqIndex = s.seqIndex; this.seq.set(s.seq); this.gcIndex = s.gcIndex; this.gc.set(s.gc);
    this.attrIndex = s.attrIndex; this.attrFlip = s.attrFlip; this.attr.set(s.attr);
    this.dacReadIndex = s.dacReadIndex; this.dacWriteIndex = s.dacWriteIndex; this.dacComponent = s.dacComponent;
    this.dacState = s.dacState; this.dac.set(s.dac); this.pelMask = s.pelMask; this.featureControl = s.featureControl;
  }
}
