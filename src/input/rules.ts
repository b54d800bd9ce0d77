/**
 * StartTaskContact's input rules, from the current API model (see api-facts.md). One table serves
 * both the client-side validator (so an invalid row is never sent) and the emulator (so a rule we
 * forget on the client is still caught on the wire, as the real service would).
 *
 * Lengths are counted in Unicode code points, as Smithy's @length trait does for strings;
 * byte budgets in UTF-8 bytes.
 */
import type { SegmentAttributeValue, TaskRequest, Violation } from '../types.js';

export const LIMITS = {
  InstanceId: { min: 1, max: 100 },
  Name: { min: 0, max: 1024 },
  Description: { min: 0, max: 4096 },
  ContactFlowId: { min: 0, max: 500 },
  TaskTemplateId: { min: 1, max: 500 },
  PreviousContactId: { min: 1, max: 256 },
  RelatedContactId: { min: 1, max: 256 },
  ClientToken: { min: 0, max: 500 },
  attributesBytes: 32_768,
  referenceName: { min: 1, max: 4096 },
  referenceValue: { min: 0, max: 4096 },
  referencesBytes: 4096,
  attachments: { min: 1, max: 5 },
  attachmentFileName: { min: 1, max: 256 },
  attachmentS3Url: { min: 1, max: 2000 },
  segmentKey: { min: 1, max: 128 },
  segmentValueString: { max: 1024 },
  /** The Admin Guide allows scheduling up to 90 days ahead (the model's prose still says 6). */
  scheduledDaysAhead: 90,
  /** Tasks sharing one PreviousContactId. */
  chainLength: 12,
} as const;

/** Reference types a task accepts at creation. */
export const TASK_REFERENCE_TYPES = ['URL', 'NUMBER', 'STRING', 'DATE', 'EMAIL'] as const;

/** The three ways to route a task; exactly one must be given. */
export const ROUTING_MEMBERS = ['ContactFlowId', 'QuickConnectId', 'TaskTemplateId'] as const;

/** Attribute keys: letters, digits, hyphen and underscore (Admin Guide; the model has no pattern). */
export const ATTRIBUTE_KEY = /^[A-Za-z0-9_-]+$/;
// eslint-disable-next-line no-control-regex
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this rule's job
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function checkLength(out: Violation[], member: string, value: string, limit: { min?: number; max?: number }): void {
  const n = codePoints(value);
  if (limit.min !== undefined && n < limit.min)
    out.push({ member, rule: `must be at least ${limit.min} characters (found ${n})` });
  if (limit.max !== undefined && n > limit.max)
    out.push({ member, rule: `must be at most ${limit.max} characters (found ${n})` });
}

type StringMember = keyof typeof LIMITS & keyof TaskRequest;
const STRING_MEMBERS: StringMember[] = [
  'InstanceId',
  'Name',
  'Description',
  'ContactFlowId',
  'TaskTemplateId',
  'PreviousContactId',
  'RelatedContactId',
  'ClientToken',
];

/**
 * Every rule `req` breaks. `now` is injected so the check is pure (ScheduledTime depends on it).
 * Messages name the member and the rule, never the value.
 */
export function checkTaskRequest(req: TaskRequest, now: Date): Violation[] {
  const out: Violation[] = [];
  if (req.InstanceId === undefined) out.push({ member: 'InstanceId', rule: 'is required' });
  if (req.Name === undefined) out.push({ member: 'Name', rule: 'is required' });
  for (const member of STRING_MEMBERS) {
    const value = req[member];
    if (typeof value === 'string') checkLength(out, member, value, LIMITS[member]);
  }

  const routes = ROUTING_MEMBERS.filter((m) => req[m] !== undefined);
  if (routes.length !== 1) {
    out.push({
      member: routes[1] ?? 'ContactFlowId',
      rule:
        `exactly one of ${ROUTING_MEMBERS.join(', ')} is required ` +
        `(found ${routes.length === 0 ? 'none' : routes.join(' and ')})`,
    });
  }

  if (req.Attributes) checkAttributes(out, req.Attributes);
  if (req.References) checkReferences(out, req.References);
  if (req.ScheduledTime !== undefined) checkScheduledTime(out, req.ScheduledTime, now);
  if (req.Attachments !== undefined) checkAttachments(out, req.Attachments);
  if (req.SegmentAttributes) checkSegmentAttributes(out, req.SegmentAttributes);
  return out;
}

function checkAttributes(out: Violation[], attributes: Record<string, string>): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_KEY.test(key)) {
      out.push({ member: `Attributes.${key}`, rule: 'key may contain only letters, digits, "-" and "_"' });
    }
    bytes += utf8Bytes(key) + utf8Bytes(value);
  }
  if (bytes > LIMITS.attributesBytes) {
    out.push({
      member: 'Attributes',
      rule: `keys and values together must be at most ${LIMITS.attributesBytes} UTF-8 bytes (found ${bytes})`,
    });
  }
}

