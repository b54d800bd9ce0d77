/** `merge <results.csv…> --results <out.csv>`: shard results (or a run and its reruns) into one file. */
import type { Command } from 'commander';
import { mergeResults } from '../../ledger/merge.js';
import { EXIT } from '../exit-codes.js';

export function addMergeCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('merge')
    .argument('<results.csv...>', 'results files of one input: its shards, or a run and its reruns (reruns after the run)')
    .requiredOption('--results <out.csv>', 'the merged results file (must not exist yet)')
    .description('join results files of one input into one complete results file ordered by Result.Line')
    .addHelpText(
      'after',
      `
A rerun's row (its <results>.run.json names the file it reran) replaces the earlier row of its line;
two other files holding the same line overlap, and the merge is refused, as are files of different inputs.
Exit codes: 0 every row created · 1 some rows failed or invalid · 2 refused (nothing written)

Example:
  connect-task-loader merge tickets.shard-1-of-3.results.csv tickets.shard-2-of-3.results.csv \\
      tickets.shard-3-of-3.results.csv --results tickets.results.csv`,
    )
    .action(async (files: string[], flags: { results: string }) => {
      const s = await mergeResults(files, flags.results);
      process.stdout.write(
        `Merged ${s.files} files: ${s.rows} rows — ${s.created} created, ${s.failed} failed, ${s.invalid} invalid` +
          `${s.superseded ? ` (${s.superseded} rows replaced by a rerun's)` : ''}\nResults: ${s.results}\n`,
      );
      setExit(s.rows > 0 && s.created === s.rows ? EXIT.ok : EXIT.rowsFailed);
    });
}
