/**
 * Row filters: conditions on the cells of a CSV's columns, every one of which must hold (a job file's
 * `where`). Pure. A filter is compiled once against the header — a column it names that the header
 * lacks, or repeats, and a regular expression that is invalid or can backtrack without end are
 * refused then, before any record is read — and is then applied to each record's cells.
 *
 * Nothing here knows the job file: any CSV with a header row (an input, a results file) filters with
 * the same conditions. Descriptions of conditions are made of the conditions alone (column names and
 * the values written in the filter), never of a record's cells, so messages and summaries may print them.
 */
import { UsageError } from '../errors.js';
import { editDistance, headerInMessage, looksLikeRecord } from './headers.js';

/** One test of one column's cell. Exact comparison unless `ignoreCase`. */
type ColumnCondition = {
  /** The column's header as in the file, before any renaming. */
  column: string;
  /** Compare without regard to case, and without the spaces around the cell and the value. */
  ignoreCase?: boolean;
} & ({ equals: string } | { in: string[] } | { matches: string } | { empty: boolean });

export type Condition = ColumnCondition | { not: Condition } | { anyOf: Condition[] };

export interface RowFilter {
  /** One description per condition, in order: `where[1]: "Ticket Status" in ["Open"]`. */
  readonly conditions: readonly string[];
  /**
   * The index (0-based) of the first condition the record's cells do not meet, or undefined when it
   * meets them all. `values` are the cells in header order, one per column.
   */
  exclude(values: readonly string[]): number | undefined;
}

export interface FilterOptions {
  /** How messages name the list and its items: `where` → `where[1]`. */
  name?: string;
  /** How messages name the header: "the input header". */
  header?: string;
}

/** Operators that test a column, and the two that combine conditions. */
const COLUMN_OPERATORS = ['equals', 'in', 'matches', 'empty'] as const;
const OPERATORS = [...COLUMN_OPERATORS, 'not', 'anyOf'] as const;

/** Past this a pattern is a mistake (a pasted list), and the cost of running it on every cell grows with it. */
const MAX_PATTERN = 1000;

/** Descriptions longer than this are cut (a long `in` list): the summary prints one per line. */
const MAX_DESCRIPTION = 300;

/**
 * Compiles `conditions` against `header`. Throws a UsageError naming the condition (`where[2]`) for a
 * column the header lacks (with the nearest header) or holds twice, and for a pattern that is not a
 * valid regular expression or repeats a repeated part (`(a+)+`: exponential time on one unlucky cell).
 */
export function compileFilter(
  conditions: readonly Condition[],
  header: readonly string[],
  options: FilterOptions = {},
): RowFilter {
  const name = options.name ?? 'where';
  const headerName = options.header ?? 'the input header';
  if (!Array.isArray(conditions)) throw new UsageError(`${name} must be a list of conditions`);
  const tests = conditions.map((c, i) => compile(c, `${name}[${i + 1}]`, header, headerName));
  const described = conditions.map((c, i) => `${name}[${i + 1}]: ${describeCondition(c)}`);
  return {
    conditions: described,
    exclude(values) {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(values)) return i;
      return undefined;
    },
  };
}

type Test = (values: readonly string[]) => boolean;

function compile(c: Condition, at: string, header: readonly string[], headerName: string): Test {
  const op = operatorOf(c, at);
  if ('not' in c) {
    const inner = compile(c.not, `${at}.not`, header, headerName);
    return (values) => !inner(values);
  }
  if ('anyOf' in c) {
    if (!Array.isArray(c.anyOf) || c.anyOf.length === 0)
      throw new UsageError(`${at}.anyOf must be a list of at least one condition`);
    const any = c.anyOf.map((x, i) => compile(x, `${at}.anyOf[${i + 1}]`, header, headerName));
    return (values) => any.some((t) => t(values));
  }
  const col = columnIndex(c.column, header, at, headerName);
  const loose = c.ignoreCase === true;
  const fold = loose ? (s: string) => s.trim().toLowerCase() : (s: string) => s;
  const cell = (values: readonly string[]) => fold(values[col] ?? '');
  switch (op) {
    case 'equals': {
      const want = fold(text((c as { equals: unknown }).equals, `${at}.equals`));
      return (values) => cell(values) === want;
    }
    case 'in': {
      const list = (c as { in: unknown }).in;
      if (!Array.isArray(list) || list.length === 0)
        throw new UsageError(`${at}.in must be a list of at least one string`);
      const set = new Set(list.map((v, i) => fold(text(v, `${at}.in[${i + 1}]`))));
      return (values) => set.has(cell(values));
    }
    case 'matches': {
      const re = pattern((c as { matches: unknown }).matches, loose, `${at}.matches`);
      // The `i` flag compares without case; lowering the cell too would change some letters' length
      // (`İ` → `i̇`), and a pattern naming them would no longer find them.
      const trimmed = loose ? (s: string) => s.trim() : (s: string) => s;
      return (values) => re.test(trimmed(values[col] ?? ''));
    }
    default: {
      const empty = (c as { empty: unknown }).empty;
      if (typeof empty !== 'boolean') throw new UsageError(`${at}.empty must be true or false`);
      return (values) => (cell(values) === '') === empty;
    }
  }
}

