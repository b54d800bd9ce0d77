/**
 * `--shard i/n`: n workers split one input, deterministically and without coordination. Records are
 * dealt round-robin by their position in the file (the k-th record, 1-based, belongs to shard
 * ((k − 1) mod n) + 1), so every record is in exactly one shard whatever the workers' speed, and a
 * record that spans several lines still counts once. Each shard writes its own results file and holds
 * its own lock; `merge` joins them.
 */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Is the k-th record (0-based) of the input this shard's? */
export function inShard(shard: Shard | undefined, ordinal: number): boolean {
  return !shard || ordinal % shard.count === shard.index - 1;
}
