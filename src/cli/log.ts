/**
 * Operator logs: pretty on a terminal, JSON lines otherwise, always on stderr (stdout is the summary).
 * Row content never reaches a log call; the redact list is a second line of defence.
 */
import type { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Where logs go: the command's stderr (default: the process's). */
  stderr?: NodeJS.WritableStream;
  /** Pretty lines in colour (default: whether the process's stderr is a terminal). */
  colorize?: boolean;
  /** Where pretty lines go instead (the progress bar passes a stream that prints above the bar). */
  stream?: Writable;
}

const REDACT_PATHS = [
  'request',
  '*.request',
  'Name',
  '*.Name',
  'Description',
  '*.Description',
  'Attributes',
  '*.Attributes',
  'References',
  '*.References',
  'credentials',
  '*.credentials',
  'secretAccessKey',
  '*.secretAccessKey',
  'redis',
  '*.redis',
];

export function createLogger(options: LogOptions = {}): Logger {
  const base = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  const stderr = options.stderr ?? process.stderr;
  if ((options.format ?? 'json') === 'json') {
    // What journald, ELK or CloudWatch searches read best: "level":"warn" and an ISO-8601 time.
    const json = {
      ...base,
      formatters: { level: (label: string) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    };
    // The process's own stderr is written to synchronously by descriptor: nothing is lost at exit.
    return pino(json, stderr === process.stderr ? pino.destination({ dest: 2, sync: true }) : stderr);
  }
  const destination = options.stream ?? stderr;
  return pino(
    base,
    pretty({
      destination,
      sync: true,
      colorize: options.colorize ?? process.stderr.isTTY,
      // The run id is in the summary; on a terminal it would repeat under every line.
      ignore: 'pid,hostname,runId',
      translateTime: 'HH:MM:ss',
    }),
  );
}
