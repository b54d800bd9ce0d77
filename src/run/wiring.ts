/**
 * Everything the pipeline's flow runs inside: the sender (or none, for a dry run), the limiter (this
 * process's adaptive token bucket, or one shared through Redis), the wait at the instance's
 * active-task limit and the dispatcher, one stop signal (the caller's, the deadline's, or our own on a
 * fatal error, a dead endpoint or a --max-wait spent), the counters, and a ticker that re-sizes
 * in-flight work and reports progress.
 */
import { setMaxListeners } from 'node:events';
import { setInterval as every } from 'node:timers';
import type { RunConfig } from '../config/resolve.js';
import { CapacityGate } from '../delivery/capacity.js';
import { InFlightSizer, initialConcurrency, MAX_AUTO_CONCURRENCY } from '../delivery/concurrency.js';
import { Dispatcher } from '../delivery/dispatch.js';
import { ReachWatch } from '../delivery/reach.js';
import { DEFAULT_RETRY } from '../delivery/retry.js';
import { ConnectSender, createConnectClient, type TaskSender } from '../delivery/send.js';
import { RunStats } from '../observe/stats.js';
import { createLimiter } from '../rate/choose.js';
import type { Limiter } from '../rate/limiter.js';
import type { S3Target } from '../s3/client.js';
import type { RunHooks } from './options.js';

/**
 * How many row workers the run wants now: one per slot of the in-flight window, plus one per row
 * backing off before a retry (it keeps its worker while it waits, and the others must go on
 * sending), up to another window's worth. That bound matters in an outage: every row taken fails
 * fast and backs off, and each would start a worker for a fresh row, which would fail in turn, so
 * the outage would spend the attempts of rows read at the full pace (20 s of 5xx at --rate 1000:
 * 903 rows failed instead of 28). No spare: a row prepared ahead of its slot waits in the limiter's
 * queue and is sent the moment an answer frees a slot, in the middle of reading the other answers;
 * sent from a worker that has just written its row, requests leave together and answers come back
 * together. Unthrottled, 10,000 rows: 64 spare workers cost 0.58 ms CPU a row and 5.2 s; none,
 * 0.45 ms and 3.9 s (bench scenario 4).
 */
function workersWanted(dispatcher: Dispatcher | undefined, concurrency: number, cap: number): number {
  if (!dispatcher) return 1;
  const window = Math.min(cap, concurrency);
  return window + Math.min(dispatcher.backingOff, window);
}

export interface Wiring {
  stats: RunStats;
  /** Pace and in-flight cap: this process's own, or shared through Redis (rate/choose.ts). */
  rate: Limiter;
  /** Undefined on a dry run: nothing is sent. */
  dispatcher: Dispatcher | undefined;
  /** Aborted when the run must stop taking rows. */
  signal: AbortSignal;
  /** Stop taking rows because of something the run itself saw (e.g. credentials refused). */
  stop(reason: string): void;
  /** Set when the run stopped because the endpoint could not be reached ("cannot reach <endpoint>: …"). */
  unreachable(): string | undefined;
  /** Pauses at the instance's active-task limit; undefined on a dry run. */
  capacity: CapacityGate | undefined;
  /** Set when the run stopped because the active-task limit held past --max-wait ("the instance's …"). */
  atLimit(): string | undefined;
  /** How many row workers should pull from the input now (read again as the in-flight cap moves). */
  workers(): number;
  concurrency(): number;
  /** Calls `tick` every 250 ms after re-sizing in-flight work; returns the function that stops it. */
  startTicker(tick: () => void): () => void;
  close(): Promise<void>;
}

/** The real SDK's sender for these settings (preflight.ts makes it before the results file, to check it is ready). */
export function createSender(config: RunConfig): TaskSender {
  return new ConnectSender(
    createConnectClient({
      ...awsTarget(config),
      maxSockets: config.get('concurrency') ?? MAX_AUTO_CONCURRENCY,
      requestTimeoutMs: config.get('requestTimeoutMs')!,
    }),
  );
}

/**
 * Where requests go and as whom: the resolved endpoint, Region and profile, and whether the environment holds
 * credentials.
 */
export function awsTarget(config: RunConfig): {
  endpoint?: string;
  region?: string;
  profile?: string;
  envCredentials: boolean;
} {
  return {
    endpoint: config.get('endpoint'),
    region: config.get('region'),
    profile: config.get('profile'),
    envCredentials: config.envCredentials,
  };
}

