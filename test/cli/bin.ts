/**
 * The command line, two ways, each collecting the exit code and the output.
 *
 * `cli` runs it in this process — the same `main` the bin calls, with streams, environment and an
 * empty standard input of its own — which spares each command the start of a process (Node and the
 * AWS SDK). Most tests use it.
 *
 * `spawnCli` runs the compiled bin (dist/cli.js) as users and cron do. It is kept for what only a real
 * process shows: signals and kill, the exit of the process itself, a lock held by another live
 * process, standard input, a terminal, the folder it runs in, and an environment the AWS SDK reads
 * on its own (credentials, profile files) — or the SDK's warnings, which the bin silences itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/program.js';
import { commandEnded, commandStarted } from '../cleanup.js';

export const BIN = resolve(import.meta.dirname, '../../dist/cli.js');

export interface Ran {
  /** null when a spawned bin died of a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Replaces the environment the settings are read from (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** No command of a test takes this long; past it, the test fails saying so instead of hanging. */
const LIMIT_MS = 100_000;

/** Runs the command line in this process: `main` with its own streams; resolves when the command is done. */
export async function cli(args: string[], options: CliOptions = {}): Promise<Ran> {
  if (options.env && sdkEnvironmentDiffers(options.env)) {
    throw new Error(
      'this environment sets AWS variables the AWS SDK reads from the process itself (credentials, profile ' +
        'files): run it with spawnCli',
    );
  }
  let stdout = '';
  let stderr = '';
  const capture = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `connect-task-loader ${args.join(' ')}: still running after ${LIMIT_MS / 1000} s\n` +
              `stdout: ${stdout}\nstderr: ${stderr}`,
          ),
        ),
      LIMIT_MS,
    );
  });
  commandStarted();
  try {
    const code = await Promise.race([
      main([process.execPath, BIN, ...args], {
        stdout: capture((t) => (stdout += t)),
        stderr: capture((t) => (stderr += t)),
        // As a spawned bin's ignored standard input: empty.
        stdin: Readable.from([]),
        env: options.env ?? process.env,
        isTTY: false,
      }),
      limit,
    ]);
    commandEnded();
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Variables the SDK reads itself; the tool sets only the warning switch (in every process that builds a client). */
function sdkEnvironmentDiffers(env: NodeJS.ProcessEnv): boolean {
  const names = new Set(
    [...Object.keys(env), ...Object.keys(process.env)].filter(
      (k) => k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
    ),
  );
  return [...names].some((k) => env[k] !== process.env[k]);
}

export interface SpawnOptions extends CliOptions {
  /** The folder the bin runs in (relative paths are its). */
  cwd?: string;
  /** Piped to the bin's standard input, then closed (default: no standard input). */
  stdin?: Buffer | string;
  onSpawn?: (child: ChildProcess) => void;
  /** Called with all of stdout (or stderr) so far, on each chunk. */
  onStdout?: (text: string, child: ChildProcess) => void;
  onStderr?: (text: string, child: ChildProcess) => void;
  /** Kill it (SIGKILL) if still running after this long (default LIMIT_MS). */
  limitMs?: number;
}

/**
 * Runs the compiled bin in a process of its own; a bin still running after its limit is killed (code null, and stderr
 * says so).
 */
export function spawnCli(args: string[], options: SpawnOptions = {}): Promise<Ran> {
  return new Promise((done) => {
    const env = { ...(options.env ?? process.env) };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED; // prove the bin silences it itself
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env,
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      options.onStdout?.(stdout, child);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      options.onStderr?.(stderr, child);
    });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    const limitMs = options.limitMs ?? LIMIT_MS;
    let late = false;
    const limit = setTimeout(() => {
      late = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(limit);
      done({
        code,
        stdout,
        stderr: late
          ? `${stderr}\n[killed: connect-task-loader ${args.join(' ')} still running after ${limitMs / 1000} s]`
          : stderr,
      });
    });
  });
}

/** An environment with no AWS configuration at all: no Region, no credentials, no profile files. */
export function bareAwsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') || k === 'AWS_CA_BUNDLE'),
  );
  return {
    ...env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    // No instance metadata service here: skipping it keeps the test fast (the bound is tested apart).
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}
