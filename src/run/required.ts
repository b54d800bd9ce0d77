/** Refusals before anything is sent: a header with which no row could ever be complete. */
import { UsageError } from '../errors.js';
import type { Defaults, Mapping } from '../input/map.js';

/**
 * Fail before sending anything when no row could ever be complete. A dry run (validate) goes on
 * without an instance or routing id and returns what a real run would need instead. `hints` (header
 * near-misses, a wrong delimiter) say why a column seems to be missing.
 */
export function checkRequiredColumns(mapping: Mapping, options: { dryRun?: boolean; hints?: string[] } = {}): string[] {
  const mapped = new Set(mapping.fields.map((f) => (f.target.kind === 'member' ? f.target.member : f.target.kind)));
  const has = (m: keyof Defaults) => mapped.has(m) || mapping.defaults[m] !== undefined;
  const why = (member: string) => {
    const hint = options.hints?.find((h) => h.includes(`"${member}"`) || h.includes('delimited'));
    return hint ? ` (${hint})` : '';
  };
  if (!mapped.has('Name'))
    throw new UsageError(`no Name: add a Name column, or map task.Name in a job file${why('Name')}`);
  const needs: string[] = [];
  if (!has('InstanceId')) {
    if (!options.dryRun)
      throw new UsageError(
        `no InstanceId: pass --instance-id, set instanceId in the job file, or add an InstanceId ` +
          `column${why('InstanceId')}`,
      );
    needs.push('--instance-id (or an InstanceId column)');
  }
  if (!has('ContactFlowId') && !has('TaskTemplateId') && !has('QuickConnectId')) {
    if (!options.dryRun)
      throw new UsageError(
        'no routing: pass --contact-flow-id (or --task-template-id / --quick-connect-id), or add such a column',
      );
    needs.push('--contact-flow-id, --task-template-id or --quick-connect-id (or such a column)');
  }
  return needs;
}
