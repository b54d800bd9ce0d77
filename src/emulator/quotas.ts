/**
 * Service Quotas, as far as `--rate auto` needs it: `ListServiceQuotas` for ServiceCode `connect`
 * (awsJson1_1: `POST /` with `X-Amz-Target: ServiceQuotasV20190624.ListServiceQuotas`), answered with
 * the emulator's own throttle, so `--rate auto` rehearses against what the emulator enforces.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TaskService } from './service.js';

const TARGET = 'ServiceQuotasV20190624.';

export function isServiceQuotasCall(req: IncomingMessage): boolean {
  return req.method === 'POST' && String(req.headers['x-amz-target'] ?? '').startsWith(TARGET);
}

export function answerServiceQuotas(
  service: TaskService,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
): void {
  const operation = String(req.headers['x-amz-target']).slice(TARGET.length);
  let input: { ServiceCode?: string } = {};
  try {
    input = JSON.parse(body.toString('utf8') || '{}') as { ServiceCode?: string };
  } catch {
    return send(res, 400, { __type: 'ValidationException', message: 'not JSON' });
  }
  if (operation !== 'ListServiceQuotas')
    return send(res, 400, { __type: 'UnknownOperationException', message: `${operation} is not emulated` });
  if (input.ServiceCode !== 'connect') return send(res, 200, { Quotas: [] });
  const { rate, burst, stopRate, stopBurst } = service.stats();
  const quota = (QuotaCode: string, QuotaName: string, Value: number) => ({
    ServiceCode: 'connect',
    ServiceName: 'Amazon Connect',
    QuotaCode,
    QuotaName,
    Value,
    Unit: 'None',
    Adjustable: true,
    GlobalQuota: false,
  });
  send(res, 200, {
    Quotas: [
      quota('L-EMU00001', 'Rate of StartTaskContact API requests', rate),
      quota('L-EMU00002', 'Burst rate of StartTaskContact API requests', burst),
      quota('L-650BD10F', 'Rate of StopContact API requests', stopRate),
      quota('L-EMU00003', 'Burst rate of StopContact API requests', stopBurst),
    ],
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
