/**
 * The copy of standard input: owner-only, removed after the run, and a copy a killed run left is
 * removed by the next — only one made in this pid space (a container sharing /tmp has pids of its own).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { spoolStdin } from '../../src/ledger/spool.js';

const PREFIX = 'connect-task-loader-stdin-';

describe('spoolStdin', () => {
  it('copies owner-only, and removes a copy left by a process of this pid space that is gone', async () => {
    // The pid space's tag, as this process names its folders.
    const first = await spoolStdin(Readable.from(['Name\nTask 1\n']));
    const tag = /^\d+\.([0-9a-z]+)-/.exec(basename(dirname(first.path)).slice(PREFIX.length))![1]!;
    await first.remove();

    // A process that has exited: its pid names leftover copies, one of this pid space, one of another.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.on('exit', r));
    const folder = (name: string) => {
      const path = join(tmpdir(), `${PREFIX}${name}`);
      mkdirSync(path, { recursive: true, mode: 0o700 });
      writeFileSync(join(path, 'input'), 'Name\nCustomer row\n', { mode: 0o600 });
      return path;
    };
    const leftover = folder(`${gone.pid}.${tag}-test`);
    const otherSpace = folder(`${gone.pid}.${tag === '00000000' ? '11111111' : '00000000'}-test`);
    const mine = folder(`${process.pid}.${tag}-live`);

    const spooled = await spoolStdin(Readable.from(['Name\nTask 1\n']));
    try {
      expect(statSync(spooled.path).mode & 0o777).toBe(0o600);
      expect(existsSync(leftover)).toBe(false);
      expect(existsSync(mine)).toBe(true); // a live process's copy stays
      expect(existsSync(otherSpace)).toBe(true); // its pid means another process there: never judged here
    } finally {
      await spooled.remove();
      rmSync(mine, { recursive: true, force: true });
      rmSync(otherSpace, { recursive: true, force: true });
    }
    expect(existsSync(spooled.path)).toBe(false);
  });
});
