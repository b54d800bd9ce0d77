import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rerunResultsPath } from '../../src/ledger/writer.js';
import { BloomFilter, clientToken, DuplicateTokens } from '../../src/input/token.js';

describe('clientToken', () => {
  const req = { InstanceId: 'i', ContactFlowId: 'f', Name: 'n', Attributes: { a: '1', b: '2' } };

  it('is deterministic, ignores member order and an existing ClientToken, and fits the 500-char limit', () => {
    const t = clientToken('ns', req);
    expect(t).toMatch(/^ctl1-[A-Za-z0-9_-]{43}$/);
    expect(clientToken('ns', { Attributes: { b: '2', a: '1' }, Name: 'n', ContactFlowId: 'f', InstanceId: 'i', ClientToken: 'x' })).toBe(t);
  });

  it('changes with the namespace and with any content', () => {
    const t = clientToken('ns', req);
    expect(clientToken('other', req)).not.toBe(t);
    expect(clientToken('ns', { ...req, Name: 'N' })).not.toBe(t);
    expect(clientToken('ns', { ...req, ScheduledTime: new Date(0) })).not.toBe(t);
  });

  it('with key columns, depends on those values only', () => {
    expect(clientToken('ns', ['17'])).toBe(clientToken('ns', ['17']));
    expect(clientToken('ns', ['17'])).not.toBe(clientToken('ns', ['18']));
    expect(clientToken('ns', ['1', '7'])).not.toBe(clientToken('ns', ['17']));
  });
});

describe('rerunResultsPath', () => {
  it.each([
    ['/d/tasks.results.csv', '/d/tasks.results.rerun-1.csv'],
    ['/d/tasks.results.rerun-1.csv', '/d/tasks.results.rerun-2.csv'],
    ['/d/tasks.results.rerun-9.csv', '/d/tasks.results.rerun-10.csv'],
    ['night', 'night.rerun-1.csv'],
  ])('%s → %s', (from, to) => expect(rerunResultsPath(from)).toBe(to));
});

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
  ])('2^%i bits, k = %i, %i added: never a false negative, false alarms as the formula says', (log2Bits, k, n, probes) => {
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
  });

  it('the documented rates of the 2^26-bit, k = 6 filter', () => {
    expect(rate(26, 6, 1_000_000)).toBeCloseTo(3.9e-7, 8);
    expect(rate(26, 6, 2_000_000)).toBeCloseTo(1.9e-5, 6);
    expect(rate(26, 6, 10_000_000)).toBeCloseTo(0.043, 3);
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
      return new Map([[a, [8, 2]], ['their own token', [9, 12]]]);
    });
    expect(asked).toEqual([[a, 'their own token']]);
    expect(d.count).toBe(2);
    expect(warnings).toEqual([{ line: 8, sameAsLine: 2 }, { line: 12, sameAsLine: 9 }]);
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
