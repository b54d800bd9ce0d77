/**
 * The emulated StartTaskContact service, without HTTP: throttle, validate, resolve resources,
 * idempotency, quotas, create — in the order the real service applies them — plus seeded faults;
 * and StopContact / DescribeContact for the tasks it created.
 */
import { randomUUID } from 'node:crypto';
import { checkTaskRequest, LIMITS } from '../input/rules.js';
import { TokenBucket } from '../rate/bucket.js';
import type { TaskRequest } from '../types.js';
import { mulberry32 } from './random.js';
import { type LengthLimits, parseRequest, stricterLength, validationMessage } from './validation.js';

/** Resources of one emulated Connect instance. */
export interface InstanceResources {
  contactFlows?: string[];
  taskTemplates?: string[];
  quickConnects?: string[];
}

export interface FaultOptions {
  /** Probability of a 500 before anything is created. */
  failBefore?: number;
  /** Probability of a 500 after the task was created (the client cannot tell). */
  failAfter?: number;
  /** Probability of a dropped connection after the task was created. */
  resetAfter?: number;
  /**
   * Probability of an HTML 503 from a proxy or load balancer in front of the service, before
   * anything is created: an answer whose body is not the service's JSON.
   */
  proxyError?: number;
  /** Seed for the fault and jitter draws, so a failing test can be replayed. */
  seed?: number;
}

export interface ServiceOptions {
  /** StartTaskContact quota: requests per second and burst, like a real account (2 / 5). */
  rate?: number;
  burst?: number;
  /** Known instances and their resources; unknown ones answer 404. Default: the demo instance. */
  instances?: Record<string, InstanceResources>;
  /** Concurrent active tasks per instance (the real default is 2,500); default unlimited. */
  maxActiveTasks?: number;
  /** How long a created task stays active, in ms (agents closing tasks); default forever. */
  taskLifetimeMs?: number;
  /** Active tasks that end per second, oldest first, across instances (agents working through them); default none. */
  drainRate?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  faults?: FaultOptions;
  /** Length limits stricter than the API model's (the client does not know them), e.g. `{ Name: 512 }`. */
  maxLengths?: LengthLimits;
  /** StopContact's own quota ("Rate of StopContact API requests"): requests per second and burst (2 / 5). */
  stopRate?: number;
  stopBurst?: number;
  /**
   * What StopContact answers for a task that has already ended, which the API leaves undocumented:
   * 410 ContactNotFoundException (the default) or 400 InvalidRequestException saying it is not active.
   */
  alreadyEnded?: AlreadyEndedAnswer;
}

export type AlreadyEndedAnswer = 'ContactNotFoundException' | 'InvalidRequestException';

export const DEMO_INSTANCE_ID = '00000000-0000-4000-8000-00000000c0de';
export const DEMO_CONTACT_FLOW_ID = '00000000-0000-4000-8000-0000000f1000';
export const DEMO_TASK_TEMPLATE_ID = '00000000-0000-4000-8000-00000000a7e1';
export const DEMO_QUICK_CONNECT_ID = '00000000-0000-4000-8000-0000000000c1';

const DEFAULT_INSTANCES: Record<string, InstanceResources> = {
  [DEMO_INSTANCE_ID]: {
    contactFlows: [DEMO_CONTACT_FLOW_ID],
    taskTemplates: [DEMO_TASK_TEMPLATE_ID],
    quickConnects: [DEMO_QUICK_CONNECT_ID],
  },
};

/**
 * A created task: the request as the service received it (every member), its ContactId and time, and
 * whether it is still active (it counts toward the active-task limit) or ended, and when (ms).
 */
export interface StoredTask extends TaskRequest {
  ContactId: string;
  InstanceId: string;
  Name: string;
  createdAt: number;
  state: 'active' | 'ended';
  endedAt?: number;
  /** StopContact requests that reached this task (after the throttle), and whether one ended it. */
  stopRequests?: number;
  stoppedByRequest?: boolean;
}

