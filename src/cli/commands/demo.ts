/**
 * `connect-task-loader demo` (what `npm start` runs): the sample file through an in-process emulator,
 * with the same operator output as `run`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import type { CliIo } from '../io.js';
import { runWithOperatorOutput } from '../operator.js';

export function addDemoCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  program
    .command('demo')
    .description('import samples/tasks.csv into an in-process emulator and show the results (what npm start runs)')
    .addHelpText(
      'after',
      `
Writes demo-output/tasks.results.csv in the current folder (replacing the demo's earlier one).

Example:
  connect-task-loader demo

Exit codes: 1 as expected (two sample rows are invalid on purpose) · 0 only if the sample is changed`,
    )
    .action(async () => setExit(await demo(io)));
}

async function demo(io: CliIo): Promise<number> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const outDir = resolve('demo-output');
  const results = join(outDir, 'tasks.results.csv');
  mkdirSync(outDir, { recursive: true });
  rmSync(results, { force: true }); // the demo owns this file; a real run never replaces a results file
  // The emulator's server is loaded by the commands that start one, not by every run's start-up.
  const { startEmulator } = await import('../../emulator/server.js');
  const emulator = await startEmulator({ rate: 10, burst: 5 });
  io.stdout.write(`Emulator on ${emulator.url} (quota 10/s, burst 5). Importing samples/tasks.csv…\n`);
  try {
    // No environment: the demo is the same on every machine.
    const code = await runWithOperatorOutput(
      'run',
      join(root, 'samples', 'tasks.csv'),
      {
        results,
        endpoint: emulator.url,
        instanceId: DEMO_INSTANCE_ID,
        contactFlowId: DEMO_CONTACT_FLOW_ID,
        rate: 10,
        burst: 5,
        logLevel: 'warn',
      },
      { ...io, env: {} },
    );
    const stats = emulator.stats();
    io.stdout.write(
      `Emulator: ${stats.created} tasks created, ${stats.throttled} request${stats.throttled === 1 ? '' : 's'} ` +
        `throttled.\n` +
        `Two rows of the sample are invalid on purpose; see Result.ErrorMessage in ${results}\n` +
        `The demo's emulator stopped with it, so the Next command above has nothing to reach: to rehearse\n` +
        `with an emulator of your own, see "Quick start" in the README.\n`,
    );
    return code;
  } finally {
    await emulator.close();
  }
}
