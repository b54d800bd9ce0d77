/**
 * `--summary-json <file>`: checked before the run starts (ledger/outputs.ts: the folder exists, an
 * existing file there is a summary, never the input or a file of the run), written after it ends.
 * Once the run is over, failing to write its summary must not hide how the run went: its exit code
 * stands, and a warning says what was not written.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkOutput, SUMMARY_JSON, writeOutput } from '../ledger/outputs.js';
import type { Summary } from '../run/summary.js';

export function checkSummaryPath(path: string, from = '--summary-json'): void {
  checkOutput(path, from, SUMMARY_JSON);
}

/** What became of the summary file, for the run's log. */
export type SummaryNote = { level: 'info' | 'warn'; message: string };

/**
 * Writes the summary; resolves to a note for the log instead of throwing when it cannot, or when it
 * keeps the summary of the run that did the work: a re-fired job that finds its results already
 * complete must not replace that night's figures with "nothing sent".
 */
export async function writeSummaryFile(path: string, summary: Summary): Promise<SummaryNote | undefined> {
  if (summary.alreadyDone && (await summaryOf(path)) === resolve(summary.results)) {
    return {
      level: 'info',
      message: `the summary in ${path} is kept: it is the one of the run that did the work (this one sent nothing)`,
    };
  }
  try {
    await writeOutput(path, `${JSON.stringify(summary, null, 2)}\n`, 'summary');
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException);
    return {
      level: 'warn',
      message:
        `the summary was not written to ${path} (${cause.code ?? String(err)}); the run's results are ` +
        `in ${summary.results}`,
    };
  }
}

/**
 * The results file an earlier summary at `path` describes, if it is the summary of a run that did
 * the work: one that ran to the end. The summary of an interrupted run (finished since by a resume
 * that wrote no summary) or of a dry run says nothing of how the file was completed.
 */
async function summaryOf(path: string): Promise<string | undefined> {
  try {
    const earlier = JSON.parse(await readFile(path, 'utf8')) as {
      results?: unknown;
      alreadyDone?: unknown;
      interrupted?: unknown;
      dryRun?: unknown;
    };
    return typeof earlier.results === 'string' &&
      earlier.alreadyDone === undefined &&
      earlier.interrupted === false &&
      earlier.dryRun !== true
      ? resolve(earlier.results)
      : undefined;
  } catch {
    return undefined;
  }
}