export interface EmulatorStats {
  requests: number;
  created: number;
  replayed: number;
  throttled: number;
  /** Answers by error code (ThrottlingException included). */
  errors: Record<string, number>;
  /** Injected faults by kind. */
  faults: { failBefore: number; failAfter: number; resetAfter: number; proxyError: number };
  /** Tasks stored, and the most tasks any one ClientToken produced (1 when idempotency held). */
  tasks: number;
  maxTasksPerToken: number;
  /** Tasks active now (over every instance), the most ever active at once, and tasks ended. */
  activeTasks: number;
  peakActiveTasks: number;
  endedTasks: number;
  /** Requests refused with 402 at the active-task limit. */
  refusedAtLimit: number;
  rate: number;
  burst: number;
  /**
   * StopContact requests (throttled ones included), tasks they ended (each task at most once: the
   * tasks route tells, per task, how many requests reached it), and requests throttled.
   */
  stopRequests: number;
  stopped: number;
  stopThrottled: number;
  stopRate: number;
  stopBurst: number;
}

/** What the HTTP layer should do with one request. */
/** What a load balancer in front of a service answers when its target is away. */
const PROXY_PAGE =
  '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n' +
  '<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n';

export type Answer =
  | { status: 200; body: Record<string, unknown> }
  | { status: number; error: string; message: string; reason?: string }
  | { reset: true }
  | { status: number; html: string };

export class TaskService {
  private bucket: TokenBucket;
  private stopBucket: TokenBucket;
  private options: Required<
    Pick<ServiceOptions, 'rate' | 'burst' | 'latencyMs' | 'latencyJitterMs' | 'stopRate' | 'stopBurst'>
  > &
    ServiceOptions;
  private readonly byContactId = new Map<string, StoredTask>();
  private random: () => number;
  private readonly byToken = new Map<string, StoredTask>();
  private readonly chains = new Map<string, number>();
  readonly tasks: StoredTask[] = [];
  private tasksPerToken = new Map<string, number>();
  /**
   * Told of each StartTaskContact request as it arrives, before the throttle: its number (from 1) and
   * the time (`performance.now()`, ms). For programs that run the emulator in-process and watch the
   * pace of what reaches it, or act at a known point of a run (stop the client after the n-th request).
   */
  onRequest?: (n: number, at: number) => void;
  /** Told of each StopContact request as it arrives, before its throttle: its number (from 1). */
  onStopRequest?: (n: number, at: number) => void;
  private readonly counters: Omit<
    EmulatorStats,
    'tasks' | 'maxTasksPerToken' | 'rate' | 'burst' | 'activeTasks' | 'peakActiveTasks' | 'stopRate' | 'stopBurst'
  > = {
    requests: 0,
    created: 0,
    replayed: 0,
    throttled: 0,
    errors: {},
    faults: { failBefore: 0, failAfter: 0, resetAfter: 0, proxyError: 0 },
    endedTasks: 0,
    refusedAtLimit: 0,
    stopRequests: 0,
    stopped: 0,
    stopThrottled: 0,
  };
  /** Active tasks, oldest first (ended ones are skipped as they come to the front). */
  private readonly active: StoredTask[] = [];
  private activeHead = 0;
  private readonly activeBy = new Map<string, number>();
  private activeCount = 0;
  private peakActive = 0;
  /** The drain has ended tasks up to this time (ms). */
  private drainedTo = Date.now();

  constructor(options: ServiceOptions = {}) {
    this.options = { rate: 2, burst: 5, stopRate: 2, stopBurst: 5, latencyMs: 0, latencyJitterMs: 0, ...options };
    this.bucket = new TokenBucket(this.options.rate, this.options.burst);
    this.stopBucket = new TokenBucket(this.options.stopRate, this.options.stopBurst);
    this.random = mulberry32(options.faults?.seed ?? 1);
  }

