/**
 * Stage 4 — ClientToken. Deterministic, so that any resend, resume or rerun of the same row carries
 * the same token and the service returns the task it already created instead of a second one.
 *
 * Recipe (version 1):
 *   token = "ctl1-" + base64url(SHA-256(JSON.stringify([namespace, key])))
 *   key   = the canonical JSON of the mapped request without ClientToken (keys sorted, times as ISO),
 *           or, with --token-key, the listed columns' values in that order.
 * A row with its own ClientToken column value keeps that value.
 *
 * What it means: the same row content under the same namespace always maps to the same task while
 * the service remembers the token, so identical rows in one file also collapse into one task (the
 * run warns); change the namespace to make a new batch of otherwise identical tasks.
 */
import { createHash } from 'node:crypto';
import type { TaskRequest } from '../types.js';

export const TOKEN_PREFIX = 'ctl1-';

export function clientToken(namespace: string, key: TaskRequest | string[]): string {
  const material = Array.isArray(key) ? key : canonical(withoutToken(key));
  const digest = createHash('sha256').update(JSON.stringify([namespace, material])).digest('base64url');
  return TOKEN_PREFIX + digest;
}

function withoutToken(req: TaskRequest): TaskRequest {
  const { ClientToken: _omit, ...rest } = req;
  return rest;
}

/** JSON with object keys sorted at every depth, so that member order never changes a token. */
export function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * A Bloom filter in a fixed typed array: `has` never answers false for a digest added. The k bit
 * indices are the digest's first k 32-bit words (a SHA-256: uniform and independent), cut to size.
 */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(log2Bits: number, private readonly k: number) {
    this.bits = new Uint32Array(2 ** log2Bits / 32);
    this.mask = 2 ** log2Bits - 1;
  }

  has(digest: Uint8Array): boolean {
    for (let i = 0; i < this.k; i++) {
      const bit = this.index(digest, i);
      if (!(this.bits[bit >>> 5]! & (1 << (bit & 31)))) return false;
    }
    return true;
  }

  add(digest: Uint8Array): void {
    for (let i = 0; i < this.k; i++) {
      const bit = this.index(digest, i);
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  private index(d: Uint8Array, i: number): number {
    const at = i * 4;
    return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) & this.mask;
  }
}

/** 2^26 bits = 8 MiB, whatever the size of the file; 6 bits per token. See DuplicateTokens for the rates. */
const FILTER_LOG2_BITS = 26;
const FILTER_K = 6;
/** Distinct suspect tokens kept for the check at the end (~100 bytes each); past this, rows are only counted. */
const MAX_SUSPECTS = 100_000;
const WARNINGS = 20;

/** Where the rows holding some tokens are: token → the input lines of its rows; undefined if it cannot tell. */
export type TokenLines = (tokens: ReadonlySet<string>) => Promise<Map<string, number[]> | undefined>;

/**
 * Warns when a row's token repeats an earlier row's in the same file: the service would turn both
 * into one task. Memory is fixed, whatever the number of rows: every token goes into an 8 MiB Bloom
 * filter (6 bits each, from the token's SHA-256). A token the filter has seen is a suspect, kept
 * exactly; a suspect is a real repeat or a false alarm, whose chance for a row after n rows is
 * about 4·10⁻⁷ at 1,000,000 rows, 2·10⁻⁵ at 2,000,000 and 0.04 at 10,000,000 (expected false
 * suspects in a whole run: 0.1, 6 and 85,000). So no warning is given on the filter's word alone:
 * at the end, `confirm` looks the suspects up in the results file (each row's token and line), and
 * only a repeat found there is counted and warned of, naming the earlier line. Past 100,000 distinct
 * suspects (some 11,000,000 rows) the rest are counted as unchecked and said to be so.
 */
export class DuplicateTokens {
  private readonly filter = new BloomFilter(FILTER_LOG2_BITS, FILTER_K);
  private readonly digest = Buffer.alloc(32);
  /** Suspect token → the first line that raised it. */
  private readonly suspects = new Map<string, number>();
  /** Rows that were suspects once `suspects` was full: not checked. */
  unchecked = 0;
  /** Rows confirmed to repeat an earlier row's token (set by `confirm`). */
  count = 0;

  constructor(private readonly log: { warn(obj: object, msg?: string): void }) {}

  check(token: string, line: number): void {
    const digest = this.digestOf(token);
    if (!this.filter.has(digest)) return this.filter.add(digest);
    if (this.suspects.has(token)) return;
    if (this.suspects.size < MAX_SUSPECTS) this.suspects.set(token, line);
    else this.unchecked++;
  }

  /**
   * Confirms the suspects against where the rows are (the results file, once written and closed):
   * counts the rows whose token an earlier row holds, and warns of the first few.
   */
  async confirm(lines: TokenLines): Promise<void> {
    if (this.unchecked) this.log.warn({ rows: this.unchecked }, 'these rows may repeat an earlier row\'s ClientToken: too many suspects to check them all');
    if (!this.suspects.size) return;
    const found = await lines(new Set(this.suspects.keys())).catch(() => undefined);
    if (!found) {
      this.log.warn({ rows: this.suspects.size }, 'could not read the results file back to check rows that may repeat an earlier row\'s ClientToken');
      return;
    }
    let warned = 0;
    for (const rows of found.values()) {
      if (rows.length < 2) continue; // a false alarm of the filter (or the earlier row was never recorded)
      const [first, ...repeats] = [...rows].sort((a, b) => a - b);
      this.count += repeats.length;
      for (const line of repeats) {
        if (warned++ < WARNINGS) this.log.warn({ line, sameAsLine: first }, 'same ClientToken as an earlier row: the two rows will be one task');
      }
    }
  }

  /** The token's SHA-256: taken back out of one of ours, computed for any other (a ClientToken column's). */
  private digestOf(token: string): Uint8Array {
    if (token.length === TOKEN_PREFIX.length + 43 && token.startsWith(TOKEN_PREFIX) && this.digest.write(token.slice(TOKEN_PREFIX.length), 'base64url') === 32) return this.digest;
    return createHash('sha256').update(token).digest();
  }
}
