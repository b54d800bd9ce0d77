/**
 * connect-task-loader as a library: the same pipeline the CLI runs, for a Lambda handler or a script.
 *
 *   import { runImport } from 'connect-task-loader';
 *   const summary = await runImport({ input: 'tasks.csv', instanceId, contactFlowId, rate: 2 });
 */

export { checkJobFile, type JobFile, loadJobFile } from './config/job.js';
export { type ClientOptions, ConnectSender, createConnectClient, type TaskSender } from './delivery/send.js';
export { type Emulator, type EmulatorOptions, startEmulator } from './emulator/server.js';
export {
  DEMO_CONTACT_FLOW_ID,
  DEMO_INSTANCE_ID,
  DEMO_QUICK_CONNECT_ID,
  DEMO_TASK_TEMPLATE_ID,
  type EmulatorStats,
  type FaultOptions,
  type InstanceResources,
  type ServiceOptions,
  type StoredTask,
} from './emulator/service.js';
export { InputError, LoaderError, LockedError, StoppedError, UsageError } from './errors.js';
export type { Condition } from './input/filter.js';
export { clientToken } from './input/token.js';
export type { RunIdentity, RunState } from './ledger/state.js';
export type { Logger, Progress, RerunOptions, RunOptions } from './run/options.js';
export { rerunImport, runImport } from './run/run.js';
export { type StopOptions, type StopSummary, stopTasks } from './run/stop.js';
export type { Summary } from './run/summary.js';
export type { FailureLimitStop, RowResult, RowStatus, SendOutcome, TaskRequest, Violation } from './types.js';
