/**
 * The run id: one per invocation of a run (a --resume of the same results file gets its own), carried
 * by every log line, the run state, the summary, the timeline, the report and the metrics, so that a
 * journald or ELK search for it finds everything one night did.
 *
 * Its start time in ISO 8601 basic format (UTC, to the second) and 8 random hex digits:
 * `20261204T021500Z-3f9a1c2e`. It sorts by start time as text (`ls`, `sort`, a log index), a person
 * reads when the run began from it, and 32 random bits tell apart runs started in the same second. A
 * UUIDv7 sorts too, but says nothing to a reader; randomUUID() (v4) does not sort.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../types.js';

export function newRunId(now = new Date()): string {
  const time = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${time}-${randomBytes(4).toString('hex')}`;
}

/**
 * `log` with `runId` on every line: a pino logger's child binding (once, in front of each line's
 * fields), or a wrapper for any other logger.
 */
export function withRunId(log: Logger, runId: string): Logger {
  const child = (log as { child?: (bindings: object) => Logger }).child;
  if (typeof child === 'function') return child.call(log, { runId });
  return {
    info: (obj, msg) => log.info({ runId, ...obj }, msg),
    warn: (obj, msg) => log.warn({ runId, ...obj }, msg),
    debug: (obj, msg) => log.debug({ runId, ...obj }, msg),
  };
}
