/** Runs the compiled bin (dist/cli.js) as users and cron do, and collects its exit code and output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../dist/cli.js');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Replaces the environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  onStdout?: (text: string, child: ChildProcess) => void;
  onSpawn?: (child: ChildProcess) => void;
}

export function cli(args: string[], options: CliOptions = {}): Promise<Ran> {
  return new Promise((done) => {
    const env = { ...(options.env ?? process.env) };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED; // prove the bin silences it itself
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      options.onStdout?.(stdout, child);
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** An environment with no AWS configuration at all: no Region, no credentials, no profile files. */
export function bareAwsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') || k === 'AWS_CA_BUNDLE'));
  return {
    ...env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    // No instance metadata service here: skipping it keeps the test fast (the bound is tested apart).
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}
