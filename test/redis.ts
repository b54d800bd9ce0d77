/**
 * A real redis-server for the tests of the shared limiter, on a free port, no persistence.
 * `.ci/run` installs Debian's redis-server and sets CTL_REQUIRE_REDIS=1, which makes these tests
 * required; elsewhere, without redis-server, they are skipped with a plain message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { quietPort } from './helpers.js';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

export const redisInstalled = spawnSync(BINARY, ['--version']).status === 0;
export const redisRequired = process.env.CTL_REQUIRE_REDIS === '1';
/** Skip (with a message) or fail, as the environment asks. */
export const skipRedis = !redisInstalled && !redisRequired;
if (skipRedis)
  process.stderr.write(
    'redis-server not found: the shared-limiter tests are skipped (set CTL_REQUIRE_REDIS=1 to require them)\n',
  );

export interface TestRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: nothing saved) and resolves when it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** SIGSTOP: the server keeps its connections and answers nothing, as a frozen host or a black-holed network. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
}

/**
 * Its port is one no server asking for port 0 can take (helpers.ts: quietPort), so that it is still
 * free when redis-server binds it, and when it starts again after a kill. Were it taken all the same,
 * redis-server exits at once, and another port is tried.
 */
const ATTEMPTS = 5;

export async function startRedis(password?: string): Promise<TestRedis> {
  let port = 0;
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        ...(password ? ['--requirepass', password] : []),
      ];
      const c = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let out = '';
      c.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve();
      });
      c.on('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
    });
  for (let attempt = 1; ; attempt++) {
    port = await quietPort();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === ATTEMPTS) throw err;
    }
  }
  return {
    port,
    url: password ? `redis://:${password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    start,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    kill: () =>
      new Promise<void>((resolve) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
