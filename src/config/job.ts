/**
 * Job files: a JSON document holding the mapping (renames, attributesFrom, templates) and run
 * defaults, so that an export with its own headers (`Ticket ID`, `Ticket Subject`…) imports with no
 * hand edits. Flags and the environment win over it. The published JSON Schema (schema/job.schema.json) is the check:
 * editors use it through `"$schema"`, and every job file is validated against it before use.
 */
import { constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { UsageError } from '../errors.js';
import type { Condition } from '../input/filter.js';
import type { AttributesFrom, TaskTemplateSpec } from '../input/map.js';
import { helpOf, JOB_SETTING_KEYS, type JobSettingKey, SettingValueError, setting, type Values } from './settings.js';

/** The run defaults a job file may set (config/settings.ts marks them), and its mapping. */
export type JobFile = { [K in JobSettingKey]?: Values[K] } & {
  $schema?: string;
  description?: string;
  /** Input column → the convention header it stands for. */
  columns?: Record<string, string>;
  attributesFrom?: AttributesFrom;
  /** Templates per request member: `"Name": "{{Ticket Subject}} (#{{Ticket ID}})"`. */
  task?: TaskTemplateSpec;
  /** Conditions on the input's columns, all of which a record must meet to be sent (input/filter.ts). */
  where?: Condition[];
};

/**
 * The schema as published (schema/job.schema.json, beside dist/ and src/): its mapping part is
 * written there by hand; its run defaults are the settings table's, put in by `jobSchema()` and
 * written back by `npm run schema` (a test keeps the file equal to it).
 */
const PUBLISHED = JSON.parse(readFileSync(schemaPath(), 'utf8')) as { properties: Record<string, unknown> } & Record<
  string,
  unknown
>;

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The whole job file schema: the published mapping keys, and one key per job setting of the table. */
export function jobSchema(): Record<string, unknown> {
  const settings = Object.fromEntries(
    JOB_SETTING_KEYS.map((k) => {
      const s = setting(k);
      const env = s.env.join(', ');
      return [k, { ...s.schema, description: `${capitalise(helpOf(k, 'run'))} (${s.flag} and ${env} win over it).` }];
    }),
  );
  const { $schema, description, ...mapping } = PUBLISHED.properties;
  const mappingOnly = Object.fromEntries(
    Object.entries(mapping).filter(([k]) => !(JOB_SETTING_KEYS as string[]).includes(k)),
  );
  return { ...PUBLISHED, properties: { $schema, description, ...settings, ...mappingOnly } };
}

export const JOB_SCHEMA = jobSchema();

/** Writes the derived schema to the published file (npm run schema). */
export function writeJobSchema(): void {
  writeFileSync(schemaPath(), `${JSON.stringify(JOB_SCHEMA, null, 2)}\n`);
}

/**
 * schema/job.schema.json at the package's root: the nearest folder above this module that has it (src/, dist/ or a
 * bench build).
 */
function schemaPath(): URL {
  for (let up = '../../'; up.length < 30; up += '../') {
    const candidate = new URL(`${up}schema/job.schema.json`, import.meta.url);
    if (existsSync(candidate)) return candidate;
  }
  return new URL('../../schema/job.schema.json', import.meta.url);
}

let validator: ReturnType<Ajv['compile']> | undefined;

export async function loadJobFile(path: string): Promise<JobFile> {
  let text: string;
  try {
    // Non-blocking and checked: a FIFO or a device named as the job file is refused, never waited on.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile())
        throw new UsageError(
          `the job file ${path} is not a regular file (a FIFO, device or folder): pass the JSON file`,
        );
      text = jobText(await handle.readFile());
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read job file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`job file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return checkJobFile(json, path);
}

/**
 * A job file's text. Editors on Windows save JSON with a byte-order mark (Notepad, PowerShell's
 * Out-File), which JSON.parse refuses: a UTF-8 one is dropped, and a UTF-16 one decodes the file.
 */
function jobText(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString('utf8');
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return bytes.toString('utf8');
}

/** Validates a parsed job file against the schema; the message names every offending key. */
export function checkJobFile(json: unknown, path = 'job file'): JobFile {
  validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(JOB_SCHEMA);
  if (validator(json)) return json as JobFile;
  const problems = [
    ...new Set((validator.errors ?? []).filter(relevant).map((e) => settingRule(e, json) ?? describe(e))),
  ];
  throw new UsageError(
    `${path}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (and ${problems.length - 8} more)` : ''}`,
  );
}

/**
 * Keeps the errors a person can act on: a failed `anyOf`/`oneOf` speaks for its branches' type and
 * required errors at the same spot, unless a deeper error (an unknown key inside) says more.
 */
function relevant(e: ErrorObject, _i: number, all: ErrorObject[]): boolean {
  if ((e as { propertyName?: string }).propertyName !== undefined) return false; // said by its propertyNames error
  const branch = (o: ErrorObject) => o.keyword === 'oneOf' || o.keyword === 'anyOf';
  if (branch(e))
    return (
      !all.some((o) => o.instancePath.startsWith(`${e.instancePath}/`)) &&
      // An unknown key there says what is wrong (`equal` for `equals`); a condition with no operator
      // also fails "column needs an operator": said once.
      !all.some(
        (o) =>
          o.instancePath === e.instancePath &&
          (o.keyword === 'additionalProperties' || (e.keyword === 'anyOf' && o.keyword === 'oneOf')),
      )
    );
  if (e.keyword === 'type' || e.keyword === 'required')
    return !all.some((o) => branch(o) && o.instancePath === e.instancePath);
  return true;
}

/**
 * A run setting of several forms (a count or a share, seconds or a duration) that the schema refused,
 * in the setting's own words, those of its flag: `"maxFailures" must be a count of failed rows (e.g.
 * 50), a percentage …`, not the schema's branches ("a template string or a SegmentAttributeValue
 * object") or its pattern.
 */
function settingRule(e: ErrorObject, json: unknown): string | undefined {
  const key = e.instancePath.slice(1);
  if (!(JOB_SETTING_KEYS as string[]).includes(key)) return undefined;
  const s = setting(key as JobSettingKey);
  const forms = s.schema as { oneOf?: unknown; anyOf?: unknown } | undefined;
  if (!forms?.oneOf && !forms?.anyOf) return undefined;
  const value = (json as Record<string, unknown>)[key];
  try {
    if (typeof value === 'string') s.parse(value);
    else (s.check as ((v: unknown) => unknown) | undefined)?.(value);
  } catch (err) {
    if (err instanceof SettingValueError) return `"${key}" ${err.message}`;
  }
  return undefined;
}

const CONDITION_EXAMPLE = '{"not": {"column": "Ticket Status", "equals": "Closed"}}';
const CONDITION_SHAPES =
  '{"column": …} with one of equals, in, matches, empty (e.g. {"column": "Ticket Status", "in": ["Open"]}), ' +
  `or {"not": condition}, or {"anyOf": [conditions]}`;

/** A path inside the `where` list: where[1], where[1].not, where[2].anyOf[1]… */
const isCondition = (at: string) => /^where\[\d+\](\.not|\.anyOf\[\d+\])*$/.test(at);

/** `"task.Attributes.x" must be string`, `unknown key "rat" (known: …)`. */
function describe(e: ErrorObject): string {
  const path = e.instancePath.slice(1).replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~');
  // Conditions are counted from 1, as the results file and the summary name them: where[1].anyOf[2].
  const at = path.startsWith('where.')
    ? path.replace(/(^where|\.anyOf)\.(\d+)/g, (_, list: string, n: string) => `${list}[${Number(n) + 1}]`)
    : path;
  const where = at ? `"${at}"` : 'the job file';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return (
        `unknown key "${at ? `${at}.` : ''}${String(p.additionalProperty)}"` +
        `${known.length ? ` (known: ${known.join(', ')})` : ''}`
      );
    }
    case 'required':
      return `${where} needs "${String(p.missingProperty)}"`;
    case 'enum':
      return `${where} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'propertyNames':
      return (
        `${where} has a key "${String(p.propertyName)}" that is not allowed ` +
        '(' +
        (at.endsWith('SegmentAttributes')
          ? 'keys are 1 to 128 characters'
          : 'attribute keys: letters, digits, "-", "_"') +
        ')'
      );
    case 'anyOf':
      if (isCondition(at)) return `${where}: "column" goes with equals, in, matches or empty; ${CONDITION_SHAPES}`;
      return `${where} needs one of ${at === 'attributesFrom' ? '"prefix" or "unmapped"' : 'the allowed forms'}`;
    case 'oneOf':
      if (isCondition(at))
        return Array.isArray(p.passingSchemas) &&
          typeof e.data === 'object' &&
          e.data !== null &&
          !Array.isArray(e.data)
          ? `${where} has more than one operator: a condition has one (list several conditions: all must hold; ` +
              'or put them in anyOf)'
          : `${where} must be a condition: ${CONDITION_SHAPES}`;
      return `${where} must be a template string or a SegmentAttributeValue object`;
    case 'dependencies':
      if (p.property === 'ignoreCase') return `${where}: ignoreCase goes beside "column" and its operator`;
      return (
        `${where} needs "column" beside "${String(p.property)}"` +
        (at.endsWith('.not') ? `: "not" wraps a whole condition, ${CONDITION_EXAMPLE}` : '')
      );
    default:
      return `${where} ${e.message ?? 'is not valid'}`;
  }
}
