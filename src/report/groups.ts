/**
 * Rows counted by group (error code, broken rule) in bounded memory and bounded output, whatever the
 * results file holds: at most TRACKED distinct groups are counted, the SHOWN largest are listed, and
 * every other row is counted once more in a single "other" line.
 */

/** Example line numbers kept per group. */
const EXAMPLES = 5;
/** Groups listed per section; the rest are summed into `other`. */
export const SHOWN = 50;
/** Distinct groups counted; rows of a group first seen after that go to `other` straight away. */
export const TRACKED = 1000;
/** A key longer than this (a hand-edited code, a very long column name) is cut. */
export const KEY_CHARS = 300;

export interface Group {
  /** The error code, or the broken rule (`column "Name": is required`). */
  key: string;
  count: number;
  /** The first few input lines (Result.Line) of the group. */
  lines: number[];
  /** For error codes: the service's message on the first such row, redacted (it names no row content). */
  message?: string;
}

/** The groups not listed: their rows (a row breaking two such rules counts twice, as in the groups) and a few lines. */
export interface Other {
  count: number;
  lines: number[];
}

export interface Grouped {
  groups: Group[];
  other?: Other;
}

export class GroupCounter {
  private readonly groups = new Map<string, Group>();
  private readonly other: Other = { count: 0, lines: [] };

  /** `message` is asked for once per group (the first row's), never per row. */
  add(key: string, line: number, message?: () => string | undefined): void {
    const k = key.length > KEY_CHARS ? `${key.slice(0, KEY_CHARS)}…` : key;
    let g = this.groups.get(k);
    if (!g) {
      if (this.groups.size >= TRACKED) {
        this.other.count++;
        if (this.other.lines.length < EXAMPLES) this.other.lines.push(line);
        return;
      }
      const m = message?.();
      g = { key: k, count: 0, lines: [], ...(m ? { message: m.slice(0, 300) } : {}) };
      this.groups.set(k, g);
    }
    g.count++;
    if (g.lines.length < EXAMPLES) g.lines.push(line);
  }

  /** The SHOWN largest groups, largest first, and the rest summed. */
  result(): Grouped {
    const all = [...this.groups.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
    const other = { count: this.other.count, lines: [...this.other.lines] };
    for (let i = SHOWN; i < all.length; i++) {
      other.count += all[i]!.count;
      other.lines.push(...all[i]!.lines); // at most EXAMPLES each
      if (other.lines.length > 4 * EXAMPLES) other.lines = other.lines.sort((a, b) => a - b).slice(0, EXAMPLES);
    }
    other.lines = other.lines.sort((a, b) => a - b).slice(0, EXAMPLES);
    return { groups: all.slice(0, SHOWN), ...(other.count ? { other } : {}) };
  }
}
