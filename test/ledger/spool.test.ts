/**
 * The copy of standard input: owner-only, removed after the run, and a copy a killed run left is removed by the next.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { spoolStdin } from '../../src/ledger/spool.js';

describe('spoolStdin', () => {
  it('copies owner-only, and removes a copy left by a process that is gone', async () => {
    // A process that has exited: its pid names a leftover copy.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.on('exit', r));
    const leftover = join(tmpdir(), `connect-task-loader-stdin-${gone.pid}-test`);
    mkdirSync(leftover, { recursive: true, mode: 0o700 });
    writeFileSync(join(leftover, 'input'), 'Name\nCustomer row\n', { mode: 0o600 });
    const mine = join(tmpdir(), `connect-task-loader-stdin-${process.pid}-live`);
    mkdirSync(mine, { recursive: true });

    const spooled = await spoolStdin(Readable.from(['Name\nTask 1\n']));
    try {
      expect(statSync(spooled.path).mode & 0o777).toBe(0o600);
      expect(existsSync(leftover)).toBe(false);
      expect(existsSync(mine)).toBe(true); // a live process's copy stays
    } finally {
      await spooled.remove();
    }
    expect(existsSync(spooled.path)).toBe(false);
    expect(readdirSync(tmpdir()).filter((n) => n === `connect-task-loader-stdin-${gone.pid}-test`)).toEqual([]);
    const { rmSync } = await import('node:fs');
    rmSync(mine, { recursive: true, force: true });
  });
});
