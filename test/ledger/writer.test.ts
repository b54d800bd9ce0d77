/**
 * The results writer: cells exactly as csv-stringify writes them, rows written in one group at the
 * end of the event-loop turn (a sent row's `commit` resolves only once its group is on disk, and
 * rejects when the group's write fails), and the lock looked at before a write (at most 200 ms after
 * the last look) and always before the last one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LockLostError } from '../../src/errors.js';
import { RESULT_COLUMNS, ResultsWriter } from '../../src/ledger/writer.js';
import type { RowResult } from '../../src/types.js';
import { tempDir } from '../helpers.js';

const HEADER = ['Name', 'Description'];
const result = (line: number, extra: Partial<RowResult> = {}): RowResult => ({
  line,
  status: 'created',
  contactId: `c-${line}`,
  clientToken: `t-${line}`,
  attempts: 1,
  ...extra,
});
const turnEnd = () => new Promise((resolve) => setImmediate(resolve));
const text = (path: string) => readFileSync(path, 'utf8');

describe('ResultsWriter', () => {
  it('writes every cell as csv-stringify does (quotes, doubled quotes, CR, LF, commas, any text)', () => {
    const cell = fc.string({
      unit: fc.constantFrom('a', ' ', ',', '"', '\r', '\n', ';', 'é', '😀', '='),
      maxLength: 6,
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell), { minLength: 1, maxLength: 5 }), (rows) => {
        const path = join(tempDir(), 'r.csv');
        const w = ResultsWriter.create(path, HEADER);
        for (const [i, [name, description, message]] of rows.entries()) {
          w.write([name, description], result(i + 2, { status: 'failed', errorCode: 'X', errorMessage: message }));
        }
        w.close();
        const expected = stringify(
          [
            [...HEADER, ...RESULT_COLUMNS],
            ...rows.map(([n, d, m], i) => [n, d, String(i + 2), 'failed', `c-${i + 2}`, `t-${i + 2}`, '1', 'X', m]),
          ],
          { record_delimiter: 'unix', quoted_match: /[\r\n]/ },
        );
        expect(text(path)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it(
    'rows wait for the end of the turn and go out in one ' + 'write; a sent row is recorded once its group is on disk',
    async () => {
      const looks: (number | undefined)[] = [];
      const path = join(tempDir(), 'r.csv');
      const w = ResultsWriter.create(path, HEADER, (recentMs) => void looks.push(recentMs));
      const header = text(path);
      looks.length = 0;
      w.write(['carried', 'x'], result(2));
      let recorded = 0;
      const sent = [w.commit(['sent', 'y'], result(3)), w.commit(['sent', 'z'], result(4))].map((p) =>
        p.then(() => recorded++),
      );
      expect(text(path)).toBe(header);
      await Promise.resolve();
      expect(recorded).toBe(0);
      await Promise.all(sent);
      expect(recorded).toBe(2);
      expect(
        text(path)
          .split('\n')
          .slice(1, -1)
          .map((l) => l.split(',')[0]),
      ).toEqual(['carried', 'sent', 'sent']);
      expect(looks).toEqual([200]); // one write for the three rows
      w.close();
    },
  );

  it('a failed group write rejects every sent row of the group, and nothing is written after it', async () => {
    let full = false;
    const err = new Error('no space left on device');
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER, () => {
      if (full) throw err;
    });
    await w.commit(['first', 'x'], result(2));
    const before = text(path);
    full = true;
    const group = [w.commit(['a', 'x'], result(3)), w.commit(['b', 'x'], result(4))].map((p) =>
      p.then(
        () => 'written',
        (e: Error) => e,
      ),
    );
    expect(await Promise.all(group)).toEqual([err, err]);
    expect(() => w.write(['c', 'x'], result(5))).toThrow(err);
    expect(text(path)).toBe(before);
    expect(() => w.close()).toThrow(err);
  });

  it('writes rows waiting once they reach 64 KB, and the rest when closed', () => {
    const path = join(tempDir(), 'r.csv');
    const w = ResultsWriter.create(path, HEADER);
    for (let i = 0; i < 1000; i++) w.write(['n'.repeat(100), 'd'], result(i + 2));
    const lines = text(path).split('\n').length;
    expect(lines).toBeGreaterThan(500);
    expect(lines).toBeLessThan(1000);
    w.close();
    expect(text(path).split('\n')).toHaveLength(1002); // header, 1,000 rows, the last line end
  });

  it(
    'asks the lock guard before writing: a recent look ' + 'stands for routine writes, never for the last rows',
    async () => {
      const looks: (number | undefined)[] = [];
      const path = join(tempDir(), 'r.csv');
      const w = ResultsWriter.create(path, HEADER, (recentMs) => void looks.push(recentMs));
      looks.length = 0; // the look before the file was created
      await w.commit(['sent', 'x'], result(2));
      w.write(['carried', 'y'], result(3));
      await turnEnd();
      w.write(['carried', 'z'], result(4));
      w.close();
      expect(looks).toEqual([200, 200, 0]);
    },
  );

  it(
    'a run that lost its lock writes nothing more: a row waiting is not written, and the next write and ' +
      'close say why',
    async () => {
      let held = true;
      const lost = new LockLostError('lost the lock on r.csv');
      const path = join(tempDir(), 'r.csv');
      const w = ResultsWriter.create(path, HEADER, () => {
        if (!held) throw lost;
      });
      await w.commit(['before', 'x'], result(2));
      const before = text(path);
      held = false; // taken over
      w.write(['carried', 'y'], result(3));
      await turnEnd();
      expect(text(path)).toBe(before);
      expect(() => w.commit(['sent', 'z'], result(4))).toThrow(lost);
      expect(() => w.close()).toThrow(lost);
      expect(text(path)).toBe(before);

      held = true;
      const w2 = ResultsWriter.create(join(tempDir(), 'r.csv'), HEADER, () => {
        if (!held) throw lost;
      });
      w2.write(['carried', 'y'], result(3));
      held = false;
      expect(() => w2.close()).toThrow(lost);
    },
  );
});
