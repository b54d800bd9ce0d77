/**
 * `--shard i/n`: n workers split one input, deterministically and without coordination. Records are
 * dealt round-robin by their position in the file (the k-th record, 1-based, belongs to shard
 * ((k − 1) mod n) + 1), so every record is in exactly one shard whatever the workers' speed, and a
 * record that spans several lines still counts once. Each shard writes its own results file and holds
 * its own lock; `merge` joins them.
 */
import { UsageError } from '../errors.js';
import { defaultResultsPath } from '../ledger/writer.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !(count >= 1) || !(index >= 1 && index <= count)) throw new UsageError(`--shard must be i/n with 1 ≤ i ≤ n, e.g. 2/3 (got "${text}")`);
  return { index, count };
}

/** Is the k-th record (0-based) of the input this shard's? */
export function inShard(shard: Shard | undefined, ordinal: number): boolean {
  return !shard || ordinal % shard.count === shard.index - 1;
}

/** `<input without extension>.shard-i-of-n.results.csv` beside the input; without a shard the usual name. */
export function shardResultsPath(input: string, shard: Shard | undefined): string {
  const plain = defaultResultsPath(input);
  return shard ? plain.replace(/\.results\.csv$/, `.shard-${shard.index}-of-${shard.count}.results.csv`) : plain;
}
