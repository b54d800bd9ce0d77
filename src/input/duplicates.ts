/**
 * The repeated-token check: two rows of one file with the same ClientToken become one task, and the
 * run says so. It must work for a file of any length in bounded memory, and cost a small file little.
 */
import { createHash } from 'node:crypto';
import { TOKEN_PREFIX } from './token.js';

/**
 * A Bloom filter in a fixed typed array: `has` never answers false for a digest added. The k bit
 * indices come from the digest's first two 32-bit words by double hashing (h1 + i·h2, Kirsch and
 * Mitzenmacher), so that 8 bytes of a SHA-256 are all it needs.
 */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(
    log2Bits: number,
    private readonly k: number,
  ) {
    this.bits = new Uint32Array(2 ** log2Bits / 32);
    this.mask = 2 ** log2Bits - 1;
  }

  has(digest: Uint8Array): boolean {
    const [h1, h2] = words(digest);
    for (let i = 0; i < this.k; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if (!(this.bits[bit >>> 5]! & (1 << (bit & 31)))) return false;
    }
    return true;
  }

  add(digest: Uint8Array): void {
    const [h1, h2] = words(digest);
    for (let i = 0; i < this.k; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }
}

/** A digest's first two 32-bit words; the second odd, so that its steps visit every bit of the filter. */
function words(d: Uint8Array): [number, number] {
  return [
    ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0,
    ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]! | 1) >>> 0,
  ];
}

/** 2^26 bits = 8 MiB; 6 bits per token. See DuplicateTokens for the rates. */
const FILTER_LOG2_BITS = 26;
const FILTER_K = 6;
/** The exact table's first size: 2^14 slots of 8 bytes (128 KiB). */
const TABLE_FIRST_LOG2 = 14;
/** Its last: 2^19 slots (4 MiB), half full at 262,144 tokens; past that, the Bloom filter. */
const TABLE_LAST_LOG2 = 19;

/**
 * The tokens a run has seen, by their SHA-256. Exact while there are few: an open-addressing table of
 * 64-bit fingerprints (the digest's first 8 bytes), 8 bytes a slot, doubled when half full, from
 * 128 KiB up to 4 MiB. Past 262,144 tokens the fingerprints move into the 8 MiB Bloom filter, for
 * the rest of the run. A 10,000-row file costs 128 KiB, a file of any size at most 12 MiB for a
 * moment and 8 MiB after. `seen` answers true for every token seen before, and for a token never
 * seen only by a 64-bit collision (in the table) or at the filter's rate.
 */
export class SeenTokens {
  private table: Uint32Array | undefined = new Uint32Array(2 << TABLE_FIRST_LOG2);
  private count = 0;
  private filter: BloomFilter | undefined;

  /** Whether the digest was seen before; remembers it either way. */
  seen(digest: Uint8Array): boolean {
    if (this.filter) {
      if (this.filter.has(digest)) return true;
      this.filter.add(digest);
      return false;
    }
    const [h1, h2] = words(digest);
    if (!insert(this.table!, h1, h2)) return true;
    if (++this.count * 2 >= this.table!.length / 2) this.grow();
    return false;
  }

  private grow(): void {
    const old = this.table!;
    const slots = old.length / 2;
    if (slots >= 2 ** TABLE_LAST_LOG2) {
      this.filter = new BloomFilter(FILTER_LOG2_BITS, FILTER_K);
      const d = new Uint8Array(8);
      const view = new DataView(d.buffer);
      for (let at = 0; at < old.length; at += 2) {
        if (!old[at + 1]) continue; // empty (h2 is never 0: it is odd)
        view.setUint32(0, old[at]!);
        view.setUint32(4, old[at + 1]!);
        this.filter.add(d);
      }
      this.table = undefined;
      return;
    }
    const table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 2) if (old[at + 1]) insert(table, old[at]!, old[at + 1]!);
    this.table = table;
  }
}

