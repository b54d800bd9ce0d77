/** `rerun <results.csv>`: send again the rows of a results file that did not succeed. */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { runWithOperatorOutput } from '../operator.js';
import { addSettingOptions, givenFlags } from '../options.js';

export function addRerunCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  addSettingOptions(
    program.command('rerun').argument('<results.csv>', 'the results file of an earlier run (or rerun)'),
    'rerun',
  )
    .description('send again the rows of a results file that failed; rows that succeeded are copied, not sent')
    .addHelpText(
      'after',
      `
Endpoint, Region, mapping, routing and token settings are the earlier run's (kept in <results>.run.json)
unless a flag or an environment variable gives them; one that differs from them is refused. The results file is read as UTF-8, comma-separated. Only a
completed run can be rerun (finish an interrupted one with run --resume first). A row that was sent
keeps the ClientToken it was sent with, even if its cells changed since (so it is never created twice);
a row never sent (invalid) gets the token of its content now. Writes <results>.rerun-1.csv (a rerun of that writes
.rerun-2.csv) unless --results says otherwise; Result.Line still points into the original input.
An interrupted rerun is finished with the same command and --resume.

Examples:
  # After a run of samples/tasks.csv (see run --help)
  connect-task-loader rerun samples/tasks.results.csv
  connect-task-loader rerun samples/tasks.results.csv --include-invalid --results samples/tasks.fixed.csv

Exit codes: 0 all created (or filtered out) · 1 some rows still failed or invalid · 2 usage or unreadable file (nothing sent)
            3 interrupted, run again with --resume · 4 another run holds the results file
            70 internal error (a bug) · 130 stopped at once by a second Ctrl-C`,
    )
    .action(async (input: string, _flags: unknown, cmd: Command) =>
      setExit(await runWithOperatorOutput('rerun', input, givenFlags(cmd, 'rerun'), io)),
    );
}
