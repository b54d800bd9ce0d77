/**
 * The emulator speaks the real wire protocol: proven with the real SDK, raw HTTP and the AWS CLI.
 */

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ConnectClient,
  DescribeContactCommand,
  StartTaskContactCommand,
  type StartTaskContactCommandInput,
  StopContactCommand,
} from '@aws-sdk/client-connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID as FLOW, DEMO_INSTANCE_ID as INSTANCE, TaskService } from '../../src/emulator/service.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let emulator: Emulator;
let client: ConnectClient;

beforeAll(async () => {
  emulator = await startEmulator({ rate: 1000, burst: 1000 });
  client = new ConnectClient({
    endpoint: emulator.url,
    region: 'eu-west-2',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await emulator.close();
});

const base: StartTaskContactCommandInput = { InstanceId: INSTANCE, ContactFlowId: FLOW, Name: 'Call back' };
const send = (input: Partial<StartTaskContactCommandInput>) =>
  client.send(new StartTaskContactCommand({ ...base, ...input } as StartTaskContactCommandInput));
const failure = (input: Partial<StartTaskContactCommandInput>) =>
  send(input).then(
    () => ({ name: 'no error', status: 200, message: '' }),
    (e: Error & { $metadata: { httpStatusCode?: number } }) => ({
      name: e.name,
      status: e.$metadata.httpStatusCode,
      message: e.message,
    }),
  );

describe('emulator with the real SDK', () => {
  it('creates a task and replays a known ClientToken without creating another', async () => {
    const before = emulator.stats();
    const a = await send({ ClientToken: 'token-1' });
    const b = await send({ ClientToken: 'token-1' });
    expect(a.ContactId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.ContactId).toBe(a.ContactId);
    const after = emulator.stats();
    expect(after.created - before.created).toBe(1);
    expect(after.replayed - before.replayed).toBe(1);
  });

  it.each<[string, Partial<StartTaskContactCommandInput>, string, number, RegExp]>([
    // As the real service does, validation messages echo the refused value (the client must redact them).
    [
      'a long Name',
      { Name: 'n'.repeat(1025) },
      'InvalidParameterException',
      400,
      /^1 validation error detected: Value 'n{1025}' at 'name' failed to satisfy constraint: Name must be at most 1024/,
    ],
    [
      'two routes',
      { TaskTemplateId: 't' },
      'InvalidParameterException',
      400,
      /Value 't' at 'taskTemplateId' failed to satisfy constraint: .*exactly one of ContactFlowId/,
    ],
    [
      'a bad attribute key',
      { Attributes: { 'a b': 'Jane' } },
      'InvalidParameterException',
      400,
      /Value 'Jane' at 'attributes.a b' failed to satisfy constraint: Attributes.a b key may contain only/,
    ],
    [
      'a voice-only reference type',
      { References: { r: { Type: 'ATTACHMENT', Value: 'x' } } },
      'InvalidParameterException',
      400,
      /Value '\{"Type":"ATTACHMENT","Value":"x"\}' at 'references.r' .*Type must be one of URL/,
    ],
    [
      'a past ScheduledTime',
      { ScheduledTime: new Date(Date.now() - 60_000) },
      'InvalidParameterException',
      400,
      /ScheduledTime must not be in the past/,
    ],
    [
      'six attachments',
      { Attachments: Array.from({ length: 6 }, () => ({ FileName: 'a', S3Url: 'https://s3/a' })) },
      'InvalidParameterException',
      400,
      /Attachments must hold 1 to 5/,
    ],
    ['an unknown instance', { InstanceId: 'nope' }, 'ResourceNotFoundException', 404, /Instance not found/],
    ['an unknown flow', { ContactFlowId: 'nope' }, 'ResourceNotFoundException', 404, /ContactFlow not found/],
  ])('refuses %s with the modelled error', async (_name, input, name, status, message) => {
    const f = await failure(input);
    expect(f).toMatchObject({ name, status });
    expect(f.message).toMatch(message);
  });

  it("can be stricter than the client's rules (maxLengths), refusing with the value echoed", async () => {
    const e = await startEmulator({ maxLengths: { Name: 8 } });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      await expect(c.send(new StartTaskContactCommand({ ...base, Name: 'Jane Doe Smith' }))).rejects.toMatchObject({
        name: 'InvalidParameterException',
        message:
          "1 validation error detected: Value 'Jane Doe Smith' at 'name' failed to satisfy constraint: Member " +
          'must have length less than or equal to 8',
      });
      expect((await c.send(new StartTaskContactCommand({ ...base, Name: 'Jane Doe' }))).ContactId).toBeTruthy();
    } finally {
      c.destroy();
      await e.close();
    }
  });

  it('accepts a ScheduledTime sent as epoch seconds by the SDK', async () => {
    const r = await send({ ScheduledTime: new Date(Date.now() + 3_600_000) });
    expect(r.ContactId).toBeTruthy();
  });

  it('caps a PreviousContactId chain at 12 tasks with 402', async () => {
    for (let i = 0; i < 12; i++) await send({ PreviousContactId: 'prev-1', ClientToken: `chain-${i}` });
    expect(await failure({ PreviousContactId: 'prev-1', ClientToken: 'chain-12' })).toMatchObject({
      name: 'ServiceQuotaExceededException',
      status: 402,
    });
  });

  it('throttles past its quota with 429 ThrottlingException', async () => {
    // A token every 100 s: none comes back while the three requests arrive, however far apart.
    const e = await startEmulator({ rate: 0.01, burst: 2 });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => c.send(new StartTaskContactCommand({ ...base, ClientToken: `t${i}` }))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 429 } });
    } finally {
      c.destroy();
      await e.close();
    }
  });

  it('applies the active-task cap with 402 and injects faults from a seed', async () => {
    const e = await startEmulator({ maxActiveTasks: 1, rate: 100, burst: 100 });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      await c.send(new StartTaskContactCommand({ ...base, ClientToken: 'a1' }));
      await expect(c.send(new StartTaskContactCommand({ ...base, ClientToken: 'a2' }))).rejects.toMatchObject({
        name: 'ServiceQuotaExceededException',
      });
      e.configure({ maxActiveTasks: undefined, faults: { failAfter: 1 } });
      await expect(c.send(new StartTaskContactCommand({ ...base, ClientToken: 'a3' }))).rejects.toMatchObject({
        name: 'InternalServiceException',
        $metadata: { httpStatusCode: 500 },
      });
      e.configure({ faults: { failAfter: 0, resetAfter: 1 } });
      await expect(c.send(new StartTaskContactCommand({ ...base, ClientToken: 'a4' }))).rejects.toThrow(
        /socket hang up|ECONNRESET/,
      );
      // Both tasks exist although the client heard of neither; a resend replays them.
      e.configure({ faults: { resetAfter: 0 } });
      await c.send(new StartTaskContactCommand({ ...base, ClientToken: 'a3' }));
      expect(e.stats()).toMatchObject({ created: 3, replayed: 1, faults: { failAfter: 1, resetAfter: 1 } });
    } finally {
      c.destroy();
      await e.close();
    }
  });
});

