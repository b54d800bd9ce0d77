/**
 * Operator logs: pretty on a terminal, JSON lines otherwise, always on stderr (stdout is the summary).
 * Row content never reaches a log call; the redact list is a second line of defence.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Where pretty lines go (the progress bar passes a stream that prints above the bar). */
  stream?: Writable;
}

const REDACT_PATHS = [
  'request', '*.request', 'Name', '*.Name', 'Description', '*.Description', 'Attributes', '*.Attributes',
  'References', '*.References', 'credentials', '*.credentials', 'secretAccessKey', '*.secretAccessKey', 'redis', '*.redis',
];

export function createLogger(options: LogOptions = {}): Logger {
  const base = { level: options.level ?? 'info', base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if ((options.format ?? 'json') === 'json') return pino(base, pino.destination({ dest: 2, sync: true }));
  const destination = options.stream ?? process.stderr;
  return pino(base, pretty({ destination, sync: true, colorize: process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }));
}
