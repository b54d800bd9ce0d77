/** The repeated-token check: the Bloom filter's rates, the exact table before it, and the confirmation. */
import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BloomFilter, DuplicateTokens, SeenTokens } from '../../src/input/duplicates.js';
import { clientToken } from '../../src/input/token.js';

/** Random 32-byte digests, `n` of them, made in blocks (a SHA-256 is as uniform; this is faster). */
function* digests(n: number): Generator<Uint8Array> {
  const block = Buffer.alloc(32 * 65536);
  for (let made = 0; made < n; ) {
    randomFillSync(block);
    for (let i = 0; i < 65536 && made < n; i++, made++) yield block.subarray(i * 32, i * 32 + 32);
  }
}

/** The chance that a new digest is reported as seen, after n were added: (1 − e^(−kn/m))^k. */
const rate = (log2Bits: number, k: number, n: number) => (1 - Math.exp((-k * n) / 2 ** log2Bits)) ** k;

describe('BloomFilter', () => {
  it.each([
    // bits, k, digests added, fresh digests asked about
    [16, 4, 10_000, 50_000],
    [20, 6, 100_000, 200_000],
    [20, 6, 200_000, 100_000],
    [22, 4, 500_000, 200_000],
    [26, 6, 2_000_000, 2_000_000], // the size DuplicateTokens uses: 2·10⁻⁵ at 2 M rows
    [26, 6, 10_000_000, 200_000], //                                  0.04 at 10 M rows
  ])(
    '2^%i bits, k = %i, %i added: never a false negative, false alarms as the formula says',
    (log2Bits, k, n, probes) => {
      const filter = new BloomFilter(log2Bits, k);
      const added: Uint8Array[] = [];
      for (const d of digests(n)) {
        filter.add(d);
        if (added.length < 10_000) added.push(Buffer.from(d));
      }
      expect(added.filter((d) => !filter.has(d))).toEqual([]);
      let alarms = 0;
      for (const d of digests(probes)) if (filter.has(d)) alarms++;
      const expected = probes * rate(log2Bits, k, n);
      // 5 standard deviations (binomial), and 5 %: a wrong formula or a bad index is far off either way.
      expect(Math.abs(alarms - expected)).toBeLessThanOrEqual(5 * Math.sqrt(expected) + 0.05 * expected + 2);
    },
  );

  it('the documented rates of the 2^26-bit, k = 6 filter', () => {
    expect(rate(26, 6, 1_000_000)).toBeCloseTo(3.9e-7, 8);
    expect(rate(26, 6, 2_000_000)).toBeCloseTo(1.9e-5, 6);
    expect(rate(26, 6, 10_000_000)).toBeCloseTo(0.043, 3);
  });
});

describe('SeenTokens', () => {
  it('is exact while the table lasts (262,144 tokens), then remembers every token it saw in the filter', () => {
    const seen = new SeenTokens();
    const kept: Uint8Array[] = [];
    let alarms = 0;
    let n = 0;
    for (const d of digests(400_000)) {
      if (seen.seen(d)) {
        expect(n).toBeGreaterThanOrEqual(262_144); // no false alarm from the exact table
        alarms++;
      }
      if (n++ % 40 === 0) kept.push(Buffer.from(d));
    }
    expect(alarms).toBeLessThan(5); // the filter's rate at 400,000 tokens: ~2·10⁻¹¹ a token
    expect(kept.filter((d) => !seen.seen(d))).toEqual([]);
  });

  it('tells a repeat at once, also of tokens that share a slot, and one never seen from it', () => {
    const seen = new SeenTokens();
    const a = Buffer.alloc(32, 1);
    const b = Buffer.from(a);
    b[7] = 7; // the same first word (slot), another second word
    expect([seen.seen(a), seen.seen(b), seen.seen(a), seen.seen(b)]).toEqual([false, false, true, true]);
  });
});

describe('DuplicateTokens', () => {
  const logger = () => {
    const warnings: object[] = [];
    return { warnings, log: { warn: (o: object) => void warnings.push(o) } };
  };

  it('warns of a repeat only once the results file confirms it, naming the earlier line', async () => {
    const { warnings, log } = logger();
    const d = new DuplicateTokens(log);
    const [a, b] = [clientToken('ns', ['a']), clientToken('ns', ['b'])];
    d.check(a, 2);
    d.check(b, 3);
    d.check(a, 8);
    d.check('their own token', 9);
    d.check('their own token', 12);
    expect(warnings).toEqual([]); // nothing said on the filter's word alone
    const asked: string[][] = [];
    await d.confirm(async (tokens) => {
      asked.push([...tokens]);
      return new Map([
        [a, [8, 2]],
        ['their own token', [9, 12]],
      ]);
    });
    expect(asked).toEqual([[a, 'their own token']]);
    expect(d.count).toBe(2);
    expect(warnings).toEqual([
      { line: 8, sameAsLine: 2 },
      { line: 12, sameAsLine: 9 },
    ]);
  });

  it('a suspect the results file does not confirm (a false alarm) is neither counted nor warned of', async () => {
    const { warnings, log } = logger();
    const d = new DuplicateTokens(log);
    d.check('x', 2);
    d.check('x', 5); // say the filter was wrong and only line 5 holds x in the file
    await d.confirm(async () => new Map([['x', [5]]]));
    expect(d.count).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('asks nothing when there is no suspect, and says so when the file cannot be read back', async () => {
    const { warnings, log } = logger();
    const d = new DuplicateTokens(log);
    d.check('x', 2);
    await d.confirm(() => Promise.reject(new Error('not asked')));
    d.check('x', 3);
    await d.confirm(async () => undefined);
    expect(d.count).toBe(0);
    expect(warnings).toEqual([{ rows: 1 }]);
  });
});
