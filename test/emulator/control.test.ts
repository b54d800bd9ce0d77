/**
 * The emulator's control routes against a web page (DNS rebinding, cross-origin posts) and against
 * wrong config values; the StartTaskContact route stays open to the real SDK (and the AWS CLI test in
 * emulator.test.ts).
 */

import { request } from 'node:http';
import { ConnectClient, StartTaskContactCommand } from '@aws-sdk/client-connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/emulator/control.js';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 100, burst: 100 });
});
afterAll(() => emulator.close());

/** Raw HTTP, so that the Host header can be anything a browser might send. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; json: { Message?: string } & Record<string, unknown> }> {
  const { port } = new URL(emulator.url);
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => done({ status: res.statusCode!, json: JSON.parse(text) as { Message?: string } }));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

describe('control routes', () => {
  it('answer a loopback Host only (DNS rebinding)', async () => {
    for (const host of ['evil.example', 'evil.example:4566', 'localhost.evil.example', '10.0.0.5']) {
      const r = await raw('GET', '/__emulator/tasks', { host });
      expect(r.status, host).toBe(403);
      expect(r.json.Message).toMatch(/control routes answer only a loopback Host/);
    }
    for (const host of ['localhost', 'LOCALHOST:80', 'app.localhost', '127.0.0.1', '127.1.2.3:9', '[::1]:4566']) {
      expect((await raw('GET', '/__emulator/stats', { host })).status, host).toBe(200);
    }
  });

  it('refuse requests from web pages: an Origin, a cross-site fetch, a POST that is not application/json', async () => {
    const before = emulator.stats().rate;
    const origin = await raw(
      'POST',
      '/__emulator/config',
      { origin: 'https://evil.example', 'content-type': 'application/json' },
      '{"rate":1}',
    );
    expect(origin.status).toBe(403);
    expect(origin.json.Message).toMatch(/do not answer requests from web pages/);
    expect((await raw('GET', '/__emulator/tasks', { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const plain = await raw('POST', '/__emulator/config', { 'content-type': 'text/plain' }, '{"rate":1}');
    expect(plain.status).toBe(403);
    expect(plain.json.Message).toMatch(/application\/json only, not "text\/plain"/);
    const form = await raw(
      'POST',
      '/__emulator/config',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'rate=1',
    );
    expect(form.status).toBe(403);
    expect(emulator.stats().rate).toBe(before);
    // Tools send none of these: Node's fetch works as before.
    const res = await fetch(`${emulator.url}/__emulator/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"latencyMs":0}',
    });
    expect(res.status).toBe(200);
  });

  it('check config values: 400 naming the field, nothing changed', async () => {
    const post = (body: unknown) =>
      raw('POST', '/__emulator/config', { 'content-type': 'application/json' }, JSON.stringify(body));
    const cases: [unknown, RegExp][] = [
      [{ rate: '50' }, /^config field "rate" must be number$/],
      [{ rate: 0 }, /^config field "rate" must be > 0$/],
      [{ burst: 1.5 }, /^config field "burst" must be integer$/],
      [{ latencyMs: -1 }, /^config field "latencyMs" must be >= 0$/],
      [{ faults: { failBefore: 2 } }, /^config field "faults.failBefore" must be <= 1$/],
      [{ faults: { seed: 'x' } }, /^config field "faults.seed" must be integer$/],
      [{ instances: { i: { contactFlows: 'f' } } }, /^config field "instances.i.contactFlows" must be array$/],
      [{ maxLengths: { Name: -1 } }, /^config field "maxLengths.Name" must be >= 0$/],
      [{ ratee: 5 }, /^config field "ratee" is not a setting of the emulator$/],
      [{ drainRate: 0 }, /^config field "drainRate" must be > 0$/],
      [[1], /^config must be object$/],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.Message).toMatch(message);
    }
    expect(
      (await raw('POST', '/__emulator/config', { 'content-type': 'application/json' }, '{rate')).json.Message,
    ).toBe('config must be a JSON object');
    expect(emulator.stats()).toMatchObject({ rate: 100, burst: 100 });

    const ok = await post({ rate: 50, maxActiveTasks: null, drainRate: null, faults: { failBefore: 0 } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ rate: 50 });
  });

  it('end-tasks: ends the oldest active tasks now, or all of them; a wrong body is a 400', async () => {
    const e = await startEmulator({ rate: 100, burst: 100 });
    const client = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const end = (body: string) =>
      fetch(`${e.url}/__emulator/end-tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));
    try {
      for (let i = 0; i < 5; i++)
        await client.send(
          new StartTaskContactCommand({
            InstanceId: DEMO_INSTANCE_ID,
            ContactFlowId: DEMO_CONTACT_FLOW_ID,
            Name: `t${i}`,
          }),
        );
      expect(await end('{"count": 2}')).toMatchObject({
        status: 200,
        json: { ended: 2, activeTasks: 3, peakActiveTasks: 5, endedTasks: 2 },
      });
      const tasks = (await (await fetch(`${e.url}/__emulator/tasks`)).json()) as { Name: string; state: string }[];
      expect(tasks.map((t) => `${t.Name} ${t.state}`)).toEqual([
        't0 ended',
        't1 ended',
        't2 active',
        't3 active',
        't4 active',
      ]);
      expect(await end('{"count": "all"}')).toMatchObject({ status: 200, json: { ended: 3, activeTasks: 0 } });
      expect(await end('')).toMatchObject({ status: 200, json: { ended: 0 } });
      for (const bad of ['{"count": -1}', '{"count": 1.5}', '{"n": 1}', '[', '{"count": "some"}']) {
        const r = await end(bad);
        expect(r.status, bad).toBe(400);
        expect(r.json.Message).toMatch(/^end-tasks takes /);
      }
    } finally {
      client.destroy();
      await e.close();
    }
  });

  it('only when bound to loopback: an emulator bound to another address on purpose answers any Host', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
    expect(isLoopbackHost('192.168.1.10')).toBe(false);
    expect(isLoopbackHost(undefined)).toBe(false);
  });
});

describe('the StartTaskContact route', () => {
  it('still serves the real SDK, whatever Host name the endpoint uses', async () => {
    for (const endpoint of [emulator.url, emulator.url.replace('127.0.0.1', 'localhost')]) {
      const client = new ConnectClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      try {
        const out = await client.send(
          new StartTaskContactCommand({
            InstanceId: DEMO_INSTANCE_ID,
            ContactFlowId: DEMO_CONTACT_FLOW_ID,
            Name: 'Host check',
          }),
        );
        expect(out.ContactId).toBeTruthy();
      } finally {
        client.destroy();
      }
    }
  });
});