describe('StopContact and DescribeContact', () => {
  const caught = (p: Promise<unknown>) =>
    p.then(
      () => ({ name: 'no error', status: 200, message: '' }),
      (e: Error & { $metadata: { httpStatusCode?: number } }) => ({
        name: e.name,
        status: e.$metadata.httpStatusCode,
        message: e.message,
      }),
    );

  it('ends an active task, which then describes as ended and no longer counts toward the cap', async () => {
    const e = await startEmulator({ maxActiveTasks: 1, rate: 100, burst: 100, stopRate: 100, stopBurst: 100 });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      const { ContactId } = await c.send(new StartTaskContactCommand({ ...base, ClientToken: 's1' }));
      const live = await c.send(new DescribeContactCommand({ InstanceId: INSTANCE, ContactId }));
      expect(live.Contact).toMatchObject({
        Id: ContactId,
        Channel: 'TASK',
        InitiationMethod: 'API',
        Name: 'Call back',
      });
      expect(live.Contact?.InitiationTimestamp).toBeInstanceOf(Date);
      expect(live.Contact?.DisconnectTimestamp).toBeUndefined();
      await expect(c.send(new StartTaskContactCommand({ ...base, ClientToken: 's2' }))).rejects.toMatchObject({
        name: 'ServiceQuotaExceededException',
      });

      await c.send(new StopContactCommand({ InstanceId: INSTANCE, ContactId }));
      const ended = await c.send(new DescribeContactCommand({ InstanceId: INSTANCE, ContactId }));
      expect(ended.Contact?.DisconnectTimestamp).toBeInstanceOf(Date);
      await c.send(new StartTaskContactCommand({ ...base, ClientToken: 's2' }));
      expect(e.stats()).toMatchObject({ stopped: 1, endedTasks: 1, activeTasks: 1 });
      expect(e.service.contact(ContactId!)).toMatchObject({ state: 'ended', stopRequests: 1, stoppedByRequest: true });
    } finally {
      c.destroy();
      await e.close();
    }
  });

  it('answers the real error shapes; an ended task as configured', async () => {
    const e = await startEmulator({ rate: 100, burst: 100, stopRate: 100, stopBurst: 100 });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const stop = (InstanceId: string, ContactId: string) =>
      caught(c.send(new StopContactCommand({ InstanceId, ContactId })));
    try {
      const { ContactId } = await c.send(new StartTaskContactCommand({ ...base, ClientToken: 'e1' }));
      const other = '00000000-0000-4000-8000-0000000000ff';
      expect(await stop(INSTANCE, '00000000-0000-4000-8000-000000000bad')).toMatchObject({
        name: 'ContactNotFoundException',
        status: 410,
      });
      expect(await stop(other, ContactId!)).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
      e.service.addInstance(other, {});
      expect(await stop(other, ContactId!)).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
      expect(await caught(c.send(new DescribeContactCommand({ InstanceId: other, ContactId })))).toMatchObject({
        name: 'ResourceNotFoundException',
        status: 404,
      });
      expect(await stop(INSTANCE, ContactId!)).toMatchObject({ name: 'no error' });
      expect(await stop(INSTANCE, ContactId!)).toMatchObject({ name: 'ContactNotFoundException', status: 410 });
      e.configure({ alreadyEnded: 'InvalidRequestException' });
      expect(await stop(INSTANCE, ContactId!)).toMatchObject({
        name: 'InvalidRequestException',
        status: 400,
        message: expect.stringMatching(/not active|ended/) as string,
      });
      expect(e.service.contact(ContactId!)?.stopRequests).toBe(3);
      expect(e.stats().stopped).toBe(1);
    } finally {
      c.destroy();
      await e.close();
    }
  });

  it('throttles StopContact on its own quota and injects the same faults', async () => {
    const e = await startEmulator({ rate: 100, burst: 100, stopRate: 0.01, stopBurst: 2 });
    const c = new ConnectClient({
      endpoint: e.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    try {
      const ids: string[] = [];
      for (const t of ['f1', 'f2', 'f3', 'f4'])
        ids.push((await c.send(new StartTaskContactCommand({ ...base, ClientToken: t }))).ContactId!);
      const results = await Promise.allSettled(
        ids.slice(0, 3).map((ContactId) => c.send(new StopContactCommand({ InstanceId: INSTANCE, ContactId }))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 429 } });
      // StartTaskContact's quota is untouched by StopContact's.
      await c.send(new StartTaskContactCommand({ ...base, ClientToken: 'f5' }));

      e.configure({ stopRate: 100, stopBurst: 100, faults: { failAfter: 1 } });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the emptied bucket refills
      await expect(c.send(new StopContactCommand({ InstanceId: INSTANCE, ContactId: ids[3] }))).rejects.toMatchObject({
        name: 'InternalServiceException',
        $metadata: { httpStatusCode: 500 },
      });
      // It ended although the client heard a 500: the resend hears the already-ended answer.
      e.configure({ faults: { failAfter: 0 } });
      await expect(c.send(new StopContactCommand({ InstanceId: INSTANCE, ContactId: ids[3] }))).rejects.toMatchObject({
        name: 'ContactNotFoundException',
      });
      expect(e.stats()).toMatchObject({ stopped: 3, stopThrottled: 1, faults: { failAfter: 1 } });
    } finally {
      c.destroy();
      await e.close();
    }
  });
});

