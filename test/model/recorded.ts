/**
 * Failing histories the generator found (or issue 8 reported), kept as fixed sequences: a failing
 * seed is a regression test forever. Each names the gap (gaps.ts) it shows; while that gap is listed
 * in KNOWN_GAPS the sequence is skipped. Faults are off here, so each replays the same way.
 */
import {
  EditInputCommand,
  EditResultsCommand,
  FlagCommand,
  RerunCommand,
  RunCommand,
  ValidateCommand,
} from './commands.js';
import type { Gap } from './gaps.js';

export interface Recorded {
  name: string;
  gap: Gap;
  rows: number;
  /** Every n-th row has no Name (invalid); 0 = none. */
  invalidEvery: number;
  steps: () => (RunCommand | ValidateCommand | RerunCommand | FlagCommand | EditInputCommand | EditResultsCommand)[];
}

const run = () => new RunCommand({ mode: 'plain' });
const resume = () => new RunCommand({ mode: 'resume' });
const sigterm = (afterRows: number) =>
  new RunCommand({ mode: 'resume', kill: { signal: 'SIGTERM', afterRows, afterMs: Infinity } });
const sigkill = (afterRows: number) =>
  new RunCommand({ mode: 'resume', kill: { signal: 'SIGKILL', afterRows, afterMs: 10_000 } });

export const RECORDED: Recorded[] = [
  {
    name: 'item 1: rehearse on one endpoint, run against another → "Already processed", nothing sent there',
    gap: 'continue-with-changed-flags',
    rows: 6,
    invalidEvery: 0,
    steps: () => [run(), new FlagCommand('endpoint'), run()],
  },
  {
    name: 'item 9: killed, then --resume with another --contact-flow-id',
    gap: 'continue-with-changed-flags',
    rows: 30,
    invalidEvery: 0,
    steps: () => [sigkill(3), new FlagCommand('flow'), resume()],
  },
  {
    name: 'item 2: validate, then run --resume → "Already processed (0 created)", exit 0',
    gap: 'resume-after-validate',
    rows: 5,
    invalidEvery: 0,
    steps: () => [new ValidateCommand(), resume()],
  },
  {
    name: 'item 3: rerun of a run stopped by SIGTERM → a "complete" file missing the unsent rows',
    gap: 'rerun-of-interrupted',
    rows: 200,
    invalidEvery: 0,
    steps: () => [new FlagCommand('rate'), sigterm(2), new FlagCommand('rate'), new RerunCommand()],
  },
  {
    name: 'item 3: a stray space in a status → the row is carried as "created " by rerun',
    gap: 'continue-edited-results',
    rows: 5,
    invalidEvery: 0,
    steps: () => [run(), new EditResultsCommand('space', 0), new RerunCommand()],
  },
  {
    name: 'item 14 (variant): a stray space in a status, then --resume → a second row for that line',
    gap: 'continue-edited-results',
    rows: 30,
    invalidEvery: 0,
    steps: () => [sigkill(10), new EditResultsCommand('space', 0), resume()],
  },
  {
    name: 'NEW: a row deleted from a completed results file → "Already processed", exit 0, the row never comes back',
    gap: 'continue-edited-results',
    rows: 5,
    invalidEvery: 0,
    steps: () => [run(), new EditResultsCommand('delete', 1), resume()],
  },
  {
    name: 'item 14: a results file saved by Excel (BOM, CRLF) blocks --resume',
    gap: 'continue-edited-results',
    rows: 30,
    invalidEvery: 0,
    steps: () => [sigkill(5), new EditResultsCommand('excel', 0), resume()],
  },
  {
    name: 'item 10: rows appended, a new --results as the tool advises → every earlier row created twice',
    gap: 'fresh-run-after-input-edit',
    rows: 5,
    invalidEvery: 0,
    steps: () => [run(), new EditInputCommand({ what: 'append', count: 2 }), new RunCommand({ mode: 'fresh' })],
  },
  {
    name: 'NEW: the input already completed with invalid rows → run again says "Already processed", exit 0',
    gap: 'already-done-exits-0-with-failed-rows',
    rows: 8,
    invalidEvery: 4,
    steps: () => [run(), run()],
  },
];
