import { describe, expect, it } from 'vitest';
import { rerunResultsPath } from '../../src/ledger/writer.js';
import { clientToken } from '../../src/input/token.js';

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
