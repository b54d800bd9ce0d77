/**
 * What a run checks before it creates any file: paths, the endpoint, Region and credentials — each a
 * typed error (exit 2 in the CLI) with a clear message, and nothing left in the folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectClient } from '@aws-sdk/client-connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSummaryPath } from '../../src/cli/summary-file.js';
import { type Env, RunConfig, type Settings } from '../../src/config/resolve.js';
import { ConnectSender } from '../../src/delivery/send.js';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { InputError, UsageError } from '../../src/errors.js';
import type { RunOptions } from '../../src/run/options.js';
import { runImport } from '../../src/run/run.js';
import { taskRows, tempDir, writeCsv } from '../helpers.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 500, burst: 50 });
});
afterAll(() => emulator.close());

describe('paths that cannot be right', () => {
  it(
    'a folder as job file, results file or input, a job file that is not JSON, a results folder that does not ' +
      'exist, an empty delimiter',
    async () => {
      const input = writeCsv(taskRows(2));
      const dir = join(input, '..');
      writeFileSync(join(dir, 'job.json'), '{"task": {"Name": "{{Name}}"}');
      mkdirSync(join(dir, 'out'));
      const run = (o: Partial<RunOptions>) =>
        runImport({
          input,
          endpoint: emulator.url,
          instanceId: DEMO_INSTANCE_ID,
          contactFlowId: DEMO_CONTACT_FLOW_ID,
          ...o,
        });
      const before = emulator.stats().requests;

      await expect(run({ job: dir })).rejects.toThrow(
        new UsageError(`the job file ${dir} is not a regular file (a FIFO, device or folder): pass the JSON file`),
      );
      execFileSync('mkfifo', [join(dir, 'fifo.json')]);
      await expect(run({ job: join(dir, 'fifo.json') })).rejects.toThrow(/job file .*fifo\.json is not a regular file/);
      await expect(run({ job: join(dir, 'job.json') })).rejects.toThrow(/^job file .*job\.json is not valid JSON/);
      await expect(run({ results: join(dir, 'out') })).rejects.toThrow(
        /^the results file .*out is a folder: pass --results <file>/,
      );
      await expect(run({ results: join(dir, 'out'), resume: true })).rejects.toBeInstanceOf(UsageError);
      await expect(run({ results: join(dir, 'nope', 'x.csv') })).rejects.toThrow(
        /^the folder of the results file, .*nope, does not exist/,
      );
      await expect(run({ input: dir, results: join(dir, 'x.csv') })).rejects.toThrow(
        new InputError(`${dir} is a folder: pass a CSV file`),
      );
      for (const delimiter of ['', ';;', '"', '\n']) {
        await expect(run({ delimiter }), delimiter).rejects.toThrow(
          /^--delimiter must be one character other than a quote or a line break/,
        );
      }

      expect(readdirSync(dir).sort()).toEqual(['fifo.json', 'input.csv', 'job.json', 'out']);
      expect(readdirSync(join(dir, 'out'))).toEqual([]);
      expect(emulator.stats().requests).toBe(before);
    },
  );

  it('--summary-json: a folder, or a path under a file', () => {
    const dir = tempDir();
    const file = join(dir, 'f.txt');
    writeFileSync(file, '');
    expect(() => checkSummaryPath(dir)).toThrow(/is a folder: name a file in it/);
    expect(() => checkSummaryPath(join(file, 's.json'))).toThrow(/f\.txt is not a folder/);
    expect(() => checkSummaryPath(join(dir, 'a', 'b', 's.json'))).toThrow(/does not exist/);
    checkSummaryPath(join(dir, 's.json'));
    checkSummaryPath(file);
    expect(readdirSync(dir)).toEqual(['f.txt']);
  });
});

describe('the endpoint', () => {
  const layered = (flags: Settings, env: Env = {}) =>
    RunConfig.layered({ command: 'run', input: 'x.csv', flags, env }, {}, undefined, undefined);

  it.each([['not-a-url'], ['127.0.0.1:4566'], ['localhost:4566'], ['ftp://example.com'], ['http://']])(
    'refuses %s, naming the flag',
    (url) => {
      expect(() => layered({ endpoint: url })).toThrow(
        new RegExp(`^--endpoint "${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" is not an http\\(s\\) URL`),
      );
    },
  );

  it('accepts http(s) URLs, and checks AWS_ENDPOINT_URL_CONNECT when no flag is given', () => {
    expect(layered({ endpoint: 'http://127.0.0.1:4566' }).get('endpoint')).toBe('http://127.0.0.1:4566');
    layered({ endpoint: 'https://vpce-1.connect.eu-west-2.vpce.amazonaws.com' });
    expect(() => layered({}, { AWS_ENDPOINT_URL_CONNECT: 'connect.local' })).toThrow(
      /^AWS_ENDPOINT_URL_CONNECT "connect.local" is not an http\(s\) URL/,
    );
    expect(layered({}, { AWS_ENDPOINT_URL_CONNECT: 'http://127.0.0.1:1' }).from('endpoint')).toBe(
      'AWS_ENDPOINT_URL_CONNECT',
    );
  });
});

describe('Region and credentials, through the real SDK client', () => {
  it('a credential chain that does not answer is refused after a bounded time', async () => {
    const client = new ConnectClient({ region: 'eu-west-2', credentials: () => new Promise(() => {}) });
    try {
      await expect(new ConnectSender(client).ready(50)).rejects.toThrow(
        /^no AWS credentials after 0\.05 s \(a source in the credential chain/,
      );
    } finally {
      client.destroy();
    }
  });

  it('a provider that fails is refused with its reason; resolved credentials are ready', async () => {
    const failing = new ConnectClient({
      region: 'eu-west-2',
      credentials: () => Promise.reject(new Error('The SSO session has expired')),
    });
    const fine = new ConnectClient({ region: 'eu-west-2', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      await expect(new ConnectSender(failing).ready()).rejects.toThrow(
        /^no usable AWS credentials \(The SSO session has expired\)/,
      );
      await new ConnectSender(fine).ready();
    } finally {
      failing.destroy();
      fine.destroy();
    }
  });
});
