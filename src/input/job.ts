/**
 * Job files: a JSON document holding the mapping (renames, attributesFrom, templates) and run
 * defaults, so that an export with its own headers (`Ticket ID`, `Ticket Subject`…) imports with no
 * hand edits. Flags win over it. The published JSON Schema (schema/job.schema.json) is the check:
 * editors use it through `"$schema"`, and every job file is validated against it before use.
 */
import { readFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject } from 'ajv';
import { UsageError } from '../errors.js';
import type { AttributesFrom, TaskTemplateSpec } from './map.js';

export interface JobFile {
  $schema?: string;
  description?: string;
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  tokenNamespace?: string;
  tokenKey?: string[];
  rate?: number;
  burst?: number;
  encoding?: string;
  delimiter?: string;
  /** IANA zone for ScheduledTime values written without one. */
  timezone?: string;
  strictColumns?: boolean;
  /** Input column → the convention header it stands for. */
  columns?: Record<string, string>;
  attributesFrom?: AttributesFrom;
  /** Templates per request member: `"Name": "{{Ticket Subject}} (#{{Ticket ID}})"`. */
  task?: TaskTemplateSpec;
}

/** Every key the code reads; test/input/job-schema.test.ts keeps it equal to the schema's. */
export const JOB_KEYS: Record<keyof JobFile, true> = {
  $schema: true, description: true, instanceId: true, contactFlowId: true, taskTemplateId: true, quickConnectId: true,
  tokenNamespace: true, tokenKey: true, rate: true, burst: true, encoding: true, delimiter: true, timezone: true,
  strictColumns: true, columns: true, attributesFrom: true, task: true,
};

/** The schema as published in the package (schema/ sits beside dist/ and src/). */
export const JOB_SCHEMA = JSON.parse(readFileSync(schemaPath(), 'utf8')) as Record<string, unknown>;

/** schema/job.schema.json at the package's root: the nearest folder above this module that has it (src/, dist/ or a bench build). */
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
    text = await readFile(path, 'utf8');
  } catch (err) {
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

/** Validates a parsed job file against the schema; the message names every offending key. */
export function checkJobFile(json: unknown, path = 'job file'): JobFile {
  validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(JOB_SCHEMA);
  if (validator(json)) return json as JobFile;
  const problems = [...new Set((validator.errors ?? []).filter(relevant).map(describe))];
  throw new UsageError(`${path}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (and ${problems.length - 8} more)` : ''}`);
}

/**
 * Keeps the errors a person can act on: a failed `anyOf`/`oneOf` speaks for its branches' type and
 * required errors at the same spot, unless a deeper error (an unknown key inside) says more.
 */
function relevant(e: ErrorObject, _i: number, all: ErrorObject[]): boolean {
  if ((e as { propertyName?: string }).propertyName !== undefined) return false; // said by its propertyNames error
  const branch = (o: ErrorObject) => o.keyword === 'oneOf' || o.keyword === 'anyOf';
  if (branch(e)) return !all.some((o) => o.instancePath.startsWith(`${e.instancePath}/`));
  if (e.keyword === 'type' || e.keyword === 'required') return !all.some((o) => branch(o) && o.instancePath === e.instancePath);
  return true;
}

/** `"task.Attributes.x" must be string`, `unknown key "rat" (known: …)`. */
function describe(e: ErrorObject): string {
  const at = e.instancePath.slice(1).replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~');
  const where = at ? `"${at}"` : 'the job file';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return `unknown key "${at ? `${at}.` : ''}${String(p.additionalProperty)}"${known.length ? ` (known: ${known.join(', ')})` : ''}`;
    }
    case 'required':
      return `${where} needs "${String(p.missingProperty)}"`;
    case 'enum':
      return `${where} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'propertyNames':
      return `${where} has a key "${String(p.propertyName)}" that is not allowed (${at.endsWith('SegmentAttributes') ? 'keys are 1 to 128 characters' : 'attribute keys: letters, digits, "-", "_"'})`;
    case 'anyOf':
      return `${where} needs one of ${at === 'attributesFrom' ? '"prefix" or "unmapped"' : 'the allowed forms'}`;
    case 'oneOf':
      return `${where} must be a template string or a SegmentAttributeValue object`;
    default:
      return `${where} ${e.message ?? 'is not valid'}`;
  }
}
