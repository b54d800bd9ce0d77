/**
 * Every command the tool prints works as printed (property-based). Random histories — run, validate,
 * run stopped by SIGTERM, report — with the settings given by flags, by the environment or by a job
 * file, against an emulator that fails some requests (before and after creating the task). Each
 * history then follows the printed `Next:` command, in the same environment or in a shell with none of
 * the settings' variables, until there is nothing left to do. Every printed command must run (never
 * exit 2 or 70), and in the end every row is created exactly once on the emulator.
 *
 * npm test runs a few histories; PRINTED_RUNS=<n> runs more (SEED=<n> replays one).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { tempDir } from '../helpers.js';
import { BIN, bareAwsEnv } from './bin.js';

const RUNS = Number(process.env.PRINTED_RUNS ?? 4);
const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 18_2026;
const ROWS = 12;

type Mode = 'flags' | 'env' | 'job';
type Step = 'run' | 'validate' | 'sigterm' | 'report';

interface Ran {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

const emulator = fileEmulator({
  rate: 1000,
  burst: 1000,
  latencyMs: 20,
  faults: { failBefore: 0.15, failAfter: 0.1, seed: 7 },
});

/** A folder with the input (semicolon-separated), a job file, and `connect-task-loader` on PATH. */
function world(history: number): { dir: string; input: string; bin: string } {
  const dir = tempDir();
  const input = join(dir, 'tickets.csv');
  const lines = ['Name;Description;Attributes.rowId'];
  for (let i = 1; i <= ROWS; i++) lines.push(`Ticket ${i};History ${history} row ${i};h${history}-${i}`);
  writeFileSync(input, `${lines.join('\n')}\n`);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'connect-task-loader'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'connect-task-loader'), 0o755);
  return { dir, input, bin };
}

/** The settings for a history, given one way. The endpoint is always the emulator. */
function settings(mode: Mode, dir: string, endpoint: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const all = { rate: '500', delimiter: ';', instance: DEMO_INSTANCE_ID, flow: DEMO_CONTACT_FLOW_ID };
  if (mode === 'flags') {
    return {
      args: [
        '--endpoint',
        endpoint,
        '--rate',
        all.rate,
        '--delimiter',
        all.delimiter,
        '--instance-id',
        all.instance,
        '--contact-flow-id',
        all.flow,
        '--max-attempts',
        '1',
      ],
      env: {},
    };
  }
  if (mode === 'env') {
    return {
      args: [],
      env: {
        AWS_ENDPOINT_URL_CONNECT: endpoint,
        CTL_RATE: all.rate,
        CTL_DELIMITER: all.delimiter,
        CTL_INSTANCE_ID: all.instance,
        CTL_CONTACT_FLOW_ID: all.flow,
        CTL_MAX_ATTEMPTS: '1',
      },
    };
  }
  const job = join(dir, 'tickets.job.json');
  writeFileSync(
    job,
    JSON.stringify({
      instanceId: all.instance,
      contactFlowId: all.flow,
      delimiter: all.delimiter,
      rate: Number(all.rate),
    }),
  );
  return { args: ['--job', job, '--max-attempts', '1'], env: { AWS_ENDPOINT_URL_CONNECT: endpoint } };
}

