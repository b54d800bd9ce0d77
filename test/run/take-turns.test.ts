/** The job stream taken in turns: every item once, in order, the source asked by one caller at a time. */
import { describe, expect, it } from 'vitest';
import { takeTurns } from '../../src/run/held.js';

describe('takeTurns', () => {
  it('hands hundreds of waiting callers every item once, in order, asking the source one at a time', async () => {
    let asking = 0;
    let most = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        asking++;
        most = Math.max(most, asking);
        if (i % 10 === 0) await new Promise((r) => setImmediate(r)); // input arriving in chunks
        asking--;
        yield i;
      }
    }
    const jobs = takeTurns(source());
    const got: number[] = [];
    await Promise.all(
      Array.from({ length: 300 }, async () => {
        for (let next = await jobs.next(); !next.done; next = await jobs.next()) got.push(next.value);
      }),
    );
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(most).toBe(1);
  });

  it('a source that throws fails the caller whose turn it was; the others see the end', async () => {
    async function* source() {
      yield 1;
      throw new Error('input broke');
    }
    const jobs = takeTurns(source());
    const outcomes = await Promise.allSettled([jobs.next(), jobs.next(), jobs.next()]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      { value: 1, done: false },
      'input broke',
      { value: undefined, done: true },
    ]);
  });
});
