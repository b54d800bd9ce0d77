/**
 * What an operator sees around a run: logs (pretty on a terminal, JSON off it), the progress bar,
 * signal handling (first signal drains, second leaves at once), the summary and the exit code.
 */

import { RunConfig, type Settings } from '../config/resolve.js';
import type { Progress } from '../run/options.js';
import { formatPlan } from '../run/plan.js';
import { rerunImport, runImport, validateImport } from '../run/run.js';
import { newRunId, withRunId } from '../run/run-id.js';
import { formatSummary, type Summary } from '../run/summary.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';
import { createLogger } from './log.js';
import { JsonProgress, TerminalProgress } from './progress-view.js';
import { checkSummaryPath, writeSummaryFile } from './summary-file.js';

const OPERATOR_KEYS = ['logLevel', 'logFormat', 'progress', 'progressInterval', 'summaryJson'] as const;

/** Signals that stop a run cleanly: Ctrl-C, a service manager or `timeout`, a closed terminal. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Signals this close to the first are the same stop. */
const SAME_STOP_MS = 1_000;

/** Sets up logs and progress, runs the import, prints the summary; returns the exit code. */
export async function runWithOperatorOutput(
  command: 'run' | 'rerun' | 'validate',
  input: string,
  flags: Settings,
  io: CliIo,
): Promise<number> {
  const { env, stdout, stderr } = io;
  // The operator's own settings, flag > environment > default, before anything is logged.
  const operator = RunConfig.layered({ command, input, flags, env }, {}, undefined, undefined);
  const summaryJson = operator.get('summaryJson');
  const logFormat = operator.get('logFormat');
  const showProgress = operator.get('progress') !== false;
  if (summaryJson) checkSummaryPath(summaryJson, operator.from('summaryJson'));
  const tty = io.isTTY;
  const progress = showProgress && tty && logFormat !== 'json' ? new TerminalProgress(stderr) : undefined;
  const runId = operator.get('runId') ?? newRunId();
  const root = createLogger({
    level: operator.get('logLevel'),
    format: logFormat ?? (tty ? 'pretty' : 'json'),
    stderr,
    colorize: tty,
    stream: progress?.logStream,
  });
  // The run binds its id to the logger it is given; the lines written here carry it too.
  const logger = withRunId(root, runId);
  // Off a terminal the journal gets a progress line now and then instead of a redrawn line.
  const journal = showProgress && !progress ? new JsonProgress(logger, operator.get('progressInterval')!) : undefined;
  const onProgress = progress ?? journal;

  // First signal: stop reading, drain in-flight requests, record them. A second one a moment later
  // is the same stop (GNU timeout signals the command and then its process group; a terminal's
  // hang-up reaches every process of the session): only a second one after that leaves at once.
  const controller = new AbortController();
  let firstAt: number | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    const now = performance.now();
    if (firstAt !== undefined && now - firstAt < SAME_STOP_MS) return;
    if (firstAt !== undefined) {
      progress?.stop();
      stderr.write(`\n${name} again: stopping now. Run again with --resume to finish exactly.\n`);
      process.exit(EXIT.stoppedAtOnce);
    }
    firstAt = now;
    logger.warn({ signal: name }, 'stopping: finishing requests in flight (press Ctrl-C again to stop at once)');
    controller.abort(new Error(name));
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  // The handlers stay until the summary is out: a signal in between must not kill the process
  // (its default action) before the operator has seen what was recorded.
  try {
    return await runAndReport();
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }

  async function runAndReport(): Promise<number> {
    let summary: Summary;
    try {
      const settings: Record<string, unknown> = { ...flags };
      for (const key of OPERATOR_KEYS) delete settings[key];
      const outputs = summaryJson ? [{ path: summaryJson, flag: operator.from('summaryJson') }] : [];
      const full = {
        ...settings,
        input,
        env,
        ...(io.stdin ? { stdin: io.stdin } : {}),
        outputs,
        runId,
        logger: root,
        signal: controller.signal,
        onProgress: onProgress && ((p: Progress) => onProgress.update(p)),
      };
      summary = await (command === 'rerun'
        ? rerunImport(full)
        : command === 'validate'
          ? validateImport(full)
          : runImport(full));
    } finally {
      progress?.stop();
    }
    if (summary.plan) stdout.write(formatPlan(summary.plan));
    stdout.write(`${formatSummary(summary)}\n`);
    // A line of the run's log like any other: off a terminal, a JSON line with the run's id.
    const note = summaryJson && (await writeSummaryFile(summaryJson, summary));
    if (note) logger[note.level]({ summaryJson }, note.message);
    if (summary.plan?.live && summary.plan.live.missing.length + summary.plan.live.unknown.length > 0)
      return EXIT.usage;
    if (summary.unreachable || summary.capacity?.stopped) return EXIT.interrupted;
    if (summary.fatalError) return summary.rows.created === 0 ? EXIT.usage : EXIT.interrupted;
    // Already done is only a success when that run created every row: cron must not report a night
    // with failed rows as fine the next time it runs.
    if (summary.alreadyDone) return summary.rows.failed + summary.rows.invalid > 0 ? EXIT.rowsFailed : EXIT.ok;
    // Its summary's Next line says to fix the cause before --resume: a bare "--resume" would stop again.
    if (summary.failureLimit) return EXIT.interrupted;
    if (summary.interrupted) {
      stdout.write(
        `Interrupted. Run the same command again with --resume to finish: rows already recorded are skipped.\n`,
      );
      return EXIT.interrupted;
    }
    return summary.rows.failed + summary.rows.invalid > 0 || summary.inputError ? EXIT.rowsFailed : EXIT.ok;
  }
}
