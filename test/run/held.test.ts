import { describe, expect, it } from 'vitest';
import { HeldRows, rowCost } from '../../src/run/held.js';

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
