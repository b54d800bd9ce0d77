/**
 * Every command's --help: each example command line is run as printed (in a fresh folder holding
 * samples/, against the emulator) and must do its job: exit 0 or 1, never a usage error or a crash.
 * The only substitutions are the emulator's address for http://127.0.0.1:4566 (and AWS's, via
 * AWS_ENDPOINT_URL_CONNECT, for the real-AWS example) and port 0 for the emulator's --port 4566.
 */
import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { tempDir } from '../helpers.js';
import { spawnCli } from './bin.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The placeholder ids of the real-AWS example: the test's emulator knows them too. */
const AWS_EXAMPLE = { instance: '12345678-aaaa-bbbb-cccc-123456789012', flow: '87654321-aaaa-bbbb-cccc-210987654321' };

function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

/** The example command lines of a help text, continuation lines joined. */
function examplesIn(help: string): string[][] {
  const lines = help.split('\n');
  const out: string[][] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (!line.startsWith('connect-task-loader ')) continue;
    while (line.endsWith('\\')) line = `${line.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    out.push(line.split(/\s+/).slice(1));
  }
  return out;
}

const emulator = fileEmulator({
  rate: 100,
  burst: 20,
  // stop's examples send at --rate 50: a quota they fit, as run's do.
  stopRate: 100,
  stopBurst: 20,
  instances: {
    [DEMO_INSTANCE_ID]: { contactFlows: [DEMO_CONTACT_FLOW_ID] },
    [AWS_EXAMPLE.instance]: { contactFlows: [AWS_EXAMPLE.flow] },
  },
});

/**
 * The compiled bin: run as printed in a folder of its own, with AWS settings the SDK reads from its process's
 * environment.
 */
async function bin(args: string[], cwd: string, untilStdout?: RegExp): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL_CONNECT: emulator.url,
    AWS_ACCESS_KEY_ID: 'example',
    AWS_SECRET_ACCESS_KEY: 'example',
  };
  delete env.AWS_PROFILE;
  const r = await spawnCli(args, {
    cwd,
    env,
    onStdout: (out, child) => untilStdout?.test(out) && child.kill('SIGTERM'),
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

const substitute = (args: string[]) =>
  args.map((a, i) =>
    a === 'http://127.0.0.1:4566' ? emulator.url : a === '4566' && args[i - 1] === '--port' ? '0' : a,
  );

const program = buildProgram(() => {});
const helps = new Map<string, string>([
  ['(top level)', helpOf(program)],
  ...program.commands.map((c) => [c.name(), helpOf(c)] as [string, string]),
]);

describe('--help examples work as printed', () => {
  it('every command has examples and lists exit codes', () => {
    for (const [name, help] of helps) {
      expect(examplesIn(help).length, `${name} has no example`).toBeGreaterThan(0);
      expect(help, `${name} lists no exit codes`).toMatch(/Exit codes?:/);
    }
    expect(helps.get('run')).toMatch(/70 internal error.*130 stopped at once/s);
    expect(helps.get('rerun')!.replace(/\s+/g, ' ')).toMatch(
      /--results <file> results CSV of this rerun \(default: <results>\.rerun-1\.csv/,
    );
  });

  // The top level shows run's examples: run them once.
  const distinct = [
    ...new Map(
      [...helps].map(([name, help]) => [
        examplesIn(help)
          .map((a) => a.join(' '))
          .join('\n'),
        name,
      ]),
    ).values(),
  ];
  it.each(distinct)('%s', async (name) => {
    const dir = tempDir();
    cpSync(join(ROOT, 'samples'), join(dir, 'samples'), { recursive: true });
    for (const example of examplesIn(helps.get(name)!)) {
      const args = substitute(example);
      if (
        args.includes('samples/tasks.results.csv') &&
        !existsSync(join(dir, 'samples/tasks.results.csv')) &&
        args[0] !== 'run'
      ) {
        // "after a run of samples/tasks.csv": the run example of run --help.
        const first = await bin(
          [
            'run',
            'samples/tasks.csv',
            '--endpoint',
            emulator.url,
            '--rate',
            '100',
            '--instance-id',
            DEMO_INSTANCE_ID,
            '--contact-flow-id',
            DEMO_CONTACT_FLOW_ID,
          ],
          dir,
        );
        expect(first.code, first.out).toBe(1);
      }
      const r = await bin(args, dir, args[0] === 'emulator' ? /emulator on http/ : undefined);
      expect([0, 1], `connect-task-loader ${example.join(' ')}\n${r.out}`).toContain(r.code);
    }
  });
});
