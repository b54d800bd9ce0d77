/**
 * Job files: a JSON document holding the mapping templates and run defaults, so that an export with
 * its own headers (`Ticket ID`, `Ticket Subject`…) imports with no hand edits. Flags win over it.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { TaskTemplateSpec } from './map.js';

export interface JobFile {
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
  /** Templates per request member: `"Name": "{{Ticket Subject}} (#{{Ticket ID}})"`. */
  task?: TaskTemplateSpec;
}

const FIELDS: Record<keyof JobFile, 'string' | 'number' | 'string[]' | 'object'> = {
  instanceId: 'string',
  contactFlowId: 'string',
  taskTemplateId: 'string',
  quickConnectId: 'string',
  tokenNamespace: 'string',
  tokenKey: 'string[]',
  rate: 'number',
  burst: 'number',
  encoding: 'string',
  delimiter: 'string',
  task: 'object',
};

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

export function checkJobFile(json: unknown, path = 'job file'): JobFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`${path}: must be a JSON object`);
  for (const [key, value] of Object.entries(json)) {
    if (key === '$schema' || key === 'description') continue;
    const kind = FIELDS[key as keyof JobFile];
    if (!kind) throw new UsageError(`${path}: unknown key "${key}" (known: ${Object.keys(FIELDS).join(', ')})`);
    const ok =
      kind === 'string[]'
        ? Array.isArray(value) && value.every((v) => typeof v === 'string')
        : kind === 'object'
          ? typeof value === 'object' && value !== null && !Array.isArray(value)
          : typeof value === kind;
    if (!ok) throw new UsageError(`${path}: "${key}" must be ${kind === 'string[]' ? 'a list of strings' : `a ${kind}`}`);
  }
  return json as JobFile;
}
