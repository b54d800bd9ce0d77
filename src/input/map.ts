/**
 * Stage 2 — map. Pure: turns a record into a TaskRequest by the column convention (columns.ts), the
 * job file's renames, `attributesFrom` and templates, and remembers which column fed each member so
 * that a broken rule can name it.
 *
 * A mapping is compiled once from the header (so a typo in a job file fails before anything is
 * sent) and then applied to every record.
 */
import { UsageError } from '../errors.js';
import type { InputRecord, TaskAttachment, TaskRequest, Violation } from '../types.js';
import {
  checkAttachmentPairs,
  checkAttributeKey,
  conventionTarget,
  memberKey,
  segmentValue,
  type Target,
} from './columns.js';
import { headerInMessage } from './headers.js';
import { ROUTING_MEMBERS } from './rules.js';
import { compileTask, type Field, render, renderTree, type TaskTemplateSpec } from './template.js';
import { parseScheduledTime } from './time.js';

export type { TaskTemplateSpec } from './template.js';

/** Request members supplied outside the file: flags win over the job file (SPEC). */
export type Defaults = Partial<Record<'InstanceId' | 'ContactFlowId' | 'TaskTemplateId' | 'QuickConnectId', string>>;

/** Columns that fill Attributes without one template each (job file `attributesFrom`). */
export interface AttributesFrom {
  /** Columns named `<prefix><key>` fill `Attributes[<key>]`. */
  prefix?: string;
  /** Every column no other rule or template uses fills `Attributes[<column name>]`. */
  unmapped?: boolean;
  /** Columns never taken as attributes. */
  except?: string[];
}

export interface MappingOptions {
  task?: TaskTemplateSpec;
  /** Input column → the convention header it stands for (`"Subject": "Name"`). */
  columns?: Record<string, string>;
  attributesFrom?: AttributesFrom;
  /** IANA zone for ScheduledTime values written without one. */
  timeZone?: string;
  defaults?: Defaults;
  defaultSources?: Mapping['defaultSources'];
}

export interface Mapping {
  header: string[];
  fields: Field[];
  /** Per column: read by some member (convention, rename, template, attributesFrom). */
  used: boolean[];
  timeZone?: string;
  defaults: Defaults;
  /** Where each default came from, e.g. `--instance-id`, for messages. */
  defaultSources: Partial<Record<keyof Defaults, string>>;
}

export interface MappedRow {
  request: TaskRequest;
  /** Request member (`Name`, `Attributes.priority`) → the column(s) or flag that supplied it. */
  sources: Map<string, string[]>;
}

export type MapResult = { ok: true; row: MappedRow } | { ok: false; violations: Violation[]; request?: TaskRequest };

/**
 * Compiles the column convention plus an optional job file's renames, `attributesFrom` and `task`
 * section against `header`. The job file's `task` wins for a member it sets; the rest fills the gaps.
 */
export function compileMapping(header: string[], options: MappingOptions = {}): Mapping {
  const index = indexHeader(header);
  const fields = new Map<string, Field>();
  const used = header.map(() => false);
  const add = (f: Field) => {
    fields.set(memberKey(f.target), f);
    for (const i of f.template.columns) used[i] = true;
  };

  const renames = options.columns ?? {};
  for (const [from, to] of Object.entries(renames)) {
    if (!index.has(from))
      throw new UsageError(
        `job file: columns."${from}": no column named "${from}" in the input header (${headerInMessage(header)})`,
      );
    if (!conventionTarget(to))
      throw new UsageError(
        `job file: columns."${from}": "${to}" is not a column the convention maps (a member such as Name, or ` +
          `Attributes.<key>, References.<name>.<TYPE>…)`,
      );
  }
  const convention = new Map<string, number>();
  header.forEach((name, i) => {
    const renamed = index.get(name) === i ? renames[name] : undefined;
    const target = conventionTarget(renamed ?? name);
    if (!target) return;
    const key = memberKey(target);
    if (convention.has(key))
      throw new UsageError(`columns "${header[convention.get(key)!]}" and "${name}" both map to ${key}`);
    convention.set(key, i);
    add({ target, template: { parts: [i], columns: [i] } });
  });

  const task = compileTask(options.task ?? {}, index);
  for (const f of task) for (const i of f.template.columns) used[i] = true;
  if (options.attributesFrom) for (const f of attributeFields(header, used, options.attributesFrom)) add(f);
  for (const f of task) add(f);
  checkAttachmentPairs([...fields.values()].map((f) => f.target));
  return {
    header,
    fields: [...fields.values()],
    used,
    timeZone: options.timeZone,
    defaults: options.defaults ?? {},
    defaultSources: options.defaultSources ?? {},
  };
}

/** `attributesFrom`: the columns nothing else reads become attributes, by prefix or whole name. */
function attributeFields(header: string[], used: boolean[], from: AttributesFrom): Field[] {
  const except = new Set(from.except ?? []);
  for (const name of except)
    if (!header.includes(name))
      throw new UsageError(`job file: attributesFrom.except names "${name}", which is not in the input header`);
  const out: Field[] = [];
  header.forEach((name, i) => {
    if (used[i] || except.has(name) || name.startsWith('Result.')) return;
    const key =
      from.prefix && name.startsWith(from.prefix) && name.length > from.prefix.length
        ? name.slice(from.prefix.length)
        : from.unmapped
          ? name
          : undefined;
    if (key === undefined) return;
    try {
      checkAttributeKey(key, `attributesFrom: column "${name}"`);
    } catch (err) {
      throw new UsageError(
        `${(err as Error).message}: rename it in "columns" (e.g. "${name}": ` +
          `"Attributes.${key.replace(/[^A-Za-z0-9_-]+/g, '_')}") or list it in attributesFrom.except`,
      );
    }
    out.push({ target: { kind: 'attribute', key }, template: { parts: [i], columns: [i] } });
  });
  return out;
}

