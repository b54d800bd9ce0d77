/**
 * A command's surroundings: where it writes, what it reads, whether it talks to a terminal. The bin
 * passes the process's own (the defaults); a program running the command line in its own process
 * passes streams of its own, so that no command writes to `process.stdout` or reads `process.env`
 * itself.
 */

/** A stream a command writes to; a terminal's also says whether it is one and how wide. */
export type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; hasColors?: () => boolean };

export interface CliIo {
  /** The summary, reports, help. */
  stdout: Output;
  /** Logs, the progress bar, errors. */
  stderr: Output;
  /** What `run -` and `validate -` read (default: the process's, opened only when read). */
  stdin?: NodeJS.ReadableStream;
  /** Environment variables the settings are read from. */
  env: NodeJS.ProcessEnv;
  /** stderr is a terminal: pretty logs and a progress line redrawn in place (default: whether it is a TTY). */
  isTTY: boolean;
}

/** `given`, completed with the process's own surroundings. */
export function surroundings(given: Partial<CliIo> = {}): CliIo {
  const stderr = given.stderr ?? process.stderr;
  return {
    stdout: given.stdout ?? process.stdout,
    stderr,
    ...(given.stdin ? { stdin: given.stdin } : {}),
    env: given.env ?? process.env,
    isTTY: given.isTTY ?? Boolean(stderr.isTTY),
  };
}

/**
 * Whether colour is asked for or refused by the environment (NO_COLOR, FORCE_COLOR, CLICOLOR_FORCE),
 * as commander decides it for the process's own; undefined when the stream decides.
 */
export function colourFromEnv(env: NodeJS.ProcessEnv): boolean | undefined {
  if (env.NO_COLOR || env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  if (env.FORCE_COLOR || env.CLICOLOR_FORCE !== undefined) return true;
  return undefined;
}
