/**
 * connect-task-loader as a library: the same pipeline the CLI runs, for a Lambda handler or a script.
 *
 *   import { runImport } from 'connect-task-loader';
 *   const summary = await runImport({ input: 'tasks.csv', instanceId, contactFlowId, rate: 2 });
 */
export { runImport, rerunImport } from './run/run.js';
export type { RunOptions, RerunOptions, Logger, Progress } from './run/options.js';
export { type Summary } from './run/summary.js';
export { ConnectSender, createConnectClient, type TaskSender, type ClientOptions } from './delivery/send.js';
export { startEmulator, type Emulator, type EmulatorOptions } from './emulator/server.js';
export {
  DEMO_INSTANCE_ID, DEMO_CONTACT_FLOW_ID, DEMO_TASK_TEMPLATE_ID, DEMO_QUICK_CONNECT_ID,
  type EmulatorStats, type ServiceOptions, type FaultOptions, type InstanceResources, type StoredTask,
} from './emulator/service.js';
export { checkJobFile, loadJobFile, type JobFile } from './config/job.js';
export { clientToken } from './input/token.js';
export { LoaderError, UsageError, InputError, LockedError } from './errors.js';
export { type RunIdentity, type RunState } from './ledger/state.js';
export type { TaskRequest, SendOutcome, RowResult, RowStatus, Violation } from './types.js';
