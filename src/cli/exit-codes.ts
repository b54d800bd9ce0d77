/** The exit codes of SPEC.md: the only numbers a process of this tool ends with. */
export const EXIT = {
  ok: 0,
  rowsFailed: 1,
  usage: 2,
  interrupted: 3,
  locked: 4,
  internal: 70,
  stoppedAtOnce: 130,
} as const;

/**
 * A stop signal that comes before any command listens for it (the program still loading, or a
 * command with no handler of its own) ends the process as the signal's default action would.
 */
export const SIGNAL_EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
