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
