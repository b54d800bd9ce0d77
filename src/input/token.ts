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

/** Rows remembered for the repeated-token warning; past this, the check stops (memory stays flat). */
const MAX_TRACKED = 2_000_000;

/**
 * Warns when a row's token repeats an earlier row's in the same file: the service would turn both
 * into one task. Keeps 48 bits of each token (a false alarm is ~1 in 10^8 for a million rows).
 */
export class DuplicateTokens {
  private readonly seen = new Map<number, number>();
  count = 0;

  constructor(private readonly log: { warn(obj: object, msg?: string): void }) {}

  check(token: string, line: number): void {
    if (this.seen.size >= MAX_TRACKED) return;
    // Hashed again because a token may come from the user's ClientToken column, in any shape.
    const key = createHash('sha256').update(token).digest().readUIntBE(0, 6);
    const first = this.seen.get(key);
    if (first === undefined) {
      this.seen.set(key, line);
      return;
    }
    this.count++;
    if (this.count <= 20) this.log.warn({ line, sameAsLine: first }, 'same ClientToken as an earlier row: the two rows will be one task');
  }
}
