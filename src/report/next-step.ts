/**
 * The exact next command after a run, shared by the end-of-run summary and `report`: finish an
 * interrupted run with --resume, send failed rows again with `rerun`, or nothing to do.
 */

import { commandLine } from '../config/command-line.js';
import type { Settings } from '../config/resolve.js';
import { freshResultsPath } from '../ledger/files.js';
import { rerunResultsPath } from '../ledger/writer.js';

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
  /** The settings the run was recorded with (its run state): the printed commands carry them. */
  replay?: Settings;
  /** What a dry run found a real run would need (`--instance-id …`): no run command works without it. */
  needs?: string[];
  /** Ids the live check found missing: a run would fail every row that names them. */
  missingIds?: number;
}

export interface NextStep {
  /** The command to run; absent when something must be given first (`why` says what). */
  command?: string;
  /** Why, in a few words. */
  why: string;
}

/** What "nothing to do" rests on: every row created, or left out by the job file's `where`. */
export function allDone(rows: { filtered: number }): string {
  return rows.filtered ? 'every row is created or filtered out' : 'every row is created';
}

/** Undefined when every row is created (or filtered out): nothing left to do. */
export function nextStep(f: NextStepFacts): NextStep | undefined {
  const settings = f.replay ?? {};
  const input = f.input ?? '<input>';
  if (f.dryRun && f.needs?.length) {
    return {
      why:
        `a run needs ${f.needs.join(' and ')}: give it (a flag, an environment variable or the job file) and ` +
        `validate again`,
    };
  }
  if (f.dryRun && f.missingIds) {
    return {
      why:
        `the instance does not have ${f.missingIds === 1 ? 'an id' : `${f.missingIds} ids`} the rows name (listed ` +
        `above): correct ${f.missingIds === 1 ? 'it' : 'them'} (a flag, the job file or the column), or check the ` +
        `Region and instance, and validate again`,
    };
  }
  if (f.dryRun) {
    return {
      command: commandLine('run', input, settings, { results: f.results }),
      why: 'this was a dry run: send it for real with the same settings (it replaces this file)',
    };
  }
  if (f.inputBroken && f.input) {
    // A new results file under the same token namespace: rows already sent keep their tokens there.
    return {
      command: commandLine('run', f.input, settings, { results: freshResultsPath(f.results) }),
      why:
        'the input could not be read to its end: fix it (or pass the right --encoding), then run this: rows ' +
        'already sent keep their ClientTokens, so none is created twice',
    };
  }
  if (!f.completed) {
    if (f.rerunOf) {
      return {
        command: commandLine('rerun', f.rerunOf, settings, { results: f.results, resume: true }),
        why: 'the rerun was interrupted: finish it (rows already recorded are skipped)',
      };
    }
    const stdin = input === '-' ? ' (feed it the same input again)' : '';
    return {
      command: commandLine('run', input, settings, { results: f.results, resume: true }),
      why:
        `the run was interrupted: finish it with the settings it started with (rows already recorded are ` +
        `skipped)${stdin}`,
    };
  }
  const rerun = (includeInvalid: boolean) =>
    commandLine('rerun', f.results, settings, { results: rerunResultsPath(f.results), includeInvalid });
  if (f.failed > 0) {
    return {
      command: rerun(false),
      why:
        `send the ${f.failed} failed row${f.failed === 1 ? '' : 's'} again once the cause is fixed (same ` +
        `ClientTokens: nothing is created twice)` +
        (f.invalid
          ? `; add --include-invalid after correcting the ${f.invalid} invalid row${f.invalid === 1 ? '' : 's'} ` +
            `in ${f.results}`
          : ''),
    };
  }
  if (f.invalid > 0) {
    return {
      command: rerun(true),
      why:
        `correct the ${f.invalid} invalid row${f.invalid === 1 ? '' : 's'} in ${f.results} first ` +
        `(Result.ErrorMessage names the column and rule)`,
    };
  }
  return undefined;
}
