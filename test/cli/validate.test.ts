/**
 * `validate` as a user runs it: the report on stdout, header warnings, --strict-columns, the
 * delimiter hint, and --check-live failing fast with exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { tempDir, writeCsv } from '../helpers.js';
import { cli } from './bin.js';

const emulator = fileEmulator();

describe('connect-task-loader validate', () => {
  it(
    'prints the mapping, carried columns, warnings, ' + 'counts, problems and a masked example; no ids needed',
    async () => {
      const input = writeCsv([
        ['Name', 'Descripton', 'Attributes.priority', 'Owner'],
        ['Jane Doe callback', 'private text', 'high', 'team-a'],
        ['', 'x', 'low', 'team-b'],
      ]);
      const r = await cli(['validate', input]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /Mapping \(member ← source\):\n {2}Name +← "Name"\n {2}Attributes\.priority ← "Attributes\.priority"/,
      );
      expect(r.stdout).toContain('Columns carried unmapped: "Descripton", "Owner"');
      expect(r.stdout).toContain(
        'Warning: column "Descripton" is carried unmapped but looks like "Description" (a near miss)',
      );
      expect(r.stdout.match(/Would need --instance-id/g)).toHaveLength(1);
      expect(r.stdout).toContain('Rows: 1 would be sent, 1 invalid');
      expect(r.stdout).toContain('  column "Name": is required — 1 row (line 3)');
      expect(r.stdout).toContain('"Name": "<17 characters>"');
      expect(r.stdout + r.stderr).not.toMatch(/Jane Doe|private text|"high"/);
      expect(r.stderr).toContain('header looks like a mistake');
    },
  );

  it('--strict-columns refuses a near-miss header (exit 2); a lowercase name says why Name is missing', async () => {
    const input = writeCsv([
      ['Name', 'Attribute.x'],
      ['n', 'v'],
    ]);
    const strict = await cli(['validate', input, '--strict-columns']);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain(
      '--strict-columns: column "Attribute.x" is carried unmapped but looks like "Attributes.x"',
    );
    const lower = await cli(['validate', writeCsv([['name'], ['n']])]);
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain(
      'no Name: add a Name column, or map task.Name in a job file (column "name" is carried unmapped but looks ' +
        'like "Name" (headers are case-sensitive))',
    );
  });

  it("says to pass --delimiter ';' for a ';' file read with commas", async () => {
    const input = join(tempDir(), 'semi.csv');
    writeFileSync(input, 'Name;Description\nA;B\n');
    const r = await cli(['validate', input]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("looks like a ';'-delimited file: pass --delimiter ';'");
  });

  it('--check-live exits 2 listing the ids the instance does not have; 0 when all exist', async () => {
    const input = writeCsv([
      ['Name', 'ContactFlowId'],
      ['a', DEMO_CONTACT_FLOW_ID],
      ['b', 'deadbeef-0000-4000-8000-00000000f10e'],
    ]);
    const bad = await cli([
      'validate',
      input,
      '--check-live',
      '--endpoint',
      emulator.url,
      '--instance-id',
      DEMO_INSTANCE_ID,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain('Live check: 3 ids asked, 1 missing');
    expect(bad.stdout).toContain(
      `  missing: ContactFlowId deadbeef-0000-4000-8000-00000000f10e in instance ${DEMO_INSTANCE_ID}`,
    );
    // No run command is offered for a file whose ids the instance lacks: every such row would fail.
    expect(bad.stdout).not.toContain('Next: connect-task-loader run');
    expect(bad.stdout).toContain('the instance does not have an id the rows name');
    const good = await cli([
      'validate',
      writeCsv([['Name'], ['a']]),
      '--check-live',
      '--endpoint',
      emulator.url,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      DEMO_CONTACT_FLOW_ID,
    ]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('Live check: 2 ids asked, 0 missing');
    expect(good.stdout).toContain('Next: connect-task-loader run');
  });

  it('keeps its help to the options that matter when nothing is sent', async () => {
    const r = await cli(['validate', '--help']);
    for (const flag of ['--check-live', '--timezone', '--strict-columns', '--job', '--delimiter'])
      expect(r.stdout).toContain(flag);
    for (const flag of ['--rate', '--burst', '--concurrency', '--resume', '--deadline', '--dry-run', '--max-attempts'])
      expect(r.stdout).not.toMatch(new RegExp(`^\\s+${flag}\\b`, 'm'));
  });
});
