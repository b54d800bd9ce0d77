/** Argument parsers for commander: a wrong value is a usage error naming the flag, never a NaN run. */
import { InvalidArgumentError } from 'commander';

export const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
  return n;
};

export const whole = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
  return n;
};

export const nonNegative = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || v.trim() === '')
    throw new InvalidArgumentError(`${name} must be a number of at least 0`);
  return n;
};

export const integer = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || v.trim() === '') throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

export const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0 to 65535');
  return n;
};

export const probability = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a probability between 0 and 1');
  return n;
};

/** For repeatable options: each occurrence adds to the list. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
