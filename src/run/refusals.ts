/**
 * The refusals of the run contract, each with the safe way on. A results file is the record of one
 * run; when the run asked for is another (another input, target, routing, job or token settings),
 * carrying on would skip rows never sent where this run sends, or give rows that may already exist
 * a new ClientToken. The way on is printed as a command wherever one can be given; it names
 * settings (ids, URLs, paths, checksums), never row content.
 */
import { basename } from 'node:path';
import { commandLine } from '../config/command-line.js';
import { UsageError } from '../errors.js';
import type { RunState, StoredOptions } from '../ledger/state.js';
import { rerunResultsPath } from '../ledger/writer.js';
import { wrongTargetCode } from './failure-limit.js';
import type { Difference } from './identity.js';

/** A results file with no run state beside it: nothing says what it records, or where it was sent. */
export function noStateRefusal(resultsPath: string, command: 'run' | 'rerun'): UsageError {
  const way =
    command === 'rerun'
      ? `rerun takes a results file together with the ${basename(resultsPath)}.run.json its run wrote beside it`
      : 'pass another --results for this run (a run never adds rows to a file it did not start)';
  return new UsageError(
    `${resultsPath} has no run state (${basename(resultsPath)}.run.json) beside it: it was not written by a run ` +
      `of this tool, ` +
      `or its state was removed, so nothing says which rows were really sent, or where. ${way}`,
  );
}

export interface OtherRun {
  resultsPath: string;
  input: string;
  previous: RunState;
  diffs: Difference[];
  /** This run's kept settings, for the command that starts it elsewhere. */
  current: StoredOptions;
  /** A results path that does not exist yet, for the commands shown. */
  freshResults: string;
}

/** The results file records another run than the one asked for: say what differs and the way on. */
export function otherRunRefusal(o: OtherRun): UsageError {
  const { previous, diffs } = o;
  const lines = [
    `${o.resultsPath} is the record of another run than this one:`,
    ...diffs.map((d) => `  - ${d.label}: recorded ${d.was}; you asked for ${d.now}`),
    ...unsetLines(diffs),
  ];
  lines.push(
    previous.outcome === 'completed'
      ? `That run is complete${rowCounts(previous)}.`
      : `That run did not finish (${unfinished(previous)}${rowCounts(previous)}).`,
  );
  const changed = new Set(diffs.map((d) => d.field));
  const target = changed.has('endpoint') || changed.has('region') || changed.has('instanceId');
  // A run whose input broke off is not resumed as it was: it would stop at the same bytes again. One
  // whose every row sent was refused alike (a wrong id) has nothing to finish: resumed under its
  // settings, it would only fail more rows; the run asked for, with the corrected id, is the way on.
  const unfinishedRun =
    previous.outcome !== 'completed' && previous.outcome !== 'input-broken' && !changed.has('inputSha256');
  const refused = unfinishedRun && refusedAlike(previous);
  const resumeIt = unfinishedRun && !refused;
  if (refused) {
    const { dominant } = previous.failureLimit!;
    lines.push(
      `It stopped at its failure limit with nothing created: all ${dominant.count} rows it sent were refused with ` +
        `${dominant.code}, so there is nothing of it to finish under its settings.`,
    );
  }
  if (resumeIt) {
    lines.push(
      'Its rows may already have been sent under its settings: to finish it, resume it with the settings it was ' +
        'started with' +
        (changed.has('jobSha256') || changed.has('where') ? ` (restore the job file to the content it had)` : '') +
        ':',
      `  ${commandLine('run', previous.input, previous.options, { results: o.resultsPath, resume: true })}`,
    );
  }
  if (target) {
    lines.push(
      `${resumeIt ? 'Then, to' : 'To'} send this input to the new target, pass another --results:`,
      `  ${commandLine('run', o.input, o.current, { results: o.freshResults })}`,
    );
  } else if (changed.has('inputSha256')) {
    lines.push(
      'The input changed since (rows appended, or fixed after it broke), so its lines no longer match that ' +
        'results file. ' +
        "To send it without creating the earlier run's tasks again, start a new results file that keeps that " +
        "run's token namespace:",
      `  ${commandLine(
        'run',
        o.input,
        { ...o.current, tokenNamespace: previous.options.tokenNamespace, shard: previous.options.shard },
        { results: o.freshResults },
      )}`,
      'Rows the earlier run already sent keep their ClientTokens there, so the service recognises them (within ' +
        'its idempotency ' +
        'window) and does not create them twice; new and changed rows are created.',
    );
    if (previous.outcome === 'completed') {
      lines.push(
        "If this is a new batch instead (e.g. tonight's export, whose rows are new tasks even where they repeat " +
          "yesterday's), pass another --results and no --token-namespace.",
      );
    }
  } else {
    lines.push(
      `${resumeIt ? 'Then, to' : 'To'} send with the new settings, pass another --results:`,
      `  ${commandLine('run', o.input, o.current, { results: o.freshResults })}`,
      'Rows whose request is unchanged keep their ClientTokens and are not created twice; rows whose request ' +
        'changed are new tasks.',
    );
  }
  return new UsageError(lines.join('\n'));
}

