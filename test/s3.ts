/**
 * A real S3-compatible server for the tests of s3:// inputs and results: moto_server (moto 5.2:
 * versioning, If-Match / If-None-Match, ranges, multipart uploads) on a free port it picks itself, one
 * per test file, addressed path-style. In front of it a small proxy that can answer chosen requests
 * with a 5xx (the server behind stays real: only the answer to those requests is replaced), and that
 * counts requests.
 *
 * `.ci/run` requires moto_server and sets CTL_REQUIRE_MOTO=1, which makes these tests required;
 * elsewhere, without moto_server, they are skipped with a plain message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { quietSdkNodeWarning } from '../src/aws.js';

const BINARY = process.env.MOTO_SERVER ?? 'moto_server';

export const motoInstalled = spawnSync(BINARY, ['--help']).status === 0;
export const motoRequired = process.env.CTL_REQUIRE_MOTO === '1';
/** Skip (with a message) or fail, as the environment asks. */
export const skipS3 = !motoInstalled && !motoRequired;
if (skipS3)
  process.stderr.write(
    'moto_server not found: the S3 tests are skipped (pip install "moto[server]"; set CTL_REQUIRE_MOTO=1 to require them)\n',
  );

export interface Fault {
  method?: string;
  /** Matched against the request's path (bucket and key, percent-encoded as sent). */
  path: RegExp;
  /** Answers this many matching requests with `status` (default 500), then lets them through. */
  times: number;
  status?: number;
  /** The error code in the answer's body (default InternalError). */
  code?: string;
  /** Instead of an error: let the request through and cut the connection after this many bytes of the answer's body. */
  cutAfter?: number;
  /** Instead of an error: hold the request this long, then let it through. */
  delayMs?: number;
  /** Instead of an error: let the request through and replace these headers of the answer. */
  headers?: Record<string, string>;
}

export interface TestS3 {
  /** The proxy's URL: what --s3-endpoint names. */
  endpoint: string;
  client: S3Client;
  /** Requests seen, `METHOD /path?query`. */
  requests: string[];
  fail(fault: Fault): void;
  /** Drops every fault not yet used up. */
  heal(): void;
  bucket(name: string, options?: { versioned?: boolean }): Promise<void>;
  put(bucket: string, key: string, body: string | Buffer): Promise<{ versionId?: string; etag?: string }>;
  get(bucket: string, key: string): Promise<Buffer>;
  keys(bucket: string, prefix?: string): Promise<string[]>;
}

let buckets = 0;
/** A bucket of its own for one test (tests of a file may run at once), named `<prefix>-<pid>-<n>`. */
export async function newBucket(s3: TestS3, prefix: string, options: { versioned?: boolean } = {}): Promise<string> {
  const name = `${prefix}-${process.pid}-${++buckets}`;
  await s3.bucket(name, options);
  return name;
}

/** The flags of a quiet, fast run against an emulator with its S3 on this test's moto. */
export function s3RunFlags(s3: TestS3, emulatorUrl: string): string[] {
  return [
    '--endpoint',
    emulatorUrl,
    '--s3-endpoint',
    s3.endpoint,
    '--rate',
    '500',
    '--burst',
    '50',
    '--log-level',
    'warn',
  ];
}

/**
 * Starts moto_server on a port it picks itself (`-p 0`) and resolves with that port, read from the line
 * it prints once it listens, when it answers. A port found free here and handed to it would be free
 * only until it binds it, seconds later (Python): meanwhile another file's server may take it, and a
 * readiness check would then be answered by that one.
 */
function startMoto(onSpawn: (child: ChildProcess) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, ['-H', '127.0.0.1', '-p', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    onSpawn(child);
    let said = '';
    let port: number | undefined;
    const fail = (why: string) => {
      clearTimeout(limit);
      reject(new Error(`moto_server ${why}: ${said.slice(-2000)}`));
    };
    const limit = setTimeout(() => fail('did not start within 30 s'), 30_000);
    child.on('exit', (code) => fail(`exited (${code}) before it answered`));
    // It logs every request here too: read it all, keep what it said while starting.
    child.stderr!.on('data', (d: Buffer) => {
      if (port !== undefined) return;
      said += d;
      const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(said);
      if (!m) return;
      port = Number(m[1]);
      void answers(port).then(() => {
        clearTimeout(limit);
        resolve(port!);
      }, fail);
    });
  });
}

/** Resolves once the server at `port` answers (it printed its address as it bound it: it is the only one there). */
async function answers(port: number): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (
      await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`did not answer on port ${port}`);
}

/** moto_server and its proxy, started before the file's first test and stopped after its last. */
export function fileS3(): TestS3 {
  let child: ChildProcess | undefined;
  let proxy: Server | undefined;
  let client: S3Client | undefined;
  const faults: (Fault & { left: number })[] = [];
  const requests: string[] = [];
  let endpoint = '';
  beforeAll(async () => {
    if (skipS3) return;
    const port = await startMoto((c) => (child = c));
    proxy = createServer((req, res) => forward(port, req, res, faults, requests));
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    quietSdkNodeWarning();
    client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    proxy?.closeAllConnections();
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  });
  const c = () => {
    if (!client)
      throw new Error('the file’s S3 server is not running here (use it in a test or a hook after fileS3’s)');
    return client;
  };
  return {
    get endpoint() {
      return endpoint;
    },
    get client() {
      return c();
    },
    requests,
    fail: (fault) => faults.push({ ...fault, left: fault.times }),
    heal: () => void faults.splice(0),
    async bucket(name, { versioned = false } = {}) {
      await c().send(new CreateBucketCommand({ Bucket: name }));
      if (versioned)
        await c().send(
          new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }),
        );
    },
    async put(bucket, key, body) {
      const out = await c().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return { versionId: out.VersionId, etag: out.ETag };
    },
    async get(bucket, key) {
      const out = await c().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    },
    async keys(bucket, prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await c().send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(out.Contents ?? []).map((o) => o.Key!));
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
  };
}

function forward(
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
  faults: (Fault & { left: number })[],
  requests: string[],
): void {
  requests.push(`${req.method} ${req.url}`);
  const path = (req.url ?? '/').split('?')[0]!;
  const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === req.method) && f.path.test(path));
  if (fault?.delayMs !== undefined) {
    fault.left--;
    setTimeout(() => forward(port, req, res, [], []), fault.delayMs);
    return;
  }
  if (fault && fault.cutAfter === undefined && !fault.headers) {
    fault.left--;
    req.resume();
    req.on('end', () => {
      res.writeHead(fault.status ?? 500, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code ?? 'InternalError'}</Code>` +
          '<Message>Answered by the test proxy.</Message></Error>',
      );
    });
    return;
  }
  const upstream = request(
    { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      if (fault?.headers) fault.left--;
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...fault?.headers });
      if (fault?.cutAfter === undefined) return void answer.pipe(res);
      fault.left--;
      let bytes = 0;
      answer.on('data', (chunk: Buffer) => {
        if (bytes >= fault.cutAfter!) return;
        const room = fault.cutAfter! - bytes;
        bytes += chunk.length;
        if (chunk.length < room) return void res.write(chunk);
        res.write(chunk.subarray(0, room), () => res.destroy());
        answer.destroy();
      });
      answer.on('end', () => res.end());
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}
