/**
 * The rule an invalid row broke, without the row's own figures: one function for `validate`'s
 * problems by rule (run/plan.ts) and `report`'s invalid rows by rule (report/model.ts), so both group
 * alike. Pure, and imports nothing: any module may use it without an import cycle.
 *
 * A row's message (Result.ErrorMessage, written by describeViolations) holds one or more
 * `column "X" (Member): rule (detail)`, joined by "; ". The detail differs row by row — "(found 1035)",
 * "(line 14 would be number 13; the first is line 2)" — and may itself hold "; ".
 */

/** Marks the characters of quoted text (`column "Subject (2)"`): a column's name is never a detail. */
function quotedMask(text: string): Uint8Array {
  const quoted = new Uint8Array(text.length);
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 34 /* " */) inQuote = !inQuote;
    else if (inQuote) quoted[i] = 1;
  }
  return quoted;
}

/**
 * Marks the characters inside matched parentheses (nested ones included), outside quoted column
 * names: an unmatched "(" or ")", as in a column named `Phone (mobile`, stays literal text.
 */
function bracketed(text: string, quoted = quotedMask(text)): Uint8Array {
  const depth = new Int32Array(text.length + 1);
  const open: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quoted[i]) continue;
    if (c === 40 /* ( */) open.push(i);
    else if (c === 41 /* ) */ && open.length) {
      depth[open.pop()!]!++;
      depth[i + 1]!--;
    }
  }
  const inside = new Uint8Array(text.length);
  for (let i = 0, d = 0; i < text.length; i++) {
    d += depth[i]!;
    inside[i] = d > 0 ? 1 : 0;
  }
  return inside;
}

/** The text without its parenthesised detail (and the blanks before it): `is required (found none)` → `is required`. */
export function ruleKey(text: string): string {
  const inside = bracketed(text);
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!inside[i]) continue;
    out += text.slice(from, i).trimEnd();
    while (i < text.length && inside[i]) i++;
    from = i;
  }
  return (out + text.slice(from)).trim();
}

/**
 * The rules of an invalid row's message, each once per part, split on "; " outside parentheses only,
 * each without its parenthesised detail.
 */
export function rulesOf(message: string | undefined): string[] {
  if (!message) return ['(no message)'];
  const quoted = quotedMask(message);
  const inside = bracketed(message, quoted);
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < message.length - 1; i++) {
    if (!inside[i] && !quoted[i] && message.charCodeAt(i) === 59 /* ; */ && message.charCodeAt(i + 1) === 32) {
      parts.push(message.slice(from, i));
      from = i + 2;
    }
  }
  parts.push(message.slice(from));
  return parts.map((p) => ruleKey(p) || '(no message)');
}