/**
 * The run stopped at its failure limit and its results file holds no task: every failed row in it was
 * refused with the one error that creates nothing (a wrong id, a missing permission).
 */
function refusedAlike(state: RunState): boolean {
  const stop = state.failureLimit;
  const rows = state.rows;
  return (
    state.outcome === 'interrupted' &&
    stop !== undefined &&
    rows !== undefined &&
    rows.created === 0 &&
    rows.failed === stop.dominant.count &&
    wrongTargetCode(stop.dominant.code)
  );
}

/** A rerun asked of a results file whose run did not finish: its rows do not cover the input. */
export function unfinishedOriginRefusal(resultsPath: string, origin: RunState): UsageError {
  const finish = origin.rerunOf
    ? commandLine('rerun', origin.rerunOf, origin.options, { results: resultsPath, resume: true })
    : commandLine('run', origin.input, origin.options, { results: resultsPath, resume: true });
  return new UsageError(
    `${resultsPath} is the record of a run that did not finish (${unfinished(origin)}${rowCounts(origin)}): ` +
      `rows it never reached are not in it, ` +
      `so a rerun would miss them. Finish that run first, then rerun:\n  ${finish}\n` +
      `  ${commandLine('rerun', resultsPath, origin.options, { results: rerunResultsPath(resultsPath) })}`,
  );
}

/** A rerun with settings other than its origin's: the rows sent again would get other requests or tokens. */
export function rerunSettingsRefusal(
  resultsPath: string,
  origin: RunState,
  diffs: Difference[],
  freshResults: string,
): UsageError {
  return new UsageError(
    [
      `rerun sends the rows of ${resultsPath} as its run sent them, and that run used other settings:`,
      ...diffs.map((d) => `  - ${d.label}: recorded ${d.was}; you asked for ${d.now}`),
      ...unsetLines(diffs),
      'Drop those flags (a rerun takes them from the run), and restore a job file changed since. To send the ' +
        'input with other ' +
        "settings, start a new run that keeps the run's token namespace, so rows already created are recognised " +
        'and not created twice ' +
        '(this is the run as it was; add the new settings to it):',
      `  ${commandLine('run', origin.input, origin.options, { results: freshResults })}`,
    ].join('\n'),
  );
}

/** A value from the environment is in every command run in this shell: it must be unset, not overridden. */
function unsetLines(diffs: Difference[]): string[] {
  const variables = [...new Set(diffs.flatMap((d) => (d.variable ? [d.variable] : [])))];
  return variables.length
    ? [
        `Unset ${variables.join(' and ')} in this shell (${variables.length === 1 ? 'it gives' : 'they give'} ` +
          `the value above) before running a command below: unset ${variables.join(' ')}`,
      ]
    : [];
}

function unfinished(state: RunState): string {
  if (state.outcome === 'input-broken') return 'its input broke off mid-file';
  if (state.outcome === 'running') return 'it was stopped at once or crashed';
  return 'it was interrupted';
}

function rowCounts(state: RunState): string {
  const r = state.rows;
  return r
    ? `; ${r.total} rows recorded: ${r.created} created, ${r.failed} failed, ${r.invalid} ` +
        `invalid${r.filtered ? `, ${r.filtered} filtered` : ''}${r.planned ? `, ${r.planned} planned` : ''}`
    : '';
}
