/**
 * How the emulated service reads a request body and words its refusals. Like the real service, a
 * validation message echoes the value it refused ("1 validation error detected: Value 'Jane Doe' at
 * 'name' failed to satisfy constraint: …"), so that the client's redaction is tested against the
 * real thing.
 */
import { codePoints } from '../input/rules.js';
import type { TaskRequest, Violation } from '../types.js';

/** Members whose length the emulator can be told to limit more tightly than the client's rules. */
export type LengthLimits = Partial<Record<(typeof STRING_MEMBERS)[number], number>>;

/** The real service's message for rule violations, each with the value it refused. */
export function validationMessage(req: TaskRequest, violations: Violation[]): string {
  const n = violations.length;
  const each = violations.map(
    (v) =>
      `Value ${shown(valueAt(req, v.member))} at '${path(v.member)}' failed to satisfy ` +
      `constraint: ${v.member} ${v.rule}`,
  );
  return `${n} validation error${n === 1 ? '' : 's'} detected: ${each.join('; ')}`;
}

/**
 * A limit stricter than the client's table (an older or stricter service: the first API pages said
 * Name ≤ 512): the request passes the client's validation and is refused on the wire.
 */
export function stricterLength(req: TaskRequest, limits: LengthLimits | undefined): string | undefined {
  for (const [member, max] of Object.entries(limits ?? {}) as [keyof LengthLimits, number][]) {
    const value = req[member];
    if (typeof value === 'string' && codePoints(value) > max) {
      return (
        `1 validation error detected: Value ${shown(value)} at '${path(member)}' failed to satisfy constraint: ` +
        `Member must have length less than or equal to ${max}`
      );
    }
  }
  return undefined;
}

/** The value at a violation's member path (`Attributes.key`, `Attachments.1.FileName`, 1-based lists). */
function valueAt(req: TaskRequest, member: string): unknown {
  let at: unknown = req;
  let rest = member;
  while (rest && at !== undefined && at !== null && typeof at === 'object') {
    const map = at as Record<string, unknown>;
    if (rest in map) return map[rest];
    const dot = rest.indexOf('.');
    const head = dot < 0 ? rest : rest.slice(0, dot);
    at = Array.isArray(at) ? at[Number(head) - 1] : map[head];
    rest = dot < 0 ? '' : rest.slice(dot + 1);
  }
  return rest ? undefined : at;
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (value instanceof Date) return `'${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}'`;
  return `'${typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value)}'`;
}

/** The service's member path: lower camel case (`Attributes.ticketId` → `attributes.ticketId`). */
function path(member: string): string {
  return member.charAt(0).toLowerCase() + member.slice(1);
}

/** The members whose length a stricter limit (`maxLengths`) may cap. */
export const STRING_MEMBERS = [
  'InstanceId',
  'ContactFlowId',
  'TaskTemplateId',
  'QuickConnectId',
  'PreviousContactId',
  'RelatedContactId',
  'Name',
  'Description',
  'ClientToken',
] as const;

/** Checks JSON types the way the service's deserializer does, and turns epoch seconds into a Date. */
export function parseRequest(body: unknown): { request: TaskRequest } | { error: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { error: 'The request body must be a JSON object' };
  const b = body as Record<string, unknown>;
  const request: TaskRequest = {};
  for (const m of STRING_MEMBERS) {
    if (b[m] === undefined) continue;
    if (typeof b[m] !== 'string') return { error: `${m} must be a string` };
    request[m] = b[m];
  }
  if (b.ScheduledTime !== undefined) {
    if (typeof b.ScheduledTime !== 'number') return { error: 'ScheduledTime must be a number (epoch seconds)' };
    request.ScheduledTime = new Date(b.ScheduledTime * 1000);
  }
  if (b.Attributes !== undefined) {
    if (!isStringMap(b.Attributes)) return { error: 'Attributes must map strings to strings' };
    request.Attributes = b.Attributes;
  }
  if (b.References !== undefined) {
    const refs = b.References;
    if (
      typeof refs !== 'object' ||
      refs === null ||
      Object.values(refs).some((r) => typeof r !== 'object' || r === null || !isStringMap(r))
    ) {
      return { error: 'References must map names to {Type, Value}' };
    }
    request.References = refs as TaskRequest['References'];
  }
  if (b.Attachments !== undefined) {
    if (!Array.isArray(b.Attachments) || b.Attachments.some((a) => typeof a !== 'object' || a === null))
      return { error: 'Attachments must be a list' };
    request.Attachments = b.Attachments as TaskRequest['Attachments'];
  }
  if (b.SegmentAttributes !== undefined) {
    if (typeof b.SegmentAttributes !== 'object' || b.SegmentAttributes === null)
      return { error: 'SegmentAttributes must be a map' };
    request.SegmentAttributes = b.SegmentAttributes as TaskRequest['SegmentAttributes'];
  }
  return { request };
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}
