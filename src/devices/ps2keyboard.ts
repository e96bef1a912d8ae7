/**
 * A PS/2 (MF2) keyboard as seen through its serial link to the i8042 controller, plus the
 * text → scancode helpers the console front-end uses.
 *
 * The keyboard speaks its native scancode set (set 2 after reset, like every MF2 keyboard); the
 * controller's translation (i8042 command byte bit 6) turns that back into set 1, which is what
 * a BIOS leaves enabled and what SWEB expects. Input is expressed in set 1 everywhere in
 * vmxray (`pressKey`), converted here to the keyboard's current set, so what the guest reads is
 * what a real keyboard + 8042 would deliver in every combination — including the garbage a
 * real machine shows when a guest selects set 1 but leaves translation on.
 *
 * Commands follow the IBM PS/2 Technical Reference / the usual "PS/2 keyboard interface"
 * documentation: 0xED LEDs, 0xEE echo, 0xF0 get/set scancode set, 0xF2 identify
 * (0xAB 0x83), 0xF3 typematic, 0xF4 enable, 0xF5 disable (and defaults), 0xF6 defaults,
 * 0xF7–0xFD (set-3 key types: acknowledged, ignored), 0xFE resend, 0xFF reset (0xFA, then the
 * BAT result 0xAA). Unknown commands answer 0xFE (resend). Set 3 is acknowledged but keys are
 * sent in set 2. The keyboard's buffer is unbounded (no overrun code) and typematic repeat is
 * not generated.
 */

/** The 8042's set-2 → set-1 translation table (the same on every AT-compatible controller). */
export const TRANSLATE_SET2_TO_SET1: readonly number[] = (() => {
  const head = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
    0x80, 0x81, 0x82, 0x41, 0x54,
  ];
  const t = new Array<number>(256);
  for (let i = 0; i < 256; i++) t[i] = i < head.length ? head[i] : i;
  return t;
})();

/** Set-1 make code → set-2 make code (inverse of the translation table for real keys). */
const SET1_TO_SET2: readonly number[] = (() => {
  const inv = new Array<number>(128).fill(0);
  for (let s2 = 0x84; s2 >= 0x01; s2--) {
    const s1 = TRANSLATE_SET2_TO_SET1[s2];
    if (s1 < 0x80) inv[s1] = s2; // descending, so the lowest set-2 code wins...
  }
  inv[0x41] = 0x83; // ...except F7, whose set-2 code 0x83 is the real key (0x02 is unused)
  inv[0x54] = 0x84; // Alt+SysRq
  return inv;
})();

/** Convert a set-1 byte sequence (makes, breaks = make|0x80, E0/E1 prefixes) to set 2. */
export function set1ToSet2(bytes: readonly number[]): number[] {
  const out: number[] = [];
  for (const b of bytes) {
    if (b === 0xe0 || b === 0xe1) out.push(b);
    else if (b & 0x80) out.push(0xf0, SET1_TO_SET2[b & 0x7f]);
    else out.push(SET1_TO_SET2[b]);
  }
  return out;
}

// ---- text → set-1 scancodes (US layout) ---------------------------------------------------

const LSHIFT = 0x2a, LCTRL = 0x1d;
/** Unshifted characters → set-1 make code. */
const PLAIN: Record<string, number> = {};
/** Shifted characters → set-1 make code of the key pressed with Shift. */
const SHIFTED: Record<string, number> = {};
(() => {
  const rows: [string, string, number][] = [
    ['1234567890-=', '!@#$%^&*()_+', 0x02],
    ['qwertyuiop[]', 'QWERTYUIOP{}', 0x10],
    ["asdfghjkl;'`", 'ASDFGHJKL:"~', 0x1e],
    ['\\zxcvbnm,./', '|ZXCVBNM<>?', 0x2b],
  ];
  for (const [plain, shifted, first] of rows) {
    for (let i = 0; i < plain.length; i++) {
      PLAIN[plain[i]] = first + i;
      SHIFTED[shifted[i]] = first + i;
    }
  }
  PLAIN[' '] = 0x39;
  PLAIN['\n'] = 0x1c;
  PLAIN['\r'] = 0x1c;
  PLAIN['\t'] = 0x0f;
  PLAIN['\b'] = 0x0e;
  PLAIN['\x7f'] = 0x0e; // terminals send DEL for Backspace
})();

/** Terminal escape sequences (after ESC) → set-1 extended (E0) make code or function key. */
const ESCAPES: [string, number[]][] = [
  ['[A', [0xe0, 0x48]], ['[B', [0xe0, 0x50]], ['[C', [0xe0, 0x4d]], ['[D', [0xe0, 0x4b]],
  ['OA', [0xe0, 0x48]], ['OB', [0xe0, 0x50]], ['OC', [0xe0, 0x4d]], ['OD', [0xe0, 0x4b]],
  ['[H', [0xe0, 0x47]], ['[F', [0xe0, 0x4f]], ['OH', [0xe0, 0x47]], ['OF', [0xe0, 0x4f]],
  ['[1~', [0xe0, 0x47]], ['[2~', [0xe0, 0x52]], ['[3~', [0xe0, 0x53]], ['[4~', [0xe0, 0x4f]],
  ['[5~', [0xe0, 0x49]], ['[6~', [0xe0, 0x51]],
  ['OP', [0x3b]], ['OQ', [0x3c]], ['OR', [0x3d]], ['OS', [0x3e]],
  ['[15~', [0x3f]], ['[17~', [0x40]], ['[18~', [0x41]], ['[19~', [0x42]], ['[20~', [0x43]],
  ['[21~', [0x44]], ['[23~', [0x57]], ['[24~', [0x58]],
];

