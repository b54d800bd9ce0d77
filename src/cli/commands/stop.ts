/** `stop <results.csv>`: StopContact for the tasks a results file records as created. */
import type { Command } from 'commander';
import { RunConfig } from '../../config/resolve.js';
import { formatStopSummary, stopTasks } from '../../run/stop.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { createLogger } from '../log.js';
import { addSettingOptions, givenFlags } from '../options.js';

const HELP = `
Sends StopContact for every row of the results file whose Result.Status is created (or those --lines and
--where choose), to the endpoint, Region and instance its run sent to (read from <results>.run.json; another
one is refused). Paced by StopContact's own quota (default 2/s, burst 5; --rate auto reads "Rate of
StopContact API requests" from Service Quotas), retried as a run is: throttles cost a row nothing, 5xx and
timeouts are sent again — a stop is idempotent, a second one only finds the task ended. A task that had
already ended (ContactNotFoundException, or InvalidRequestException saying it is not active) is recorded
already-ended, not failed. Each answer goes to <results>.stop.csv (owner-only: the input line, the
ContactId, Stop.Status stopped / already-ended / failed / skipped, attempts, error; never the row's content).
A stop that was interrupted is finished with the same command and --resume; rows already done are never
sent again, by that stop or any later one. Results in S3 (s3://bucket/key.csv, --s3-endpoint for an
S3-compatible server): their lease is held while the stop works (exit 4 while a run or stop holds it), and
the stop file goes beside them in S3 (s3://bucket/key.stop.csv, checkpointed every --checkpoint-interval
seconds), so that a stop whose container dies is finished by another with --resume; --results names
another place, local or s3://. IAM: connect:StopContact (and servicequotas:ListServiceQuotas for --rate
auto).

Examples:
  # After a run of samples/tasks.csv (see run --help): what would be stopped, then a part, then the rest
  connect-task-loader stop samples/tasks.results.csv --dry-run
  connect-task-loader stop samples/tasks.results.csv --lines 2-20 --rate 50
  # Only the rows of one owner (the job file's where syntax, on the results file's columns; or @where.json):
  #   connect-task-loader stop samples/tasks.results.csv --where '{"column": "Owner", "equals": "team-b"}'
  connect-task-loader stop samples/tasks.results.csv --rate 50
  # Results a run wrote to S3: the stop file is s3://my-bucket/runs/night.stop.csv
  #   connect-task-loader stop s3://my-bucket/runs/night.csv

Exit codes: 0 every chosen task stopped or already ended · 1 some stops failed (run stop again to retry them)
            2 usage, no run state, another endpoint, Region or instance (nothing sent) · 3 interrupted, run again
            with --resume · 4 another run or stop holds the file · 70 internal error`;

/** Signals that stop a stop cleanly: the rows in flight are answered and recorded first. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function addStopCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  addSettingOptions(
    program.command('stop').argument('<results.csv>', 'the results file of a run (or rerun), or its s3:// object'),
    'stop',
  )
    .description('stop the tasks a results file created (StopContact), paced, resumable, each answer recorded')
    .addHelpText('after', HELP)
    .action(async (input: string, _flags: unknown, cmd: Command) => {
      const flags = givenFlags(cmd, 'stop');
      const operator = RunConfig.layered({ command: 'stop', input, flags, env: io.env }, {}, undefined, undefined);
      const logger = createLogger({
        level: operator.get('logLevel'),
        format: operator.get('logFormat') ?? (io.isTTY ? 'pretty' : 'json'),
        stderr: io.stderr,
        colorize: io.isTTY,
      });
      const controller = new AbortController();
      const onSignal = (name: NodeJS.Signals) => {
        logger.warn({ signal: name }, 'stopping: finishing the requests in flight');
        controller.abort(new Error(name));
      };
      for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
      try {
        const summary = await stopTasks({ ...flags, input, env: io.env, logger, signal: controller.signal });
        io.stdout.write(`${formatStopSummary(summary)}\n`);
        setExit(summary.interrupted ? EXIT.interrupted : summary.rows.failed > 0 ? EXIT.rowsFailed : EXIT.ok);
      } finally {
        for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      }
    });
}