/** Runs a command line through a shell, as a user pastes it; with `term`, SIGTERM once a results row is written. */
function shell(command: string, cwd: string, env: NodeJS.ProcessEnv, term?: string): Promise<Ran> {
  return new Promise((done) => {
    const child: ChildProcess = spawn('/bin/sh', ['-c', command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const started = Date.now();
    const timer = term
      ? setInterval(() => {
          const rows = existsSync(term) ? readFileSync(term, 'utf8').split('\n').length - 2 : 0;
          if (rows >= 2 || Date.now() - started > 5_000) {
            clearInterval(timer);
            try {
              process.kill(-child.pid!, 'SIGTERM');
            } catch {
              // already gone
            }
          }
        }, 10)
      : undefined;
    // A command still running after a minute has hung: killed, its exit null, and the transcript says so.
    let late = false;
    const limit = setTimeout(() => {
      late = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 60_000);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      clearTimeout(limit);
      done({ command, code, stdout, stderr: late ? `${stderr}\n[killed: still running after 60 s]` : stderr });
    });
  });
}

const nextOf = (out: string) => /^\s*Next: (connect-task-loader .*)$/m.exec(out)?.[1];

describe('every printed command works as printed', () => {
  it(`follows the Next lines of random histories to the end (seed ${SEED}, ${RUNS} histories)`, async () => {
    let history = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Mode>('flags', 'env', 'job'),
        fc.array(fc.constantFrom<Step>('run', 'validate', 'sigterm', 'report'), { minLength: 1, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        async (mode, steps, sameShell) => {
          const h = ++history;
          const { dir, input, bin } = world(h);
          const base = { ...bareAwsEnv(), PATH: `${bin}:${process.env.PATH}` };
          const given = settings(mode, dir, emulator.url);
          const env = { ...base, ...given.env };
          const results = join(dir, 'tickets.results.csv');
          const transcript: string[] = [`history ${h}: settings by ${mode}; steps ${steps.join(', ')}`];
          const check = (r: Ran) => {
            transcript.push(`$ ${r.command}\n→ exit ${r.code}\n${r.stdout}${r.stderr}`);
            expect([2, 70], transcript.join('\n')).not.toContain(r.code);
            expect(r.stderr, transcript.join('\n')).not.toContain('[killed: still running');
          };
          const quoted = given.args.map((a) => `'${a}'`).join(' ');
          let next: string | undefined;
          for (const step of steps) {
            let r: Ran;
            if (step === 'report') {
              if (!existsSync(results)) continue;
              r = await shell(`connect-task-loader report ${results}`, dir, env);
            } else if (step === 'validate') {
              // A real run's results are never replaced by a dry run: validate into its own file then.
              if (existsSync(results)) continue;
              r = await shell(
                `connect-task-loader ` +
                  `validate ${input} ${quoted.replace(/'--rate' '\d+'|'--max-attempts' '1'/g, '')} --no-progress`,
                dir,
                env,
              );
            } else {
              if (existsSync(results) && !next) continue;
              r =
                next && existsSync(results)
                  ? await shell(`${next} --no-progress`, dir, env, step === 'sigterm' ? results : undefined)
                  : await shell(
                      `connect-task-loader run ${input} ${quoted} --no-progress`,
                      dir,
                      env,
                      step === 'sigterm' ? results : undefined,
                    );
            }
            check(r);
            next = nextOf(r.stdout) ?? next;
            if (/Next: nothing to do/.test(r.stdout)) next = undefined;
          }
          if (!existsSync(results)) {
            const r = await shell(`connect-task-loader run ${input} ${quoted} --no-progress`, dir, env);
            check(r);
            next = /Next: nothing to do/.test(r.stdout) ? undefined : nextOf(r.stdout);
          }
          // Follow the printed way on until nothing is left, in this shell or in one without the settings' variables.
          for (let i = 0; next && i < 8; i++) {
            const r = await shell(`${next} --no-progress`, dir, sameShell[i] ? env : base);
            check(r);
            next = /Next: nothing to do/.test(r.stdout) ? undefined : nextOf(r.stdout);
          }
          expect(next, transcript.join('\n')).toBeUndefined();
          const created = emulator.service.tasks.filter((t) => t.Attributes?.rowId?.startsWith(`h${h}-`));
          const perRow = new Map<string, number>();
          for (const t of created) perRow.set(t.Attributes!.rowId!, (perRow.get(t.Attributes!.rowId!) ?? 0) + 1);
          expect({ rows: perRow.size, most: Math.max(0, ...perRow.values()) }, transcript.join('\n')).toEqual({
            rows: ROWS,
            most: 1,
          });
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 240_000);
});