/** Puts the fingerprint in the table (linear probing); false if it was there already. */
function insert(table: Uint32Array, h1: number, h2: number): boolean {
  const mask = table.length / 2 - 1;
  for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
    const at = slot * 2;
    if (!table[at + 1]) {
      table[at] = h1;
      table[at + 1] = h2;
      return true;
    }
    if (table[at] === h1 && table[at + 1] === h2) return false;
  }
}

/** Distinct suspect tokens kept for the check at the end (~100 bytes each); past this, rows are only counted. */
const MAX_SUSPECTS = 100_000;
const WARNINGS = 20;

/** Where the rows holding some tokens are: token → the input lines of its rows; undefined if it cannot tell. */
export type TokenLines = (tokens: ReadonlySet<string>) => Promise<Map<string, number[]> | undefined>;

/**
 * Warns when a row's token repeats an earlier row's in the same file: the service would turn both
 * into one task. Every token goes into SeenTokens; a token seen before is a suspect, kept exactly. A
 * suspect is a real repeat or a false alarm: none while the table is exact, and past 262,144 rows
 * about 4·10⁻⁷ per row at 1,000,000 rows, 2·10⁻⁵ at 2,000,000 and 0.04 at 10,000,000 (expected
 * false suspects in a whole run: 0.1, 6 and 85,000). So no warning is given on the filter's word
 * alone: at the end, `confirm` looks the suspects up in the results file (each row's token and line),
 * and only a repeat found there is counted and warned of, naming the earlier line. Past 100,000
 * distinct suspects (some 11,000,000 rows) the rest are counted as unchecked and said to be so.
 */
export class DuplicateTokens {
  private readonly tokens = new SeenTokens();
  private readonly digest = Buffer.alloc(32);
  /** Suspect token → the first line that raised it. */
  private readonly suspects = new Map<string, number>();
  /** Rows that were suspects once `suspects` was full: not checked. */
  unchecked = 0;
  /** Rows confirmed to repeat an earlier row's token (set by `confirm`). */
  count = 0;

  constructor(private readonly log: { warn(obj: object, msg?: string): void }) {}

  check(token: string, line: number): void {
    if (!this.tokens.seen(this.digestOf(token))) return;
    if (this.suspects.has(token)) return;
    // A copy: the cell is a slice of the 64 KB chunk of input it was read from, and would keep it alive.
    if (this.suspects.size < MAX_SUSPECTS) this.suspects.set(Buffer.from(token).toString(), line);
    else this.unchecked++;
  }

  /**
   * Confirms the suspects against where the rows are (the results file, once written and closed):
   * counts the rows whose token an earlier row holds, and warns of the first few.
   */
  async confirm(lines: TokenLines): Promise<void> {
    if (this.unchecked)
      this.log.warn(
        { rows: this.unchecked },
        "these rows may repeat an earlier row's ClientToken: too many suspects to check them all",
      );
    if (!this.suspects.size) return;
    const found = await lines(new Set(this.suspects.keys())).catch(() => undefined);
    if (!found) {
      this.log.warn(
        { rows: this.suspects.size },
        "could not read the results file back to check rows that may repeat an earlier row's ClientToken",
      );
      return;
    }
    let warned = 0;
    for (const rows of found.values()) {
      if (rows.length < 2) continue; // a false alarm of the filter (or the earlier row was never recorded)
      const [first, ...repeats] = [...rows].sort((a, b) => a - b);
      this.count += repeats.length;
      for (const line of repeats) {
        if (warned++ < WARNINGS)
          this.log.warn(
            { line, sameAsLine: first },
            'same ClientToken as an earlier row: the two rows will be one task',
          );
      }
    }
  }

  /** The token's SHA-256: taken back out of one of ours, computed for any other (a ClientToken column's). */
  private digestOf(token: string): Uint8Array {
    if (
      token.length === TOKEN_PREFIX.length + 43 &&
      token.startsWith(TOKEN_PREFIX) &&
      this.digest.write(token.slice(TOKEN_PREFIX.length), 'base64url') === 32
    )
      return this.digest;
    return createHash('sha256').update(token).digest();
  }
}
