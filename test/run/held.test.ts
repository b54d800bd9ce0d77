import { describe, expect, it } from 'vitest';
import { HeldRows, rowCost, rowWorkers } from '../../src/run/held.js';

const settled = async () => new Promise((resolve) => setImmediate(resolve));

describe('rows held at once', () => {
  it('admits up to the count, then waits for a release', async () => {
    const held = new HeldRows(() => 2, 1000);
    await held.admit(10);
    await held.admit(10);
    let third = false;
    void held.admit(10).then(() => (third = true));
    await settled();
    expect(third).toBe(false);
    held.release(10);
    await settled();
    expect(third).toBe(true);
    expect(held.held).toBe(2);
  });

  it('admits by bytes: wide rows are held a few at a time, and one row always passes', async () => {
    const held = new HeldRows(() => 100, 250);
    await held.admit(100);
    await held.admit(100);
    let wide = false;
    void held.admit(400).then(() => (wide = true));
    await settled();
    expect(wide).toBe(false);
    held.release(100);
    await settled();
    expect(wide).toBe(false); // 100 + 400 is still over
    held.release(100);
    await settled();
    expect(wide).toBe(true); // alone, however large
  });

  it('estimates a row by its cells and text', () => {
    expect(rowCost(['a', 'bb'])).toBeLessThan(rowCost(['a', 'bb', 'ccc']));
    expect(rowCost(Array(100_000).fill('x'))).toBeGreaterThan(2_000_000);
  });
});

describe('row workers', () => {
  /** Rows that each wait for `release`; counts how many are worked on at once. */
  function rows(total: number) {
    const state = { left: total, busy: 0, most: 0, gates: [] as (() => void)[] };
    const row = async () => {
      if (state.left === 0) return false;
      state.left--;
      state.busy++;
      state.most = Math.max(state.most, state.busy);
      await new Promise<void>((resolve) => state.gates.push(resolve));
      state.busy--;
      return true;
    };
    const releaseAll = () => {
      for (const open of state.gates.splice(0)) open();
    };
    return { state, row, releaseAll };
  }

  it('works every row with as many workers as wanted, up and then down, and is done when the rows are', async () => {
    let wanted = 2;
    const { state, row, releaseAll } = rows(40);
    const pool = rowWorkers(() => wanted, row);
    let done = false;
    void pool.done.then(() => (done = true));
    pool.start();
    await settled();
    expect(state.busy).toBe(2);
    wanted = 5;
    pool.start();
    await settled();
    expect(state.busy).toBe(5);
    wanted = 1;
    releaseAll(); // each worker finishes its row; all but one leave before their next
    await settled();
    expect(state.busy).toBe(1);
    // 40 rows, one finished per round: far more rounds than that is a pool that never ends.
    for (let round = 0; !done; round++) {
      expect(round, 'the pool is still not done after 200 rounds of 40 rows').toBeLessThan(200);
      releaseAll();
      await settled();
      expect(state.busy).toBeLessThanOrEqual(1);
    }
    expect(state.left).toBe(0);
    expect(state.most).toBe(5);
  });

  it('never runs with no worker, even when none is wanted', async () => {
    const { state, row, releaseAll } = rows(3);
    const pool = rowWorkers(() => 0, row);
    pool.start();
    for (let i = 0; i < 5; i++) {
      releaseAll();
      await settled();
    }
    await pool.done;
    expect(state.left).toBe(0);
  });

  it('rejects at the first error, without waiting for the other workers', async () => {
    let calls = 0;
    const pool = rowWorkers(
      () => 3,
      async () => {
        if (++calls === 2) throw new Error('boom');
        await new Promise(() => undefined); // the others never finish
        return true;
      },
    );
    pool.start();
    await expect(pool.done).rejects.toThrow('boom');
  });
});
