/** `validate <input>`: map and validate every row, write the planned results, send nothing. */
import type { Command } from 'commander';
import { runWithOperatorOutput } from '../operator.js';
import { addOperatorOptions, addRunOptions, toRunOptions, type RunFlags } from '../run-options.js';

export function addValidateCommand(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(addRunOptions(program.command('validate').argument('<input>', 'CSV file, - or .csv.gz')))
    .description('map and validate every row and write the results file as planned; send nothing (run --dry-run)')
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), dryRun: true }, flags)));
}
