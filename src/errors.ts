/**
 * Typed errors. Only cli.ts turns them into exit codes; library callers can catch them by class.
 * Messages never carry customer data (task names, descriptions, attribute values): they name
 * the line and column instead.
 */
export class LoaderError extends Error {
  /** The exit code SPEC.md assigns to this kind of failure. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Wrong flags, a bad job file, a missing required option: nothing was sent. Exit 2. */
export class UsageError extends LoaderError {}

/** The input cannot be read or parsed (missing file, broken encoding, unclosed quote). Exit 2. */
export class InputError extends LoaderError {}

/** Another run holds the lock on this results file. Exit 4. */
export class LockedError extends LoaderError {
  override readonly exitCode = 4;
}
