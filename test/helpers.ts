import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../src/emulator/service.js';
import { removeAfterFile, removeAfterTest } from './cleanup.js';

/** The emulator's demo instance and contact flow: as run options, and as flags. */
export const ROUTE = { instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID };
export const ROUTE_FLAGS = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', DEMO_CONTACT_FLOW_ID];

/** A temp folder removed after the test (not for tests that run at once: see fileTempDir). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-test-'));
  removeAfterTest(dir);
  return dir;
}

/** A temp folder removed after the file's last test: for what a beforeAll makes, or tests that run at once. */
export function fileTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-test-'));
  removeAfterFile(dir);
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
    rows.push([
      `Task ${i}`,
      `Line one of ${i}\nline "two", with a comma`,
      String(i),
      `https://crm.example.com/t/${i}`,
      `note ${i}`,
    ]);
  }
  return rows;
}

export type ResultRecord = Record<string, string>;

/** Parses a results file into objects keyed by header. */
export function readResults(path: string): ResultRecord[] {
  return parse(readFileSync(path), { columns: true }) as ResultRecord[];
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * Waits until `done()` holds, looking every `everyMs`; past `withinMs` it fails the test saying what
 * it waited for, instead of hanging until the test's time limit.
 */
export async function until(
  done: () => boolean,
  what: string,
  { withinMs = 30_000, everyMs = 20 } = {},
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${withinMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A free port no other server of the suite can be given meanwhile: below the kernel's ephemeral range,
 * from which a server asking for port 0 (every emulator and proxy here) and every outgoing connection
 * get theirs. For a dead endpoint, or a server that must get its port back after a restart. A port
 * that port 0 found free is the next such server's for the taking.
 */
export async function quietPort(): Promise<number> {
  let low = 32_768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the IANA range starts higher still
  }
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    const free = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once('error', () => done(false));
      server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (free) return port;
  }
}
