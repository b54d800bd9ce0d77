import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLedger } from '../../src/ledger/reader.js';
import { tempDir } from '../helpers.js';

const HEADER = 'Name,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,Result.ErrorMessage\n';
const ROW2 = 'a,2,created,c-2,t-2,1,,\n';
const ROW3 = '"b\nmulti",3,failed,,t-3,8,InternalServiceException,"boom, again"\n';

function ledgerOf(text: string) {
  const path = join(tempDir(), 'r.csv');
  writeFileSync(path, text);
  return readLedger(path).then((l) => ({ ...l, text: readFileSync(path, 'utf8') }));
}

describe('readLedger', () => {
  it('reads final rows by input line and leaves a whole file alone', async () => {
    const l = await ledgerOf(HEADER + ROW2 + ROW3 + 'c,5,planned,,t-5,0,,\n');
    expect([...l.final]).toEqual([[2, 'created'], [3, 'failed']]);
    expect(l.rows).toBe(3);
    expect(l.repairedBytes).toBe(0);
  });

  it.each([
    ['a row cut before its last fields', 'd,6,created,c-6'],
    ['a row with every field but no newline (the last cell cut short)', 'd,6,failed,,t-6,2,InternalServiceException,"Injected fail'],
    ['a row with every field, unquoted, no newline', 'd,6,failed,,t-6,2,InternalServiceException,Injected'],
    ['a row cut inside a quoted multi-line cell', '"d\nmulti'],
  ])('cuts off %s and keeps the rest', async (_name, torn) => {
    const l = await ledgerOf(HEADER + ROW2 + ROW3 + torn);
    expect(l.text).toBe(HEADER + ROW2 + ROW3);
    expect(l.rows).toBe(2);
    expect(l.final.has(6)).toBe(false);
    expect(l.repairedBytes).toBe(Buffer.byteLength(torn));
  });

  it('refuses a file that is not a results file', async () => {
    await expect(ledgerOf('Name,Description\nx,y\n')).rejects.toThrow(/is not a results file of this tool/);
  });
});
