/**
 * The read-only calls `validate --check-live` makes, and DescribeContact for the tasks it created, answered for what the emulator knows, in the
 * restJson1 shapes of the SDK's model (GET routes below) and with the real error: 404
 * ResourceNotFoundException for an unknown instance or resource.
 */
import type { Answer, TaskService } from './service.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const arn = (instance: string, rest = '') => `arn:aws:connect:${REGION}:${ACCOUNT}:instance/${instance}${rest}`;

type Route = { pattern: RegExp; answer: (service: TaskService, ids: string[]) => Answer };

const ROUTES: Route[] = [
  {
    // DescribeContact: timestamps as epoch seconds, as restJson1 sends them.
    pattern: /^\/contacts\/([^/]+)\/([^/]+)$/,
    answer: (service, [instance, id]) => {
      const missing = known(service, instance!);
      if (missing) return missing;
      const task = service.contact(id!);
      if (!task || task.InstanceId !== instance)
        return service.error(404, 'ResourceNotFoundException', 'Contact not found');
      const seconds = (ms: number) => ms / 1000;
      const last = task.endedAt ?? task.createdAt;
      return ok({
        Contact: {
          Arn: arn(instance!, `/contact/${task.ContactId}`),
          Id: task.ContactId,
          InitialContactId: task.ContactId,
          ...(task.PreviousContactId ? { PreviousContactId: task.PreviousContactId } : {}),
          InitiationMethod: 'API',
          Name: task.Name,
          ...(task.Description !== undefined ? { Description: task.Description } : {}),
          Channel: 'TASK',
          InitiationTimestamp: seconds(task.createdAt),
          LastUpdateTimestamp: seconds(last),
          ...(task.endedAt !== undefined ? { DisconnectTimestamp: seconds(task.endedAt) } : {}),
          ...(task.Attributes ? { Attributes: task.Attributes } : {}),
        },
      });
    },
  },
  {
    // DescribeInstance
    pattern: /^\/instance\/([^/]+)$/,
    answer: (service, [instance]) =>
      known(service, instance!) ??
      ok({
        Instance: {
          Id: instance,
          Arn: arn(instance!),
          IdentityManagementType: 'CONNECT_MANAGED',
          InstanceStatus: 'ACTIVE',
          InboundCallsEnabled: true,
          OutboundCallsEnabled: true,
        },
      }),
  },
  {
    // DescribeContactFlow
    pattern: /^\/contact-flows\/([^/]+)\/([^/]+)$/,
    answer: (service, [instance, id]) =>
      known(service, instance!, 'contactFlows', id!, 'ContactFlow') ??
      ok({
        ContactFlow: {
          Arn: arn(instance!, `/contact-flow/${id}`),
          Id: id,
          Name: `Flow ${id}`,
          Type: 'CONTACT_FLOW',
          State: 'ACTIVE',
          Status: 'PUBLISHED',
        },
      }),
  },
  {
    // GetTaskTemplate
    pattern: /^\/instance\/([^/]+)\/task\/template\/([^/]+)$/,
    answer: (service, [instance, id]) =>
      known(service, instance!, 'taskTemplates', id!, 'TaskTemplate') ??
      ok({
        InstanceId: instance,
        Id: id,
        Arn: arn(instance!, `/task-template/${id}`),
        Name: `Template ${id}`,
        Status: 'ACTIVE',
      }),
  },
  {
    // DescribeQuickConnect
    pattern: /^\/quick-connects\/([^/]+)\/([^/]+)$/,
    answer: (service, [instance, id]) =>
      known(service, instance!, 'quickConnects', id!, 'QuickConnect') ??
      ok({
        QuickConnect: {
          QuickConnectARN: arn(instance!, `/transfer-destination/${id}`),
          QuickConnectId: id,
          Name: `Quick connect ${id}`,
          QuickConnectConfig: { QuickConnectType: 'QUEUE' },
        },
      }),
  },
];

/** The read-only operation at `GET pathname`, or undefined when none is there. */
export function describeRoute(
  method: string | undefined,
  pathname: string,
): ((service: TaskService) => Answer) | undefined {
  if (method !== 'GET') return undefined;
  for (const route of ROUTES) {
    const m = route.pattern.exec(pathname);
    if (m) {
      const ids = m.slice(1).map((s) => decodeURIComponent(s));
      return (service) => route.answer(service, ids);
    }
  }
  return undefined;
}

const ok = (body: Record<string, unknown>): Answer => ({ status: 200, body });

/** Undefined when the instance (and the resource, if asked) is known; else the service's 404. */
function known(
  service: TaskService,
  instance: string,
  kind?: 'contactFlows' | 'taskTemplates' | 'quickConnects',
  id?: string,
  label?: string,
): Answer | undefined {
  const resources = service.resources(instance);
  if (!resources) return service.error(404, 'ResourceNotFoundException', 'Instance not found');
  if (kind && !resources[kind]?.includes(id!))
    return service.error(404, 'ResourceNotFoundException', `${label} not found`);
  return undefined;
}
