/**
 * `--shard i/n`: n workers split one input, deterministically and without coordination. Records are
 * dealt round-robin by their position in the file (the k-th record, 1-based, belongs to shard
 * ((k − 1) mod n) + 1), so every record is in exactly one shard whatever the workers' speed, and a
 * record that spans several lines still counts once. Each shard writes its own results file and holds
 * its own lock; `merge` joins them.
 *
 * `--shard auto/n`: the worker is one index of a scheduler's array of n — a Kubernetes Indexed Job
 * or an AWS Batch array job — and takes the shard its index names. Both schedulers count from 0, the
 * tool from 1: index k is shard k + 1. The index is read once, when the settings are resolved, and a
 * run records the shard it resolved to, never `auto`.
 */
import { UsageError } from '../errors.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** `--shard auto/n`, before the scheduler's index is read. */
export interface AutoShard {
  index: 'auto';
  count: number;
}

export function isAutoShard(shard: Shard | AutoShard | undefined): shard is AutoShard {
  return shard?.index === 'auto';
}

/** Is the k-th record (0-based) of the input this shard's? */
export function inShard(shard: Shard | undefined, ordinal: number): boolean {
  return !shard || ordinal % shard.count === shard.index - 1;
}

/** The variables that hold a worker's index, 0-based, and the scheduler that sets each. */
const SCHEDULER_INDEXES = [
  { variable: 'JOB_COMPLETION_INDEX', scheduler: 'a Kubernetes Indexed Job', size: "the Job's completions" },
  {
    variable: 'AWS_BATCH_JOB_ARRAY_INDEX',
    scheduler: 'an AWS Batch array job',
    size: "the job's arrayProperties.size",
  },
] as const;

/** How a scheduler writes an index: a decimal whole number, no sign, no leading zero. */
const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * The shard of `auto/n` for this worker, from the scheduler's variable in `env`, and the variable it
 * came from. `asked` says how `auto/n` was given (`--shard auto/3`, `CTL_SHARD=auto/3`) in the
 * refusals: neither variable set, both set to different indexes, an index that is not one as a
 * scheduler writes it, or one past the last of n.
 */
export function schedulerShard(
  auto: AutoShard,
  env: Readonly<Record<string, string | undefined>>,
  asked: string,
): { shard: Shard; variable: string } {
  const set = SCHEDULER_INDEXES.filter((s) => env[s.variable] !== undefined);
  if (set.length === 0) {
    throw new UsageError(
      `${asked} takes this worker's index from ${SCHEDULER_INDEXES.map((s) => `${s.variable} (${s.scheduler})`).join(
        ' or ',
      )}, and neither is set: outside such a job, pass --shard i/${auto.count} (i from 1 to ${auto.count})`,
    );
  }
  for (const s of set) {
    const value = env[s.variable]!;
    if (!INDEX.test(value)) {
      throw new UsageError(
        `${s.variable} is ${JSON.stringify(value)}: ${asked} needs the 0-based index ${s.scheduler} sets (0, 1, ` +
          `2…, written without sign, spaces or leading zeros)`,
      );
    }
    if (Number(value) >= auto.count) {
      throw new UsageError(
        `${s.variable} is ${value}, past the last index of ${asked} (0-based: 0 to ${auto.count - 1}): its ` +
          `${auto.count} must be the number of workers, ${s.size}`,
      );
    }
  }
  if (set.length > 1 && env[set[0]!.variable] !== env[set[1]!.variable]) {
    throw new UsageError(
      `${set.map((s) => `${s.variable} is ${env[s.variable]}`).join(' and ')}: ${asked} cannot tell which is this ` +
        `worker's index. Unset the one its scheduler did not set`,
    );
  }
  const variable = set[0]!.variable;
  return { shard: { index: Number(env[variable]) + 1, count: auto.count }, variable };
}
