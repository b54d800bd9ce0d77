/**
 * Gzip input: its checksum is read before anything is sent. One flipped byte mid-file, bytes after
 * its data, a file cut short: refused (exit 2), nothing sent, the line where the text stops named.
 * Gzip is told by its bytes: `.GZ`, or a `.csv` that is compressed, is read as the text it holds.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { InputError } from '../../src/errors.js';
import { runImport } from '../../src/run/run.js';
import { tempDir } from '../helpers.js';

let e: Emulator;
beforeAll(async () => {
  e = await startEmulator({ rate: 5000, burst: 5000 });
});
afterAll(() => e?.close());

const text =
  ['Name,Attributes.order', ...Array.from({ length: 5000 }, (_, i) => `Order ${i + 1},#${11000 + i}`)].join('\n') +
  '\n';
const route = { instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID, env: {}, rate: 5000, burst: 5000 };

function file(name: string, bytes: Buffer): string {
  const path = join(tempDir(), name);
  writeFileSync(path, bytes);
  return path;
}

describe('a damaged gzip input', () => {
  it.each([
    [
      'one byte flipped mid-file',
      (b: Buffer) => {
        const c = Buffer.from(b);
        c[c.length >> 1]! ^= 0x10;
        return c;
      },
      /its data is damaged/,
    ],
    [
      'bytes after its data',
      (b: Buffer) => Buffer.concat([b, Buffer.from('trailing garbage')]),
      /bytes that are not gzip follow its data/,
    ],
    ['cut short', (b: Buffer) => b.subarray(0, b.length - 100), /it ends in the middle/],
  ])('%s: refused before anything is sent, naming the line', async (_what, damage, why) => {
    const input = file('orders.csv.gz', damage(gzipSync(text)));
    const before = e.stats().requests;
    const err = await runImport({ input, endpoint: e.url, ...route }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toMatch(/after line \d+ of its text.*Nothing was sent/);
    expect(e.stats().requests).toBe(before);
    expect(existsSync(input.replace(/\.csv\.gz$/, '.results.csv'))).toBe(false);
  });
});

describe('gzip told by its bytes', () => {
  it.each([['orders.CSV.GZ'], ['orders.csv']])('%s holding gzip is read as its text', async (name) => {
    const input = file(name, gzipSync(`${text.split('\n').slice(0, 11).join('\n')}\n`));
    const summary = await runImport({ input, endpoint: e.url, ...route });
    expect(summary.rows).toMatchObject({ total: 10, created: 10 });
  });
});
