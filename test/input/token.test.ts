import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical, canonicalJson, clientToken } from '../../src/input/token.js';
import { rerunResultsPath, runResultsPath } from '../../src/ledger/writer.js';

describe('clientToken', () => {
  const req = { InstanceId: 'i', ContactFlowId: 'f', Name: 'n', Attributes: { a: '1', b: '2' } };

  it('is deterministic, ignores member order and an existing ClientToken, and fits the 500-char limit', () => {
    const t = clientToken('ns', req);
    expect(t).toMatch(/^ctl1-[A-Za-z0-9_-]{43}$/);
    expect(
      clientToken('ns', {
        Attributes: { b: '2', a: '1' },
        Name: 'n',
        ContactFlowId: 'f',
        InstanceId: 'i',
        ClientToken: 'x',
      }),
    ).toBe(t);
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

describe('canonicalJson', () => {
  // Keys as the mapping makes them, and the ones JSON orders apart: array indexes ("0", "10", "2"),
  // index-like keys that are not ("01", "-1", "4294967295"), odd characters.
  const key = fc.oneof(
    fc.constantFrom(
      'Name',
      'Attributes',
      'a',
      'B',
      '0',
      '2',
      '10',
      '01',
      '-1',
      '4294967294',
      '4294967295',
      '__proto__',
      'é',
      '',
    ),
    fc.string({ maxLength: 4 }),
  );
  const leaf = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
  );
  const tree = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('node'), { maxLength: 3 }),
      fc.dictionary(key, tie('node'), { maxKeys: 5 }),
    ),
  })).node;

  it('writes what JSON.stringify writes of the sorted copy, for any value', () => {
    fc.assert(
      fc.property(tree, (v) => {
        expect(canonicalJson(v)).toBe(JSON.stringify(canonical(v)));
      }),
      { numRuns: 2000 },
    );
  });

  it("a request's token is the recipe's: SHA-256 of [namespace, the sorted request without ClientToken]", () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(key, tree, { maxKeys: 6 }), (ns, req) => {
        const { ClientToken: _omit, ...rest } = { ...req, ClientToken: 'x' };
        const digest = createHash('sha256')
          .update(JSON.stringify([ns, canonical(rest)]))
          .digest('base64url');
        expect(clientToken(ns, req as never)).toBe(`ctl1-${digest}`);
      }),
      { numRuns: 1000 },
    );
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

describe('runResultsPath: --results, or a folder or prefix (ending in /) holding the usual name', () => {
  const shard = { index: 2, count: 4 };
  it.each([
    [undefined, 'data/tickets.csv', undefined, 'data/tickets.results.csv'],
    [undefined, 'data/tickets.csv', shard, 'data/tickets.shard-2-of-4.results.csv'],
    [undefined, 's3://in/x/tickets.csv', shard, 'tickets.shard-2-of-4.results.csv'],
    ['night.csv', 'data/tickets.csv', shard, 'night.csv'],
    ['s3://b/results/night.csv', 's3://in/tickets.csv', shard, 's3://b/results/night.csv'],
    ['out/', 'data/tickets.csv', undefined, 'out/tickets.results.csv'],
    ['out/', 'data/tickets.csv.gz', shard, 'out/tickets.shard-2-of-4.results.csv'],
    ['/abs/out/', 'tickets', undefined, '/abs/out/tickets.results.csv'],
    ['./', 'data/tickets.csv', undefined, './tickets.results.csv'],
    ['s3://b/results/', 's3://in/2026/12/tickets.csv', shard, 's3://b/results/tickets.shard-2-of-4.results.csv'],
    ['s3://b/results/', 's3://in/tickets.csv', undefined, 's3://b/results/tickets.results.csv'],
    ['s3://b/', 'data/tickets.tsv', shard, 's3://b/tickets.shard-2-of-4.results.csv'],
    ['s3://b/nuit du 4 é/', 's3://in/été.csv', undefined, 's3://b/nuit du 4 é/été.results.csv'],
  ] as const)('%s for %s (shard %o) → %s', (results, input, s, to) =>
    expect(runResultsPath(results, input, s)).toBe(to),
  );

  it('standard input has no name to give: --results names the file', () => {
    expect(() => runResultsPath('out/', '-', undefined)).toThrow('reading standard input needs --results <file>');
  });
});
