/**
 * What a dry run (`validate`) tells the user before a night's run: how columns map to members, the
 * columns carried unmapped, header near-misses, the job file's conditions and how many records each
 * left out, how many rows would be sent, the problems grouped by rule with their first lines, and one
 * example request with every customer value masked.
 */
import { displayId, type LiveResult, type NamedIds } from '../delivery/live.js';
import { UsageError } from '../errors.js';
import { memberKey } from '../input/columns.js';
import { describeHeaderWarning, suspiciousHeaders } from '../input/headers.js';
import type { Mapping } from '../input/map.js';
import type { Job } from '../input/prepare.js';
import { codePoints } from '../input/rules.js';
import { describeViolations } from '../input/validate.js';
import { ruleKey } from '../report/rule-text.js';
import type { TaskRequest } from '../types.js';

export interface Plan {
  mapping: { member: string; from: string }[];
  carried: string[];
  warnings: string[];
  /** Settings a real run would need and this dry run went without, e.g. `--instance-id`. */
  needs: string[];
  rows: { wouldSend: number; invalid: number; filtered: number };
  /** Every condition of the job file's `where`, in order, with the records it left out (their first lines). */
  filter: { condition: string; rows: number; lines: number[] }[];
  problems: { rule: string; rows: number; lines: number[] }[];
  example?: { line: number; request: unknown };
  named: NamedIds;
  live?: LiveResult;
}

const FIRST_LINES = 5;
const MAX_GROUPS = 50;
const MAX_IDS = 10_000;

/** Header warnings of a compiled mapping; with `strict` (--strict-columns) they are a refusal. */
export function headerWarnings(mapping: Mapping, strict: boolean): string[] {
  const warnings = suspiciousHeaders(mapping.header, mapping.used).map(describeHeaderWarning);
  if (strict && warnings.length) throw new UsageError(`--strict-columns: ${warnings.join('; ')}`);
  return warnings;
}

export class PlanCollector {
  private readonly groups = new Map<string, { rows: number; lines: number[] }>();
  private readonly ids = new Set<string>();
  private wouldSend = 0;
  private invalid = 0;
  private filtered = 0;
  private example?: Plan['example'];
  /** Per condition of `where`: the records it left out. */
  private readonly left: Map<string, { rows: number; lines: number[] }>;

  constructor(
    private readonly mapping: Mapping,
    private readonly warnings: string[],
    private readonly needs: string[],
    conditions: readonly string[] = [],
  ) {
    this.left = new Map(conditions.map((c) => [c, { rows: 0, lines: [] }]));
  }

  add(job: Job): void {
    if (job.result?.status === 'filtered') {
      this.filtered++;
      const by = this.left.get(job.result.errorMessage ?? '');
      if (!by) return;
      by.rows++;
      if (by.lines.length < FIRST_LINES) by.lines.push(job.record.line);
      return;
    }
    this.name(job.request ?? job.named);
    if (job.request && !job.result) {
      this.wouldSend++;
      this.example ??= { line: job.record.line, request: mask(job.request) };
      return;
    }
    this.invalid++;
    for (const v of job.violations ?? []) {
      // "(found 1035)", "(line 14 would be number 13…)": the rule without the row's own figures.
      const rule = ruleKey(describeViolations([v]));
      const group =
        this.groups.get(rule) ??
        (this.groups.size < MAX_GROUPS ? this.groups.set(rule, { rows: 0, lines: [] }).get(rule) : undefined);
      if (!group) continue;
      group.rows++;
      if (group.lines.length < FIRST_LINES && !group.lines.includes(job.record.line)) group.lines.push(job.record.line);
    }
  }

  result(): Plan {
    const { header, fields, used, defaults, defaultSources } = this.mapping;
    const mapping = fields.map((f) => ({
      member: memberKey(f.target),
      from: f.template.columns.map((i) => `"${header[i]}"`).join(' + ') || 'job file (fixed text)',
    }));
    for (const [member, value] of Object.entries(defaults)) {
      if (value !== undefined)
        mapping.push({ member, from: defaultSources[member as keyof typeof defaults] ?? 'default' });
    }
    const named: NamedIds = { instances: [], resources: [] };
    for (const key of this.ids) {
      const [kind, instance, id] = key.split('\u0000') as [string, string, string];
      if (kind === 'InstanceId') named.instances.push(instance);
      else named.resources.push([kind as NamedIds['resources'][number][0], instance, id]);
    }
    const plan: Plan = {
      mapping,
      carried: header.filter((name, i) => !used[i] && !name.startsWith('Result.')),
      warnings: this.warnings,
      needs: this.needs,
      rows: { wouldSend: this.wouldSend, invalid: this.invalid, filtered: this.filtered },
      filter: [...this.left].map(([condition, by]) => ({ condition, ...by })),
      problems: [...this.groups].map(([rule, g]) => ({ rule, ...g })).sort((a, b) => b.rows - a.rows),
      ...(this.example ? { example: this.example } : {}),
      named,
    };
    // The ids as the file holds them are for asking the service (--check-live), never for output:
    // not enumerable, so the summary's JSON and the log leave them out.
    Object.defineProperty(plan, 'named', { value: named, enumerable: false });
    return plan;
  }