/** Make then break of the key `make` (a 1-byte code, or [0xE0, code]). */
function tap(make: number[]): number[] {
  const brk = make.map((b, i) => (i === make.length - 1 ? b | 0x80 : b));
  return [...make, ...brk];
}
function withModifier(mod: number, make: number): number[] {
  return [mod, make, make | 0x80, mod | 0x80];
}

/**
 * Set-1 make/break codes that type `text` on a US keyboard: letters, digits, space, Enter
 * ("\r", "\n", "\r\n"), Tab, Backspace ("\b", DEL), punctuation, Shift for capitals and
 * symbols, Ctrl for control characters (Ctrl-A … Ctrl-Z), Esc, and terminal escape sequences
 * for the arrows, Home/End/Insert/Delete/PgUp/PgDn and F1–F12. Characters without a key
 * (non-ASCII) are skipped.
 */
export function textToSet1(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\x1b') {
      const rest = text.slice(i + 1);
      const esc = ESCAPES.find(([seq]) => rest.startsWith(seq));
      if (esc) { out.push(...tap(esc[1])); i += esc[0].length; continue; }
      out.push(...tap([0x01]));
      continue;
    }
    if (ch === '\r' && text[i + 1] === '\n') i++;
    const plain = PLAIN[ch];
    if (plain !== undefined) { out.push(...tap([plain])); continue; }
    const shifted = SHIFTED[ch];
    if (shifted !== undefined) { out.push(...withModifier(LSHIFT, shifted)); continue; }
    const code = ch.charCodeAt(0);
    if (code >= 1 && code <= 26) {
      // Ctrl-letter (those not already taken as Tab/Enter/Backspace above)
      out.push(...withModifier(LCTRL, PLAIN[String.fromCharCode(code + 0x60)]));
    }
  }
  return out;
}

// ---- the keyboard ----------------------------------------------------------------------------

export interface Ps2KeyboardState {
  queue: number[]; set: number; scanning: boolean; leds: number;
  expect: number; lastSent: number; typematic: number;
}

export class Ps2Keyboard {
  /** Bytes the keyboard has yet to send to the controller (native set, before translation). */
  queue: number[] = [];
  /** Scancode set in use (1, 2 or 3). */
  set = 2;
  /** Scanning enabled (0xF4) or disabled (0xF5). */
  scanning = true;
  /** LED state from 0xED: bit 0 Scroll, 1 Num, 2 Caps Lock. */
  leds = 0;
  typematic = 0x2b;
  /** A command waiting for its parameter byte (0xED, 0xF0, 0xF3), or 0. */
  private expect = 0;
  private lastSent = 0;
  /** Called when bytes were queued, so the controller can pull one. */
  onData: () => void = () => {};

  private send(...bytes: number[]): void {
    this.queue.push(...bytes);
    this.onData();
  }

  /** The controller takes the next byte (undefined if none). */
  take(): number | undefined {
    const b = this.queue.shift();
    if (b !== undefined) this.lastSent = b;
    return b;
  }

  /** A key event in set 1 (see file header); dropped while scanning is disabled. */
  pressKey(set1: readonly number[]): void {
    if (!this.scanning) return;
    this.send(...(this.set === 1 ? set1 : set1ToSet2(set1)));
  }

  /** A byte from the host (controller port 0x60 write). */
  write(b: number): void {
    const cmd = this.expect;
    if (cmd) {
      this.expect = 0;
      switch (cmd) {
        case 0xed: this.leds = b & 7; this.send(0xfa); return;
        case 0xf3: this.typematic = b & 0x7f; this.send(0xfa); return;
        case 0xf0:
          if (b === 0) { this.send(0xfa, this.set); return; }
          if (b >= 1 && b <= 3) { this.set = b; this.send(0xfa); return; }
          this.send(0xfe);
          return;
      }
    }
    switch (b) {
      case 0xed: case 0xf0: case 0xf3:
        this.expect = b;
        this.send(0xfa);
        return;
      case 0xee: this.send(0xee); return;
      case 0xf2: this.send(0xfa, 0xab, 0x83); return;
      case 0xf4: this.queue = []; this.scanning = true; this.send(0xfa); return;
      case 0xf5: this.queue = []; this.defaults(); this.scanning = false; this.send(0xfa); return;
      case 0xf6: this.defaults(); this.send(0xfa); return;
      case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
        this.send(0xfa); return;
      case 0xfe: this.send(this.lastSent); return;
      case 0xff:
        this.queue = [];
        this.defaults();
        this.leds = 0;
        this.set = 2;
        this.scanning = true;
        this.send(0xfa, 0xaa); // ACK, then the basic assurance test passed
        return;
      default: this.send(0xfe);
    }
  }

  private defaults(): void { this.typematic = 0x2b; }

  save(): Ps2KeyboardState {
    return {
      queue: [...this.queue], set: this.set, scanning: this.scanning, leds: this.leds,
      expect: this.expect, lastSent: this.lastSent, typematic: this.typematic,
    };
  }
  restore(s: Ps2KeyboardState): void {
    this.queue = [...s.queue];
    this.set = s.set;
    this.scanning = s.scanning;
    this.leds = s.leds;
    this.expect = s.expect;
    this.lastSent = s.lastSent;
    this.typematic = s.typematic;
  }
}