  /** Changes settings mid-run (a quota raised, faults switched off, a flow added). */
  configure(patch: ServiceOptions): void {
    // Tasks due to end under the old lifetime or drain rate end first.
    this.settle();
    this.options = { ...this.options, ...patch, faults: { ...this.options.faults, ...patch.faults } };
    if (patch.rate !== undefined || patch.burst !== undefined)
      this.bucket.setRate(this.options.rate, this.options.burst);
    if (patch.stopRate !== undefined || patch.stopBurst !== undefined)
      this.stopBucket.setRate(this.options.stopRate, this.options.stopBurst);
    if (patch.faults?.seed !== undefined) this.random = mulberry32(patch.faults.seed);
  }

  addInstance(instanceId: string, resources: InstanceResources): void {
    const instances = { ...(this.options.instances ?? DEFAULT_INSTANCES) };
    const known = instances[instanceId] ?? {};
    instances[instanceId] = {
      contactFlows: [...(known.contactFlows ?? []), ...(resources.contactFlows ?? [])],
      taskTemplates: [...(known.taskTemplates ?? []), ...(resources.taskTemplates ?? [])],
      quickConnects: [...(known.quickConnects ?? []), ...(resources.quickConnects ?? [])],
    };
    this.options.instances = instances;
  }

  /** Milliseconds to hold this request before answering. */
  latency(): number {
    const { latencyMs, latencyJitterMs } = this.options;
    return latencyMs + (latencyJitterMs ? this.random() * latencyJitterMs : 0);
  }

  /** The throttle is applied on arrival, before any other work, as a front-door quota is. */
  admit(): Answer | undefined {
    this.counters.requests++;
    this.onRequest?.(this.counters.requests, performance.now());
    if (this.bucket.tryTake()) return undefined;
    this.counters.throttled++;
    return this.error(429, 'ThrottlingException', 'Rate exceeded');
  }

  /** StopContact's throttle: its own quota, applied on arrival as StartTaskContact's is. */
  admitStop(): Answer | undefined {
    this.counters.stopRequests++;
    this.onStopRequest?.(this.counters.stopRequests, performance.now());
    if (this.stopBucket.tryTake()) return undefined;
    this.counters.stopThrottled++;
    return this.error(429, 'ThrottlingException', 'Rate exceeded');
  }

  /**
   * StopContact for a task this emulator created: active → ended. An unknown ContactId is 410
   * ContactNotFoundException; an unknown instance, or a contact of another instance, 404
   * ResourceNotFoundException; a task already ended answers as `alreadyEnded` says. The same faults
   * as StartTaskContact's may strike before or after the task is ended.
   */
  stopContact(body: unknown): Answer {
    const fields = body as Record<string, unknown> | null;
    for (const member of ['ContactId', 'InstanceId'] as const) {
      const value = fields?.[member];
      if (typeof value !== 'string' || value.length < 1 || value.length > 256)
        return this.error(
          400,
          'InvalidParameterException',
          `1 validation error detected: Value at '${member[0]!.toLowerCase()}${member.slice(1)}' failed to satisfy constraint: Member must have length between 1 and 256`,
        );
    }
    const { ContactId, InstanceId } = fields as { ContactId: string; InstanceId: string };
    if (!this.resources(InstanceId)) return this.error(404, 'ResourceNotFoundException', 'Instance not found');
    this.settle();
    const task = this.byContactId.get(ContactId);
    if (!task) return this.error(410, 'ContactNotFoundException', 'Contact not found');
    if (task.InstanceId !== InstanceId)
      return this.error(404, 'ResourceNotFoundException', 'Contact not found in this instance');
    task.stopRequests = (task.stopRequests ?? 0) + 1;

    return this.withFaults('stopping the contact', () => {
      if (task.state === 'ended') {
        return this.options.alreadyEnded === 'InvalidRequestException'
          ? this.error(400, 'InvalidRequestException', 'Contact is not active: it has already ended')
          : this.error(410, 'ContactNotFoundException', 'Contact not found');
      }
      this.finish(task, Date.now());
      task.stoppedByRequest = true;
      this.counters.stopped++;
      return { status: 200, body: {} };
    });
  }

