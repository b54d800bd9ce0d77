/**
 * The results writer: cells exactly as csv-stringify writes them, rows nothing was sent for waiting
 * at most to the end of the event-loop turn, every other row on disk before `write` returns, and the
 * lock looked at before a write (at most 200 ms after the last look) and always before the last one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { LockLostError } from '../../src/errors.js';
import { RESULT_COLUMNS, ResultsWriter } from '../../src/ledger/writer.js';
import type { RowResult } from '../../src/types.js';
import { tempDir } from '../helpers.js';

const HEADER = ['Name', 'Description'];
const result = (line: number, extra: Partial<RowResult> = {}): RowResult => ({ line, status: 'created', contactId: `c-${line}`, clientToken: `t-${line}`, attempts: 1, ...extra });
const turnEnd = () => new Promise((resolve) => setImmediate(resolve));
const text = (path: string) => readFileSync(path, 'utf8');

describe('ResultsWriter', () => {
  it('writes every cell as csv-stringify does (quotes, doubled quotes, CR, LF, commas, any text)', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ' ', ',', '"', '\r', '\n', ';', 'é', '😀', '='), maxLength: 6 });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell), { minLength: 1, maxLength: 5 }), (rows) => {
        const path = join(tempDir(), 'r.csv');
        const w = ResultsWriter.create(path, HEADER);
        rows.forEach(([name, description, message], i) => w.write([name, description], result(i + 2, { status: 'failed', errorCode: 'X', errorMessage: message })));
        w.close();
        const expected = stringify(
          [[...HEADER, ...RESULT_COLUMNS], ...rows.map(([n, d, m], i) => [n, d, String(i + 2), 'failed', `c-${i + 2}`, `t-${i + 2}`, '1', 'X', m])],
          { record_delimiter: 'unix', quoted_match: /[\r\n]/ },
        );
        expect(text(path)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('a row nothing was sent for waits for the end of the turn; a sent row is on disk with it before write returns', async () => {
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER);
    const header = text(path);
    w.write(['carried', 'x'], result(2), { unsent: true });
    expect(text(path)).toBe(header);
    await turnEnd();
    expect(text(path)).toMatch(/^carried,x,2,created/m);
    w.write(['carried', 'y'], result(3), { unsent: true });
    w.write(['sent', 'z'], result(4));
    expect(text(path).split('\n').slice(1, -1).map((l) => l.split(',')[0])).toEqual(['carried', 'carried', 'sent']);
    w.close();
  });

  it('writes rows waiting once they reach 64 KB, and the rest when closed', () => {
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER);
    for (let i = 0; i < 1000; i++) w.write(['n'.repeat(100), 'd'], result(i + 2), { unsent: true });
    const lines = text(path).split('\n').length;
    expect(lines).toBeGreaterThan(500);
    expect(lines).toBeLessThan(1000);
    w.close();
    expect(text(path).split('\n')).toHaveLength(1002); // header, 1,000 rows, the last line end
  });

  it('asks the lock guard before writing: a recent look stands for routine writes, never for the last rows', async () => {
    const looks: (number | undefined)[] = [];
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER, (recentMs) => void looks.push(recentMs));
    looks.length = 0; // the look before the file was created
    w.write(['sent', 'x'], result(2));
    w.write(['carried', 'y'], result(3), { unsent: true });
    await turnEnd();
    w.write(['carried', 'z'], result(4), { unsent: true });
    w.close();
    expect(looks).toEqual([200, 200, 0]);
  });

  it('a run that lost its lock writes nothing more: a row waiting is not written, and the next write and close say why', async () => {
    let held = true;
    const lost = new LockLostError('lost the lock on r.csv');
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER, () => {
      if (!held) throw lost;
    });
    w.write(['before', 'x'], result(2));
    const before = text(path);
    held = false; // taken over
    w.write(['carried', 'y'], result(3), { unsent: true });
    await turnEnd();
    expect(text(path)).toBe(before);
    expect(() => w.write(['sent', 'z'], result(4))).toThrow(lost);
    expect(() => w.close()).toThrow(lost);
    expect(text(path)).toBe(before);

    held = true;
    const w2 = ResultsWriter.create(join(tempDir(), 'r.csv'), HEADER, () => {
      if (!held) throw lost;
    });
    w2.write(['carried', 'y'], result(3), { unsent: true });
    held = false;
    expect(() => w2.close()).toThrow(lost);
  });
});