describe('active tasks end over time', () => {
  const task = (service: TaskService, name: string) =>
    service.startTask({ InstanceId: INSTANCE, ContactFlowId: FLOW, Name: name, ClientToken: name });

  it('a drain rate ends them oldest first, each with its time; the cap counts only active ones', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const service = new TaskService({ maxActiveTasks: 3 });
      for (const name of ['a', 'b', 'c']) expect(task(service, name)).toMatchObject({ status: 200 });
      expect(task(service, 'd')).toMatchObject({ status: 402, reason: 'ACTIVE_TASKS' });
      // Agents idle until the drain starts: no time banked before it.
      vi.advanceTimersByTime(60_000);
      service.configure({ drainRate: 2 });
      vi.advanceTimersByTime(499);
      expect(service.stats()).toMatchObject({ activeTasks: 3, endedTasks: 0 });
      vi.advanceTimersByTime(1);
      expect(service.stats()).toMatchObject({ activeTasks: 2, endedTasks: 1 });
      expect(task(service, 'd')).toMatchObject({ status: 200 });
      vi.advanceTimersByTime(10_000); // every task ends; the drain does not bank time with none active
      expect(service.stats()).toMatchObject({ activeTasks: 0, endedTasks: 4, peakActiveTasks: 3, refusedAtLimit: 1 });
      expect(service.listTasks().map((t) => [t.Name, t.state, t.endedAt! - 1_000_000])).toEqual([
        ['a', 'ended', 60_500],
        ['b', 'ended', 61_000],
        ['c', 'ended', 61_500],
        ['d', 'ended', 62_000],
      ]);
      service.configure({ drainRate: undefined });
      for (const name of ['e', 'f', 'g']) task(service, name);
      vi.advanceTimersByTime(60_000);
      expect(service.stats().activeTasks).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a task lifetime ends each at its creation plus the lifetime; end-tasks ends the oldest now', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const service = new TaskService({ taskLifetimeMs: 1_000 });
      task(service, 'a');
      vi.advanceTimersByTime(400);
      task(service, 'b');
      task(service, 'c');
      vi.advanceTimersByTime(700);
      expect(service.stats()).toMatchObject({ activeTasks: 2, endedTasks: 1 });
      expect(service.listTasks()[0]).toMatchObject({ state: 'ended', endedAt: 1_001_000 });
      expect(service.endTasks(1)).toBe(1);
      expect(service.listTasks().map((t) => t.state)).toEqual(['ended', 'ended', 'active']);
      expect(service.endTasks()).toBe(1);
      expect(service.endTasks()).toBe(0);
      expect(service.stats()).toMatchObject({ activeTasks: 0, endedTasks: 3, peakActiveTasks: 3 });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('emulator on the wire', () => {
  it(
    'answers errors as JSON with x-amzn-ErrorType and ' + 'x-amzn-RequestId, and wants a SigV4 signature for connect',
    async () => {
      const res = await fetch(`${emulator.url}/contact/task`, {
        method: 'PUT',
        body: JSON.stringify(base),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-amzn-errortype')).toMatch(/^MissingAuthenticationTokenException:/);
      expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
      expect(await res.json()).toEqual({ Message: 'Missing Authentication Token' });

      const wrongService =
        'AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' +
        'a'.repeat(64);
      const res2 = await fetch(`${emulator.url}/contact/task`, {
        method: 'PUT',
        body: '{}',
        headers: { authorization: wrongService },
      });
      expect(res2.status).toBe(403);
      expect(res2.headers.get('x-amzn-errortype')).toMatch(/^InvalidSignatureException:/);
    },
  );

  it('binds to loopback by default and serves stats under /__emulator/', async () => {
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const stats = (await (await fetch(`${emulator.url}/__emulator/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ rate: 1000, burst: 1000 });
    expect(stats).toHaveProperty('maxTasksPerToken', 1);
  });
});

const exec = promisify(execFile);
const awsCli = (() => {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('emulator with the AWS CLI', () => {
  // .ci/run installs Debian's awscli when it is missing; a developer machine without it skips.
  it.skipIf(!awsCli)('creates a task with aws connect start-task-contact --endpoint-url', async () => {
    const { stdout } = await exec(
      'aws',
      [
        'connect',
        'start-task-contact',
        '--endpoint-url',
        emulator.url,
        '--region',
        'us-east-1',
        '--instance-id',
        INSTANCE,
        '--contact-flow-id',
        FLOW,
        '--name',
        'From the AWS CLI',
        '--client-token',
        'cli-1',
        '--output',
        'json',
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      },
    );
    const out = JSON.parse(stdout) as { ContactId: string };
    expect(out.ContactId).toMatch(/^[0-9a-f-]{36}$/);
    expect(emulator.service.tasks.find((t) => t.ClientToken === 'cli-1')?.Name).toBe('From the AWS CLI');

    const ids = ['--endpoint-url', emulator.url, '--region', 'us-east-1', '--instance-id', INSTANCE];
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    const describeIt = async () =>
      JSON.parse(
        (
          await exec(
            'aws',
            ['connect', 'describe-contact', ...ids, '--contact-id', out.ContactId, '--output', 'json'],
            { env },
          )
        ).stdout,
      ) as { Contact: { Id: string; Channel: string; DisconnectTimestamp?: string } };
    const live = await describeIt();
    expect(live.Contact).toMatchObject({ Id: out.ContactId, Channel: 'TASK' });
    expect(live.Contact.DisconnectTimestamp).toBeUndefined();
    await exec('aws', ['connect', 'stop-contact', ...ids, '--contact-id', out.ContactId], { env });
    expect((await describeIt()).Contact.DisconnectTimestamp).toBeDefined();
    const again = await exec('aws', ['connect', 'stop-contact', ...ids, '--contact-id', out.ContactId], {
      env,
    }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    expect(again).toMatch(/ContactNotFoundException/);
  });
});
