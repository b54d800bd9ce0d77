/**
 * The column convention (SPEC.md, docs/input.md "Column convention"): which request member a header maps
 * to with no job file. Pure. A header that plainly means a member but cannot be one (`References.x`
 * with no type, an attribute key with a space) is a refusal: every row would lose that value.
 */
import { UsageError } from '../errors.js';
import type { SegmentAttributeValue } from '../types.js';
import { ATTRIBUTE_KEY, LIMITS, TASK_REFERENCE_TYPES } from './rules.js';

/** Members a header (or a job file) can set with a single string. */
export const SCALAR_MEMBERS = [
  'InstanceId',
  'ContactFlowId',
  'TaskTemplateId',
  'QuickConnectId',
  'PreviousContactId',
  'RelatedContactId',
  'Name',
  'Description',
  'ScheduledTime',
  'ClientToken',
] as const;
export type ScalarMember = (typeof SCALAR_MEMBERS)[number];

/** Members built from several columns, each under its own prefix. */
export const COMPOUND_MEMBERS = ['Attributes', 'References', 'SegmentAttributes', 'Attachments'] as const;

const ATTACHMENT_PARTS = ['FileName', 'S3Url'] as const;
type AttachmentPart = (typeof ATTACHMENT_PARTS)[number];

export type Target =
  | { kind: 'member'; member: ScalarMember }
  | { kind: 'attribute'; key: string }
  | { kind: 'reference'; name: string; type: string }
  | { kind: 'segment'; key: string }
  /** `n` is 1-based, as in the header `Attachments.<n>.FileName`. */
  | { kind: 'attachment'; n: number; part: AttachmentPart };

/** The member path a target fills, as messages and the results file name it. */
export function memberKey(t: Target): string {
  switch (t.kind) {
    case 'member':
      return t.member;
    case 'attribute':
      return `Attributes.${t.key}`;
    case 'reference':
      return `References.${t.name}`;
    case 'segment':
      return `SegmentAttributes.${t.key}`;
    case 'attachment':
      return `Attachments.${t.n}.${t.part}`;
  }
}

/** Which member a header maps to by the convention, or undefined for a carried-only column. */
export function conventionTarget(header: string): Target | undefined {
  if (header.startsWith('Result.')) return undefined; // a results file fed back in
  if ((SCALAR_MEMBERS as readonly string[]).includes(header)) return { kind: 'member', member: header as ScalarMember };
  const where = `column "${header}"`;
  if (header.startsWith('Attributes.'))
    return { kind: 'attribute', key: checkAttributeKey(header.slice('Attributes.'.length), where) };
  if (header.startsWith('References.')) {
    const rest = header.slice('References.'.length);
    const dot = rest.lastIndexOf('.');
    if (dot <= 0) {
      throw new UsageError(
        `${where}: a reference column is named References.<name>.<TYPE> (did you mean ` +
          `"References.${rest || 'name'}.URL"? types: ${TASK_REFERENCE_TYPES.join(', ')})`,
      );
    }
    return { kind: 'reference', name: rest.slice(0, dot), type: checkReferenceType(rest.slice(dot + 1), where) };
  }
  if (header.startsWith('SegmentAttributes.'))
    return { kind: 'segment', key: checkSegmentKey(header.slice('SegmentAttributes.'.length), where) };
  if (header.startsWith('Attachments.')) {
    const m = /^Attachments\.([1-9]\d*)\.(FileName|S3Url)$/.exec(header);
    if (!m || Number(m[1]) > LIMITS.attachments.max) {
      throw new UsageError(
        `${where}: an attachment column is named Attachments.<n>.FileName or Attachments.<n>.S3Url, n = 1 ` +
          `to ${LIMITS.attachments.max}`,
      );
    }
    return { kind: 'attachment', n: Number(m[1]), part: m[2] as AttachmentPart };
  }
  return undefined;
}

export function checkAttributeKey(key: string, where: string): string {
  if (!ATTRIBUTE_KEY.test(key))
    throw new UsageError(`${where}: attribute key "${key}" may contain only letters, digits, "-" and "_"`);
  return key;
}

export function checkReferenceType(type: string, where: string): string {
  if (!(TASK_REFERENCE_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(
      `${where}: reference type "${type}" is not one a task accepts (${TASK_REFERENCE_TYPES.join(', ')})`,
    );
  }
  return type;
}

export function checkSegmentKey(key: string, where: string): string {
  const { min, max } = LIMITS.segmentKey;
  if (key.length < min || key.length > max)
    throw new UsageError(`${where}: a segment attribute key must be ${min} to ${max} characters`);
  return key;
}

/** Every attachment index must have both halves mapped, or every row would be missing one. */
export function checkAttachmentPairs(targets: Target[], where = 'the header'): void {
  const parts = new Map<number, Set<string>>();
  for (const t of targets)
    if (t.kind === 'attachment') (parts.get(t.n) ?? parts.set(t.n, new Set()).get(t.n)!).add(t.part);
  for (const [n, have] of parts) {
    const missing = ATTACHMENT_PARTS.find((p) => !have.has(p));
    if (missing)
      throw new UsageError(
        `${where} maps Attachments.${n}.${[...have][0]} but not Attachments.${n}.${missing}: an attachment needs both`,
      );
  }
}

/**
 * A SegmentAttributes cell: a JSON object is the SegmentAttributeValue as the API takes it
 * (`{"ValueMap":{"ExpiryDuration":{"ValueInteger":135}}}`); any other text is a ValueString.
 * Text that starts like an object but is not valid JSON is refused rather than sent as a string.
 */
export function segmentValue(text: string): { ok: true; value: SegmentAttributeValue } | { ok: false; rule: string } {
  if (!text.trimStart().startsWith('{')) return { ok: true, value: { ValueString: text } };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      ok: false,
      rule: 'starts with "{" but is not valid JSON: write a SegmentAttributeValue such as {"ValueString":"…"}',
    };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, rule: 'must be a JSON object (a SegmentAttributeValue) or plain text' };
  return { ok: true, value: json as SegmentAttributeValue };
}
