/**
 * The exact next command after a run, shared by the end-of-run summary and `report`: finish an
 * interrupted run with --resume, send failed rows again with `rerun`, or nothing to do.
 */
import { defaultResultsPath, rerunResultsPath } from '../ledger/writer.js';
import { commandLine, type CommandOptions } from '../run/command-line.js';

export interface NextStepFacts {
  results: string;
  /** The run's input as its state recorded it (`-` for standard input); unknown without a state file. */
  input?: string;
  /** For a rerun's results file: the results file it sent again. */
  rerunOf?: string;
  /** The run finished reading its input (the state's completedAt, or the summary says so). */
  completed: boolean;
  dryRun?: boolean;
  failed: number;
  invalid: number;
  /** The input could not be read to its end (bytes not valid in its encoding): resuming would stop there again. */
  inputBroken?: boolean;
  /** The settings the run was recorded with (its run state): the printed `run` command carries them. */
  replay?: CommandOptions;
}

export interface NextStep {
  command: string;
  /** Why, in a few words. */
  why: string;
}

const BIN = 'connect-task-loader';

/** Quotes a path for a POSIX shell when it holds anything but safe characters. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Undefined when every row is created: nothing left to do. */
export function nextStep(f: NextStepFacts): NextStep | undefined {
  const q = shellQuote;
  if (f.dryRun) {
    const input = f.input ?? '<input>';
    if (f.replay) return { command: commandLine('run', input, { ...f.replay, results: f.results }), why: 'this was a dry run: send it for real with the same options (it replaces this file)' };
    return { command: `${BIN} run ${q(input)}${resultsFlag(f.results, (input === '-' ? undefined : defaultResultsPath(input)))}`, why: 'this was a dry run: send it for real with the same options, without --dry-run (it replaces this file)' };
  }
  if (f.inputBroken && f.input) {
    return {
      command: commandLine('run', f.input, { ...f.replay, results: f.results }),
      why: 'the input could not be read to its end: fix it (or pass the right --encoding), then run this; it says how to go on without creating the rows already sent a second time',
    };
  }
  if (!f.completed) {
    if (f.rerunOf) {
      return { command: `${BIN} rerun ${q(f.rerunOf)} --resume${resultsFlag(f.results, rerunResultsPath(f.rerunOf))}`, why: 'the rerun was interrupted: finish it (rows already recorded are skipped)' };
    }
    const input = f.input ?? '<input>';
    const stdin = input === '-' ? ' (feed it the same input again)' : '';
    if (f.replay) return { command: commandLine('run', input, { ...f.replay, results: f.results, resume: true }), why: `the run was interrupted: finish it with the settings it started with (rows already recorded are skipped)${stdin}` };
    return { command: `${BIN} run ${q(input)} --resume${resultsFlag(f.results, (input === '-' ? undefined : defaultResultsPath(input)))}`, why: `the run was interrupted: finish it (rows already recorded are skipped)${stdin}` };
  }
  if (f.failed > 0) {
    return {
      command: `${BIN} rerun ${q(f.results)}`,
      why: `send the ${f.failed} failed row${f.failed === 1 ? '' : 's'} again once the cause is fixed (same ClientTokens: nothing is created twice)` +
        (f.invalid ? `; add --include-invalid after correcting the ${f.invalid} invalid row${f.invalid === 1 ? '' : 's'} in the results file` : ''),
    };
  }
  if (f.invalid > 0) {
    return { command: `${BIN} rerun ${q(f.results)} --include-invalid`, why: `correct the ${f.invalid} invalid row${f.invalid === 1 ? '' : 's'} in the results file first (Result.ErrorMessage names the column and rule)` };
  }
  return undefined;
}

function resultsFlag(results: string, byDefault: string | undefined): string {
  return byDefault !== undefined && byDefault === results ? '' : ` --results ${shellQuote(results)}`;
}