/** Where s3:// inputs and results are read and written, as whom: the S3 endpoint, and the run's Region and profile. */
export function s3Target(config: RunConfig): S3Target {
  return {
    endpoint: config.get('s3Endpoint'),
    region: config.get('region'),
    profile: config.get('profile'),
    envCredentials: config.envCredentials,
  };
}

export async function wire(config: RunConfig, hooks: RunHooks): Promise<Wiring> {
  const deadlineSeconds = config.get('deadlineSeconds');
  const deadlineAfter = deadlineSeconds ? Math.ceil(deadlineSeconds * 1000) : undefined;
  const maxAttempts = config.get('maxAttempts')!;
  const stats = new RunStats();
  const fixed = config.get('concurrency');
  const automatic = fixed === undefined;
  const cap = fixed ?? MAX_AUTO_CONCURRENCY;
  let concurrency = fixed ?? initialConcurrency(config.rate, config.get('burst')!, cap);
  const sizer = new InFlightSizer(concurrency, cap);
  // A dry run sends nothing: it needs no shared limiter (and no Redis).
  const rate = await createLimiter({
    ...awsTarget(config),
    rate: config.rate,
    burst: config.get('burst')!,
    redisUrl: config.dryRun ? undefined : config.get('redis'),
    limiterId: config.get('limiterId'),
    reserve: config.get('reserve'),
    concurrency,
    log: hooks.log,
  });
  const sender: TaskSender | undefined = config.dryRun ? undefined : (hooks.sender ?? createSender(config));

  const own = new AbortController();
  // Not AbortSignal.timeout: AbortSignal.any holds its sources weakly, so a timeout signal that
  // nothing else references is collected by the first major GC and never fires (the deadline was
  // silently ignored on long runs). A timer of our own, cleared on close, aborts our controller.
  const deadline =
    deadlineAfter === undefined
      ? undefined
      : setTimeout(() => own.abort(new DOMException('the run reached its --deadline', 'TimeoutError')), deadlineAfter);
  deadline?.unref();
  const signal = hooks.signal ? AbortSignal.any([own.signal, hooks.signal]) : own.signal;
  // Every row waiting for a slot or a token listens on it; hundreds of listeners are expected.
  setMaxListeners(0, signal);
  // Every attempt passes the reach watch: a dead endpoint stops the run instead of failing each row.
  const watch = new ReachWatch({ maxAttemptsPerRow: maxAttempts });
  let unreachable: string | undefined;
  const watched: TaskSender | undefined = sender && {
    startTask: async (request) => {
      const outcome = await sender.startTask(request);
      const reason = watch.observe(outcome);
      if (reason && !unreachable) {
        unreachable = `cannot reach ${config.get('endpoint') ?? 'the Amazon Connect endpoint'}: ${reason}`;
        own.abort(new Error(unreachable));
      }
      return outcome;
    },
    destroy: () => sender.destroy(),
  };
  let atLimit: string | undefined;
  const capacity =
    watched &&
    new CapacityGate({
      stats,
      maxWaitMs: Math.ceil(config.get('maxWait')! * 1000),
      firstProbeMs: hooks.capacityProbeMs,
      stop: (reason) => {
        atLimit ??= reason;
        own.abort(new Error(reason));
      },
    });
  const dispatcher =
    watched && new Dispatcher(watched, rate, { ...DEFAULT_RETRY, maxAttempts }, stats, signal, capacity);

  return {
    stats,
    rate,
    dispatcher,
    signal,
    stop: (reason) => own.abort(new Error(reason)),
    unreachable: () => unreachable,
    capacity,
    atLimit: () => atLimit,
    workers: () => workersWanted(dispatcher, concurrency, cap),
    concurrency: () => concurrency,
    startTicker(tick) {
      let last = { at: performance.now(), answers: 0, latencyMs: 0 };
      const timer = every(() => {
        if (automatic && dispatcher) {
          const now = { at: performance.now(), answers: stats.answers, latencyMs: stats.answersLatencyMs };
          concurrency = sizer.observe({
            seconds: (now.at - last.at) / 1000,
            answers: now.answers - last.answers,
            latencyMs: now.latencyMs - last.latencyMs,
            pace: rate.currentRate,
          });
          last = now;
          if (rate.concurrency !== concurrency) rate.concurrency = concurrency;
        }
        tick();
      }, 250);
      return () => clearInterval(timer);
    },
    async close() {
      clearTimeout(deadline);
      capacity?.close();
      sender?.destroy();
      await rate.close();
    },
  };
}