/** Applies a compiled mapping to one record. Never throws: a bad record becomes violations. */
export function mapRecord(mapping: Mapping, record: InputRecord): MapResult {
  const { header } = mapping;
  if (record.values.length !== header.length) {
    return {
      ok: false,
      violations: [
        {
          member: 'record',
          rule: `has ${record.values.length} fields but the header has ${header.length} (a stray quote or delimiter?)`,
        },
      ],
    };
  }
  const request: TaskRequest = {};
  const sources = new Map<string, string[]>();
  const violations: Violation[] = [];
  const attachments = new Map<number, Partial<TaskAttachment>>();

  for (const { target, template, tree } of mapping.fields) {
    const columns = template.columns.map((i) => header[i]!);
    const key = memberKey(target);
    // Recorded even when empty, so that "Name: is required" can name the empty column.
    sources.set(key, columns);
    const bad = (rule: string) => violations.push({ member: key, column: columns.join(', '), rule });
    if (tree !== undefined) {
      const out = renderTree(tree, template, record.values);
      if (out && 'rule' in out) bad(out.rule);
      else if (out) put((request.SegmentAttributes ??= {}), (target as { key: string }).key, out.value);
      continue;
    }
    const value = render(template, record.values);
    if (value === undefined) continue;
    fill(request, target, value, mapping.timeZone, attachments, bad);
  }
  if (attachments.size) request.Attachments = attachmentList(attachments, sources, violations);

  for (const [member, value] of Object.entries(mapping.defaults) as [keyof Defaults, string | undefined][]) {
    if (value === undefined || request[member] !== undefined) continue;
    // A routing flag must not add a second route to a row that already names one.
    if (
      (ROUTING_MEMBERS as readonly string[]).includes(member) &&
      ROUTING_MEMBERS.some((m) => request[m] !== undefined)
    )
      continue;
    request[member] = value;
    sources.set(member, [mapping.defaultSources[member] ?? 'default']);
  }

  return violations.length ? { ok: false, violations, request } : { ok: true, row: { request, sources } };
}

/**
 * Adds a key to a map member as an own property. Plain assignment would treat a column such as
 * `Attributes.__proto__` as the object's prototype and drop the value without a word.
 */
function put<T>(map: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Puts one rendered value where its target says. */
function fill(
  request: TaskRequest,
  target: Target,
  value: string,
  timeZone: string | undefined,
  attachments: Map<number, Partial<TaskAttachment>>,
  bad: (rule: string) => void,
): void {
  switch (target.kind) {
    case 'attribute':
      put((request.Attributes ??= {}), target.key, value);
      return;
    case 'reference':
      put((request.References ??= {}), target.name, { Type: target.type, Value: value });
      return;
    case 'segment': {
      const parsed = segmentValue(value);
      if (parsed.ok) put((request.SegmentAttributes ??= {}), target.key, parsed.value);
      else bad(parsed.rule);
      return;
    }
    case 'attachment':
      (attachments.get(target.n) ?? attachments.set(target.n, {}).get(target.n)!)[target.part] = value;
      return;
    case 'member':
      if (target.member !== 'ScheduledTime') {
        request[target.member] = value;
        return;
      }
      {
        const when = parseScheduledTime(value, timeZone);
        if (when.ok) request.ScheduledTime = when.date;
        else bad(when.rule);
      }
  }
}

/** Attachments in index order; a pair with one half empty is a violation naming the empty column. */
function attachmentList(
  parts: Map<number, Partial<TaskAttachment>>,
  sources: Map<string, string[]>,
  violations: Violation[],
): TaskAttachment[] {
  const out: TaskAttachment[] = [];
  for (const n of [...parts.keys()].sort((a, b) => a - b)) {
    const a = parts.get(n)!;
    if (a.FileName !== undefined && a.S3Url !== undefined) {
      out.push({ FileName: a.FileName, S3Url: a.S3Url });
      continue;
    }
    const [missing, present] = a.FileName === undefined ? ['FileName', 'S3Url'] : ['S3Url', 'FileName'];
    const member = `Attachments.${n}.${missing}`;
    violations.push({
      member,
      column: sources.get(member)?.join(', '),
      rule: `is empty while Attachments.${n}.${present} is set: an attachment needs both`,
    });
  }
  return out;
}

function indexHeader(header: string[]): Map<string, number> {
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    if (!index.has(name)) index.set(name, i);
  });
  const dupes = header.filter((name, i) => index.get(name) !== i && conventionTarget(name));
  if (dupes.length)
    throw new UsageError(
      `the header repeats the mapped column(s) ${[...new Set(dupes)].map((d) => `"${d}"`).join(', ')}`,
    );
  return index;
}

/** ISO 8601 with a zone, or whole epoch seconds (no --timezone). Kept for callers of the earlier API. */
export function parseTime(value: string): Date | undefined {
  const r = parseScheduledTime(value);
  return r.ok ? r.date : undefined;
}
