/**
 * `--summary-json <file>`: checked before the run starts (ledger/outputs.ts: the folder exists, an
 * existing file there is a summary, never the input or a file of the run), written after it ends.
 * Once the run is over, failing to write its summary must not hide how the run went: its exit code
 * stands, and a warning says what was not written.
 */
import { checkOutput, SUMMARY_JSON, writeOutput } from '../ledger/outputs.js';
import type { Summary } from '../run/summary.js';

export function checkSummaryPath(path: string, from = '--summary-json'): void {
  checkOutput(path, from, SUMMARY_JSON);
}

/** Writes the summary; resolves to a one-line warning instead of throwing when it cannot. */
export async function writeSummaryFile(path: string, summary: Summary): Promise<string | undefined> {
  try {
    await writeOutput(path, `${JSON.stringify(summary, null, 2)}\n`, 'summary');
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException);
    return (
      `warning: the summary was not written to ${path} (${cause.code ?? String(err)}); the run's results are ` +
      `in ${summary.results}`
    );
  }
}
