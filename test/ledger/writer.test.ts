import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { csvLine } from '../../src/ledger/writer.js';

describe('csvLine', () => {
  const reference = (cells: string[]) => stringify([cells], { record_delimiter: 'unix', quoted_match: /[\r\n]/ });

  it.each([
    [['a', 'b', '', 'created']],
    [['', '', '']],
    [[' spaced ', 'é', '{{x}}', 'ctl1-abc_-']],
    [['a,b', 'x']],
    [['say "hi"', 'x']],
    [['two\nlines', 'x']],
    [['lone\rcr', 'x']],
    [['#=1+1', '-2', '@a']],
  ])('writes %j as csv-stringify does', (cells) => {
    expect(csvLine(cells)).toBe(reference(cells));
  });

  it('writes any row of two or more cells as csv-stringify does', () => {
    const cell = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '\t', ';') }), fc.string({ unit: 'binary' }));
    fc.assert(fc.property(fc.array(cell, { minLength: 2, maxLength: 12 }), (cells) => csvLine(cells) === reference(cells)), { numRuns: 2000 });
  });
});
