/**
 * Stage 3 — validate. Pure: checks a mapped request against the API's rules and names, for every
 * broken rule, the column (or flag) that supplied the member — never the value, which is customer data.
 */
import { checkTaskRequest, LIMITS } from './rules.js';
import type { MappedRow } from './map.js';
import type { Violation } from '../types.js';

export function validateRow(row: MappedRow, now: Date): Violation[] {
  return checkTaskRequest(row.request, now).map((v) => ({ ...v, column: columnsFor(v.member, row.sources) }));
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
      const where = v.column && v.column !== v.member ? `column "${v.column}" (${v.member})` : v.column ? `column "${v.column}"` : v.member;
      return `${where}: ${v.rule}`;
    })
    .join('; ');
}

/** Rows tracked by PreviousContactId; past this the check stops, so memory stays flat on any file. */
const MAX_CHAINS = 1_000_000;

/**
 * At most 12 tasks may share one PreviousContactId (the service answers 402 for the 13th, a cap that
 * never clears). Counted within the file, over rows that would be sent: the 13th row and every later
 * one is invalid, naming its own line and the chain's first.
 */
export class PreviousContactChains {
  private readonly chains = new Map<string, { first: number; count: number }>();

  check(row: MappedRow, line: number): Violation | undefined {
    const id = row.request.PreviousContactId;
    if (id === undefined) return undefined;
    let chain = this.chains.get(id);
    if (!chain) {
      if (this.chains.size >= MAX_CHAINS) return undefined;
      this.chains.set(id, (chain = { first: line, count: 0 }));
    }
    chain.count++;
    if (chain.count > LIMITS.chainLength) {
      return {
        member: 'PreviousContactId',
        column: columnsFor('PreviousContactId', row.sources),
        rule: `at most ${LIMITS.chainLength} tasks may share one PreviousContactId in a file (line ${line} would be number ${chain.count}; the first is line ${chain.first})`,
      };
    }
    return undefined;
  }
}
