/**
 * The exact next command after a run, shared by the end-of-run summary and `report`: finish an
 * interrupted run with --resume, send failed rows again with `rerun`, or nothing to do.
 */

import { commandLine } from '../config/command-line.js';
import type { Settings } from '../config/resolve.js';
import { DEFAULT_MAX_FAILURES } from '../config/settings.js';
import { freshResultsPath } from '../ledger/files.js';
import { rerunResultsPath } from '../ledger/writer.js';
import type { FailureLimitStop } from '../types.js';

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
  /** The run stopped because the instance's active-task limit held past --max-wait. */
  atLimit?: boolean;
  /** The settings the run was recorded with (its run state): the printed commands carry them. */
  replay?: Settings;
  /** What a dry run found a real run would need (`--instance-id …`): no run command works without it. */
  needs?: string[];
  /** Ids the live check found missing: a run would fail every row that names them. */
  missingIds?: number;
  /** The run stopped taking rows at its failure limit: its cause must be fixed before it is finished. */
  failureLimit?: FailureLimitStop;
}

export interface NextStep {
  /** The command to run; absent when something must be given first (`why` says what). */
  command?: string;
  /** Why, in a few words. */
  why: string;
  /** The command to run once `command` is done (the `rerun` of the rows that failed). */
  afterwards?: string;
}

/** What an error code that failed a run's rows alike usually means, and what fixes it. */
const CAUSES: Record<string, string> = {
  ResourceNotFoundException:
    'an instance, contact flow, task template or quick connect the rows name does not exist in this account and ' +
    'Region: deploy it, or check the Region; if the id itself is wrong, send with the right one into a new ' +
    '--results (--resume refuses a changed id and prints that command)',
  AccessDeniedException: 'this identity may not call connect:StartTaskContact on the instance: grant it',
  InvalidParameterException:
    'the service refuses a value the rows share, such as a flow of the wrong type: `report` shows its message',
  InvalidRequestException: 'the service refuses the requests as they are: `report` shows its message',
  ServiceQuotaExceededException:
    "the instance's active tasks are at their quota, or 12 tasks share one PreviousContactId: wait for agents " +
    'to close tasks, or raise the quota',
};

/** "23 of the 23 rows this run sent failed, 23 with ResourceNotFoundException: past its failure limit (…)". */
export function failureLimitText(stop: FailureLimitStop): string {
  const { failed, sent, dominant } = stop;
  const limit =
    stop.limit === 'default'
      ? `the default: ${DEFAULT_MAX_FAILURES} rows failing with one error before any is created; --max-failures ` +
        `sets another, 0 none`
      : stop.limit.endsWith('%')
        ? `--max-failures ${stop.limit}: more than ${stop.limit} of the rows answered`
        : `--max-failures ${stop.limit}`;
  const most = dominant.count === failed ? `all with ${dominant.code}` : `${dominant.count} with ${dominant.code}`;
  return `${failed} of the ${sent} rows this run sent failed, ${most}: past its failure limit (${limit})`;
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
  if (!f.completed && f.failureLimit) return afterFailureLimit(f, f.failureLimit, settings, input);
  if (!f.completed) {
    const stoppedWhy = (what: 'run' | 'rerun') =>
      f.atLimit
        ? `the instance stayed at its active-task limit: once agents have closed tasks (or the quota is raised), ` +
          `finish the ${what}`
        : `the ${what} was interrupted: finish it`;
    if (f.rerunOf) {
      return {
        command: commandLine('rerun', f.rerunOf, settings, { results: f.results, resume: true }),
        why: `${stoppedWhy('rerun')} (rows already recorded are skipped)`,
      };
    }
    const stdin = input === '-' ? ' (feed it the same input again)' : '';
    return {
      command: commandLine('run', input, settings, { results: f.results, resume: true }),
      why: `${stoppedWhy('run')} with the settings it started with (rows already recorded are skipped)${stdin}`,
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

/**
 * A run stopped by its failure limit: its rows not sent are unrecorded, so --resume sends them; the
 * rows that failed are final, and only `rerun` (of a complete run) sends them again. No one command
 * does both: the resume comes first, then the rerun.
 */
function afterFailureLimit(f: NextStepFacts, stop: FailureLimitStop, settings: Settings, input: string): NextStep {
  const finish = f.rerunOf
    ? commandLine('rerun', f.rerunOf, settings, { results: f.results, resume: true })
    : commandLine('run', input, settings, { results: f.results, resume: true });
  const rows = f.failed === 1 ? 'row' : 'rows';
  const cause = CAUSES[stop.dominant.code] ?? "`report` lists the failures by code, with the service's message";
  return {
    command: finish,
    why:
      `fix the cause first — ${stop.dominant.code}: ${cause}. Then this sends the rows not sent` +
      `${input === '-' ? ' (feed it the same input again)' : ''}. The ${f.failed} failed ${rows} stay failed ` +
      `(--resume never sends a failed row again): once the ${f.rerunOf ? 'rerun' : 'run'} is complete, the ` +
      `rerun below sends ${f.failed === 1 ? 'it' : 'them'} with the same ClientTokens`,
    afterwards: commandLine('rerun', f.results, settings, { results: rerunResultsPath(f.results) }),
  };
}
