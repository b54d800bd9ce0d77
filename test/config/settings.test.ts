/**
 * The settings table and its one resolution: precedence (flag > environment > earlier run > job
 * file > default), where each value came from, parsing and checking by the table, the Region a
 * profile names, and commander's options derived for each command.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { commandLine } from '../../src/config/command-line.js';
import { type ConfigInput, RunConfig, resolveConfig } from '../../src/config/resolve.js';
import { type CommandName, SETTING_KEYS, setting, settingsOf } from '../../src/config/settings.js';
import { tempDir } from '../helpers.js';

const layered = (input: Partial<ConfigInput>, job = {}, earlier?: Record<string, unknown>) =>
  RunConfig.layered(
    { command: 'run', input: 'x.csv', flags: {}, env: {}, ...input },
    job,
    join('/jobs', 'x.job.json'),
    earlier,
  );

describe('precedence: flag > environment > the earlier run > job file > default', () => {
  it.each([
    [
      'flag wins',
      { flags: { instanceId: 'F' } },
      { CTL_INSTANCE_ID: 'E' },
      { instanceId: 'R' },
      { instanceId: 'J' },
      'F',
      '--instance-id',
    ],
    [
      'environment next',
      {},
      { CTL_INSTANCE_ID: 'E' },
      { instanceId: 'R' },
      { instanceId: 'J' },
      'E',
      'CTL_INSTANCE_ID',
    ],
    ['then the earlier run', {}, {}, { instanceId: 'R' }, { instanceId: 'J' }, 'R', 'the earlier run'],
    ['then the job file', {}, {}, undefined, { instanceId: 'J' }, 'J', 'job file /jobs/x.job.json'],
    ['nothing: unset', {}, {}, undefined, {}, undefined, '--instance-id'],
  ])('%s', (_name, input, env, earlier, job, value, from) => {
    const config = layered({ ...input, env }, job, earlier);
    expect(config.get('instanceId')).toBe(value);
    expect(config.from('instanceId')).toBe(from);
  });

  it('defaults come last, and apply to settings a command does not take (validate has no --rate)', () => {
    expect(layered({}).get('rate')).toBe(2);
    expect(layered({}).from('rate')).toBe('the default');
    expect(layered({ command: 'validate' }, { rate: 9 }).get('rate')).toBe(2);
    expect(layered({}, { rate: 9 }).get('rate')).toBe(9);
  });

  it('reads the AWS SDK variables, ours first', () => {
    const config = layered({
      env: {
        AWS_ENDPOINT_URL_CONNECT: 'http://127.0.0.1:1',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:2',
        AWS_REGION: 'eu-west-2',
        AWS_PROFILE: 'p',
      },
    });
    expect([config.get('endpoint'), config.from('endpoint'), config.get('region'), config.get('profile')]).toEqual([
      'http://127.0.0.1:1',
      'AWS_ENDPOINT_URL_CONNECT',
      'eu-west-2',
      'p',
    ]);
    expect(
      layered({ env: { CTL_ENDPOINT: 'http://127.0.0.1:3', AWS_ENDPOINT_URL_CONNECT: 'http://127.0.0.1:1' } }).get(
        'endpoint',
      ),
    ).toBe('http://127.0.0.1:3');
    expect(
      layered({ env: { AWS_ENDPOINT_URL_CONNECT: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:2' } }).from('endpoint'),
    ).toBe('AWS_ENDPOINT_URL');
  });

  it('takes only the settings of its command from the environment (CTL_ENCODING does not reach a rerun)', () => {
    expect(
      layered({ command: 'rerun', env: { CTL_ENCODING: 'latin1', CTL_SHARD: '1/2' } }).get('encoding'),
    ).toBeUndefined();
    expect(
      layered({ command: 'rerun', env: { CTL_ENCODING: 'latin1', CTL_SHARD: '1/2' } }).get('shard'),
    ).toBeUndefined();
  });
});

describe('values parsed and checked by the table, wherever they come from', () => {
  it.each([
    [{ flags: { rate: 0 } }, '--rate must be auto or a number above 0'],
    [{ env: { CTL_RATE: 'fast' } }, 'CTL_RATE must be auto or a number above 0'],
    [{ env: { CTL_BURST: '1.5' } }, 'CTL_BURST must be a whole number of at least 1'],
    [{ env: { CTL_DRY_RUN: 'maybe' } }, 'CTL_DRY_RUN must be true or false'],
    [{ env: { CTL_SHARD: '3/2' } }, 'CTL_SHARD must be i/n with 1 ≤ i ≤ n'],
    [{ env: { CTL_TIMEZONE: 'Mars/Olympus' } }, 'CTL_TIMEZONE "Mars/Olympus" is not an IANA time zone'],
    [{ flags: { delimiter: ';;' } }, '--delimiter must be one character other than a quote or a line break'],
    [
      { env: { AWS_ENDPOINT_URL_CONNECT: 'connect.local' } },
      'AWS_ENDPOINT_URL_CONNECT "connect.local" is not an http(s) URL',
    ],
    [{ flags: { deadlineSeconds: 3e6 } }, '--deadline must be between 0.001 seconds and 24 days'],
    [{ flags: { concurrency: 1_000_000_000 } }, '--concurrency must be at most 4,096'],
    [{ env: { CTL_REQUEST_TIMEOUT: '2147484' } }, 'CTL_REQUEST_TIMEOUT must be at most 3,600'],
    [{ flags: { requestTimeoutMs: 2_147_484_000 } }, '--request-timeout must be at most 3,600'],
    [{ env: { CTL_MAX_ATTEMPTS: '1e6' } }, 'CTL_MAX_ATTEMPTS must be at most 100'],
    [{ env: { CTL_RATE: '1e9' } }, 'CTL_RATE must be at most 100,000'],
    [{ flags: { rate: 1e-7 } }, '--rate must be auto or a number above 0, at least 0.0167 (one request a minute)'],
    [{ env: { CTL_RATE: '0x10' } }, 'CTL_RATE must be auto or a number above 0'],
    [{ env: { CTL_BURST: '0x10' } }, 'CTL_BURST must be a whole number of at least 1'],
    [{ env: { CTL_PROGRESS_INTERVAL: '1e9' } }, 'CTL_PROGRESS_INTERVAL must be at most 86,400'],
    [{ env: { CTL_MAX_WAIT: '3 hours' } }, 'CTL_MAX_WAIT must be a duration such as 90s, 30m, 3h or 1h30m'],
    [{ flags: { maxWait: -1 } }, '--max-wait must be a duration'],
    [{ env: { CTL_MAX_WAIT: '30d' } }, 'CTL_MAX_WAIT must be a duration'],
    [
      { env: { CTL_MAX_WAIT: '700h' } },
      'CTL_MAX_WAIT must be a duration such as 90s, 30m, 3h or 1h30m (or seconds), at most 24 days',
    ],
  ])('%j → %s', (input, message) => {
    expect(() => layered(input)).toThrow(message);
  });

  it.each([
    ['3h', 10_800],
    ['90m', 5_400],
    ['1h30m', 5_400],
    ['2s', 2],
    ['1.5s', 1.5],
    ['45', 45],
    ['0', 0],
    [' 2H ', 7_200],
  ])('--max-wait %j is %i seconds', (text, seconds) => {
    expect(layered({ env: { CTL_MAX_WAIT: text } }).get('maxWait')).toBe(seconds);
    expect(layered({}, { maxWait: text }).get('maxWait')).toBe(seconds);
  });

  it('--max-wait is 3 hours unless told, and a job file may give seconds', () => {
    expect(layered({}).get('maxWait')).toBe(10_800);
    expect(layered({}, { maxWait: 600 }).get('maxWait')).toBe(600);
    expect(() => layered({}, { maxWait: 'soon' })).toThrow('/jobs/x.job.json: maxWait must be a duration');
  });

  it('a job file value is checked too, naming the file and key', () => {
    expect(() => layered({}, { timezone: 'Nowhere/At_All' })).toThrow(
      '/jobs/x.job.json: timezone "Nowhere/At_All" is not an IANA time zone',
    );
  });

  it.each([['tab'], ['TAB'], ['\\t'], ['\t']])('--delimiter %j is a tab', (d) => {
    expect(layered({ flags: { delimiter: d } }).get('delimiter')).toBe('\t');
    expect(layered({ env: { CTL_DELIMITER: d } }).get('delimiter')).toBe('\t');
  });

  it('booleans from the environment', () => {
    expect(layered({ env: { CTL_RESUME: '1' } }).get('resume')).toBe(true);
    expect(layered({ env: { CTL_RESUME: 'false' } }).get('resume')).toBe(false);
    expect(layered({ command: 'validate', env: { CTL_NO_PROGRESS: 'yes' } }).get('progress')).toBe(false);
  });
});

describe('what is worked out', () => {
  it('the Region a profile names, then the emulator default; the token namespace from the input', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config'), '[default]\nregion = ap-southeast-2\n[profile night]\nregion = eu-central-1\n');
    const base = { command: 'run' as const, input: '/data/x.csv', flags: {} };
    const env = { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') };
    const byDefault = await resolveConfig({ ...base, env }, { inputSha256: 'ab'.repeat(32) });
    expect([byDefault.get('region'), byDefault.from('region'), byDefault.get('tokenNamespace')]).toEqual([
      'ap-southeast-2',
      'the AWS profile "default"',
      `x.csv@${'ab'.repeat(8)}`,
    ]);
    const night = await resolveConfig({ ...base, env: { ...env, AWS_PROFILE: 'night' } });
    expect(night.get('region')).toBe('eu-central-1');
    const emulator = await resolveConfig({
      ...base,
      flags: { endpoint: 'http://127.0.0.1:4566' },
      env: { AWS_CONFIG_FILE: join(dir, 'none') },
    });
    expect([emulator.get('region'), emulator.from('region')]).toEqual(['us-east-1', 'the emulator on this machine']);
  });

  it('--rate auto: the quota read once, a burst given wins', async () => {
    const quota = async () => ({ rate: 40, burst: 60 });
    const base = { command: 'run' as const, input: 'x.csv', env: {} };
    expect((await resolveConfig({ ...base, flags: { rate: 'auto' } }, { readQuota: quota })).get('burst')).toBe(60);
    expect(
      (await resolveConfig({ ...base, flags: { rate: 'auto', burst: 7 } }, { readQuota: quota })).get('burst'),
    ).toBe(7);
    expect((await resolveConfig({ ...base, flags: { rate: 'auto' } }, { readQuota: quota })).rate).toBe(40);
  });

  it('is immutable', () => {
    const config = layered({ flags: { instanceId: 'F' } });
    expect(() => ((config as unknown as { command: string }).command = 'rerun')).toThrow();
    expect(config.with({ instanceId: 'G' }, { kind: 'derived', name: 'test' }).get('instanceId')).toBe('G');
    expect(config.get('instanceId')).toBe('F');
  });
});

describe('derived from the table', () => {
  it.each(['run', 'rerun', 'validate', 'report', 'merge'] as CommandName[])(
    "%s --help lists exactly the command's settings",
    (name) => {
      const program = buildProgram(() => {});
      const command = program.commands.find((c) => c.name() === name)!;
      const flags = command.options.map((o) => o.long);
      expect(flags.sort()).toEqual(
        settingsOf(name)
          .map((k) => setting(k).flag)
          .sort(),
      );
    },
  );

  it('rerun takes no input-reading setting: it reads a results file', () => {
    const rerun = settingsOf('rerun').map((k) => setting(k).flag);
    for (const flag of ['--encoding', '--delimiter', '--shard', '--dry-run', '--check-live'])
      expect(rerun).not.toContain(flag);
  });

  it('every setting has an environment variable, ours named after its flag', () => {
    for (const key of SETTING_KEYS) {
      const s = setting(key);
      expect(s.env[0], key).toBe(`CTL_${s.flag.slice(2).replace(/-/g, '_').toUpperCase()}`);
    }
  });

  it(
    'printed commands: every printed setting on run, the AWS target on rerun; --results always; defaults left out; ' +
      'paths absolute',
    () => {
      expect(commandLine('run', '-night.csv', {}, { results: 'out dir/r.csv' })).toBe(
        `connect-task-loader run ${join(process.cwd(), '-night.csv')} --results ` +
          `'${join(process.cwd(), 'out dir/r.csv')}'`,
      );
      expect(commandLine('run', '-', {}, { results: '/r.csv' })).toBe('connect-task-loader run - --results /r.csv');
      const recorded = {
        instanceId: 'i',
        endpoint: 'http://127.0.0.1:1',
        region: 'us-east-1',
        tokenNamespace: 'n@1',
        rate: 2,
        burst: 10,
        delimiter: ';',
      };
      expect(commandLine('run', '/d/x.csv', recorded, { results: '/d/r.csv', resume: true })).toBe(
        'connect-task-loader run /d/x.csv --results /d/r.csv --instance-id i --endpoint http://127.0.0.1:1 ' +
          "--region us-east-1 --token-namespace n@1 --delimiter ';' --burst 10 --resume",
      );
      expect(commandLine('rerun', '/d/r.csv', recorded, { results: '/d/r.rerun-1.csv' })).toBe(
        'connect-task-loader rerun /d/r.csv --results /d/r.rerun-1.csv --endpoint http://127.0.0.1:1 --region ' +
          'us-east-1',
      );
    },
  );
});
