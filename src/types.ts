/**
 * Types named for the pipeline stage that produces them: InputRecord → TaskRequest → SendOutcome → RowResult,
 * and the Logger every stage reports through. At the bottom of the imports, so any module may name them.
 */

/** One CSV record as read, before any mapping. */
export interface InputRecord {
  /** Physical line in the input where the record starts (1 = header). */
  line: number;
  /** Cell values in header order. */
  values: string[];
  /** Bytes of decoded input up to the end of this record (for progress). */
  endByte?: number;
  /**
   * The record could not be read (over the size limit, a stray quote, a quote never closed): it
   * becomes an `invalid` row with this code and reason, and `values` holds what could be kept, if any.
   */
  unreadable?: { code: string; reason: string };
}

interface TaskReference {
  Type: string;
  Value: string;
}

export interface TaskAttachment {
  FileName: string;
  S3Url: string;
}

export type SegmentAttributeValue = {
  ValueString?: string;
  ValueInteger?: number;
  ValueArn?: string;
  ValueMap?: Record<string, SegmentAttributeValue>;
  ValueList?: SegmentAttributeValue[];
};

/** The StartTaskContact request members this tool sends (a subset of the SDK's input shape). */
export interface TaskRequest {
  InstanceId?: string;
  ContactFlowId?: string;
  TaskTemplateId?: string;
  QuickConnectId?: string;
  PreviousContactId?: string;
  RelatedContactId?: string;
  Name?: string;
  Description?: string;
  ScheduledTime?: Date;
  ClientToken?: string;
  Attributes?: Record<string, string>;
  References?: Record<string, TaskReference>;
  Attachments?: TaskAttachment[];
  SegmentAttributes?: Record<string, SegmentAttributeValue>;
}

/** A broken rule, named by request member (`Attributes.priority`) and, once mapped, by input column. */
export interface Violation {
  member: string;
  rule: string;
  column?: string;
}

/** What one attempt came to, by what it means for the row. */
export type SendOutcome =
  | { kind: 'created'; contactId: string }
  /** 429: the account's quota is spent; send again later, it costs the row nothing. */
  | { kind: 'throttled'; code: string; message: string }
  /** 5xx, a timeout or a broken connection: retry with the same token. `answered` false = outcome unknown. */
  | { kind: 'transient'; code: string; message: string; answered: boolean }
  /**
   * 402 at the instance's active-task limit: nothing was created, and the same request can succeed once
   * agents close tasks. The whole run waits (delivery/capacity.ts); it costs the row no attempt.
   */
  | { kind: 'capacity'; code: string; message: string }
  /** 4xx other than 429: the service refused this request; sending it again cannot help. */
  | { kind: 'refused'; code: string; message: string; status: number }
  /** Credentials or signing are wrong (no credentials, expired token, 401/403): no row can succeed. */
  | { kind: 'fatal'; code: string; message: string };

/** A pause at the instance's active-task limit, as it goes (delivery/capacity.ts). Times are Date.now(). */
export type PauseEvent =
  /** The first 402 at the limit: no new request leaves; the first probe after `nextProbeMs`. */
  | { kind: 'paused'; at: number; nextProbeMs: number; maxWaitMs: number }
  /** Probe `probe` of this pause leaves (one request). */
  | { kind: 'probe'; probe: number }
  /** The probe met the limit again: the next after `nextProbeMs`. */
  | { kind: 'full'; probe: number; pausedMs: number; nextProbeMs: number }
  /** The probe was created: sending resumes. */
  | { kind: 'resumed'; at: number; pausedMs: number; probes: number }
  /** --max-wait is over (or 0): the run stops. */
  | { kind: 'gave-up'; at: number; pausedMs: number; maxWaitMs: number }
  /** The run ended while paused. */
  | { kind: 'ended'; at: number; pausedMs: number };

/** `filtered`: the record did not meet the job file's `where`; never validated, never sent. */
export type RowStatus = 'created' | 'failed' | 'invalid' | 'filtered' | 'planned';

/** What happened to one row; written as the `Result.*` columns. */
export interface RowResult {
  line: number;
  status: RowStatus;
  contactId?: string;
  clientToken?: string;
  attempts: number;
  errorCode?: string;
  errorMessage?: string;
}

/** The minimal logger the pipeline needs; a pino logger fits. Messages never carry row content. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Rows of a results file by status (`skipped`: carried over from the earlier run, not sent again). */
export interface RowCounts {
  total: number;
  created: number;
  failed: number;
  invalid: number;
  /** Records the job file's `where` left out: never validated, never sent. */
  filtered: number;
  planned: number;
  skipped: number;
}

/** A run that stopped taking rows because too many of its rows failed (`--max-failures`, or the default). */
export interface FailureLimitStop {
  /** The limit passed: `--max-failures` as given (`50`, `5%`), or `default` (a wrong id's signature). */
  limit: string;
  /** Rows this run sent and had answered, and of them those that failed (rows in flight at the stop included). */
  sent: number;
  failed: number;
  /** The error code most of those failed rows have, with how many have it. */
  dominant: { code: string; count: number };
}

/**
 * Input bytes that are not a local path (an S3 object, pinned to one version): each `open()` reads
 * them again from the start. Its gzip data, if it is gzip, was checked whole before it is handed over.
 */
export interface ByteSource {
  /** How messages name it (`s3://bucket/key`). */
  name: string;
  /** Its size in bytes, for progress. */
  size: number;
  gzip: boolean;
  open(): NodeJS.ReadableStream;
}