/** The one operator of a condition (a library caller's filter is not checked by the job file's schema). */
function operatorOf(c: Condition, at: string): (typeof OPERATORS)[number] {
  if (typeof c !== 'object' || c === null || Array.isArray(c))
    throw new UsageError(`${at} must be a condition object, e.g. {"column": "Ticket Status", "equals": "Open"}`);
  const ops = OPERATORS.filter((op) => op in c);
  if (ops.length !== 1)
    throw new UsageError(
      `${at} ${ops.length ? `has ${ops.join(' and ')}` : 'has no operator'}: a condition has exactly one of ` +
        `${OPERATORS.join(', ')} (list several conditions for "all of", or use anyOf)`,
    );
  const op = ops[0]!;
  const onColumn = (COLUMN_OPERATORS as readonly string[]).includes(op);
  if (onColumn && typeof (c as { column?: unknown }).column !== 'string')
    throw new UsageError(`${at} needs "column": the input column that ${op} tests`);
  if (!onColumn && ('column' in c || 'ignoreCase' in c))
    throw new UsageError(
      `${at}: "${op}" holds whole conditions, each with its own column: write ` +
        `{"not": {"column": "Ticket Status", "equals": "Closed"}}`,
    );
  return op;
}

function text(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new UsageError(`${at} must be a string`);
  return value;
}

/**
 * The column a condition names: its header exactly, or — the spaces around a header are invisible in
 * a spreadsheet — the one header equal to it once both are trimmed. A name the header holds twice is
 * refused: which of the two cells would be tested cannot be guessed.
 */
function columnIndex(column: string, header: readonly string[], at: string, headerName: string): number {
  const find = (same: (h: string) => boolean) => header.flatMap((h, i) => (same(h) ? [i] : []));
  let found = find((h) => h === column);
  if (found.length === 0) found = find((h) => h.trim() === column.trim());
  if (found.length === 1) return found[0]!;
  if (found.length > 1)
    throw new UsageError(
      `${at}: ${headerName} has ${found.length} columns named "${column}" (columns ` +
        `${found.map((i) => i + 1).join(' and ')}): the filter cannot tell which one to test; rename one`,
    );
  const near = looksLikeRecord(header) ? undefined : nearest(column, header);
  throw new UsageError(
    `${at}: no column named "${column}" in ${headerName}${near ? ` (did you mean "${near}"?)` : ''} ` +
      `(${headerInMessage(header)})`,
  );
}

