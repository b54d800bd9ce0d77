import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A temp folder removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-test-'));
  dirs.push(dir);
  return dir;
}

/** Writes rows (first = header) as CSV into a fresh temp folder; returns the path. */
export function writeCsv(rows: string[][], name = 'input.csv', dir = tempDir()): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(rows));
  return path;
}

/** `count` task rows by the column convention, each with a unique Name and rowId attribute. */
export function taskRows(count: number): string[][] {
  const rows: string[][] = [['Name', 'Description', 'Attributes.rowId', 'References.ticket.URL', 'Notes']];
  for (let i = 1; i <= count; i++) {
    rows.push([`Task ${i}`, `Line one of ${i}\nline "two", with a comma`, String(i), `https://crm.example.com/t/${i}`, `note ${i}`]);
  }
  return rows;
}

export type ResultRecord = Record<string, string>;

/** Parses a results file into objects keyed by header. */
export function readResults(path: string): ResultRecord[] {
  return parse(readFileSync(path), { columns: true }) as ResultRecord[];
}
