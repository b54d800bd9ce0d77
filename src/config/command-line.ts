/**
 * The command lines the tool prints as the way on (the Next lines of run, rerun, validate and
 * report, the refusals): built from a run's settings through the settings table, values
 * shell-quoted, so that each works as printed from another shell and another folder: paths are
 * absolute (which also keeps a file named `-x.csv` from reading as a flag), and `--results` is always
 * written out, so a CTL_RESULTS in that shell cannot point the command at another file.
 */
import { resolve } from 'node:path';
import { isS3Url } from '../s3/url.js';
import type { Settings } from './resolve.js';
import { PRINTED_KEYS, type SettingKey, setting, settingsOf } from './settings.js';

const BIN = 'connect-task-loader';

export interface Extra {
  results?: string;
  resume?: boolean;
  includeInvalid?: boolean;
}

/** `run <input>` with every printed setting; `rerun <results>` with those a rerun does not take from its run. */
export function commandLine(
  command: 'run' | 'rerun' | 'stop',
  input: string,
  settings: Settings,
  extra: Extra = {},
): string {
  const parts = [BIN, command, shellQuote(absolute(input))];
  if (extra.results !== undefined) parts.push('--results', shellQuote(absolute(extra.results)));
  const takes = new Set(settingsOf(command));
  for (const key of PRINTED_KEYS) {
    const s = setting(key);
    if (!takes.has(key) || (command !== 'run' && s.printed !== 'always')) continue;
    const value = settings[key];
    // A default needs no flag; the settings a run must keep have none.
    if (value === undefined || value === s.default) continue;
    parts.push(s.flag, shellQuote(printed(key, value)));
  }
  if (extra.includeInvalid) parts.push('--include-invalid');
  if (extra.resume) parts.push('--resume');
  return parts.join(' ');
}

/** `-` (standard input) and `s3://` locations stay as they are; a path is made absolute against the folder the command was run in. */
function absolute(path: string): string {
  return path === '-' || isS3Url(path) ? path : resolve(path);
}

function printed(key: SettingKey, value: unknown): string {
  const print = setting(key).print as ((v: unknown) => string) | undefined;
  return print ? print(value) : String(value);
}

/** Quotes an argument for a POSIX shell when it holds anything but safe characters. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