/** The header closest to a name, when it is close enough to be a typo of it. */
function nearest(name: string, header: readonly string[]): string | undefined {
  const fold = (s: string) => s.trim().toLowerCase();
  let best: { h: string; d: number } | undefined;
  for (const h of header) {
    // The distance is at least the difference in length: a wide header costs little.
    if (Math.abs(fold(h).length - fold(name).length) > 3) continue;
    const d = editDistance(fold(name), fold(h));
    if (!best || d < best.d) best = { h, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? best.h : undefined;
}

/**
 * A `matches` pattern: unanchored (like grep: write `^…$` for the whole cell), with `^` and `$` the
 * cell's start and end even when it holds line breaks. Unicode mode: `.` is one character, an emoji
 * included.
 */
function pattern(value: unknown, loose: boolean, at: string): RegExp {
  const source = text(value, at);
  if (source.length === 0) throw new UsageError(`${at} must not be empty`);
  if (source.length > MAX_PATTERN)
    throw new UsageError(`${at} is ${source.length} characters long: at most ${MAX_PATTERN}`);
  let re: RegExp;
  try {
    re = new RegExp(source, loose ? 'iu' : 'u');
  } catch (err) {
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/\w*: /s, '');
    // Unicode mode refuses the habit of escaping any punctuation (`\-`, `\ `), and a bare `{` or `]`.
    const hint = /escape|bracket|quantifier/i.test(why)
      ? ' (patterns are read in Unicode mode: escape only what needs it, e.g. - not \\-, and write \\{ \\} \\] ' +
        'for those characters themselves)'
      : '';
    throw new UsageError(`${at}: /${source}/ is not a valid regular expression: ${why}${hint}`);
  }
  if (nestedRepetition(source))
    throw new UsageError(
      `${at}: /${source}/ repeats a part that itself repeats (like (a+)+): on an unlucky cell such a pattern ` +
        `takes longer than the universe has, and a run cannot interrupt it. Write the part once ` +
        `(e.g. (a+)+ → a+, (\\w+\\s?)+ → [\\w\\s]+)`,
    );
  return re;
}

/**
 * Whether a pattern (already a valid Unicode-mode RegExp) applies a repeating quantifier to a group
 * that holds one: the shape of exponential backtracking (`(a+)+`, `(\w+\s?)*`, `((ab)*c)+`).
 */
export function nestedRepetition(source: string): boolean {
  /** Open groups: whether each holds a repeating quantifier so far. */
  const groups: boolean[] = [];
  /** The last atom, for the quantifier that may follow it: whether it is a group holding a repetition. */
  let last: boolean | undefined;
  for (let i = 0; i < source.length; ) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1];
      i += 2;
      // \p{…}, \u{…}, \k<…>: their braces are not a quantifier.
      if ((next === 'p' || next === 'P' || next === 'u') && source[i] === '{') i = source.indexOf('}', i) + 1;
      else if (next === 'k' && source[i] === '<') i = source.indexOf('>', i) + 1;
      last = false;
      continue;
    }
    if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      i++;
      last = false;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      i++;
      if (source[i] === '?') {
        // (?: (?= (?! (?<= (?<! (?<name>
        i++;
        if (source[i] === '<' && source[i + 1] !== '=' && source[i + 1] !== '!') i = source.indexOf('>', i) + 1;
        else i += source[i] === '<' ? 2 : 1;
      }
      last = undefined;
      continue;
    }
    if (c === ')') {
      const held = groups.pop() ?? false;
      if (held && groups.length) groups[groups.length - 1] = true;
      last = held;
      i++;
      continue;
    }
    const q = quantifier(source, i);
    if (q) {
      if (q.repeats) {
        if (last) return true;
        if (groups.length) groups[groups.length - 1] = true;
      }
      i = q.end;
      if (source[i] === '?') i++; // lazy
      last = false;
      continue;
    }
    last = false;
    i++;
  }
  return false;
}

/** A quantifier at `i`: where it ends, and whether it lets its atom occur more than once. */
function quantifier(source: string, i: number): { end: number; repeats: boolean } | undefined {
  const c = source[i];
  if (c === '*' || c === '+') return { end: i + 1, repeats: true };
  if (c === '?') return { end: i + 1, repeats: false };
  if (c !== '{') return undefined;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
  if (!m) return undefined;
  const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
  return { end: i + m[0].length, repeats: max > 1 };
}

/**
 * The condition a results row of status `filtered` names (`where[1]: …`, as `conditions` describe
 * them). A message of another shape — a results file edited by hand — is not repeated: it could hold
 * anything, a customer's data included.
 */
export function recordedCondition(message: string | undefined): string {
  return message && /^where\[\d+\]: /.test(message) ? message : 'where (condition not recorded)';
}

/**
 * A condition in words, mirroring the job file's keys: `"Ticket Status" in ["Open", "Pending"]`,
 * `not ("Ticket Status" equals "Closed")`, `("A" is empty or "B" matches /^x/)`. Made of the filter
 * alone: it names no cell's value.
 */
export function describeCondition(c: Condition): string {
  return cut(describe(c));
}

function describe(c: Condition): string {
  if ('not' in c) return `not (${describe(c.not)})`;
  if ('anyOf' in c) return `(${c.anyOf.map(describe).join(' or ')})`;
  const col = JSON.stringify(c.column);
  const loose = c.ignoreCase ? ' (ignoreCase)' : '';
  if ('equals' in c) return `${col} equals ${JSON.stringify(c.equals)}${loose}`;
  if ('in' in c) return `${col} in [${c.in.map((v) => JSON.stringify(v)).join(', ')}]${loose}`;
  if ('matches' in c) return `${col} matches /${c.matches}/${c.ignoreCase ? 'i' : ''}`;
  return `${col} is ${c.empty ? '' : 'not '}empty${loose}`;
}

/** Cut by code points, so that an emoji is never split in two. */
function cut(s: string): string {
  if (s.length <= MAX_DESCRIPTION) return s;
  return `${Array.from(s)
    .slice(0, MAX_DESCRIPTION - 1)
    .join('')}…`;
}
