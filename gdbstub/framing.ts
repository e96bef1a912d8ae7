/**
 * GDB remote serial protocol framing (GDB manual, "Overview" of "Remote Protocol"): packets
 * `$data#cs` with a modulo-256 checksum, `}`-escaping of `#$}*` (x ^ 0x20), run-length encoding
 * `c*n` (n - 29 repeats) in what gdb sends, `+`/`-` acknowledgements until QStartNoAckMode, and
 * the interrupt byte 0x03 outside packets. Data are Buffers (the binary `X` packet carries raw bytes).
 */
export type FrameEvent =
  | { kind: 'packet'; data: Buffer }
  /** A packet whose checksum did not match (answered with `-` in ack mode). */
  | { kind: 'bad-checksum' }
  /** A packet longer than the limit (dropped). */
  | { kind: 'oversized' }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' };

const DOLLAR = 0x24, HASH = 0x23, ESC = 0x7d, STAR = 0x2a;

export class FrameParser {
  private state: 'idle' | 'body' | 'cs1' | 'cs2' = 'idle';
  private buf: number[] = [];
  private sum = 0;
  private cs = 0;
  private overflow = false;
  constructor(private readonly maxPacket: number) {}

  /** Feed received bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case 'idle':
          if (b === DOLLAR) { this.state = 'body'; this.buf = []; this.sum = 0; this.overflow = false; }
          else if (b === 0x03) out.push({ kind: 'interrupt' });
          else if (b === 0x2b) out.push({ kind: 'ack' });
          else if (b === 0x2d) out.push({ kind: 'nack' });
          break;                                   // anything else between packets is noise
        case 'body':
          if (b === HASH) { this.state = 'cs1'; break; }
          if (b === DOLLAR) { this.buf = []; this.sum = 0; this.overflow = false; break; } // a new packet starts: the old one was truncated
          this.sum = (this.sum + b) & 0xff;
          if (this.buf.length < this.maxPacket) this.buf.push(b); else this.overflow = true;
          break;
        case 'cs1': {
          const h = hexVal(b);
          if (h < 0) { this.state = 'idle'; out.push({ kind: 'bad-checksum' }); break; }
          this.cs = h << 4; this.state = 'cs2';
          break;
        }
        case 'cs2': {
          const h = hexVal(b);
          this.state = 'idle';
          if (h < 0 || (this.cs | h) !== this.sum) { out.push({ kind: 'bad-checksum' }); break; }
          if (this.overflow) { out.push({ kind: 'oversized' }); break; }
          const data = decodeBody(this.buf);
          out.push(data ? { kind: 'packet', data } : { kind: 'bad-checksum' });
          break;
        }
      }
    }
    return out;
  }
}

/** Undo escaping and run-length encoding; null if the body is malformed (a dangling escape or repeat). */
export function decodeBody(raw: number[]): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === ESC) {
      if (i + 1 >= raw.length) return null;
      out.push(raw[++i] ^ 0x20);
    } else if (b === STAR) {
      if (out.length === 0 || i + 1 >= raw.length) return null;
      const n = raw[++i] - 29;
      if (n < 0) return null;
      const c = out[out.length - 1];
      for (let k = 0; k < n; k++) out.push(c);
    } else out.push(b);
  }
  return Buffer.from(out);
}

/** Frame a reply: escape `$#}*` and add the checksum. */
export function encodePacket(data: Buffer | string): Buffer {
  const src = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const body: number[] = [];
  for (const b of src) {
    if (b === DOLLAR || b === HASH || b === ESC || b === STAR) body.push(ESC, b ^ 0x20);
    else body.push(b);
  }
  let sum = 0;
  for (const b of body) sum = (sum + b) & 0xff;
  return Buffer.concat([Buffer.from('$'), Buffer.from(body), Buffer.from('#' + sum.toString(16).padStart(2, '0'))]);
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** Strict hex parsing for packet fields: null unless the whole string is hex digits. */
export function parseHex(s: string): bigint | null {
  if (!/^[0-9a-fA-F]{1,32}$/.test(s)) return null;
  return BigInt('0x' + s);
}
export function hexBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  return Uint8Array.from(Buffer.from(s, 'hex'));
}
export function toHex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
