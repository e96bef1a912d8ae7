/**
 * A software TLB set (DESIGN.md #4): direct-mapped, one per access kind (read, write, fetch) and
 * privilege (supervisor, user), so that a hit needs no permission check. An entry maps a linear
 * page to a DataView over the RAM chunk holding it. Only RAM pages enter; MMIO always takes the
 * slow path. Write entries are only made for pages whose dirty bit is already set and that hold
 * no decoded code.
 *
 * A `Tlb` (six sets) is one translation context: the CPU swaps whole objects at VM entry / VM exit
 * (src/vmx/tlb-contexts.ts) instead of tagging entries, so a hit costs exactly one tag compare.
 */
export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
const EMPTY_VIEW = new DataView(new ArrayBuffer(8));
/** A tag no page-aligned linear address can equal. */
const NO_TAG = 0.5;
/** Fills remembered by slot (a flush after few fills clears those slots instead of the whole set). */
const LOG = 128;

export class TlbSet {
  /** Page-aligned linear address held by each slot (as a Number; 64-bit addresses are signed). */
  readonly tag = new Float64Array(TLB_SIZE).fill(NO_TAG);
  /** View over the RAM chunk, and the page's byte offset inside the chunk. */
  readonly view: DataView[] = new Array(TLB_SIZE).fill(EMPTY_VIEW);
  readonly off = new Int32Array(TLB_SIZE);
  /** Physical page number (pa / 4096), for invalidation by physical page. */
  readonly ppage = new Float64Array(TLB_SIZE);
  /** 1 for entries of global pages (survive a CR3 write). */
  readonly global = new Uint8Array(TLB_SIZE);
  /** Offset mask of the page the entry was made from (0xfff, 0x1fffff, 0x3fffffff; with EPT the smaller
   *  of the guest and EPT pages): INVVPID's individual-address type drops every entry of that page. */
  readonly mask = new Int32Array(TLB_SIZE).fill(0xfff);
  /** Fills since the last full flush (an upper bound on the live entries); the first LOG slots are in `log`. */
  count = 0;
  private readonly log = new Int32Array(LOG);

  flush(keepGlobal = false): void {
    const n = this.count;
    if (n === 0) return;
    if (n <= LOG) {
      // few fills since the last full flush (a VM entry/exit without VPID, a CR3 write): clear just those slots
      const log = this.log, tag = this.tag, global = this.global;
      for (let k = 0; k < n; k++) { const i = log[k]; if (!keepGlobal || !global[i]) { tag[i] = NO_TAG; global[i] = 0; } }
      if (!keepGlobal) this.count = 0;
      return;
    }
    if (!keepGlobal) { this.tag.fill(NO_TAG); this.global.fill(0); this.count = 0; return; }
    for (let i = 0; i < TLB_SIZE; i++) if (!this.global[i]) this.tag[i] = NO_TAG;
  }
  flushPage(la: number): void {
    const i = (la >>> 12) & TLB_MASK;
    if (this.tag[i] === la - (la & 0xfff)) this.tag[i] = NO_TAG;
  }
  flushPhysPage(ppage: number): void {
    const n = this.count;
    if (n === 0) return;
    if (n <= LOG) { for (let k = 0; k < n; k++) { const i = this.log[k]; if (this.ppage[i] === ppage) this.tag[i] = NO_TAG; } return; }
    for (let i = 0; i < TLB_SIZE; i++) if (this.ppage[i] === ppage) this.tag[i] = NO_TAG;
  }
  /** Drop every entry made from the page (of whatever size the entry records) that contains `la`. */
  flushMapping(la: number): void {
    if (this.count === 0) return;
    const tag = this.tag, mask = this.mask;
    for (let i = 0; i < TLB_SIZE; i++) {
      const t = tag[i];
      if (t === NO_TAG) continue;
      const span = mask[i] + 1;
      if (Math.floor(t / span) === Math.floor(la / span)) tag[i] = NO_TAG;
    }
  }
  fill(laPage: number, view: DataView, off: number, ppage: number, global: boolean, pageMask = 0xfff): void {
    const i = (laPage >>> 12) & TLB_MASK;
    this.tag[i] = laPage;
    this.view[i] = view;
    this.off[i] = off;
    this.ppage[i] = ppage;
    this.global[i] = global ? 1 : 0;
    this.mask[i] = pageMask;
    if (this.count < LOG) this.log[this.count] = i;
    this.count++;
  }
}

/**
 * The six sets of one translation context (root, or a guest's VPID): index kind*2 + user.
 * `epoch` identifies the context's current contents (CPU.tlbEpoch is the active context's): the
 * CPU gives it a new value from its own counter whenever translations in it may have changed, so
 * block chains made in a context stay valid across VM exits and entries that do not touch it.
 */
export class Tlb {
  readonly sets: TlbSet[] = [0, 1, 2, 3, 4, 5].map(() => new TlbSet());
  epoch = 0;
  flush(keepGlobal = false): void { for (const s of this.sets) s.flush(keepGlobal); }
  flushPage(la: number): void { for (const s of this.sets) s.flushPage(la); }
  flushPhysPage(ppage: number): void { for (const s of this.sets) s.flushPhysPage(ppage); }
  flushMapping(la: number): void { for (const s of this.sets) s.flushMapping(la); }
  /** Drop the write entries (supervisor and user) of a physical page: it now holds decoded code. */
  protectPhysPage(ppage: number): void { this.sets[2].flushPhysPage(ppage); this.sets[3].flushPhysPage(ppage); }
  /** Entries made since the last full flush (an upper bound on the live entries). */
  get filled(): number { let n = 0; for (const s of this.sets) n += s.count; return n; }
}
export const K_READ = 0, K_WRITE = 1, K_EXEC = 2;
