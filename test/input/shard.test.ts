/**
 * `--shard auto/n`: the worker's shard from its scheduler's 0-based index (Kubernetes Indexed Job,
 * AWS Batch array job), and every way that index can be wrong, refused naming the variable and value.
 */
import { describe, expect, it } from 'vitest';
import { RunConfig } from '../../src/config/resolve.js';
import { shard } from '../../src/config/settings.js';
import { inShard, schedulerShard } from '../../src/input/shard.js';

const K8S = 'JOB_COMPLETION_INDEX';
const BATCH = 'AWS_BATCH_JOB_ARRAY_INDEX';

describe('schedulerShard: index k of auto/n is shard k + 1 of n', () => {
  it.each([
    [{ [K8S]: '0' }, 3, { index: 1, count: 3 }, K8S],
    [{ [K8S]: '1' }, 3, { index: 2, count: 3 }, K8S],
    [{ [K8S]: '2' }, 3, { index: 3, count: 3 }, K8S],
    [{ [BATCH]: '1' }, 3, { index: 2, count: 3 }, BATCH],
    [{ [BATCH]: '9999' }, 10_000, { index: 10_000, count: 10_000 }, BATCH],
    [{ [K8S]: '0' }, 1, { index: 1, count: 1 }, K8S],
    // Both set to the same index: either says it.
    [{ [K8S]: '2', [BATCH]: '2' }, 4, { index: 3, count: 4 }, K8S],
  ])('%j with auto/%i → %j (from %s)', (env, count, expected, variable) => {
    expect(schedulerShard({ index: 'auto', count }, env, `--shard auto/${count}`)).toEqual({
      shard: expected,
      variable,
    });
  });

  it.each([
    [
      {},
      3,
      /--shard auto\/3 takes this worker's index from JOB_COMPLETION_INDEX .* or AWS_BATCH_JOB_ARRAY_INDEX .*neither is set: outside such a job, pass --shard i\/3/,
    ],
    [
      { [K8S]: '' },
      3,
      /JOB_COMPLETION_INDEX is "": --shard auto\/3 needs the 0-based index a Kubernetes Indexed Job sets/,
    ],
    [{ [K8S]: '01' }, 3, /JOB_COMPLETION_INDEX is "01": .*without sign, spaces or leading zeros/],
    [{ [K8S]: '-1' }, 3, /JOB_COMPLETION_INDEX is "-1"/],
    [{ [K8S]: '+1' }, 3, /JOB_COMPLETION_INDEX is "\+1"/],
    [{ [K8S]: ' 1' }, 3, /JOB_COMPLETION_INDEX is " 1"/],
    [{ [K8S]: '1.0' }, 3, /JOB_COMPLETION_INDEX is "1.0"/],
    [{ [BATCH]: 'one' }, 3, /AWS_BATCH_JOB_ARRAY_INDEX is "one": .*an AWS Batch array job sets/],
    [
      { [K8S]: '3' },
      3,
      /JOB_COMPLETION_INDEX is 3, past the last index of --shard auto\/3 \(0-based: 0 to 2\): its 3 must be the number of workers, the Job's completions/,
    ],
    [{ [BATCH]: '5' }, 2, /AWS_BATCH_JOB_ARRAY_INDEX is 5, .*arrayProperties.size/],
    [{ [K8S]: '1' }, 1, /JOB_COMPLETION_INDEX is 1, past the last index of --shard auto\/1 \(0-based: 0 to 0\)/],
    [{ [K8S]: '99999999999999999999' }, 3, /past the last index/],
    [
      { [K8S]: '1', [BATCH]: '2' },
      3,
      /JOB_COMPLETION_INDEX is 1 and AWS_BATCH_JOB_ARRAY_INDEX is 2: --shard auto\/3 cannot tell which/,
    ],
  ])('%j with auto/%i: refused', (env, count, message) => {
    expect(() => schedulerShard({ index: 'auto', count }, env, `--shard auto/${count}`)).toThrow(message);
  });
});

describe('the setting', () => {
  it.each([
    ['auto/3', { index: 'auto', count: 3 }],
    [' auto/1 ', { index: 'auto', count: 1 }],
    ['2/3', { index: 2, count: 3 }],
  ])('parses %j', (text, value) => {
    expect(shard(text)).toEqual(value);
  });

  it.each(['auto/0', 'auto', 'auto/', 'AUTO/3', 'auto/-1', 'auto/3/1', '0/3', '4/3'])('refuses %j', (text) => {
    expect(() => shard(text)).toThrow(/must be i\/n with 1 ≤ i ≤ n, e.g. 2\/3, or auto\/n/);
  });

  const layered = (flags: object, env: Record<string, string>, command: 'run' | 'validate' | 'rerun' = 'run') =>
    RunConfig.layered({ command, input: 'x.csv', flags, env }, {}, undefined, undefined);

  it('is resolved with the settings: the run sees shard i/n, and where the index came from', () => {
    const fromEnv = layered({}, { CTL_SHARD: 'auto/3', [K8S]: '1' });
    expect(fromEnv.shard).toEqual({ index: 2, count: 3 });
    expect(fromEnv.get('shard')).toEqual({ index: 2, count: 3 });
    expect(fromEnv.from('shard')).toBe('JOB_COMPLETION_INDEX=1 with CTL_SHARD=auto/3');
    const fromFlag = layered({ shard: { index: 'auto', count: 4 } }, { [BATCH]: '3' }, 'validate');
    expect(fromFlag.shard).toEqual({ index: 4, count: 4 });
    expect(fromFlag.from('shard')).toBe('AWS_BATCH_JOB_ARRAY_INDEX=3 with --shard auto/4');
    // A flag wins over the environment, as for every setting: no index needed for a given one.
    expect(layered({ shard: { index: 1, count: 2 } }, { CTL_SHARD: 'auto/3' }).shard).toEqual({ index: 1, count: 2 });
  });

  it('a refusal names how auto/n was given', () => {
    expect(() => layered({}, { CTL_SHARD: 'auto/3' })).toThrow(/^CTL_SHARD=auto\/3 takes this worker's index/);
    expect(() => layered({ shard: { index: 'auto', count: 2 } }, { [K8S]: '2' })).toThrow(
      /past the last index of --shard auto\/2/,
    );
  });

  it('rerun refuses CTL_SHARD=auto/n (it reruns one results file, the same in every worker); i/n it ignores', () => {
    expect(() => layered({}, { CTL_SHARD: 'auto/3', [K8S]: '0' }, 'rerun')).toThrow(
      /CTL_SHARD is set, but rerun does not take --shard/,
    );
    expect(layered({}, { CTL_SHARD: '1/3' }, 'rerun').get('shard')).toBeUndefined();
  });

  it('merge takes no shard: CTL_SHARD=auto/n is no concern of it (it joins the files it is named)', () => {
    expect(() =>
      RunConfig.layered(
        { command: 'merge', input: 'x.csv', flags: {}, env: { CTL_SHARD: 'auto/3' } },
        {},
        undefined,
        undefined,
      ),
    ).not.toThrow();
  });

  it('shards of auto/n deal the records as i/n does: every record in exactly one worker', () => {
    const owners = Array.from({ length: 10 }, (_, k) =>
      [0, 1, 2].filter((i) => inShard(schedulerShard({ index: 'auto', count: 3 }, { [K8S]: String(i) }, 'x').shard, k)),
    );
    expect(owners.every((o) => o.length === 1)).toBe(true);
  });
});
