/**
 * `validate <input>`: map and validate every row, write the planned results, send nothing; report what would happen.
 */
import type { Command } from 'commander';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import type { CliIo } from '../io.js';
import { runWithOperatorOutput } from '../operator.js';
import { addSettingOptions, givenFlags, INPUT_FROM_ENV, inputOf } from '../options.js';

export function addValidateCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  addSettingOptions(
    program.command('validate').argument('[input]', `CSV file, - or .csv.gz${INPUT_FROM_ENV}`),
    'validate',
  )
    .description(
      'map and validate every row, write the results file as planned, and report what a run would do; send ' +
        'nothing (run --dry-run)',
    )
    .addHelpText(
      'after',
      `
Prints the mapping (column → member, and the columns carried unmapped), header warnings, how many rows
would be sent, the problems grouped by rule with their first line numbers, and one example request with
Name, Description and values masked. Needs no --instance-id or routing id (it says once what a run would need).

--check-live calls DescribeInstance, DescribeContactFlow, GetTaskTemplate and DescribeQuickConnect, each id
once (IAM: connect:DescribeInstance, connect:DescribeContactFlow, connect:GetTaskTemplate,
connect:DescribeQuickConnect); --endpoint, --region and --profile say where.

In a nightly job: connect-task-loader validate x.csv --job x.job.json --check-live && connect-task-loader run …
${VALIDATE_HELP}`,
    )
    .action(async (input: string | undefined, _flags: unknown, cmd: Command) =>
      setExit(await runWithOperatorOutput('validate', inputOf(input, io, 'validate'), givenFlags(cmd, 'validate'), io)),
    );
}

const VALIDATE_HELP = `
Examples:
  connect-task-loader validate samples/tasks.csv
  connect-task-loader validate samples/tasks.csv --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID} \\
      --check-live --endpoint http://127.0.0.1:4566

Exit codes: 0 every row valid (or filtered out by the job's where) · 1 some rows invalid (Result.ErrorMessage names the column and rule)
  · 2 unusable: no such file, a bad flag or job file, a results file of a real run, or --check-live found an id missing
            2 usage or unreadable input · 70 internal error`;
