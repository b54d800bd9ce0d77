import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandLine } from '../../src/config/command-line.js';
import { readState, statePath } from '../../src/ledger/state.js';
import { differences } from '../../src/run/identity.js';
import { tempDir } from '../helpers.js';

describe('run state', () => {
  it(
    'reads a version-1 state as version 2: outcome from ' + 'completedAt; what it never recorded is not compared',
    async () => {
      const results = join(tempDir(), 'r.csv');
      const v1 = {
        version: 1,
        input: '/in.csv',
        inputSha256: 'ab'.repeat(32),
        tokenNamespace: 'in.csv@abab',
        dryRun: false,
        startedAt: '2026-11-01T00:00:00Z',
        options: { instanceId: 'i-1', contactFlowId: 'f-1', encoding: 'latin1' },
      };
      writeFileSync(statePath(results), JSON.stringify(v1));
      const state = (await readState(results))!;
      expect(state).toMatchObject({
        version: 2,
        outcome: 'interrupted',
        identity: { instanceId: 'i-1', encoding: 'windows-1252', delimiter: ',' },
      });
      expect(state.unrecorded).toEqual(expect.arrayContaining(['jobSha256', 'region', 'endpoint']));
      const same = {
        ...state.identity,
        region: 'eu-west-2',
        endpoint: 'https://vpce.example',
        jobSha256: 'cd'.repeat(32),
      };
      expect(differences(state, same)).toEqual([]);
      expect(differences(state, { ...same, contactFlowId: 'f-2' })).toEqual([
        { field: 'contactFlowId', label: '--contact-flow-id', was: 'f-1', now: 'f-2' },
      ]);

      writeFileSync(statePath(results), JSON.stringify({ ...v1, completedAt: '2026-11-01T01:00:00Z' }));
      expect((await readState(results))!.outcome).toBe('completed');
    },
  );

  it('a state recorded before filters existed: no filter, and its rows counted none filtered', async () => {
    const results = join(tempDir(), 'r.csv');
    const identity = { tokenNamespace: 'in.csv@abab', encoding: 'utf-8', delimiter: ',', jobSha256: 'ab'.repeat(32) };
    const rows = { total: 3, created: 2, failed: 1, invalid: 0, planned: 0, skipped: 0 };
    writeFileSync(
      statePath(results),
      JSON.stringify({
        version: 2,
        input: '/in.csv',
        identity,
        options: {},
        dryRun: false,
        outcome: 'completed',
        rows,
      }),
    );
    const state = (await readState(results))!;
    expect(state.rows).toEqual({ ...rows, filtered: 0 });
    expect(differences(state, identity)).toEqual([]);
    const where = [{ column: 'Status', equals: 'Open' }];
    expect(differences(state, { ...identity, where })).toEqual([
      {
        field: 'where',
        label: 'the job file\'s "where" (which records are sent)',
        was: 'none',
        now: 'where[1]: "Status" equals "Open"',
      },
    ]);
  });

  it('refuses a state of a newer version, or one that is not ours', async () => {
    const results = join(tempDir(), 'r.csv');
    writeFileSync(statePath(results), JSON.stringify({ version: 3 }));
    await expect(readState(results)).rejects.toThrow(/newer version of connect-task-loader \(run state version 3\)/);
    writeFileSync(statePath(results), 'not json');
    await expect(readState(results)).rejects.toThrow(/is not a run state of this tool/);
  });

  it('prints commands a shell runs as shown', () => {
    expect(
      commandLine(
        'run',
        '/data/my tickets.csv',
        { tokenNamespace: "it's@1", delimiter: ';' },
        { results: '/r/x.csv', resume: true },
      ),
    ).toBe(
      `connect-task-loader run '/data/my tickets.csv' --results /r/x.csv --token-namespace 'it'\\''s@1' ` +
        `--delimiter ';' --resume`,
    );
    expect(
      commandLine(
        'run',
        '/x.csv',
        { delimiter: '\t', shard: { index: 2, count: 3 }, tokenKey: ['a', 'b'] },
        { results: '/r.csv' },
      ),
    ).toBe('connect-task-loader run /x.csv --results /r.csv --token-key a,b --delimiter tab --shard 2/3');
  });
});
