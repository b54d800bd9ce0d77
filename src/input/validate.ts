/**
 * Stage 3 — validate. Pure: checks a mapped request against the API's rules and names, for every
 * broken rule, the column (or flag) that supplied the member — never the value, which is customer data.
 */
import { hash } from 'node:crypto';
import type { Violation } from '../types.js';
import type { MappedRow } from './map.js';
import { checkTaskRequest, LIMITS } from './rules.js';

export function validateRow(row: MappedRow, now: Date): Violation[] {
  return checkTaskRequest(row.request, now).map((v) => ({
    member: v.member,
    rule: v.rule,
    column: columnsFor(v.member, row.sources),
  }));
}

/** `Attributes.x` → its column; an aggregate member (`Attributes`) → every column that fed it. */
function columnsFor(member: string, sources: Map<string, string[]>): string | undefined {
  const direct = sources.get(member);
  if (direct) return direct.join(', ');
  const parts = [...sources.entries()].filter(([m]) => m.startsWith(`${member}.`)).flatMap(([, cols]) => cols);
  if (parts.length) return [...new Set(parts)].join(', ');
  // A part inside one column's value (`SegmentAttributes.k.ValueMap…`, `…[2]`): the column of the value it is in.
  const parent = member.replace(/(\.[^.[\]]*|\[\d+\])$/, '');
  return parent !== member && parent.includes('.') ? columnsFor(parent, sources) : undefined;
}

/** One line for the results file: `column "Ticket Subject" (Name): must be at most 1024 characters (found 1500)`. */
export function describeViolations(violations: Violation[]): string {
  return violations
    .map((v) => {
      const where =
        v.column && v.column !== v.member
          ? `column "${v.column}" (${v.member})`
          : v.column
            ? `column "${v.column}"`
            : v.member;
      return `${where}: ${v.rule}`;
    })
    .join('; ');
}

/** Chains tracked by PreviousContactId; past this the check stops, so memory stays flat on any file. */
const MAX_CHAINS = 1_048_576;
/** The table's first size: 2^10 slots of 16 bytes (16 KiB); doubled when half full, up to 32 MiB. */
const FIRST_SLOTS = 1024;

/**
 * At most 12 tasks may share one PreviousContactId (the service answers 402 for the 13th, a cap that
 * never clears). Counted within the file, over rows that would be sent: the 13th row and every later
 * one is invalid, naming its own line and the chain's first.
 *
 * The chains are kept by a 64-bit fingerprint of the id (its SHA-256's first 8 bytes), with the
 * chain's first line and count, in an open-addressing table of 16 bytes a slot. Not a Map of the
 * ids: a cell is a slice of the 64 KB chunk of text it was read from, so keeping the id kept the
 * whole chunk alive (a 2,000,000-row file with an id per row peaked at 743 MB), and a Map entry
 * costs ten times a slot. Two ids share a fingerprint with a chance of about 3·10⁻⁸ in a file of
 * a million chains.
 */
export class PreviousContactChains {
  /** Per slot: fingerprint high word, low word (odd, so never 0: 0 marks an empty slot), first line, count. */
  private table = new Uint32Array(FIRST_SLOTS * 4);
  private chains = 0;

  check(row: MappedRow, line: number): Violation | undefined {
    const id = row.request.PreviousContactId;
    if (id === undefined) return undefined;
    const d = hash('sha256', id, 'buffer');
    const at = this.slot(d.readUInt32BE(0), (d.readUInt32BE(4) | 1) >>> 0);
    if (at === undefined) return undefined;
    const t = this.table;
    if (!t[at + 3]) t[at + 2] = line;
    const count = ++t[at + 3]!;
    if (count > LIMITS.chainLength) {
      return {
        member: 'PreviousContactId',
        column: columnsFor('PreviousContactId', row.sources),
        rule:
          `at most ${LIMITS.chainLength} tasks may share one PreviousContactId in a file (line ${line} would be ` +
          `number ${count}; the first is line ${t[at + 2]})`,
      };
    }
    return undefined;
  }

  /** The slot of this fingerprint, taken if new; undefined for a new chain once MAX_CHAINS are kept. */
  private slot(h1: number, h2: number): number | undefined {
    let at = probe(this.table, h1, h2);
    if (this.table[at + 1]) return at;
    if (this.chains >= MAX_CHAINS) return undefined;
    if ((this.chains + 1) * 2 > this.table.length / 4) {
      const old = this.table;
      this.table = new Uint32Array(old.length * 2);
      for (let i = 0; i < old.length; i += 4)
        if (old[i + 1]) this.table.set(old.subarray(i, i + 4), probe(this.table, old[i]!, old[i + 1]!));
      at = probe(this.table, h1, h2);
    }
    this.chains++;
    this.table[at] = h1;
    this.table[at + 1] = h2;
    return at;
  }
}

/** Where the fingerprint is, or the empty slot where it goes (linear probing). */
function probe(table: Uint32Array, h1: number, h2: number): number {
  const mask = table.length / 4 - 1;
  for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
    const at = slot * 4;
    if (!table[at + 1] || (table[at] === h1 && table[at + 1] === h2)) return at;
  }
}
