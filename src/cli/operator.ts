/**
 * What an operator sees around a run: logs (pretty on a terminal, JSON off it), the progress bar,
 * signal handling (first signal drains, second leaves at once), the summary and the exit code.
 */
import type { Progress, RerunOptions } from '../run/options.js';
import { rerunImport, runImport } from '../run/run.js';
import { formatPlan } from '../run/plan.js';
import { formatSummary, type Summary } from '../run/stats.js';
import { EXIT } from './exit-codes.js';
import { createLogger } from './log.js';
import { JsonProgress, TerminalProgress } from './progress-view.js';
import { checkSummaryPath, writeSummaryFile } from './summary-file.js';

/** The operator-output flags every importing command takes. */
export interface OperatorFlags {
  logLevel: string;
  logFormat?: 'json' | 'pretty';
  progress: boolean;
  /** Seconds between JSON progress lines off a terminal (default 30). */
  progressInterval?: number;
  summaryJson?: string;
}

/** Sets up logs and progress, runs the import, prints the summary; returns the exit code. */
export async function runWithOperatorOutput(options: RerunOptions, flags: OperatorFlags, command: 'run' | 'rerun' = 'run'): Promise<number> {
  if (flags.summaryJson) checkSummaryPath(flags.summaryJson);
  const tty = Boolean(process.stderr.isTTY);
  const progress = flags.progress && tty && flags.logFormat !== 'json' ? new TerminalProgress() : undefined;
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat ?? (tty ? 'pretty' : 'json'), stream: progress?.logStream });
  // Off a terminal the journal gets a progress line now and then instead of a redrawn line.
  const journal = flags.progress && !progress ? new JsonProgress(logger, flags.progressInterval ?? 30) : undefined;
  const onProgress = progress ?? journal;

  // First signal: stop reading, drain in-flight requests, record them. Second: leave at once.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      progress?.stop();
      process.stderr.write(`\n${name} again: stopping now. Run again with --resume to finish exactly.\n`);
      process.exit(EXIT.stoppedAtOnce);
    }
    logger.warn({ signal: name }, 'stopping: finishing requests in flight (press Ctrl-C again to stop at once)');
    controller.abort(new Error(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let summary: Summary;
  try {
    const full = { ...options, logger, signal: controller.signal, onProgress: onProgress && ((p: Progress) => onProgress.update(p)) };
    summary = await (command === 'rerun' ? rerunImport(full) : runImport(full));
  } finally {
    progress?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (summary.plan) process.stdout.write(formatPlan(summary.plan));
  process.stdout.write(`${formatSummary(summary)}\n`);
  const unwritten = flags.summaryJson && writeSummaryFile(flags.summaryJson, summary);
  if (unwritten) process.stderr.write(`connect-task-loader: ${unwritten}\n`);
  if (summary.plan?.live && summary.plan.live.missing.length + summary.plan.live.unknown.length > 0) return EXIT.usage;
  if (summary.unreachable) return EXIT.interrupted;
  if (summary.fatalError) return summary.rows.created === 0 ? EXIT.usage : EXIT.interrupted;
  // Already done is only a success when that run created every row: cron must not report a night
  // with failed rows as fine the next time it runs.
  if (summary.alreadyDone) return summary.rows.failed + summary.rows.invalid > 0 ? EXIT.rowsFailed : EXIT.ok;
  if (summary.interrupted) {
    process.stdout.write(`Interrupted. Run the same command again with --resume to finish: rows already recorded are skipped.\n`);
    return EXIT.interrupted;
  }
  return summary.rows.failed + summary.rows.invalid > 0 || summary.inputError ? EXIT.rowsFailed : EXIT.ok;
}

