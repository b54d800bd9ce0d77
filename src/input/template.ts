/**
 * Job-file templates: `{{Column name}}` placeholders in the `task` section, compiled once against the
 * header and rendered per record. Each cell is inserted once and never expanded again, so a cell
 * holding `{{x}}` stays literal text. A template whose every column is empty is absent.
 */
import { UsageError } from '../errors.js';
import type { SegmentAttributeValue } from '../types.js';
import {
  checkAttributeKey,
  checkReferenceType,
  checkSegmentKey,
  SCALAR_MEMBERS,
  type ScalarMember,
  type Target,
} from './columns.js';
import { headerInMessage } from './headers.js';
import { LIMITS } from './rules.js';

/** What a job file's `task` section may hold: templates per member (schema/job.schema.json). */
export interface TaskTemplateSpec {
  [member: string]: unknown;
  Attributes?: Record<string, string>;
  References?: Record<string, { Type: string; Value: string }>;
  /**
   * A string template (rendered, then read like a column cell) or a SegmentAttributeValue whose strings are templates.
   */
  SegmentAttributes?: Record<string, string | Record<string, unknown>>;
  Attachments?: { FileName: string; S3Url: string }[];
}

/** A template compiled against the header: literal text and column indexes. */
export interface Template {
  parts: (string | number)[];
  /** Indexes of the columns it reads, for "is it empty?" and for naming columns in messages. */
  columns: number[];
}

/** A string leaf of a structured value: a template. */
class Slot {
  constructor(readonly template: Template) {}
}

/** A SegmentAttributeValue with templates at its string leaves. */
export type Tree = Slot | number | boolean | null | Tree[] | { [key: string]: Tree };

export interface Field {
  target: Target;
  template: Template;
  /** Set for a job file's structured SegmentAttributes value; `template.columns` lists all it reads. */
  tree?: Tree;
}

/** `{{Column name}}` placeholders; everything else in a template is literal text. */
const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

function compileTemplate(text: string, index: Map<string, number>, where: string): Template {
  const parts: (string | number)[] = [];
  const columns: number[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    const i = index.get(name);
    if (i === undefined) {
      throw new UsageError(
        `${where}: no column named "${name}" in the input header (${headerInMessage([...index.keys()])})`,
      );
    }
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(i);
    columns.push(i);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return { parts, columns };
}

/** Empty cells are absent: a template whose every column is empty yields nothing. */
export function render(template: Template, values: string[]): string | undefined {
  if (template.columns.length > 0 && template.columns.every((i) => values[i] === '')) return undefined;
  if (template.parts.length === 1 && typeof template.parts[0] === 'number') return values[template.parts[0]];
  return template.parts.map((p) => (typeof p === 'number' ? values[p] : p)).join('');
}

/** Compiles a job file's `task` section (already shaped by the schema) into fields. */
export function compileTask(task: TaskTemplateSpec, index: Map<string, number>): Field[] {
  const out: Field[] = [];
  const tpl = (text: unknown, where: string) => compileTemplate(String(text), index, `job file: ${where}`);
  for (const [member, spec] of Object.entries(task)) {
    if (member === 'Attributes') {
      for (const [key, text] of Object.entries(spec as Record<string, string>)) {
        out.push({
          target: { kind: 'attribute', key: checkAttributeKey(key, `job file: task.Attributes.${key}`) },
          template: tpl(text, `task.Attributes.${key}`),
        });
      }
    } else if (member === 'References') {
      for (const [name, ref] of Object.entries(spec as Record<string, { Type: string; Value: string }>)) {
        const where = `task.References.${name}`;
        const type = checkReferenceType(ref.Type, `job file: ${where}.Type`);
        out.push({ target: { kind: 'reference', name, type }, template: tpl(ref.Value, `${where}.Value`) });
      }
    } else if (member === 'SegmentAttributes') {
      for (const [key, value] of Object.entries(spec as Record<string, unknown>)) {
        const where = `task.SegmentAttributes.${key}`;
        const target: Target = { kind: 'segment', key: checkSegmentKey(key, `job file: ${where}`) };
        if (typeof value === 'string') {
          out.push({ target, template: tpl(value, where) });
        } else {
          const columns: number[] = [];
          const tree = compileTree(value, (text, at) => {
            const t = tpl(text, `${where}${at}`);
            columns.push(...t.columns);
            return t;
          });
          out.push({ target, template: { parts: [], columns }, tree });
        }
      }
    } else if (member === 'Attachments') {
      const list = spec as { FileName: string; S3Url: string }[];
      if (list.length > LIMITS.attachments.max)
        throw new UsageError(`job file: task.Attachments holds at most ${LIMITS.attachments.max} items`);
      list.forEach((a, i) => {
        for (const part of ['FileName', 'S3Url'] as const) {
          out.push({
            target: { kind: 'attachment', n: i + 1, part },
            template: tpl(a[part], `task.Attachments[${i}].${part}`),
          });
        }
      });
    } else if ((SCALAR_MEMBERS as readonly string[]).includes(member)) {
      out.push({ target: { kind: 'member', member: member as ScalarMember }, template: tpl(spec, `task.${member}`) });
    } else {
      throw new UsageError(
        `job file: task.${member} is not a StartTaskContact member this tool maps (use one ` +
          `of ${SCALAR_MEMBERS.join(', ')}, Attributes, References, SegmentAttributes, Attachments)`,
      );
    }
  }
  return out;
}

function compileTree(value: unknown, tpl: (text: string, at: string) => Template, at = ''): Tree {
  if (typeof value === 'string') return new Slot(tpl(value, at));
  if (Array.isArray(value)) return value.map((v, i) => compileTree(v, tpl, `${at}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compileTree(v, tpl, `${at}.${k}`)]));
  }
  return value as number | boolean | null;
}

/**
 * Renders a structured SegmentAttributeValue: undefined when every column it reads is empty; a
 * `ValueInteger` template must render to a whole number.
 */
export function renderTree(
  tree: Tree,
  all: Template,
  values: string[],
): { value: SegmentAttributeValue } | { rule: string } | undefined {
  if (all.columns.length > 0 && all.columns.every((i) => values[i] === '')) return undefined;
  let rule: string | undefined;
  const walk = (t: Tree, key?: string): unknown => {
    if (t instanceof Slot) {
      const text = t.template.parts.map((p) => (typeof p === 'number' ? values[p] : p)).join('');
      if (key !== 'ValueInteger') return text;
      if (!/^-?\d+$/.test(text.trim())) rule ??= 'ValueInteger must be a whole number';
      return Number(text);
    }
    if (Array.isArray(t)) return t.map((v) => walk(v));
    if (t && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, walk(v, k)]));
    return t;
  };
  const value = walk(tree) as SegmentAttributeValue;
  return rule ? { rule } : { value };
}
