/** `validate <input>`: map and validate every row, write the planned results, send nothing. */
import type { Command } from 'commander';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import { runWithOperatorOutput } from '../operator.js';
import { addOperatorOptions, addRunOptions, toRunOptions, type RunFlags } from '../run-options.js';

export function addValidateCommand(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(addRunOptions(program.command('validate').argument('<input>', 'CSV file, - or .csv.gz')))
    .description('map and validate every row and write the results file as planned; send nothing (run --dry-run)')
    .addHelpText('after', VALIDATE_HELP)
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), dryRun: true }, flags)));
}

const VALIDATE_HELP = `
Examples:
  connect-task-loader validate samples/tasks.csv --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}

Exit codes: 0 every row valid · 1 some rows invalid (Result.ErrorMessage names the column and rule)
            2 usage or unreadable input · 70 internal error`;
