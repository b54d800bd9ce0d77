/** `--rate auto` through the real Service Quotas client against the emulator's ListServiceQuotas. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { runImport } from '../../src/run/run.js';
import { taskRows, writeCsv } from '../helpers.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 37, burst: 4 });
});
afterAll(() => emulator.close());

it('--rate auto reads the applied quota and burst the service reports', async () => {
  const logs: { obj: object; msg?: string }[] = [];
  const log = {
    info: (obj: object, msg?: string) => logs.push({ obj, msg }),
    warn: (obj: object, msg?: string) => logs.push({ obj, msg }),
    debug() {},
  };
  const summary = await runImport({
    input: writeCsv(taskRows(5)),
    endpoint: emulator.url,
    rate: 'auto',
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
    logger: log,
  });
  expect(summary.rows.created).toBe(5);
  expect(summary.targetRate).toBe(37);
  expect(logs.find((l) => l.msg?.startsWith('--rate auto'))?.obj).toMatchObject({ rate: 37, burst: 4 });
});

it('--reserve leaves part of the quota to other callers', async () => {
  await expect(
    runImport({
      input: writeCsv(taskRows(1)),
      endpoint: emulator.url,
      rate: 10,
      reserve: 10,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
    }),
  ).rejects.toThrow(/--reserve 10 leaves nothing/);
});
