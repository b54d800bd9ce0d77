/** `run <input>`: import rows, one StartTaskContact per record, a results row for each. */
import type { Command } from 'commander';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import { runWithOperatorOutput } from '../operator.js';
import { addOperatorOptions, addRunOptions, toRunOptions, type RunFlags } from '../run-options.js';

export const EXAMPLES = `
Examples:
  # Rehearse on the local emulator (another terminal: connect-task-loader emulator --port 4566)
  connect-task-loader run samples/tasks.csv --endpoint http://127.0.0.1:4566 \\
      --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}

  # Real AWS: region, profile and the account's quota (default 2 requests/s, burst 5)
  connect-task-loader run tickets.csv --job tickets.job.json --region eu-west-2 --profile ops --rate 2

  # Check a file without sending anything
  connect-task-loader validate tickets.csv --job tickets.job.json

  # After a crash or Ctrl-C: finish the run (rows already recorded are skipped)
  connect-task-loader run tickets.csv --job tickets.job.json --resume

  # Send again the rows that failed (writes tickets.results.rerun-1.csv)
  connect-task-loader rerun tickets.results.csv

Exit codes: 0 all created · 1 some rows failed or invalid · 2 usage or unreadable input (nothing sent)
            3 interrupted, run again with --resume · 4 another run holds the results file`;

export function addRunCommand(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(addRunOptions(program.command('run').argument('<input>', 'CSV file, - for standard input, or a .csv.gz file')))
    .description('import rows: one StartTaskContact per record, a results row for each')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput(toRunOptions(input, flags), flags)));
}
