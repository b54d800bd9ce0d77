/**
 * Commander's options for each command, derived from the settings table (config/settings.ts): a
 * command's `--help` lists exactly the settings it takes, each with its default and environment
 * variable, and a flag's value is parsed by the table's own parser. Only values given on the
 * command line are handed on: the environment, the earlier run and the job file are resolved in
 * config/resolve.ts, where each value's origin is kept.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Settings } from '../config/resolve.js';
import {
  type CommandName,
  helpOf,
  type SettingKey,
  SettingValueError,
  setting,
  settingsOf,
} from '../config/settings.js';
import { UsageError } from '../errors.js';
import type { CliIo } from './io.js';

export function addSettingOptions(cmd: Command, command: CommandName): Command {
  for (const key of settingsOf(command)) cmd.addOption(optionOf(key, command));
  return cmd;
}

function optionOf(key: SettingKey, command: CommandName): Option {
  const s = setting(key);
  const option = new Option(s.arg ? `${s.flag} ${s.arg}` : s.flag, describe(key, command));
  if (s.choices) option.choices(s.choices);
  else if (s.arg) {
    option.argParser((value: string) => {
      try {
        return s.parse(value);
      } catch (err) {
        if (err instanceof SettingValueError) throw new InvalidArgumentError(`${s.flag} ${err.message}`);
        throw err;
      }
    });
  }
  return option;
}

/** The help line: what it does, its default, and its environment variables. */
function describe(key: SettingKey, command: CommandName): string {
  const s = setting(key);
  const help = helpOf(key, command);
  // A rerun takes what no flag gives from the run it reads; a help text that states its own default,
  // or that the option is required, wins.
  const byDefault = /\((default:|required)/.test(help)
    ? undefined
    : command === 'rerun' && s.kept
      ? "the earlier run's"
      : (s.defaultHelp ?? (s.default !== undefined && typeof s.default !== 'boolean' ? String(s.default) : undefined));
  return `${help}${byDefault ? ` (default: ${byDefault})` : ''} [env: ${s.env.join(', ')}]`;
}

/** The settings given on the command line, by the table's keys (defaults and the environment are not values given). */
export function givenFlags(cmd: Command, command: CommandName): Settings {
  const given: Record<string, unknown> = {};
  for (const key of settingsOf(command)) {
    const attribute = optionOf(key, command).attributeName();
    if (cmd.getOptionValueSource(attribute) === 'cli') given[key] = cmd.getOptionValue(attribute);
  }
  return given as Settings;
}

/**
 * Names the input of `run` and `validate` when the command line does not: a container configured by
 * its environment alone runs just `run`. Not a setting of the table: the input is what a run is of,
 * never recorded as an option or printed as a flag (printed commands name it as their argument).
 */
const INPUT_ENV = 'CTL_INPUT';

/** The input argument's help: where it comes from when it is absent. */
export const INPUT_FROM_ENV = ` [env: ${INPUT_ENV}]`;

/** The input given, else the one the environment names; a refusal when neither does. */
export function inputOf(given: string | undefined, io: CliIo, command: 'run' | 'validate'): string {
  if (given !== undefined) return given;
  const named = io.env[INPUT_ENV];
  if (named !== undefined && named !== '') return named;
  throw new UsageError(
    `${command} needs an input: name it (${command} tickets.csv, or - for standard input), or set ${INPUT_ENV}`,
  );
}
