/**
 * The command line: flags → options → the library → an exit code. Each command lives in
 * `commands/`; this module assembles them and turns errors into SPEC.md's exit codes.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { LoaderError } from '../errors.js';
import { addDemoCommand } from './commands/demo.js';
import { addEmulatorCommand } from './commands/emulator.js';
import { addMergeCommand } from './commands/merge.js';
import { addRerunCommand } from './commands/rerun.js';
import { addReportCommand } from './commands/report.js';
import { addRunCommand, EXAMPLES } from './commands/run.js';
import { addValidateCommand } from './commands/validate.js';
import { EXIT } from './exit-codes.js';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command()
    .name('connect-task-loader')
    .description('Bulk-create Amazon Connect tasks from CSV files: rate-limited to your quota, idempotent, with a results file for every row.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    // Before the subcommands are added, so they inherit it: commander must not exit on its own.
    .exitOverride()
    .addHelpText('after', EXAMPLES);
  for (const add of [addRunCommand, addRerunCommand, addValidateCommand, addReportCommand, addMergeCommand, addEmulatorCommand, addDemoCommand]) add(program, setExit);
  return program;
}

/** Runs the command line; resolves to the exit code (the caller exits). */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof LoaderError) {
      process.stderr.write(`connect-task-loader: ${err.message}\n`);
      exitCode = err.exitCode;
    } else {
      process.stderr.write(
        `connect-task-loader: internal error — this should never happen. Please report it with the command you ran.\n${(err as Error)?.stack ?? String(err)}\n` +
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