  /**
   * One action between the injected faults: a proxy's page or a 500 before it (nothing done), a 500
   * or a dropped connection after it (done, the answer lost). A refusal of the action's own is
   * answered as it is.
   */
  private withFaults(what: string, act: () => Answer): Answer {
    const faults = this.options.faults ?? {};
    if (this.draw(faults.proxyError)) {
      this.counters.faults.proxyError++;
      return { status: 503, html: PROXY_PAGE };
    }
    if (this.draw(faults.failBefore)) {
      this.counters.faults.failBefore++;
      return this.error(500, 'InternalServiceException', `Injected failure before ${what}`);
    }
    const answer = act();
    if (!('body' in answer)) return answer;
    if (this.draw(faults.failAfter)) {
      this.counters.faults.failAfter++;
      return this.error(500, 'InternalServiceException', `Injected failure after ${what}`);
    }
    if (this.draw(faults.resetAfter)) {
      this.counters.faults.resetAfter++;
      return { reset: true };
    }
    return answer;
  }

  /** A task by its ContactId, with its state as of now. */
  contact(contactId: string): StoredTask | undefined {
    this.settle();
    return this.byContactId.get(contactId);
  }

  startTask(body: unknown): Answer {
    const parsed = parseRequest(body);
    if ('error' in parsed) return this.error(400, 'SerializationException', parsed.error);
    const req = parsed.request;
    const violations = checkTaskRequest(req, new Date());
    if (violations.length) return this.error(400, 'InvalidParameterException', validationMessage(req, violations));
    const stricter = stricterLength(req, this.options.maxLengths);
    if (stricter) return this.error(400, 'InvalidParameterException', stricter);
    const missing = this.missingResource(req);
    if (missing) return this.error(404, 'ResourceNotFoundException', missing);

    const known = req.ClientToken !== undefined ? this.byToken.get(req.ClientToken) : undefined;
    if (known) {
      this.counters.replayed++;
      return { status: 200, body: { ContactId: known.ContactId } };
    }
    const cap = this.options.maxActiveTasks;
    if (cap !== undefined && this.activeTasks(req.InstanceId!) >= cap) {
      this.counters.refusedAtLimit++;
      return this.error(
        402,
        'ServiceQuotaExceededException',
        'The maximum number of concurrent active tasks for this instance has been reached',
        'ACTIVE_TASKS',
      );
    }
    if (req.PreviousContactId && (this.chains.get(req.PreviousContactId) ?? 0) >= LIMITS.chainLength) {
      return this.error(
        402,
        'ServiceQuotaExceededException',
        `At most ${LIMITS.chainLength} tasks can be linked to one PreviousContactId`,
        'PREVIOUS_CONTACT_CHAIN',
      );
    }

    return this.withFaults('creating the task', () => {
      const task = this.create(req);
      return { status: 200, body: { ContactId: task.ContactId } };
    });
  }

  stats(): EmulatorStats {
    this.settle();
    let maxTasksPerToken = 0;
    for (const n of this.tasksPerToken.values()) maxTasksPerToken = Math.max(maxTasksPerToken, n);
    return {
      ...structuredClone(this.counters),
      tasks: this.tasks.length,
      maxTasksPerToken,
      activeTasks: this.activeCount,
      peakActiveTasks: this.peakActive,
      rate: this.options.rate,
      burst: this.options.burst,
      stopRate: this.options.stopRate,
      stopBurst: this.options.stopBurst,
    };
  }

  /** Every created task, each with its state as of now. */
  listTasks(): StoredTask[] {
    this.settle();
    return this.tasks;
  }

  /**
   * Ends the `count` oldest active tasks now (all of them without a count), as agents closing them
   * would; returns how many ended.
   */
  endTasks(count = Infinity): number {
    const now = Date.now();
    this.settle(now);
    let n = 0;
    while (n < count && this.end(now)) n++;
    return n;
  }