function checkReferences(out: Violation[], references: Record<string, { Type?: unknown; Value?: unknown }>): void {
  let bytes = 0;
  for (const [name, ref] of Object.entries(references)) {
    const member = `References.${name}`;
    checkLength(out, member, name, LIMITS.referenceName);
    if (typeof ref.Type !== 'string' || !(TASK_REFERENCE_TYPES as readonly string[]).includes(ref.Type)) {
      out.push({ member, rule: `Type must be one of ${TASK_REFERENCE_TYPES.join(', ')} for a task` });
    }
    const value = typeof ref.Value === 'string' ? ref.Value : '';
    checkLength(out, member, value, LIMITS.referenceValue);
    bytes += utf8Bytes(name) + utf8Bytes(value);
  }
  if (bytes > LIMITS.referencesBytes) {
    out.push({
      member: 'References',
      rule: `names and values together must be at most ${LIMITS.referencesBytes} UTF-8 bytes (found ${bytes})`,
    });
  }
}

function checkScheduledTime(out: Violation[], when: Date, now: Date): void {
  const rule = scheduledTimeRule(when, now);
  if (rule) out.push({ member: 'ScheduledTime', rule });
}

/**
 * The ScheduledTime rule at instant `now`: not in the past, at most 90 days ahead. Applied when a row
 * is prepared and again just before it is sent, so a long run never sends a time that has passed.
 */
export function scheduledTimeRule(when: Date, now: Date): string | undefined {
  const t = when.getTime();
  if (Number.isNaN(t)) return 'must be a valid time';
  if (t < now.getTime()) return 'must not be in the past';
  if (t > now.getTime() + LIMITS.scheduledDaysAhead * 86_400_000)
    return `must be at most ${LIMITS.scheduledDaysAhead} days ahead`;
  return undefined;
}

function checkAttachments(out: Violation[], attachments: { FileName?: unknown; S3Url?: unknown }[]): void {
  const { min, max } = LIMITS.attachments;
  if (attachments.length < min || attachments.length > max) {
    out.push({ member: 'Attachments', rule: `must hold ${min} to ${max} items (found ${attachments.length})` });
  }
  attachments.forEach((a, i) => {
    const member = `Attachments.${i + 1}`;
    const fileName = typeof a.FileName === 'string' ? a.FileName : '';
    const url = typeof a.S3Url === 'string' ? a.S3Url : '';
    checkLength(out, `${member}.FileName`, fileName, LIMITS.attachmentFileName);
    if (CONTROL_CHARS.test(fileName))
      out.push({ member: `${member}.FileName`, rule: 'must not contain control characters' });
    checkLength(out, `${member}.S3Url`, url, LIMITS.attachmentS3Url);
  });
}

function checkSegmentAttributes(out: Violation[], attributes: Record<string, SegmentAttributeValue>): void {
  for (const [key, value] of Object.entries(attributes)) {
    const member = `SegmentAttributes.${key}`;
    checkLength(out, member, key, LIMITS.segmentKey);
    checkSegmentValue(out, member, value, 0);
  }
}

const SEGMENT_KINDS = ['ValueString', 'ValueInteger', 'ValueMap', 'ValueList', 'ValueArn'];
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/**
 * A SegmentAttributeValue all the way down: exactly one kind, of the right type, nothing else — so that a
 * cell's JSON is sent as written or refused, never sent with a part silently dropped or of the wrong type.
 */
function checkSegmentValue(out: Violation[], member: string, value: unknown, depth: number): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    out.push({ member, rule: 'must be a SegmentAttributeValue object' });
    return;
  }
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  const unknown = keys.filter((k) => !SEGMENT_KINDS.includes(k));
  // The cell's own keys are its data: counted, never quoted.
  if (unknown.length)
    out.push({
      member,
      rule:
        `holds ${unknown.length} key${unknown.length === 1 ? '' : 's'} other than ${SEGMENT_KINDS.join(', ')}: a ` +
        `SegmentAttributeValue holds only one of them`,
    });
  const kinds = keys.filter((k) => SEGMENT_KINDS.includes(k) && v[k] !== undefined);
  if (kinds.length !== 1) {
    out.push({ member, rule: `must hold exactly one of ${SEGMENT_KINDS.join(', ')}` });
    return;
  }
  if (depth > 5) {
    out.push({ member, rule: 'nests ValueMap/ValueList deeper than 5 levels' });
    return;
  }
  const kind = kinds[0]!;
  const inner = v[kind];
  if (kind === 'ValueString' || kind === 'ValueArn') {
    if (typeof inner !== 'string') out.push({ member, rule: `${kind} must be a string` });
    else checkLength(out, member, inner, LIMITS.segmentValueString);
  } else if (kind === 'ValueInteger') {
    if (!Number.isInteger(inner) || (inner as number) < INT32.min || (inner as number) > INT32.max)
      out.push({ member, rule: 'ValueInteger must be a whole number within 32 bits' });
  } else if (kind === 'ValueList') {
    if (!Array.isArray(inner)) out.push({ member, rule: 'ValueList must be a list of SegmentAttributeValues' });
    else for (const [n, item] of inner.entries()) checkSegmentValue(out, `${member}[${n}]`, item, depth + 1);
  } else if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
    out.push({ member, rule: 'ValueMap must be an object of SegmentAttributeValues' });
  } else {
    // A ValueMap's keys come from the cell: named by their place, never by their text.
    Object.entries(inner).forEach(([k, item], n) => {
      checkLength(out, `${member}.ValueMap[key ${n + 1}]`, k, LIMITS.segmentKey);
      checkSegmentValue(out, `${member}.ValueMap[key ${n + 1}]`, item, depth + 1);
    });
  }
}
