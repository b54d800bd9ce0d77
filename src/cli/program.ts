/**
 * The command line: flags → options → the library → an exit code. Each command lives in
 * `commands/`; this module assembles them and turns errors into SPEC.md's exit codes.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { LoaderError } from '../errors.js';
import { hideUrlSecrets } from '../observe/redact.js';
import { addDemoCommand } from './commands/demo.js';
import { addEmulatorCommand } from './commands/emulator.js';
import { addMergeCommand } from './commands/merge.js';
import { addReportCommand } from './commands/report.js';
import { addRerunCommand } from './commands/rerun.js';
import { addRunCommand, EXAMPLES } from './commands/run.js';
import { addStopCommand } from './commands/stop.js';
import { addValidateCommand } from './commands/validate.js';
import { EXIT } from './exit-codes.js';
import { type CliIo, colourFromEnv, surroundings } from './io.js';

export function buildProgram(setExit: (code: number) => void, io: CliIo = surroundings()): Command {
  const program = new Command()
    .name('connect-task-loader')
    .description(
      'Bulk-create Amazon Connect tasks from CSV files: rate-limited to your quota, idempotent, with a results ' +
        'file for every row.',
    )
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    // Before the subcommands are added, so they inherit it: commander must not exit on its own.
    .exitOverride()
    // Help, --version and usage errors go where the command's own output goes.
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      // Its usage errors repeat the argument given: a URL's secrets are not repeated.
      writeErr: (text) => void io.stderr.write(hideUrlSecrets(text)),
      // A terminal's width, else commander's 80 columns.
      getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns) || 80,
      getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns) || 80,
      getOutHasColors: () => colourFromEnv(io.env) ?? Boolean(io.stdout.isTTY && io.stdout.hasColors?.()),
      getErrHasColors: () => colourFromEnv(io.env) ?? Boolean(io.stderr.isTTY && io.stderr.hasColors?.()),
    })
    .addHelpText('after', EXAMPLES);
  for (const add of [
    addRunCommand,
    addRerunCommand,
    addValidateCommand,
    addReportCommand,
    addMergeCommand,
    addStopCommand,
    addEmulatorCommand,
    addDemoCommand,
  ])
    add(program, setExit, io);
  return program;
}

/**
 * Runs the command line; resolves to the exit code (the caller exits). `given` replaces the
 * process's surroundings (its streams, environment, terminal), for a program that runs commands in
 * its own process.
 */
export async function main(argv: string[], given: Partial<CliIo> = {}): Promise<number> {
  const io = surroundings(given);
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => (exitCode = code), io);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof LoaderError) {
      io.stderr.write(`connect-task-loader: ${hideUrlSecrets(err.message)}\n`);
      exitCode = err.exitCode;
    } else {
      io.stderr.write(
        `connect-task-loader: internal error — this should never happen. Please report it with the command you ` +
          `ran.\n${hideUrlSecrets((err as Error)?.stack ?? String(err))}\n` +
          `If a run was in progress, run it again with --resume: rows already recorded are skipped.\n`,
      );
      exitCode = EXIT.internal;
    }
  }
  return exitCode;
}

/** The version in package.json, two directories above dist/cli/. */
function packageVersion(): string {
  const pkg = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}
