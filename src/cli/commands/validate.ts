/** `validate <input>`: map and validate every row, write the planned results, send nothing; report what would happen. */
import type { Command } from 'commander';
import { runWithOperatorOutput } from '../operator.js';
import { addOperatorOptions, addRunOptions, toRunOptions, type RunFlags } from '../run-options.js';

export function addValidateCommand(program: Command, setExit: (code: number) => void): void {
  addOperatorOptions(addRunOptions(program.command('validate').argument('<input>', 'CSV file, - or .csv.gz'), false))
    .description('map and validate every row, write the results file as planned, and report what a run would do; send nothing (run --dry-run)')
    .option('--check-live', 'ask the instance (read-only) whether the InstanceId and every ContactFlowId, TaskTemplateId and QuickConnectId named exist; exit 2 if any is missing')
    .addHelpText(
      'after',
      `
Prints the mapping (column → member, and the columns carried unmapped), header warnings, how many rows
would be sent, the problems grouped by rule with their first line numbers, and one example request with
Name, Description and values masked. Needs no --instance-id or routing id (it says once what a run would need).

--check-live calls DescribeInstance, DescribeContactFlow, GetTaskTemplate and DescribeQuickConnect, each id
once (IAM: connect:DescribeInstance, connect:DescribeContactFlow, connect:GetTaskTemplate,
connect:DescribeQuickConnect); --endpoint, --region and --profile say where.

Examples:
  connect-task-loader validate tickets.csv --job tickets.job.json
  connect-task-loader validate tickets.csv --job tickets.job.json --check-live --region eu-west-2 && connect-task-loader run …`,
    )
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), dryRun: true }, flags)));
}
