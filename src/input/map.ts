/**
 * Stage 2 — map. Pure: turns a record into a TaskRequest by the column convention (SPEC.md) and the
 * job file's templates, and remembers which column fed each member so that a broken rule can name it.
 *
 * A mapping is compiled once from the header (so a typo in a job file fails before anything is
 * sent) and then applied to every record.
 */
import { UsageError } from '../errors.js';
import { ATTRIBUTE_KEY, ROUTING_MEMBERS, TASK_REFERENCE_TYPES } from './rules.js';
import type { InputRecord, TaskRequest, Violation } from '../types.js';

/** Members a header (or a job file) can set with a single string. */
export const SCALAR_MEMBERS = [
  'InstanceId', 'ContactFlowId', 'TaskTemplateId', 'QuickConnectId', 'PreviousContactId',
  'RelatedContactId', 'Name', 'Description', 'ScheduledTime', 'ClientToken',
] as const;
export type ScalarMember = (typeof SCALAR_MEMBERS)[number];

/** `{{Column name}}` placeholders; everything else in a template is literal text. */
const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

/** A template compiled against the header: literal text and column indexes. */
interface Template {
  parts: (string | number)[];
  /** Indexes of the columns it reads, for "is it empty?" and for naming columns in messages. */
  columns: number[];
}

type Target =
  | { kind: 'member'; member: ScalarMember }
  | { kind: 'attribute'; key: string }
  | { kind: 'reference'; name: string; type: string };

interface Field {
  target: Target;
  template: Template;
}

/** Request members supplied outside the file: flags win over the job file (SPEC). */
export type Defaults = Partial<Record<'InstanceId' | 'ContactFlowId' | 'TaskTemplateId' | 'QuickConnectId', string>>;

/** What a job file's `task` section may hold: templates per member. */
export interface TaskTemplateSpec {
  [member: string]: unknown;
  Attributes?: Record<string, string>;
  References?: Record<string, { Type: string; Value: string }>;
}

export interface Mapping {
  header: string[];
  fields: Field[];
  defaults: Defaults;
  /** Where each default came from, e.g. `--instance-id`, for messages. */
  defaultSources: Partial<Record<keyof Defaults, string>>;
}

export interface MappedRow {
  request: TaskRequest;
  /** Request member (`Name`, `Attributes.priority`) → the column(s) or flag that supplied it. */
  sources: Map<string, string[]>;
}

export type MapResult = { ok: true; row: MappedRow } | { ok: false; violations: Violation[] };

const memberKey = (t: Target): string =>
  t.kind === 'member' ? t.member : t.kind === 'attribute' ? `Attributes.${t.key}` : `References.${t.name}`;

/**
 * Compiles the column convention plus an optional job-file `task` section against `header`.
 * The job file wins for a member it sets; the convention fills the rest.
 */
export function compileMapping(
  header: string[],
  options: { task?: TaskTemplateSpec; defaults?: Defaults; defaultSources?: Mapping['defaultSources'] } = {},
): Mapping {
  const index = indexHeader(header);
  const fields = new Map<string, Field>();
  const add = (target: Target, template: Template) => fields.set(memberKey(target), { target, template });

  header.forEach((name, i) => {
    const target = conventionTarget(name);
    if (target) add(target, { parts: [i], columns: [i] });
  });

  const task = options.task ?? {};
  for (const [member, spec] of Object.entries(task)) {
    if (member === 'Attributes') {
      for (const [key, tpl] of Object.entries(asRecord(spec, 'task.Attributes'))) {
        checkAttributeKey(key, `task.Attributes.${key}`);
        add({ kind: 'attribute', key }, compileTemplate(asString(tpl, `task.Attributes.${key}`), index, `task.Attributes.${key}`));
      }
    } else if (member === 'References') {
      for (const [name, ref] of Object.entries(asRecord(spec, 'task.References'))) {
        const where = `task.References.${name}`;
        const { Type, Value } = asRecord(ref, where);
        const type = checkReferenceType(asString(Type, `${where}.Type`), `${where}.Type`);
        add({ kind: 'reference', name, type }, compileTemplate(asString(Value, `${where}.Value`), index, `${where}.Value`));
      }
    } else if ((SCALAR_MEMBERS as readonly string[]).includes(member)) {
      add({ kind: 'member', member: member as ScalarMember }, compileTemplate(asString(spec, `task.${member}`), index, `task.${member}`));
    } else {
      throw new UsageError(`job file: task.${member} is not a StartTaskContact member this tool maps (use one of ${SCALAR_MEMBERS.join(', ')}, Attributes, References)`);
    }
  }
  return { header, fields: [...fields.values()], defaults: options.defaults ?? {}, defaultSources: options.defaultSources ?? {} };
}

