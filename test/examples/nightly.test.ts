/**
 * examples/nightly.sh over four simulated nights against the emulator: each night's export replaces
 * the last, night 3 is stopped by SIGTERM part-way, and night 4 must finish night 3 before its own.
 * In the end every row of every night is one task, none twice; a second nightly.sh racing the first
 * exits 75 and sends nothing (a night of its own only taken aside, for the next one to run); a
 * night fired twice sends nothing and keeps its summary.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { BIN, bareAwsEnv } from '../cli/bin.js';
import { fileEmulator } from '../emulator.js';
import { fileTempDir, ROUTE, readResults, until } from '../helpers.js';

const SCRIPT = resolve(import.meta.dirname, '../../examples/nightly.sh');
const emulator = fileEmulator({ rate: 1000, burst: 1000 });

interface Ran {
  code: number | null;
  stderr: string;
}

/** One night's export: rows named after the night, so every task says which night and row it is. */
function exportOf(night: number, rows: number, invalid = 0): string {
  const records = [['Name', 'Description', 'Attributes.night', 'Attributes.row']];
  for (let i = 1; i <= rows; i++)
    records.push([i <= invalid ? '' : `Night ${night} row ${i}`, `Ticket ${i}`, String(night), String(i)]);
  return stringify(records);
}

function world() {
  const dir = fileTempDir();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // The installed command, as on a server's PATH.
  writeFileSync(join(bin, 'connect-task-loader'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'connect-task-loader'), 0o755);
  const env = (extra: NodeJS.ProcessEnv = {}) =>
    bareAwsEnv({
      PATH: `${bin}:${process.env.PATH}`,
      AWS_ENDPOINT_URL_CONNECT: emulator.url,
      CTL_INSTANCE_ID: ROUTE.instanceId,
      CTL_CONTACT_FLOW_ID: ROUTE.contactFlowId,
      CTL_EXPORT: join(dir, 'export.csv'),
      CTL_NIGHTS: join(dir, 'nights'),
      CTL_RATE: '200',
      CTL_BURST: '20',
      ...extra,
    });
  return { dir, nights: join(dir, 'nights'), env };
}

/** Runs nightly.sh in a process group of its own (a scheduler stops the group, not one process). */
function nightly(env: NodeJS.ProcessEnv, onSpawn?: (child: ChildProcess) => void): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn('sh', [SCRIPT], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    onSpawn?.(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
    });
    const limit = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(limit);
      done({ code, stderr });
    });
  });
}

/** The emulator's tasks of one night, by row number, and how many tasks each row became. */
function tasksOf(night: number): Map<string, number> {
  const rows = new Map<string, number>();
  for (const t of emulator.service.tasks)
    if (t.Attributes?.night === String(night)) rows.set(t.Attributes.row!, (rows.get(t.Attributes.row!) ?? 0) + 1);
  return rows;
}

