/** `emulator`: the local StartTaskContact emulator in the foreground, for rehearsals and the AWS CLI. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { EmulatorOptions } from '../../emulator/server.js';
import { type AlreadyEndedAnswer, DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import { UsageError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { collect, integer, nonNegative, port, positive, probability, whole } from '../parsers.js';

/** Signals that stop the emulator. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function addEmulatorCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  program
    .command('emulator')
    .description('start the local StartTaskContact emulator in the foreground (real SDK and AWS CLI work against it)')
    .option('--port <n>', 'port (0 = a free one)', port, 4566)
    .option('--host <addr>', 'address to bind; loopback unless you need otherwise', '127.0.0.1')
    .option('--rate <n>', 'StartTaskContact quota, requests/s', positive('--rate'), 2)
    .option('--burst <n>', 'burst of that quota', whole('--burst'), 5)
    .option('--stop-rate <n>', 'StopContact quota, requests/s', positive('--stop-rate'), 2)
    .option('--stop-burst <n>', 'burst of that quota', whole('--stop-burst'), 5)
    .option(
      '--already-ended <answer>',
      'what StopContact answers for a task already ended: ContactNotFoundException or InvalidRequestException',
      alreadyEnded,
      'ContactNotFoundException',
    )
    .option('--latency-ms <n>', 'added latency per request', nonNegative('--latency-ms'), 0)
    .option('--jitter-ms <n>', 'random extra latency up to this', nonNegative('--jitter-ms'), 0)
    .option('--fail-before <p>', 'probability of a 500 before creating', probability)
    .option('--fail-after <p>', 'probability of a 500 after creating (the task exists)', probability)
    .option('--reset-after <p>', 'probability of a dropped connection after creating', probability)
    .option('--proxy-error <p>', 'probability of an HTML 503 from a proxy in front of the service', probability)
    .option('--seed <n>', 'seed for injected faults and jitter', integer('--seed'), 1)
    .option(
      '--max-active-tasks <n>',
      'active tasks per instance before 402 (real default 2500; default unlimited)',
      whole('--max-active-tasks'),
    )
    .option('--task-lifetime <seconds>', 'how long a task stays active', positive('--task-lifetime'))
    .option(
      '--drain-rate <tasks/s>',
      'active tasks that end per second, oldest first (agents working through them)',
      positive('--drain-rate'),
    )
    .addOption(
      new Option('--instance <id:flow[,flow]>', 'a known instance and its contact flows (repeatable)')
        .argParser(collect)
        .default([] as string[], 'the demo instance'),
    )
    .addHelpText(
      'after',
      `
Examples:
  # The demo instance and flow, at the default StartTaskContact quota (2/s, burst 5); Ctrl-C stops it
  connect-task-loader emulator --port 4566

  # A busier account: a higher quota, 120 ms latency, 1 % server errors, the 2,500 active-task cap
  connect-task-loader emulator --port 4566 --rate 10 --burst 10 --latency-ms 120 --fail-before 0.01 --max-active-tasks 2500

  # A small instance whose agents close a task every 2 s: runs pause at the limit and go on as tasks end
  connect-task-loader emulator --port 4566 --rate 20 --burst 20 --max-active-tasks 50 --drain-rate 0.5

Exit codes: 0 stopped by Ctrl-C or SIGTERM · 2 usage (a bad flag, the port in use) · 70 internal error`,
    )
    .action(async (o: EmulatorFlags) => {
      const options: EmulatorOptions = {
        port: o.port,
        host: o.host,
        rate: o.rate,
        burst: o.burst,
        stopRate: o.stopRate,
        stopBurst: o.stopBurst,
        alreadyEnded: o.alreadyEnded,
        latencyMs: o.latencyMs,
        latencyJitterMs: o.jitterMs,
        faults: {
          failBefore: o.failBefore,
          failAfter: o.failAfter,
          resetAfter: o.resetAfter,
          proxyError: o.proxyError,
          seed: o.seed,
        },
        maxActiveTasks: o.maxActiveTasks,
        taskLifetimeMs: o.taskLifetime !== undefined ? o.taskLifetime * 1000 : undefined,
        drainRate: o.drainRate,
        ...(o.instance.length ? { instances: parseInstances(o.instance) } : {}),
      };
      const { startEmulator } = await import('../../emulator/server.js');
      const emulator = await startEmulator(options).catch((err: unknown) => {
        throw listenError(err, o.port, o.host);
      });
      // Listen before saying where we are: a SIGTERM sent on reading the address must stop us cleanly.
      let stop = () => {};
      const stopped = new Promise<void>((done) => (stop = done));
      for (const signal of STOP_SIGNALS) process.once(signal, stop);
      try {
        io.stdout.write(
          `StartTaskContact emulator on ${emulator.url} (quota ${o.rate}/s, burst ${o.burst})\n` +
            (o.instance.length
              ? Object.entries(parseInstances(o.instance))
                  .map(
                    ([id, { contactFlows }]) => `Instance ${id}, contact flows ${contactFlows?.join(', ') || 'none'}\n`,
                  )
                  .join('')
              : `Instance ${DEMO_INSTANCE_ID}, contact flow ${DEMO_CONTACT_FLOW_ID}\n`) +
            `Stats: ${emulator.url}/__emulator/stats · Ctrl-C to stop\n`,
        );
        await stopped;
      } finally {
        // The other signal's listener too: nothing of the command stays behind in the process.
        for (const signal of STOP_SIGNALS) process.off(signal, stop);
      }
      await emulator.close();
      setExit(EXIT.ok);
    });
}

interface EmulatorFlags {
  port: number;
  host: string;
  rate: number;
  burst: number;
  stopRate: number;
  stopBurst: number;
  alreadyEnded: AlreadyEndedAnswer;
  latencyMs: number;
  jitterMs: number;
  failBefore?: number;
  failAfter?: number;
  resetAfter?: number;
  proxyError?: number;
  seed: number;
  maxActiveTasks?: number;
  taskLifetime?: number;
  drainRate?: number;
  instance: string[];
}

/** A port or address the emulator cannot listen on is the user's to change, not a bug (SPEC: never exit 70). */
function listenError(err: unknown, port: number, host: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new UsageError(`port ${port} is in use: pass --port 0 for a free one or another port`);
  if (code === 'EACCES')
    return new UsageError(
      `port ${port} needs privileges this user lacks: pass --port 0 for a free one or a port above 1023`,
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EINVAL') {
    return new UsageError(`cannot listen on --host ${host} (${code}): pass an address of this machine, e.g. 127.0.0.1`);
  }
  return err;
}

function parseInstances(specs: string[]): NonNullable<EmulatorOptions['instances']> {
  return Object.fromEntries(
    specs.map((spec) => {
      const [id, flows = ''] = spec.split(':');
      return [id!, { contactFlows: flows.split(',').filter(Boolean) }];
    }),
  );
}

function alreadyEnded(value: string): AlreadyEndedAnswer {
  if (value === 'ContactNotFoundException' || value === 'InvalidRequestException') return value;
  throw new InvalidArgumentError('--already-ended must be ContactNotFoundException or InvalidRequestException');
}