  /** Remembers the instance and routing ids a row names, each once. */
  private name(req: TaskRequest | undefined): void {
    if (!req?.InstanceId || this.ids.size >= MAX_IDS) return;
    this.remember(`InstanceId\u0000${req.InstanceId}\u0000`);
    for (const kind of ['ContactFlowId', 'TaskTemplateId', 'QuickConnectId'] as const) {
      const id = req[kind];
      if (id !== undefined) this.remember(`${kind}\u0000${req.InstanceId}\u0000${id}`);
    }
  }

  /** Keeps a copy: the key is built of cells, slices of the 64 KB chunk of input they were read from. */
  private remember(key: string): void {
    if (!this.ids.has(key)) this.ids.add(Buffer.from(key).toString());
  }
}

/** A request with Name, Description and every customer value replaced by its length: never data. */
function mask(req: TaskRequest): unknown {
  const hide = (s: string) => `<${codePoints(s)} characters>`;
  const deep = (v: unknown): unknown =>
    typeof v === 'string'
      ? hide(v)
      : typeof v === 'number'
        ? '<number>'
        : Array.isArray(v)
          ? v.map(deep)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]))
            : v;
  const out: Record<string, unknown> = { ...req };
  if (req.Name !== undefined) out.Name = hide(req.Name);
  if (req.Description !== undefined) out.Description = hide(req.Description);
  if (req.ScheduledTime) out.ScheduledTime = req.ScheduledTime.toISOString();
  if (req.Attributes) out.Attributes = deep(req.Attributes);
  if (req.References)
    out.References = Object.fromEntries(
      Object.entries(req.References).map(([k, r]) => [k, { Type: r.Type, Value: hide(r.Value) }]),
    );
  // A ValueMap's keys are the cell's data too: each becomes its place.
  const segment = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(segment)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v).map(([k, x]) =>
              k === 'ValueMap' && x && typeof x === 'object'
                ? [k, Object.fromEntries(Object.values(x).map((y, n) => [`<key ${n + 1}>`, segment(y)]))]
                : [k, segment(x)],
            ),
          )
        : deep(v);
  if (req.SegmentAttributes)
    out.SegmentAttributes = Object.fromEntries(Object.entries(req.SegmentAttributes).map(([k, v]) => [k, segment(v)]));
  for (const id of ['ClientToken', 'PreviousContactId', 'RelatedContactId'] as const)
    if (req[id] !== undefined) out[id] = hide(String(req[id]));
  for (const id of ['InstanceId', 'ContactFlowId', 'TaskTemplateId', 'QuickConnectId'] as const)
    if (req[id] !== undefined) out[id] = displayId(String(req[id]));
  if (req.Attachments) out.Attachments = deep(req.Attachments);
  return out;
}

/** The report `validate` prints before its summary. */
export function formatPlan(plan: Plan): string {
  const width = Math.max(0, ...plan.mapping.map((m) => m.member.length));
  const lines = ['Mapping (member ← source):', ...plan.mapping.map((m) => `  ${m.member.padEnd(width)} ← ${m.from}`)];
  lines.push(
    `Columns carried unmapped: ${plan.carried.length ? plan.carried.map((c) => `"${c}"`).join(', ') : 'none'}`,
  );
  for (const w of plan.warnings) lines.push(`Warning: ${w}`);
  for (const n of plan.needs) lines.push(`Would need ${n} to send (not counted as a problem of each row)`);
  if (plan.filter.length) {
    lines.push('Filter (a record is sent only if it meets every condition of "where"):');
    for (const f of plan.filter)
      lines.push(
        `  ${f.condition} — ${f.rows} record${f.rows === 1 ? '' : 's'} left out` +
          (f.lines.length
            ? ` (line${f.lines.length === 1 ? '' : 's'} ${f.lines.join(', ')}${f.rows > f.lines.length ? ', …' : ''})`
            : ''),
      );
  }
  lines.push(
    `Rows: ${plan.rows.wouldSend} would be sent, ${plan.rows.invalid} invalid` +
      (plan.filter.length ? `, ${plan.rows.filtered} filtered out` : ''),
  );
  if (plan.problems.length) {
    lines.push('Problems by rule:');
    for (const p of plan.problems)
      lines.push(
        `  ${p.rule} — ${p.rows} row${p.rows === 1 ? '' : 's'} ` +
          `(line${p.lines.length === 1 ? '' : 's'} ${p.lines.join(', ')}${p.rows > p.lines.length ? ', …' : ''})`,
      );
  }
  if (plan.example) {
    lines.push(`Example request (line ${plan.example.line}; Name, Description and values masked):`);
    lines.push(
      ...JSON.stringify(plan.example.request, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  if (plan.live) {
    const { checked, missing, unknown } = plan.live;
    lines.push(
      `Live check: ${checked} id${checked === 1 ? '' : 's'} asked, ${missing.length} ` +
        `missing${unknown.length ? `, ${unknown.length} could not be checked` : ''}`,
    );
    for (const m of missing) lines.push(`  missing: ${m}`);
    for (const u of unknown) lines.push(`  not checked: ${u}`);
  }
  return `${lines.join('\n')}\n`;
}
