/**
 * The emulator's HTTP face: the restJson1 wire protocol of StartTaskContact (`PUT /contact/task`),
 * StopContact (`POST /contact/stop`), DescribeContact and the read-only calls `validate` makes,
 * so the real SDK and the AWS CLI talk to it with an endpoint override. Control routes live under
 * `/__emulator/` (stats, tasks, config, end-tasks) for tests and rehearsals.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLoopbackHost, parseConfig, parseEndTasks, refusal } from './control.js';
import { describeRoute } from './describe.js';
import { answerServiceQuotas, isServiceQuotasCall } from './quotas.js';
import { type Answer, type EmulatorStats, type ServiceOptions, type StoredTask, TaskService } from './service.js';

export interface EmulatorOptions extends ServiceOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback unless told otherwise: the emulator stores task content and has no real auth. */
  host?: string;
}

export interface Emulator {
  url: string;
  port: number;
  service: TaskService;
  stats(): EmulatorStats;
  configure(patch: ServiceOptions): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const CONTROL_PREFIX = '/__emulator/';

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const service = new TaskService(options);
  // Bound to loopback (the default), control routes answer loopback Host names only (DNS rebinding);
  // bound to another address on purpose, the caller chose who may reach it.
  const loopbackOnly = isLoopbackHost(options.host ?? '127.0.0.1');
  const server = createServer((req, res) => {
    handle(service, loopbackOnly, req, res).catch((err: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { Message: `emulator error: ${String(err)}` }, 'InternalServiceException');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    service,
    stats: () => service.stats(),
    configure: (patch) => service.configure(patch),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(
  service: TaskService,
  loopbackOnly: boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const body = await readBody(req);
  if (body === undefined) return answer(res, service.error(413, 'InvalidRequestException', 'Request body too large'));

  if (url.pathname.startsWith(CONTROL_PREFIX)) {
    const refused = refusal(req, loopbackOnly);
    if (refused) return sendJson(res, 403, { Message: refused }, 'AccessDeniedException');
    return control(service, url.pathname.slice(CONTROL_PREFIX.length), req.method, body, res);
  }
  if (isServiceQuotasCall(req)) return answerServiceQuotas(service, req, body, res);
  const read = describeRoute(req.method, url.pathname);
  const stop = url.pathname === '/contact/stop' && req.method === 'POST';
  if (!read && !stop && (url.pathname !== '/contact/task' || req.method !== 'PUT')) {
    return answer(
      res,
      service.error(404, 'UnknownOperationException', `No operation at ${req.method} ${url.pathname}`),
    );
  }
  const auth = checkSignature(req.headers.authorization);
  if (auth) return answer(res, service.error(403, auth.code, auth.message));
  if (read) return answer(res, read(service)); // read-only calls have their own quotas, not StartTaskContact's

  const throttled = stop ? service.admitStop() : service.admit();
  if (throttled) return answer(res, throttled);
  const delay = service.latency();
  if (delay > 0) await sleep(delay);

  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    return answer(res, service.error(400, 'SerializationException', 'The request body is not valid JSON'));
  }
  answer(res, stop ? service.stopContact(json) : service.startTask(json));
}

/** The emulator does not know the caller's secret, so it checks that a SigV4 signature for Connect is there. */
function checkSignature(header: string | undefined): { code: string; message: string } | undefined {
  if (!header) return { code: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const m =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$/.exec(
      header,
    );
  if (!m)
    return {
      code: 'IncompleteSignatureException',
      message: 'The Authorization header is not a valid AWS Signature Version 4 header',
    };
  if (m[1] !== 'connect')
    return {
      code: 'InvalidSignatureException',
      message: `Credential should be scoped to service 'connect', not '${m[1]}'`,
    };
  return undefined;
}

function control(
  service: TaskService,
  route: string,
  method: string | undefined,
  body: Buffer,
  res: ServerResponse,
): void {
  if (route === 'stats' && method === 'GET') return sendJson(res, 200, service.stats());
  // Task content is customer data: served only on the emulator's own (loopback by default) address.
  if (route === 'tasks' && method === 'GET') return sendJson(res, 200, service.listTasks() satisfies StoredTask[]);
  if (route === 'end-tasks' && method === 'POST') {
    const end = parseEndTasks(body);
    if ('error' in end) return sendJson(res, 400, { Message: end.error }, 'InvalidParameterException');
    const ended = service.endTasks(end.count);
    return sendJson(res, 200, { ended, ...service.stats() });
  }
  if (route === 'config' && method === 'POST') {
    const config = parseConfig(body);
    if ('error' in config) return sendJson(res, 400, { Message: config.error }, 'InvalidParameterException');
    service.configure(config.patch);
    return sendJson(res, 200, service.stats());
  }
  answer(res, service.error(404, 'UnknownOperationException', `No control route ${method} ${CONTROL_PREFIX}${route}`));
}

function answer(res: ServerResponse, a: Answer): void {
  if ('reset' in a) {
    // The task exists, but the client never hears so: the unknown outcome a resend must survive.
    res.socket?.destroy();
    return;
  }
  if ('body' in a) return sendJson(res, a.status, a.body);
  if ('html' in a) {
    res.writeHead(a.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(a.html) });
    res.end(a.html);
    return;
  }
  sendJson(res, a.status, { Message: a.message, ...(a.reason ? { Reason: a.reason } : {}) }, a.error);
}

function sendJson(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    // The real service appends a namespace after a colon; the SDK keeps the part before it.
    ...(errorType
      ? { 'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazonaws.connect/` }
      : {}),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
