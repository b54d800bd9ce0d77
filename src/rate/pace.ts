/**
 * The adaptive control of a shared limiter: one pace for every process on a limiter id, kept in Redis.
 *
 * The same arithmetic as the in-process control (arithmetic.ts), measured on the whole cluster: when
 * any process is throttled, the pace is cut to the rate the service *accepted* from all processes over
 * the last seconds. To make the climb back shared without anyone owning it, Redis holds only the last
 * cut (`cutRate`, the pace it cut to, at `cutAt`): every process derives the same pace from it, climbing
 * from `cutRate` for the time since `cutAt`, and applies it to bottleneck as `minTime` (itself shared).
 *
 * Keys, all under `ctl:<limiter id>:` and expiring when nobody touches them:
 *   `pace`      hash {cutRate, cutAt}: the last cut (absent: the ceiling)
 *   `acc:<s>`   accepted answers in wall-clock second s, summed over processes
 *   `procs`     sorted set of live processes, scored by their last heartbeat (ms)
 * Times are wall-clock ms (`Date.now()`), as bottleneck's own scripts use: hosts need synchronised clocks.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CUT_HOLD_MS, climbPace, cutPace, measureSeconds, paceFloor, throttleCuts } from './arithmetic.js';

/** A process not seen for this long (ms) no longer counts as live. */
const PROCESS_STALE_MS = 5_000;
/** Accepted counts are flushed every tick (250 ms): seconds older than this margin are complete. */
const FLUSH_MARGIN_MS = 400;
const KEY_TTL_MS = 60_000;

/**
 * Sets the cut only if `throttleCuts` still holds against the cut in Redis: another process may have cut since this one
 * read it.
 */
const CUT_SCRIPT = `
local cutAt = tonumber(redis.call('HGET', KEYS[1], 'cutAt') or '0')
local now = tonumber(ARGV[1])
if tonumber(ARGV[2]) < cutAt or now - cutAt < tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'cutAt', ARGV[1], 'cutRate', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export class SharedPace {
  private readonly id = randomUUID();
  private cut: { pace: number; at: number } | undefined;
  private readonly unflushed = new Map<number, number>();
  private readonly floor: number;
  /** Live processes on this limiter at the last heartbeat (this one included). */
  processes = 1;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ceiling: number,
  ) {
    this.floor = paceFloor(ceiling);
  }

  /** The cluster's pace at wall-clock time t, requests/s. */
  at(t = Date.now()): number {
    if (!this.cut) return this.ceiling;
    return climbPace(this.cut.pace, Math.max(0, t - this.cut.at) / 1000, this.ceiling);
  }

  /** Counts an accepted answer (created or refused: either way the quota let it through). */
  accepted(t = Date.now()): void {
    const s = Math.floor(t / 1000);
    this.unflushed.set(s, (this.unflushed.get(s) ?? 0) + 1);
  }

  /** Heartbeat, flush of accepted counts, and a fresh read of the last cut. Rejects when Redis is unreachable. */
  async refresh(now = Date.now()): Promise<void> {
    const p = this.redis.pipeline();
    for (const [s, n] of this.unflushed) p.incrby(this.key(`acc:${s}`), n).pexpire(this.key(`acc:${s}`), KEY_TTL_MS);
    p.zadd(this.key('procs'), now, this.id)
      .zremrangebyscore(this.key('procs'), '-inf', now - PROCESS_STALE_MS)
      .zcard(this.key('procs'))
      .pexpire(this.key('procs'), KEY_TTL_MS)
      .hmget(this.key('pace'), 'cutRate', 'cutAt');
    const replies = await p.exec();
    if (!replies) throw new Error('Redis pipeline answered nothing');
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0]!;
    this.unflushed.clear();
    this.processes = Math.max(1, Number(replies[replies.length - 3]![1]));
    const [pace, at] = replies[replies.length - 1]![1] as [string | null, string | null];
    this.cut = pace !== null && at !== null ? { pace: Number(pace), at: Number(at) } : undefined;
  }

  /**
   * A request sent at `sentAt` was throttled: cut the cluster's pace to the accepted rate measured over
   * the whole cluster, unless another process just did (the script checks again in Redis).
   */
  async throttled(sentAt: number, now = Date.now()): Promise<void> {
    if (!throttleCuts(sentAt, now, this.cut?.at ?? -Infinity)) return;
    const pace = this.at(now);
    const next = cutPace(pace, await this.measure(now, pace), this.floor);
    const done = await this.redis.eval(CUT_SCRIPT, 1, this.key('pace'), now, sentAt, CUT_HOLD_MS, next, KEY_TTL_MS);
    if (done === 1) this.cut = { pace: next, at: now };
  }

  /** Leaves the set of live processes (the others' fallback share grows at once). */
  async leave(): Promise<void> {
    await this.redis.zrem(this.key('procs'), this.id);
  }

  /** Accepted answers per second over the last complete seconds, or undefined with too little history. */
  private async measure(now: number, pace: number): Promise<number | undefined> {
    const end = Math.floor((now - FLUSH_MARGIN_MS) / 1000);
    // Whole seconds, as they are counted in Redis.
    const span = Math.ceil(measureSeconds(pace));
    const seconds = Array.from({ length: span }, (_, i) => end - span + i);
    const counts = (await this.redis.mget(seconds.map((s) => this.key(`acc:${s}`)))).map((v) =>
      v === null ? undefined : Number(v),
    );
    // The first second with answers is when the cluster started, probably part-way: count from the next.
    const first = counts.findIndex((c) => c !== undefined);
    if (first === -1) return undefined;
    const window = counts.slice(first === 0 ? 0 : first + 1);
    if (window.length < 1) return undefined;
    return window.reduce<number>((sum, c) => sum + (c ?? 0), 0) / window.length;
  }

  private key(name: string): string {
    return `${this.prefix}:${name}`;
  }
}