describe('examples/nightly.sh', () => {
  it('loses no night over four nights with an interruption at night 3, and creates nothing twice', async () => {
    const { dir, nights, env } = world();
    // Night 3 is 20 s of rows at its pace: stopped part-way however late the signal comes.
    const sizes = { 1: 15, 2: 15, 3: 200, 4: 20 } as const;

    // Night 2 has a row with no Name: the night finishes with exit 1 and is not run again.
    for (const night of [1, 2] as const) {
      writeFileSync(join(dir, 'export.csv'), exportOf(night, sizes[night], night === 2 ? 1 : 0));
      const ran = await nightly(env({ CTL_NIGHT: `2026-11-0${night}` }));
      expect(ran.code, ran.stderr).toBe(night === 2 ? 1 : 0);
      expect(readFileSync(join(nights, `2026-11-0${night}.done`), 'utf8').trim()).toBe(String(ran.code));
      expect(existsSync(join(dir, 'export.csv')), 'the export is taken').toBe(false);
    }

    // Night 3 at a pace slow enough to be stopped part-way. While it runs, a second nightly is
    // refused (75, nothing done); then SIGTERM to night 3's group once 31 of its rows are tasks.
    writeFileSync(join(dir, 'export.csv'), exportOf(3, sizes[3]));
    let race: Ran | undefined;
    const night3 = await nightly(env({ CTL_NIGHT: '2026-11-03', CTL_RATE: '10', CTL_BURST: '1' }), (child) => {
      void (async () => {
        await until(() => existsSync(join(nights, '2026-11-03.results.csv')), 'night 3 to start');
        race = await nightly(env({ CTL_NIGHT: '2026-11-03' }));
        await until(() => tasksOf(3).size >= 31, '31 tasks of night 3');
        process.kill(-child.pid!, 'SIGTERM');
      })();
    });
    expect(night3.code, night3.stderr).toBe(3);
    expect(race?.code, race?.stderr).toBe(75);
    expect(race!.stderr).toMatch(/another nightly\.sh is still running/);
    const sent3 = tasksOf(3).size;
    expect(sent3).toBeGreaterThanOrEqual(31);
    expect(sent3).toBeLessThan(sizes[3]);
    expect(existsSync(join(nights, '2026-11-03.done'))).toBe(false);

    // Night 4's export overwrites the place night 3's came from; night 4 finishes night 3 first.
    writeFileSync(join(dir, 'export.csv'), exportOf(4, sizes[4]));
    const night4 = await nightly(env({ CTL_NIGHT: '2026-11-04' }));
    expect(night4.code, night4.stderr).toBe(0);
    expect(night4.stderr).not.toMatch(/night 2026-11-0[12]: running/);
    expect(night4.stderr.indexOf('night 2026-11-03: running')).toBeGreaterThan(-1);
    expect(night4.stderr.indexOf('night 2026-11-03: running')).toBeLessThan(
      night4.stderr.indexOf('night 2026-11-04: running'),
    );

    for (const night of [1, 2, 3, 4] as const) {
      const invalid = night === 2 ? 1 : 0;
      const made = tasksOf(night);
      expect(made.size, `night ${night}: every valid row a task`).toBe(sizes[night] - invalid);
      expect(Math.max(...made.values()), `night ${night}: no row twice`).toBe(1);
      const results = readResults(join(nights, `2026-11-0${night}.results.csv`));
      expect(results).toHaveLength(sizes[night]);
      expect(results.filter((r) => r['Result.Status'] === 'created')).toHaveLength(sizes[night] - invalid);
      expect(results.filter((r) => r['Result.Status'] === 'invalid')).toHaveLength(invalid);
      const summary = JSON.parse(readFileSync(join(nights, `2026-11-0${night}.summary.json`), 'utf8'));
      expect(summary.interrupted).toBe(false);
      for (const kept of ['input.csv', 'results.csv', 'summary.json'])
        expect(statSync(join(nights, `2026-11-0${night}.${kept}`)).mode & 0o777, kept).toBe(0o600);
    }
    expect(emulator.stats().maxTasksPerToken).toBe(1);
    expect(statSync(nights).mode & 0o777).toBe(0o700);

    // Night 4 fired again, its export still there as a crash between taking it and removing it
    // would leave it: nothing sent, every summary kept, and the leftover removed so that night 5
    // does not import it again.
    const before = emulator.stats().requests;
    const summary4 = readFileSync(join(nights, '2026-11-04.summary.json'), 'utf8');
    writeFileSync(join(dir, 'export.csv'), exportOf(4, sizes[4]));
    const again = await nightly(env({ CTL_NIGHT: '2026-11-04' }));
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(dir, 'export.csv'))).toBe(false);
    expect(emulator.stats().requests).toBe(before);
    expect(readFileSync(join(nights, '2026-11-04.summary.json'), 'utf8')).toBe(summary4);

    // Night 5 with no export: said, and a distinct code.
    const missing = await nightly(env({ CTL_NIGHT: '2026-11-05' }));
    expect(missing.code, missing.stderr).toBe(66);
    expect(missing.stderr).toMatch(/no export/);
  });

  it('a night that fires while an earlier one still runs takes its export aside, and the next nightly runs it', async () => {
    const { dir, nights, env } = world();
    const sizes = { 11: 60, 12: 8, 13: 5 } as const;

    // Night 11 at a pace slow enough to still run when night 12 fires with its own export.
    writeFileSync(join(dir, 'export.csv'), exportOf(11, sizes[11]));
    let overlap: Ran | undefined;
    let requestsAtOverlap = 0;
    const night11 = await nightly(env({ CTL_NIGHT: '2026-11-11', CTL_RATE: '10', CTL_BURST: '1' }), () => {
      void (async () => {
        await until(() => existsSync(join(nights, '2026-11-11.results.csv')), 'night 11 to start');
        writeFileSync(join(dir, 'export.csv'), exportOf(12, sizes[12]));
        overlap = await nightly(env({ CTL_NIGHT: '2026-11-12' }));
        requestsAtOverlap = tasksOf(12).size;
      })();
    });
    expect(night11.code, night11.stderr).toBe(0);
    await until(() => overlap !== undefined, 'the overlapping nightly to end');
    expect(overlap!.code, overlap!.stderr).toBe(75);
    expect(overlap!.stderr).toMatch(/another nightly\.sh is still running .*nothing sent; tonight's export waits as/);
    expect(requestsAtOverlap, 'nothing of night 12 sent while night 11 ran').toBe(0);
    expect(existsSync(join(dir, 'export.csv')), "night 12's export is taken").toBe(false);
    expect(statSync(join(nights, '2026-11-12.input.csv')).mode & 0o777).toBe(0o600);

    // Night 13's export comes where night 12's was; night 13 runs night 12 first, then its own.
    writeFileSync(join(dir, 'export.csv'), exportOf(13, sizes[13]));
    const night13 = await nightly(env({ CTL_NIGHT: '2026-11-13' }));
    expect(night13.code, night13.stderr).toBe(0);
    expect(night13.stderr.indexOf('night 2026-11-12: running')).toBeGreaterThan(-1);
    expect(night13.stderr.indexOf('night 2026-11-12: running')).toBeLessThan(
      night13.stderr.indexOf('night 2026-11-13: running'),
    );
    for (const night of [11, 12, 13] as const) {
      const made = tasksOf(night);
      expect(made.size, `night ${night}: every row a task`).toBe(sizes[night]);
      expect(Math.max(...made.values()), `night ${night}: no row twice`).toBe(1);
    }
  });

  it('an export it cannot remove is left where it was, nothing done, until CTL_EXPORT_KEEP says to copy it', async () => {
    const { dir, nights, env } = world();
    // rm refused for the export, as in a read-only drop folder (root passes permission bits: a shim).
    const real = execFileSync('sh', ['-c', 'command -v rm'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(dir, 'bin', 'rm'),
      `#!/bin/sh\ncase "$*" in *export.csv*) echo "rm: cannot remove: Read-only file system" >&2; exit 1 ;; esac\nexec ${real} "$@"\n`,
    );
    chmodSync(join(dir, 'bin', 'rm'), 0o755);
    writeFileSync(join(dir, 'export.csv'), exportOf(7, 4));
    const refused = await nightly(env({ CTL_NIGHT: '2026-11-07' }));
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/nightly: cannot remove .*export\.csv once taken .*CTL_EXPORT_KEEP=1.*Nothing done/);
    expect(existsSync(join(dir, 'export.csv'))).toBe(true);
    expect(readdirSync(nights).filter((f) => !f.startsWith('.'))).toEqual([]);
    expect(tasksOf(7).size).toBe(0);

    const kept = await nightly(env({ CTL_NIGHT: '2026-11-07', CTL_EXPORT_KEEP: '1' }));
    expect(kept.code, kept.stderr).toBe(0);
    expect(tasksOf(7).size).toBe(4);
  });

  it('an export it cannot copy (a full disk) is left where it was, and no partial copy stays', async () => {
    const { dir, nights, env } = world();
    writeFileSync(
      join(dir, 'bin', 'cp'),
      '#!/bin/sh\nprintf x > "$3"; echo "cp: No space left on device" >&2; exit 1\n',
    );
    chmodSync(join(dir, 'bin', 'cp'), 0o755);
    writeFileSync(join(dir, 'export.csv'), exportOf(8, 4));
    const full = await nightly(env({ CTL_NIGHT: '2026-11-08' }));
    expect(full.code, full.stderr).toBe(2);
    expect(full.stderr).toMatch(/nightly: cannot copy .*export\.csv into .*free some space.*Nothing done/);
    expect(existsSync(join(dir, 'export.csv'))).toBe(true);
    expect(readdirSync(nights).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('without flock says so and does nothing, rather than take every night for a locked one', async () => {
    const { dir, nights, env } = world();
    // A PATH with every command the script uses but flock (macOS, a slim image).
    const path = join(dir, 'no-flock');
    mkdirSync(path);
    for (const command of ['sh', 'mkdir', 'chmod', 'cp', 'mv', 'rm', 'cmp', 'date']) {
      const found = execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
      symlinkSync(found, join(path, command));
    }
    writeFileSync(join(dir, 'export.csv'), exportOf(6, 3));
    const ran = await nightly(env({ CTL_NIGHT: '2026-11-06', PATH: `${join(dir, 'bin')}:${path}` }));
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr).toMatch(/nightly: flock is not installed \(util-linux\).*Nothing done/);
    expect(ran.stderr).not.toMatch(/another nightly\.sh is still running/);
    expect(existsSync(join(dir, 'export.csv')), 'the export is left where it was').toBe(true);
    expect(readdirSync(nights)).toEqual([]);
  });
});
