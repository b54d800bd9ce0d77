/** `run <input>`: import rows, one StartTaskContact per record, a results row for each. */
import type { Command } from 'commander';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import type { CliIo } from '../io.js';
import { runWithOperatorOutput } from '../operator.js';
import { addSettingOptions, givenFlags, INPUT_FROM_ENV, inputOf } from '../options.js';

export const EXAMPLES = `
Examples:
  # From a clone of the repository; the emulator stands in for AWS until the last one.

  # Check the file without sending anything (writes samples/tasks.results.csv as planned)
  connect-task-loader validate samples/tasks.csv --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}

  # Rehearse on the local emulator (in another terminal: connect-task-loader emulator --port 4566 --rate 20)
  connect-task-loader run samples/tasks.csv --endpoint http://127.0.0.1:4566 --rate 20 \\
      --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}

  # After a crash or Ctrl-C: the same command with --resume (rows already recorded are skipped)
  connect-task-loader run samples/tasks.csv --endpoint http://127.0.0.1:4566 --rate 20 \\
      --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID} --resume

  # Send again the rows that failed (writes samples/tasks.results.rerun-1.csv)
  connect-task-loader rerun samples/tasks.results.csv

  # What happened: counts, errors by code, invalid rows by rule, the next command; an HTML page
  connect-task-loader report samples/tasks.results.csv --html tasks-report.html

  # Real AWS: credentials from the standard chain (AWS_PROFILE, SSO, a role); your account's quota as
  # --rate and --burst (the default quota is 2/s, burst 5; here one raised to 20/s)
  connect-task-loader run samples/tasks.csv --results samples/tasks.aws.csv --region eu-west-2 --rate 20 --burst 20 \\
      --instance-id 12345678-aaaa-bbbb-cccc-123456789012 --contact-flow-id 87654321-aaaa-bbbb-cccc-210987654321

Exit codes: 0 all created (or filtered out by the job's where) · 1 some rows failed or invalid · 2 usage or unreadable input (nothing sent)
            3 interrupted, run again with --resume · 4 another run holds the results file
            70 internal error (a bug: please report it) · 130 stopped at once by a second Ctrl-C (--resume)
            143 SIGTERM while still starting (nothing sent). A scheduler retries 3, 4, 130, 137 and 143,
            never 1, 2 or 70: docs/containers.md`;

export function addRunCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  addSettingOptions(
    program.command('run').argument('[input]', `CSV file, - for standard input, or a .csv.gz file${INPUT_FROM_ENV}`),
    'run',
  )
    .description('import rows: one StartTaskContact per record, a results row for each')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string | undefined, _flags: unknown, cmd: Command) =>
      setExit(await runWithOperatorOutput('run', inputOf(input, io, 'run'), givenFlags(cmd, 'run'), io)),
    );
}
