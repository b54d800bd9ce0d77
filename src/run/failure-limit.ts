/**
 * The failure limit: when a run stops taking rows because its rows fail. A wrong id or a missing
 * permission fails every row alike, and at the quota's pace the whole file would be sent to say so.
 * Only rows this run sent and had answered are counted: never invalid rows (the input's fault,
 * decided before sending, reported by rule) nor rows an earlier run decided (carried over by
 * --resume, copied by a rerun). Each shard, resume and rerun counts from zero.
 */
import { DEFAULT_MAX_FAILURES, type MaxFailures, PERCENT_SAMPLE } from '../config/settings.js';
import type { FailureLimitStop, RowResult } from '../types.js';

/**
 * Errors of a target no row can reach: an id the instance does not have, a value every row shares
 * that the service refuses (a flow of the wrong type). AccessDeniedException is fatal before it
 * gets here (delivery/send.ts stops the run at once, the row unrecorded); it stays listed for a
 * sender that reports it as a refusal.
 */
const WRONG_TARGET: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'InvalidParameterException',
  'InvalidRequestException',
]);

/** Whether rows failed with this code were refused outright, nothing created: a wrong id's signature. */
export function wrongTargetCode(code: string): boolean {
  return WRONG_TARGET.has(code);
}

/** The answers a run has had so far, by row. */
export interface Tally {
  created: number;
  failed: number;
  /** Failed rows by error code. */
  byCode: ReadonlyMap<string, number>;
}

/**
 * Whether a run with these answers must stop taking rows. `limit` is --max-failures (undefined when
 * not given): a count stops at that many failed rows (0: never); a share once more than it of the
 * rows answered failed, judged from PERCENT_SAMPLE rows on; none given, the default stops at
 * DEFAULT_MAX_FAILURES rows that all failed with one wrong-target error while none was created.
 */
export function limitPassed(limit: MaxFailures | undefined, t: Tally): boolean {
  if (limit === undefined) return wrongTarget(t);
  if (typeof limit === 'number') return limit > 0 && t.failed >= limit;
  const answered = t.created + t.failed;
  return answered >= PERCENT_SAMPLE && t.failed * 100 > Number.parseFloat(limit) * answered;
}

function wrongTarget(t: Tally): boolean {
  if (t.created > 0 || t.byCode.size !== 1) return false;
  const [code] = t.byCode.keys();
  return WRONG_TARGET.has(code!) && t.failed >= DEFAULT_MAX_FAILURES;
}

/** The code most failed rows have (the first to get there on a tie). */
export function dominant(byCode: ReadonlyMap<string, number>): { code: string; count: number } {
  let top = { code: 'none', count: 0 };
  for (const [code, count] of byCode) if (count > top.count) top = { code, count };
  return top;
}

/** One run's tally, told of every row it sent as the row's answer comes. */
export class FailureLimit {
  private readonly tally = { created: 0, failed: 0, byCode: new Map<string, number>() };
  private passed = false;

  constructor(private readonly limit: MaxFailures | undefined) {}

  /** A row this run sent has its final result: true once, for the row that passes the limit. */
  answered(result: RowResult): boolean {
    const t = this.tally;
    if (result.status === 'created') t.created++;
    else if (result.status === 'failed') {
      t.failed++;
      const code = result.errorCode ?? 'Error';
      t.byCode.set(code, (t.byCode.get(code) ?? 0) + 1);
    } else return false;
    if (this.passed || !limitPassed(this.limit, t)) return false;
    this.passed = true;
    return true;
  }

  /** The stop as the summary and the run state record it (counts up to now: rows in flight then included). */
  stop(): FailureLimitStop {
    const t = this.tally;
    return {
      limit: this.limit === undefined ? 'default' : String(this.limit),
      sent: t.created + t.failed,
      failed: t.failed,
      dominant: dominant(t.byCode),
    };
  }
}
