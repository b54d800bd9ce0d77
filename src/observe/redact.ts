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
/** Any other quoted text: a service message naming the value in some other phrasing. */
const QUOTED = /'[^'\n]*'|"[^"\n]*"/g;

export function redactServiceMessage(message: string): string {
  let out = '';
  let from = 0;
  for (const m of message.matchAll(VALUE_AT)) {
    // The path ('name', 'attributes.ticketId') names a member, not customer data: it stays.
    out += `${message.slice(from, m.index).replace(QUOTED, CENSOR)}Value ${CENSOR} ${m[1]}`;
    from = m.index + m[0].length;
  }
  return out + message.slice(from).replace(QUOTED, CENSOR);
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