/** The column convention: which member a header maps to, or undefined for a carried-only column. */
export function conventionTarget(header: string): Target | undefined {
  if (header.startsWith('Result.')) return undefined; // a results file fed back in
  if ((SCALAR_MEMBERS as readonly string[]).includes(header)) return { kind: 'member', member: header as ScalarMember };
  if (header.startsWith('Attributes.')) {
    const key = header.slice('Attributes.'.length);
    checkAttributeKey(key, `column "${header}"`);
    return { kind: 'attribute', key };
  }
  if (header.startsWith('References.')) {
    const rest = header.slice('References.'.length);
    const dot = rest.lastIndexOf('.');
    if (dot <= 0) throw new UsageError(`column "${header}": a reference column is named References.<name>.<TYPE>`);
    const type = checkReferenceType(rest.slice(dot + 1), `column "${header}"`);
    return { kind: 'reference', name: rest.slice(0, dot), type };
  }
  return undefined;
}

/** Applies a compiled mapping to one record. Never throws: a bad record becomes violations. */
export function mapRecord(mapping: Mapping, record: InputRecord): MapResult {
  const { header } = mapping;
  if (record.values.length !== header.length) {
    return {
      ok: false,
      violations: [{ member: 'record', rule: `has ${record.values.length} fields but the header has ${header.length} (a stray quote or delimiter?)` }],
    };
  }
  const request: TaskRequest = {};
  const sources = new Map<string, string[]>();
  const violations: Violation[] = [];

  for (const { target, template } of mapping.fields) {
    const columns = template.columns.map((i) => header[i]!);
    const key = memberKey(target);
    // Recorded even when empty, so that "Name: is required" can name the empty column.
    sources.set(key, columns);
    const value = render(template, record.values);
    if (value === undefined) continue;
    if (target.kind === 'attribute') {
      (request.Attributes ??= {})[target.key] = value;
    } else if (target.kind === 'reference') {
      (request.References ??= {})[target.name] = { Type: target.type, Value: value };
    } else if (target.member === 'ScheduledTime') {
      const when = parseTime(value);
      if (when) request.ScheduledTime = when;
      else violations.push({ member: key, column: columns.join(', '), rule: 'must be an ISO 8601 time with a zone (2026-12-01T09:00:00Z) or epoch seconds' });
    } else {
      request[target.member] = value;
    }
  }

  for (const [member, value] of Object.entries(mapping.defaults) as [keyof Defaults, string | undefined][]) {
    if (value === undefined || request[member] !== undefined) continue;
    // A routing flag must not add a second route to a row that already names one.
    if ((ROUTING_MEMBERS as readonly string[]).includes(member) && ROUTING_MEMBERS.some((m) => request[m] !== undefined)) continue;
    request[member] = value;
    sources.set(member, [mapping.defaultSources[member] ?? 'default']);
  }

  return violations.length ? { ok: false, violations } : { ok: true, row: { request, sources } };
}

/** Empty cells are absent: a template whose every column is empty yields nothing. */
function render(template: Template, values: string[]): string | undefined {
  if (template.columns.length > 0 && template.columns.every((i) => values[i] === '')) return undefined;
  if (template.parts.length === 1 && typeof template.parts[0] === 'number') return values[template.parts[0]];
  // Values are inserted once and never expanded again: a cell holding "{{x}}" stays literal text.
  return template.parts.map((p) => (typeof p === 'number' ? values[p] : p)).join('');
}

export function compileTemplate(text: string, index: Map<string, number>, where: string): Template {
  const parts: (string | number)[] = [];
  const columns: number[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    const i = index.get(name);
    if (i === undefined) {
      throw new UsageError(`${where}: no column named "${name}" in the input header (columns: ${[...index.keys()].join(', ')})`);
    }
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(i);
    columns.push(i);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return { parts, columns };
}

function indexHeader(header: string[]): Map<string, number> {
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    if (!index.has(name)) index.set(name, i);
  });
  const dupes = header.filter((name, i) => index.get(name) !== i && conventionTarget(name));
  if (dupes.length) throw new UsageError(`the header repeats the mapped column(s) ${[...new Set(dupes)].map((d) => `"${d}"`).join(', ')}`);
  return index;
}

/** ISO 8601 with a zone, or whole epoch seconds. A time without a zone is ambiguous, so refused. */
export function parseTime(value: string): Date | undefined {
  if (/^\d{9,11}$/.test(value)) return new Date(Number(value) * 1000);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function checkAttributeKey(key: string, where: string): void {
  if (!ATTRIBUTE_KEY.test(key)) throw new UsageError(`${where}: attribute key "${key}" may contain only letters, digits, "-" and "_"`);
}

function checkReferenceType(type: string, where: string): string {
  if (!(TASK_REFERENCE_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(`${where}: reference type "${type}" is not one a task accepts (${TASK_REFERENCE_TYPES.join(', ')})`);
  }
  return type;
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`job file: ${where} must be an object`);
  return value as Record<string, unknown>;
}

function asString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new UsageError(`job file: ${where} must be a string template such as "{{Column}}"`);
  return value;
}
