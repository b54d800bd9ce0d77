/**
 * The command lines the tool prints as the way on (in refusals, the summary's and the report's next
 * step): the settings a run was recorded with, as flags, values shell-quoted where needed. Pure, and
 * importing nothing, so that every stage that advises can use it.
 */

const BIN = 'connect-task-loader';

/** What a printed command carries: the settings a run was recorded with (StoredOptions fits), and where it writes. */
export interface CommandOptions {
  job?: string;
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  tokenKey?: string[];
  encoding?: string;
  delimiter?: string;
  timezone?: string;
  /** `i/n`, as the run state records it. */
  shard?: string;
  results?: string;
  tokenNamespace?: string;
  resume?: boolean;
}

/** The command line that does what a refusal advises; values shell-quoted where needed. */
export function commandLine(command: 'run' | 'rerun', input: string, o: CommandOptions): string {
  const flags: [string, string | undefined][] = [
    ['--results', o.results],
    ['--job', o.job],
    ['--instance-id', o.instanceId],
    ['--contact-flow-id', o.contactFlowId],
    ['--task-template-id', o.taskTemplateId],
    ['--quick-connect-id', o.quickConnectId],
    ['--endpoint', o.endpoint],
    ['--region', o.region],
    ['--profile', o.profile],
    ['--token-key', o.tokenKey?.join(',')],
    ['--token-namespace', o.tokenNamespace],
    ['--encoding', o.encoding],
    ['--delimiter', o.delimiter],
    ['--timezone', o.timezone],
    ['--shard', o.shard],
  ];
  const parts = [BIN, command, quote(input)];
  for (const [flag, value] of flags) if (value !== undefined) parts.push(flag, quote(value));
  if (o.resume) parts.push('--resume');
  return parts.join(' ');
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

