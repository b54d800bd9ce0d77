#!/usr/bin/env node
/**
 * The command line: flags → options → the library → an exit code. The only module that exits.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { LoaderError } from './errors.js';
import { startEmulator, type EmulatorOptions } from './emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from './emulator/service.js';
import { createLogger } from './log.js';
import { ProgressView } from './progress.js';
import { demo, type OperatorFlags } from './demo.js';
import { rerunImport, runImport, type Progress, type RerunOptions, type RunOptions } from './run.js';
import { formatSummary, type Summary } from './stats.js';

const EXIT = { ok: 0, rowsFailed: 1, usage: 2, interrupted: 3, locked: 4, internal: 70 } as const;

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
  return n;
};
const whole = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
  return n;
};
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0 to 65535');
  return n;
};
const probability = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a probability between 0 and 1');
  return n;
};


function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--instance-id <id>', 'InstanceId for rows without an InstanceId value')
    .option('--contact-flow-id <id>', 'ContactFlowId for rows without a routing value')
    .option('--task-template-id <id>', 'TaskTemplateId for rows without a routing value')
    .option('--quick-connect-id <id>', 'QuickConnectId for rows without a routing value')
    .option('--job <file.json>', 'job file: column templates and defaults (flags win over it)')
    .option('--results <file>', 'results CSV (default: <input without extension>.results.csv beside the input)')
    .option('--rate <n>', "ceiling of requests per second: the account's StartTaskContact quota (default: 2)", positive('--rate'))
    .option('--burst <n>', 'burst allowance of that quota (default: 5)', whole('--burst'))
    .option('--concurrency <n>', 'cap on requests in flight (default: automatic from observed latency)', whole('--concurrency'))
    .option('--max-attempts <n>', 'attempts per row for 5xx, timeouts and resets; throttles do not count (default: 8)', whole('--max-attempts'))
    .option('--request-timeout <seconds>', 'time limit per request; no answer by then = unknown outcome, resent with the same token (default: 15)', positive('--request-timeout'))
    .option('--deadline <seconds>', 'stop taking new rows after this long, finish what is in flight, exit 3', positive('--deadline'))
    .option('--token-namespace <s>', "mixed into every ClientToken (default: the input file's name)")
    .option('--token-key <col[,col...]>', 'columns that identify a row for its ClientToken (default: the whole mapped request)', (v: string) => v.split(',').map((s) => s.trim()))
    .option('--dry-run', 'validate and write the results file with what would be sent; send nothing')
    .option('--resume', 'continue an interrupted run: rows already final in --results are skipped, the rest sent with the same tokens')
    .option('--endpoint <url>', 'service endpoint (emulator, VPC endpoint); AWS_ENDPOINT_URL_CONNECT works too')
    .option('--region <region>', 'AWS Region (standard chain: AWS_REGION, profile)')
    .option('--profile <name>', 'AWS profile (standard credential chain otherwise)')
    .option('--encoding <enc>', 'input encoding: utf8, latin1, windows-1252, utf-16le… (default: utf8; invalid UTF-8 is an error)')
    .option('--delimiter <char>', 'field delimiter, e.g. ";" (default: ",")');
}

function addOperatorOptions(cmd: Command): Command {
  return cmd
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace', 'info')
    .addOption(new Option('--log-format <format>', 'pretty on a terminal, json otherwise').choices(['json', 'pretty']))
    .option('--no-progress', 'no progress bar (it is shown only on a terminal anyway)')
    .option('--summary-json <file>', 'also write the summary as JSON to this file');
}

/** Sets up logs and progress, runs the import, prints the summary; returns the exit code. */
async function runWithOperatorOutput(options: RerunOptions, flags: OperatorFlags, command: 'run' | 'rerun' = 'run'): Promise<number> {
  const tty = Boolean(process.stderr.isTTY);
  const progress = flags.progress && tty && flags.logFormat !== 'json' ? new ProgressView() : undefined;
  const logger = createLogger({ level: flags.logLevel, format: flags.logFormat ?? (tty ? 'pretty' : 'json'), stream: progress?.logStream });

  // First signal: stop reading, drain in-flight requests, record them. Second: leave at once.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      progress?.stop();
      process.stderr.write(`\n${name} again: stopping now. Run again with --resume to finish exactly.\n`);
      process.exit(130);
    }
    logger.warn({ signal: name }, 'stopping: finishing requests in flight (press Ctrl-C again to stop at once)');
    controller.abort(new Error(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let summary: Summary;
  try {
    const full = { ...options, logger, signal: controller.signal, onProgress: progress && ((p: Progress) => progress.update(p)) };
    summary = await (command === 'rerun' ? rerunImport(full) : runImport(full));
  } finally {
    progress?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (flags.summaryJson) writeFileSync(flags.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${formatSummary(summary)}\n`);
  if (summary.fatalError) return summary.rows.created === 0 ? EXIT.usage : EXIT.interrupted;
  if (summary.alreadyDone) return EXIT.ok;
  if (summary.interrupted) {
    process.stdout.write(`Interrupted. Run the same command again with --resume to finish: rows already recorded are skipped.\n`);
    return EXIT.interrupted;
  }
  return summary.rows.failed + summary.rows.invalid > 0 || summary.inputError ? EXIT.rowsFailed : EXIT.ok;
}

/** The flags of run/validate as commander parses them (names camel-cased). */
interface RunFlags extends OperatorFlags {
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  job?: string;
  results?: string;
  rate?: number;
  burst?: number;
  concurrency?: number;
  maxAttempts?: number;
  requestTimeout?: number;
  deadline?: number;
  tokenNamespace?: string;
  tokenKey?: string[];
  dryRun?: boolean;
  resume?: boolean;
  includeInvalid?: boolean;
  endpoint?: string;
  region?: string;
  profile?: string;
  encoding?: string;
  delimiter?: string;
}

function toRunOptions(input: string, f: RunFlags): RunOptions {
  return {
    input,
    results: f.results,
    job: f.job,
    instanceId: f.instanceId,
    contactFlowId: f.contactFlowId,
    taskTemplateId: f.taskTemplateId,
    quickConnectId: f.quickConnectId,
    rate: f.rate,
    burst: f.burst,
    concurrency: f.concurrency,
    maxAttempts: f.maxAttempts,
    requestTimeoutMs: f.requestTimeout !== undefined ? f.requestTimeout * 1000 : undefined,
    deadlineSeconds: f.deadline,
    tokenNamespace: f.tokenNamespace,
    tokenKey: f.tokenKey,
    dryRun: f.dryRun,
    resume: f.resume,
    endpoint: f.endpoint,
    region: f.region,
    profile: f.profile,
    encoding: f.encoding,
    delimiter: f.delimiter,
  };
}

const EXAMPLES = `
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

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command()
    .name('connect-task-loader')
    .description('Bulk-create Amazon Connect tasks from CSV files: rate-limited to your quota, idempotent, with a results file for every row.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    // Before the subcommands are added, so they inherit it: commander must not exit on its own.
    .exitOverride()
    .addHelpText('after', EXAMPLES);

  addOperatorOptions(addRunOptions(program.command('run').argument('<input>', 'CSV file, - for standard input, or a .csv.gz file')))
    .description('import rows: one StartTaskContact per record, a results row for each')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput(toRunOptions(input, flags), flags)));

  addOperatorOptions(addRunOptions(program.command('rerun').argument('<results.csv>', 'the results file of an earlier run (or rerun)')))
    .description('send again the rows of a results file that failed; rows that succeeded are copied, not sent')
    .option('--include-invalid', 'also send invalid rows (after correcting them in the results file)')
    .addHelpText(
      'after',
      `
Mapping, routing and token options default to the earlier run's (kept in <results>.run.json); flags win.
Each row keeps its ClientToken unless its content changed. Writes <results>.rerun-1.csv (a rerun of that
writes .rerun-2.csv), where Result.Line still points into the original input.

Example:
  connect-task-loader rerun tickets.results.csv`,
    )
    .action(async (input: string, flags: RunFlags) =>
      setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), includeInvalid: flags.includeInvalid }, flags, 'rerun')),
    );

  addOperatorOptions(addRunOptions(program.command('validate').argument('<input>', 'CSV file, - or .csv.gz')))
    .description('map and validate every row and write the results file as planned; send nothing (run --dry-run)')
    .action(async (input: string, flags: RunFlags) => setExit(await runWithOperatorOutput({ ...toRunOptions(input, flags), dryRun: true }, flags)));

  program
    .command('emulator')
    .description('start the local StartTaskContact emulator in the foreground (real SDK and AWS CLI work against it)')
    .option('--port <n>', 'port (0 = a free one)', port, 4566)
    .option('--host <addr>', 'address to bind; loopback unless you need otherwise', '127.0.0.1')
    .option('--rate <n>', 'StartTaskContact quota, requests/s', positive('--rate'), 2)
    .option('--burst <n>', 'burst of that quota', whole('--burst'), 5)
    .option('--latency-ms <n>', 'added latency per request', Number, 0)
    .option('--jitter-ms <n>', 'random extra latency up to this', Number, 0)
    .option('--fail-before <p>', 'probability of a 500 before creating', probability)
    .option('--fail-after <p>', 'probability of a 500 after creating (the task exists)', probability)
    .option('--reset-after <p>', 'probability of a dropped connection after creating', probability)
    .option('--seed <n>', 'seed for injected faults and jitter', Number, 1)
    .option('--max-active-tasks <n>', 'active tasks per instance before 402 (real default 2500; default unlimited)', whole('--max-active-tasks'))
    .option('--task-lifetime <seconds>', 'how long a task stays active', positive('--task-lifetime'))
    .option('--instance <id:flow[,flow]>', 'a known instance and its contact flows (repeatable); default: the demo instance', collect, [] as string[])
    .action(async (o: EmulatorFlags) => {
      const options: EmulatorOptions = {
        port: o.port,
        host: o.host,
        rate: o.rate,
        burst: o.burst,
        latencyMs: o.latencyMs,
        latencyJitterMs: o.jitterMs,
        faults: { failBefore: o.failBefore, failAfter: o.failAfter, resetAfter: o.resetAfter, seed: o.seed },
        maxActiveTasks: o.maxActiveTasks,
        taskLifetimeMs: o.taskLifetime !== undefined ? o.taskLifetime * 1000 : undefined,
        ...(o.instance.length ? { instances: parseInstances(o.instance) } : {}),
      };
      const emulator = await startEmulator(options);
      process.stdout.write(
        `StartTaskContact emulator on ${emulator.url} (quota ${o.rate}/s, burst ${o.burst})\n` +
          (o.instance.length ? '' : `Instance ${DEMO_INSTANCE_ID}, contact flow ${DEMO_CONTACT_FLOW_ID}\n`) +
          `Stats: ${emulator.url}/__emulator/stats · Ctrl-C to stop\n`,
      );
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await emulator.close();
      setExit(EXIT.ok);
    });

  program
    .command('demo')
    .description('import samples/tasks.csv into an in-process emulator and show the results (what npm start runs)')
    .action(async () => setExit(await demo(runWithOperatorOutput)));

  return program;
}

interface EmulatorFlags {
  port: number;
  host: string;
  rate: number;
  burst: number;
  latencyMs: number;
  jitterMs: number;
  failBefore?: number;
  failAfter?: number;
  resetAfter?: number;
  seed: number;
  maxActiveTasks?: number;
  taskLifetime?: number;
  instance: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseInstances(specs: string[]): NonNullable<EmulatorOptions['instances']> {
  return Object.fromEntries(
    specs.map((spec) => {
      const [id, flows = ''] = spec.split(':');
      return [id!, { contactFlows: flows.split(',').filter(Boolean) }];
    }),
  );
}

/** The version in package.json, one directory above dist/. */
function packageVersion(): string {
  const pkg = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (err instanceof LoaderError) {
      process.stderr.write(`connect-task-loader: ${err.message}\n`);
      exitCode = err.exitCode;
    } else {
      process.stderr.write(
        `connect-task-loader: internal error — this should never happen. Please report it with the command you ran.\n${(err as Error)?.stack ?? String(err)}\n` +
          `If a run was in progress, run it again with --resume: rows already recorded are skipped.\n`,
      );
      exitCode = EXIT.internal;
    }
  }
  process.exit(exitCode);
}

await main();
