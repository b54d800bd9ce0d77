/**
 * validate's report and --check-live against the emulator's read-only routes (real SDK, real HTTP),
 * and the send-time ScheduledTime check through the real dispatcher and sender.
 */
import { DescribeContactFlowCommand, GetTaskTemplateCommand } from '@aws-sdk/client-connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/delivery/dispatch.js';
import { DEFAULT_RETRY } from '../../src/delivery/retry.js';
import { ConnectSender, createConnectClient } from '../../src/delivery/send.js';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import {
  DEMO_CONTACT_FLOW_ID,
  DEMO_INSTANCE_ID,
  DEMO_QUICK_CONNECT_ID,
  DEMO_TASK_TEMPLATE_ID,
} from '../../src/emulator/service.js';
import { DuplicateTokens } from '../../src/input/duplicates.js';
import { compileMapping } from '../../src/input/map.js';
import { makePreparer } from '../../src/input/prepare.js';
import { RunStats } from '../../src/observe/stats.js';
import { AdaptiveRate } from '../../src/rate/adaptive.js';
import { LocalLimiter } from '../../src/rate/limiter.js';
import { runImport } from '../../src/run/run.js';
import { writeCsv } from '../helpers.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 1000, burst: 100 });
});
afterAll(() => emulator.close());

const client = () => createConnectClient({ endpoint: emulator.url, maxSockets: 4, requestTimeoutMs: 5000 });

describe('the emulator answers the read-only calls as the service does', () => {
  it('DescribeContactFlow / GetTaskTemplate: found, or 404 ResourceNotFoundException', async () => {
    const c = client();
    try {
      const flow = await c.send(
        new DescribeContactFlowCommand({ InstanceId: DEMO_INSTANCE_ID, ContactFlowId: DEMO_CONTACT_FLOW_ID }),
      );
      expect(flow.ContactFlow?.Id).toBe(DEMO_CONTACT_FLOW_ID);
      const template = await c.send(
        new GetTaskTemplateCommand({ InstanceId: DEMO_INSTANCE_ID, TaskTemplateId: DEMO_TASK_TEMPLATE_ID }),
      );
      expect(template.Id).toBe(DEMO_TASK_TEMPLATE_ID);
      const missing = await c
        .send(new DescribeContactFlowCommand({ InstanceId: DEMO_INSTANCE_ID, ContactFlowId: 'nope' }))
        .catch((e: unknown) => e);
      expect(missing).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
    } finally {
      c.destroy();
    }
  });
});

describe('validate', () => {
  it('needs no instance or routing id: the plan says so once, and counts and groups the problems', async () => {
    const rows = [['Name', 'Descripton', 'PreviousContactId']];
    for (let i = 1; i <= 14; i++) rows.push([i === 3 ? '' : `Secret name ${i}`, 'secret description', 'prev-1']);
    const summary = await runImport({ input: writeCsv(rows), dryRun: true });
    const plan = summary.plan!;
    expect(plan.needs).toHaveLength(2);
    expect(plan.rows).toEqual({ wouldSend: 12, invalid: 2, filtered: 0 });
    expect(plan.problems).toEqual([
      { rule: 'column "Name": is required', rows: 1, lines: [4] },
      {
        rule: 'column "PreviousContactId": at most 12 tasks may share one PreviousContactId in a file',
        rows: 1,
        lines: [15],
      },
    ]);
    expect(plan.warnings).toEqual([
      'column "Descripton" is carried unmapped but looks like "Description" (a near miss)',
    ]);
    expect(plan.carried).toEqual(['Descripton']);
    expect(JSON.stringify(plan)).not.toMatch(/Secret|secret/);
    expect(plan.example).toMatchObject({ line: 2, request: { Name: '<13 characters>' } });
  });

  it('--check-live asks each id once and lists what the instance does not have', async () => {
    // Ids in Connect's shape are shown; a value that is not one (a name, an e-mail) only by its length.
    const FLOW_GONE = 'deadbeef-0000-4000-8000-00000000f10e';
    const input = writeCsv([
      ['Name', 'ContactFlowId', 'TaskTemplateId', 'QuickConnectId', 'InstanceId'],
      ['a', DEMO_CONTACT_FLOW_ID, '', '', ''],
      ['b', FLOW_GONE, '', '', ''],
      ['c', '', DEMO_TASK_TEMPLATE_ID, '', ''],
      ['d', '', '', DEMO_QUICK_CONNECT_ID, ''],
      ['e', FLOW_GONE, '', '', ''],
      ['f', DEMO_CONTACT_FLOW_ID, '', '', 'instance-gone'],
    ]);
    const summary = await runImport({
      input,
      dryRun: true,
      checkLive: true,
      endpoint: emulator.url,
      instanceId: DEMO_INSTANCE_ID,
    });
    expect(summary.plan!.live).toEqual({
      checked: 6,
      missing: [
        'InstanceId <a value of 13 characters that is not an id>',
        `ContactFlowId ${FLOW_GONE} in instance ${DEMO_INSTANCE_ID}`,
      ],
      unknown: [],
    });
    expect(emulator.stats().requests).toBe(0); // nothing was sent: StartTaskContact never called
  });
});

describe('ScheduledTime at send time', () => {
  it('a row whose time passed while it waited is invalid and never sent', async () => {
    let now = new Date(Date.now() + 60_000 - 1000);
    const due = new Date(Date.now() + 60_000).toISOString();
    const prepare = makePreparer({
      mapping: compileMapping(['Name', 'ScheduledTime'], {
        defaults: { InstanceId: DEMO_INSTANCE_ID, ContactFlowId: DEMO_CONTACT_FLOW_ID },
      }),
      tokenNamespace: 'send-time',
      duplicates: new DuplicateTokens({ warn() {} }),
      clock: () => now,
    });
    const job = prepare({ line: 2, values: ['Late row', due] });
    expect(job.result).toBeUndefined();
    const sender = new ConnectSender(client());
    const dispatcher = new Dispatcher(
      sender,
      new LocalLimiter(new AdaptiveRate({ ceiling: 100, burst: 10 }), 4),
      DEFAULT_RETRY,
      new RunStats(),
    );
    try {
      now = new Date(Date.now() + 120_000); // the row waited past its time (a slow queue, a long run)
      const before = emulator.stats().requests;
      const delivery = await dispatcher.deliver(job.request!, job.lateCheck);
      expect(delivery.unsent).toBe(
        'column "ScheduledTime": must not be in the past (checked when the row was about to be sent)',
      );
      expect(emulator.stats().requests).toBe(before);
    } finally {
      sender.destroy();
    }
  });
});
