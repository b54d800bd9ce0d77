/**
 * Who may use the control routes (`/__emulator/*`: stats, task content, config) and what config they
 * may send. The emulator has no real auth and holds task content, so a web page must not reach it:
 * - DNS rebinding: a page on evil.example re-points its name at 127.0.0.1 and reads the emulator as
 *   its own origin. Its requests still say `Host: evil.example`: a loopback-bound emulator answers
 *   only a loopback Host (a name that resolves here or a 127.x / ::1 address).
 * - Cross-origin requests: browsers add `Origin` (and `Sec-Fetch-Site`) to them; tools (curl, the
 *   SDK, Node's fetch) do not. A POST must also be `application/json`, which a page cannot send
 *   across origins without a CORS preflight the emulator never grants (`text/plain` and form posts
 *   need none).
 * The StartTaskContact route is not touched: it needs a SigV4 Authorization header, which a page
 * cannot send without a preflight either, and it discloses no task content.
 */
import type { IncomingMessage } from 'node:http';
import { Ajv, type ErrorObject } from 'ajv';
import type { ServiceOptions } from './service.js';
import { STRING_MEMBERS } from './validation.js';

/** A loopback name or address: `localhost`, `*.localhost`, 127.0.0.0/8, ::1 (with or without a port). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    // A bare IPv6 address (a bind address such as ::1) needs brackets to parse as a host.
    const bracketed = !host.startsWith('[') && host.split(':').length > 2 ? `[${host}]` : host;
    name = new URL(`http://${bracketed}`).hostname;
  } catch {
    return false;
  }
  name = name.replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** Why a control request is refused (403), or undefined when it may go on. */
export function refusal(req: IncomingMessage, loopbackOnly: boolean): string | undefined {
  if (loopbackOnly && !isLoopbackHost(req.headers.host)) {
    return (
      `control routes answer only a loopback Host (localhost, 127.0.0.1, [::1]), ` +
      `not ${JSON.stringify(req.headers.host ?? '')}`
    );
  }
  const site = req.headers['sec-fetch-site'];
  if (req.headers.origin !== undefined || (site !== undefined && site !== 'none' && site !== 'same-origin')) {
    return 'control routes do not answer requests from web pages (an Origin header was sent)';
  }
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      return `control routes take POST bodies as application/json only, not ${JSON.stringify(type)}`;
  }
  return undefined;
}

const probability = { type: 'number', minimum: 0, maximum: 1 };
const names = { type: 'array', items: { type: 'string', minLength: 1 } };
const length = { type: 'integer', minimum: 0 };
const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rate: { type: 'number', exclusiveMinimum: 0 },
    burst: { type: 'integer', minimum: 1 },
    latencyMs: { type: 'number', minimum: 0 },
    latencyJitterMs: { type: 'number', minimum: 0 },
    // null lifts the cap / makes tasks live forever again.
    maxActiveTasks: { type: ['integer', 'null'], minimum: 0 },
    taskLifetimeMs: { type: ['number', 'null'], minimum: 0 },
    // Active tasks ended per second, oldest first; null stops the drain.
    drainRate: { type: ['number', 'null'], exclusiveMinimum: 0 },
    faults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        failBefore: probability,
        failAfter: probability,
        resetAfter: probability,
        proxyError: probability,
        seed: { type: 'integer' },
      },
    },
    instances: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { contactFlows: names, taskTemplates: names, quickConnects: names },
      },
    },
    stopRate: { type: 'number', exclusiveMinimum: 0 },
    stopBurst: { type: 'integer', minimum: 1 },
    alreadyEnded: { enum: ['ContactNotFoundException', 'InvalidRequestException'] },
    maxLengths: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(STRING_MEMBERS.map((m) => [m, length])),
    },
  },
};

let validate: ReturnType<Ajv['compile']> | undefined;

/** A POST /__emulator/config body as a patch, or the first thing wrong with it (naming the field). */
export function parseConfig(body: Buffer): { patch: ServiceOptions } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { error: 'config must be a JSON object' };
  }
  validate ??= new Ajv({ allowUnionTypes: true }).compile(CONFIG_SCHEMA);
  if (!validate(json)) return { error: describe(validate.errors?.[0]) };
  const patch = json as Record<string, unknown>;
  for (const key of ['maxActiveTasks', 'taskLifetimeMs', 'drainRate']) if (patch[key] === null) patch[key] = undefined;
  return { patch: patch as ServiceOptions };
}

const END_TASKS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { count: { anyOf: [{ type: 'integer', minimum: 0 }, { const: 'all' }] } },
};

let validateEndTasks: ReturnType<Ajv['compile']> | undefined;

/**
 * A POST /__emulator/end-tasks body: `{"count": n}` ends the n oldest active tasks, `{"count": "all"}`
 * or `{}` every one.
 */
export function parseEndTasks(body: Buffer): { count?: number } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    return { error: 'end-tasks takes a JSON object: {"count": n} or {"count": "all"}' };
  }
  validateEndTasks ??= new Ajv().compile(END_TASKS_SCHEMA);
  if (!validateEndTasks(json))
    return { error: 'end-tasks takes {"count": n} (a whole number of at least 0) or {"count": "all"}' };
  const { count } = json as { count?: number | 'all' };
  return count === undefined || count === 'all' ? {} : { count };
}

function describe(e: ErrorObject | undefined): string {
  if (!e) return 'config is not valid';
  const at = e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') {
    const field = [at, (e.params as { additionalProperty: string }).additionalProperty].filter(Boolean).join('.');
    return `config field "${field}" is not a setting of the emulator`;
  }
  if (!at) return `config ${e.message ?? 'is not valid'}`;
  return `config field "${at}" ${e.message ?? 'is not valid'}`;
}
