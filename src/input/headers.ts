/**
 * Headers that look like a mistake. A column the mapping does not use is carried, not sent: when its
 * name is a near miss of a member (`Descripton`, `name`, `Attribute.x`, `Attributes x`) the user most
 * likely meant the member, and the run would say "created" with that data gone. Pure; the run warns
 * (or, with --strict-columns, refuses) before anything is sent.
 */
import { COMPOUND_MEMBERS, SCALAR_MEMBERS } from './columns.js';
import { TASK_REFERENCE_TYPES } from './rules.js';

export interface HeaderWarning {
  column: string;
  /** The header it most likely meant. */
  suggestion: string;
  why: string;
}

/** Case, spaces, underscores and hyphens do not tell two member names apart for a human. */
const fold = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** How far a name may be from a member and still be a typo of it: short names tolerate less. */
const tolerance = (name: string) => (name.length <= 5 ? 1 : 2);

/** The member a name is a near miss of, with the reason, or undefined. */
function nearMember(name: string): { member: string; why: string } | undefined {
  const folded = fold(name);
  for (const member of [...SCALAR_MEMBERS, ...COMPOUND_MEMBERS]) {
    if (name === member) return { member, why: 'exact' };
    if (folded === fold(member))
      return {
        member,
        why: name.toLowerCase() === member.toLowerCase() ? 'headers are case-sensitive' : 'spelt differently',
      };
  }
  let best: { member: string; d: number } | undefined;
  for (const member of SCALAR_MEMBERS) {
    const target = fold(member);
    // The distance is at least the difference in length: most names (a file of 100,000 columns) end here.
    if (Math.abs(folded.length - target.length) > tolerance(member)) continue;
    const d = editDistance(folded, target);
    if (d <= tolerance(member) && (!best || d < best.d)) best = { member, d };
  }
  return best && { member: best.member, why: 'a near miss' };
}

/**
 * Warnings for the unused columns of `header` (`used[i]` false) whose names look like a misspelt
 * member or member prefix. Columns starting with `Result.` are never mapped and never warned about.
 */
export function suspiciousHeaders(header: string[], used: boolean[]): HeaderWarning[] {
  const out: HeaderWarning[] = [];
  header.forEach((column, i) => {
    if (used[i] || column.startsWith('Result.')) return;
    const trimmed = column.trim();
    // `Attributes x`, `Attribute.x`, `attributes_x`: a prefix, a separator, a key.
    const m = /^([A-Za-z]+)(?:\.|\s+|_|:|-)(.+)$/.exec(trimmed);
    if (m) {
      const prefix = COMPOUND_MEMBERS.find((p) => fold(p) === fold(m[1]!) || editDistance(fold(p), fold(m[1]!)) <= 2);
      if (prefix) {
        const key = m[2]!.trim();
        const typed =
          prefix !== 'References' ||
          (TASK_REFERENCE_TYPES as readonly string[]).includes(key.slice(key.lastIndexOf('.') + 1));
        out.push({
          column,
          suggestion: `${prefix}.${key}${typed ? '' : '.URL'}`,
          why: `${prefix} columns are named ${prefix}.<${prefix === 'References' ? 'name>.<TYPE' : 'key'}>`,
        });
        return;
      }
    }
    const near = nearMember(trimmed);
    if (near && (near.why !== 'exact' || trimmed !== column))
      out.push({ column, suggestion: near.member, why: trimmed !== column ? 'spaces around the name' : near.why });
  });
  return out;
}

/** A header that is one column holding `;` or a tab was read with the wrong delimiter. */
export function delimiterHint(header: string[]): string | undefined {
  if (header.length !== 1) return undefined;
  if (header[0]!.includes(';'))
    return `the header is one column containing ";": looks like a ';'-delimited file: pass --delimiter ';'`;
  if (header[0]!.includes('\t'))
    return `the header is one column containing tabs: looks like a tab-delimited file: pass --delimiter $'\\t'`;
  if (header[0]!.includes(','))
    return (
      `the header is one column containing ",": looks like a comma-delimited file: drop --delimiter (or pass ` +
      `--delimiter ',')`
    );
  return undefined;
}

/** One line per warning, for logs, the validate report and the --strict-columns refusal. */
export function describeHeaderWarning(w: HeaderWarning): string {
  return `column "${w.column}" is carried unmapped but looks like "${w.suggestion}" (${w.why})`;
}

/**
 * Whether a header row is more likely a customer's record: a file exported without its header row
 * has one as its first line, and its cells are data that no message may print. Column names are
 * short labels; an e-mail address, a line break, a number or date, or long text is not one.
 */
export function looksLikeRecord(header: readonly string[]): boolean {
  return header.some((h) => h.length > 64 || /[@\r\n]/.test(h) || (/\d/.test(h) && /^[\s\d.,:/+-]+$/.test(h)));
}

/**
 * The header's names, for a message that did not find a column in it, or only their count when
 * the first line looks like a record (looksLikeRecord).
 */
export function headerInMessage(header: readonly string[]): string {
  return looksLikeRecord(header)
    ? `the first line has ${header.length} cells, with a number, date, e-mail address or long text among them: ` +
        'is the header row missing?'
    : `columns: ${header.join(', ')}`;
}
