/**
 * Service error text is customer data when it echoes what it refused: Connect's validation messages
 * read "1 validation error detected: Value 'Jane Doe' at 'name' failed to satisfy constraint: …".
 * Before such a message reaches a log (at any level), a summary or the terminal, the values go and
 * the member paths and constraints stay, so the message still says what to fix.
 *
 * The results file keeps the message as the service sent it: that row already holds the value in
 * its own cells, the file is owner-only, and the exact value is what the user needs to fix the row.
 */

const CENSOR = '[redacted]';

/** "Value <anything> at '<path>' failed to satisfy constraint": the value may hold quotes or newlines. */
const VALUE_AT = /\bValue [\s\S]*? (at '[^']*' failed to satisfy constraint)/g;
const WORD = /[\p{L}\p{N}]/u;

/**
 * Any other quoted text goes: a service message naming the value in some other phrasing. Double
 * quotes pair on one line. A single quote opens a quotation only where no letter or digit comes
 * before it, and closes one only where none comes after it: the apostrophes of "the answer's body"
 * quote nothing, and a value such as 'O'Brien' goes whole. One pass, whatever the text holds (a
 * pattern that looked ahead for each quote would take minutes on a long line of them).
 */
function redactQuoted(text: string): string {
  let out = '';
  // No single quote closes before this index: an opener that found none tells the same of the rest of its line.
  let noCloseUntil = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    let end = -1;
    if (c === '"') {
      end = text.indexOf('"', i + 1);
      const line = text.indexOf('\n', i + 1);
      if (line !== -1 && line < end) end = -1;
    } else if (c === "'" && i >= noCloseUntil && !WORD.test(text[i - 1] ?? '')) {
      end = closingQuote(text, i + 1);
      if (end === -1) noCloseUntil = lineEnd(text, i);
    }
    if (end === -1) out += c;
    else {
      out += CENSOR;
      i = end;
    }
  }
  return out;
}

/** The first single quote from `from` on its line with no letter or digit after it; -1: none. */
function closingQuote(text: string, from: number): number {
  const stop = lineEnd(text, from);
  for (let j = text.indexOf("'", from); j !== -1 && j < stop; j = text.indexOf("'", j + 1))
    if (!WORD.test(text[j + 1] ?? '')) return j;
  return -1;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl === -1 ? text.length : nl;
}

export function redactServiceMessage(message: string): string {
  let out = '';
  let from = 0;
  for (const m of message.matchAll(VALUE_AT)) {
    // The path ('name', 'attributes.ticketId') names a member, not customer data: it stays.
    out += `${redactQuoted(message.slice(from, m.index))}Value ${CENSOR} ${m[1]}`;
    from = m.index + m[0].length;
  }
  return out + redactQuoted(message.slice(from));
}

/**
 * A web address's secrets are never printed: the query string (a presigned URL's signature and
 * session token, X-Amz-Signature and X-Amz-Security-Token, which let anyone read the object until it
 * expires), and a user name and password before its host.
 */
export function hideUrlSecrets(text: string): string {
  return text
    .replace(/\b(https?:\/\/)[^\s/?#@'"]+@/gi, '$1[user and password not shown]@')
    .replace(/\b(https?:\/\/[^\s?#]*)\?[^\s#]*?(?=[:;,.)'"]?(?:\s|$))/gi, '$1?[query not shown]');
}
