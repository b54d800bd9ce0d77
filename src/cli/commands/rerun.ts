/** `rerun <results.csv>`: send again the rows of a results file that did not succeed. */
import type { Command } from 'commander';
import { runWithOperatorOutput } from '../operator.js';
import { addOperatorOptions, addRunOptions, toRunOptions, type RunFlags } from '../run-options.js';

export function addRerunCommand(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(addRunOptions(program.command('rerun').argument('<results.csv>', 'the results file of an earlier run (or rerun)')))
    .description('send again the rows of a results file that failed; rows that succeeded are copied, not sent')
    .option('--include-invalid', 'also send invalid rows (after correcting them in the results file)')
    .addHelpText(
      'after',
      `
Endpoint, Region, mapping, routing and token settings are the earlier run's (kept in <results>.run.json);
a flag that differs from them is refused. The results file is read as UTF-8, comma-separated. Only a
completed run can be rerun (finish an interrupted one with run --resume first).
Each row keeps its ClientToken unless its content changed. Writes <results>.rerun-1.csv (a rerun of that
writes .rerun-2.csv), where Result.Line still points into the original input.

Example:
  connect-task-loader rerun tickets.results.csv`,
    )
    .action(async (input: string, flags: RunFlags) =>
      setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), includeInvalid: flags.includeInvalid }, flags, 'rerun')),
    );
}