  private create(req: TaskRequest): StoredTask {
    const now = Date.now();
    this.settle(now);
    // Agents with nothing to do bank no time: the drain starts with the first task.
    if (this.activeCount === 0) this.drainedTo = now;
    const task: StoredTask = {
      ...req,
      ContactId: randomUUID(),
      InstanceId: req.InstanceId!,
      Name: req.Name!,
      createdAt: now,
      state: 'active',
    };
    this.tasks.push(task);
    this.byContactId.set(task.ContactId, task);
    this.active.push(task);
    this.activeCount++;
    this.peakActive = Math.max(this.peakActive, this.activeCount);
    this.activeBy.set(task.InstanceId, (this.activeBy.get(task.InstanceId) ?? 0) + 1);
    this.counters.created++;
    if (req.ClientToken !== undefined) {
      this.byToken.set(req.ClientToken, task);
      this.tasksPerToken.set(req.ClientToken, (this.tasksPerToken.get(req.ClientToken) ?? 0) + 1);
    }
    if (req.PreviousContactId)
      this.chains.set(req.PreviousContactId, (this.chains.get(req.PreviousContactId) ?? 0) + 1);
    return task;
  }

  private activeTasks(instanceId: string): number {
    this.settle();
    return this.activeBy.get(instanceId) ?? 0;
  }

  /** Ends the tasks due by `now`: those older than the lifetime, then those the drain rate reached. */
  private settle(now = Date.now()): void {
    const lifetime = this.options.taskLifetimeMs;
    if (lifetime !== undefined) {
      for (let oldest = this.oldest(); oldest && oldest.createdAt + lifetime <= now; oldest = this.oldest())
        this.end(oldest.createdAt + lifetime);
    }
    const rate = this.options.drainRate;
    if (!rate) {
      this.drainedTo = now;
      return;
    }
    const step = 1000 / rate;
    while (this.activeCount > 0 && this.drainedTo + step <= now) {
      this.drainedTo += step;
      this.end(Math.max(this.drainedTo, this.oldest()!.createdAt));
    }
    if (this.activeCount === 0) this.drainedTo = now;
  }

  /** The oldest active task, dropping ended ones from the front of the queue. */
  private oldest(): StoredTask | undefined {
    while (this.activeHead < this.active.length && this.active[this.activeHead]!.state !== 'active') this.activeHead++;
    // Compact now and then: the queue holds only what may still be active.
    if (this.activeHead > 1024 && this.activeHead * 2 > this.active.length) {
      this.active.splice(0, this.activeHead);
      this.activeHead = 0;
    }
    return this.active[this.activeHead];
  }

  /** Ends the oldest active task at `at`; false when none is active. */
  private end(at: number): boolean {
    const task = this.oldest();
    if (!task) return false;
    this.finish(task, at);
    return true;
  }

  /** Ends one active task at `at`: it no longer counts toward the active-task limit. */
  private finish(task: StoredTask, at: number): void {
    task.state = 'ended';
    task.endedAt = at;
    this.activeCount--;
    this.activeBy.set(task.InstanceId, this.activeBy.get(task.InstanceId)! - 1);
    this.counters.endedTasks++;
  }

  /** What the emulator knows of one instance (for the read-only Describe/Get calls), or undefined. */
  resources(instanceId: string): InstanceResources | undefined {
    return (this.options.instances ?? DEFAULT_INSTANCES)[instanceId];
  }

  private missingResource(req: TaskRequest): string | undefined {
    const instance = this.resources(req.InstanceId!);
    if (!instance) return 'Instance not found';
    if (req.ContactFlowId !== undefined && !instance.contactFlows?.includes(req.ContactFlowId))
      return 'ContactFlow not found';
    if (req.TaskTemplateId !== undefined && !instance.taskTemplates?.includes(req.TaskTemplateId))
      return 'TaskTemplate not found';
    if (req.QuickConnectId !== undefined && !instance.quickConnects?.includes(req.QuickConnectId))
      return 'QuickConnect not found';
    return undefined;
  }

  private draw(probability: number | undefined): boolean {
    return probability !== undefined && probability > 0 && this.random() < probability;
  }

  /** An error answer, counted by code. */
  error(status: number, error: string, message: string, reason?: string): Answer {
    this.counters.errors[error] = (this.counters.errors[error] ?? 0) + 1;
    return { status, error, message, ...(reason ? { reason } : {}) };
  }
}
