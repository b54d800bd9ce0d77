/**
 * Stage 3 — validate. Pure: checks a mapped request against the API's rules and names, for every
 * broken rule, the column (or flag) that supplied the member — never the value, which is customer data.
 */
import { checkTaskRequest } from './rules.js';
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
  return parts.length ? [...new Set(parts)].join(', ') : undefined;
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
