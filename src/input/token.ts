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
  const material = Array.isArray(key) ? JSON.stringify(key) : canonicalJson(key, 'ClientToken');
  const digest = createHash('sha256')
    .update(`[${JSON.stringify(namespace) ?? 'null'},${material}]`)
    .digest('base64url');
  return TOKEN_PREFIX + digest;
}

/**
 * `JSON.stringify(canonical(value))`, written straight to a string: a token is made for every row,
 * and the sorted copy of the request cost more garbage than the rest of the row's preparation.
 * `omit`: a member left out at the top level. Held equal to the two-step form by a property test.
 */
export function canonicalJson(value: unknown, omit?: string): string | undefined {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) {
    let out = '';
    for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${canonicalJson(value[i]) ?? 'null'}`;
    return `[${out}]`;
  }
  if (!value || typeof value !== 'object') return JSON.stringify(value);
  let out = '';
  for (const k of jsonKeyOrder(Object.keys(value))) {
    if (k === omit) continue;
    const v = canonicalJson((value as Record<string, unknown>)[k]);
    if (v !== undefined) out += `${out ? ',' : ''}${JSON.stringify(k)}:${v}`;
  }
  return `{${out}}`;
}

/**
 * The order JSON.stringify gives the keys of an object built in sorted order: array-index keys
 * ("0", "17") first, ascending by value (an object always lists them so), then the rest sorted.
 * Object.keys already lists the index keys first and in that order.
 */
function jsonKeyOrder(keys: string[]): string[] {
  let indexKeys = 0;
  while (indexKeys < keys.length && isArrayIndex(keys[indexKeys]!)) indexKeys++;
  if (indexKeys === 0) return keys.sort();
  return keys.slice(0, indexKeys).concat(keys.slice(indexKeys).sort());
}

const isArrayIndex = (k: string) => /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 2 ** 32 - 1;

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
