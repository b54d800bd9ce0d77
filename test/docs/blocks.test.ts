/**
 * The conventions of the docs test (blocks.ts): which blocks run, which are skipped or refused, and what `# exits N`
 * means.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fencedBlocks, needsAwsCli, planOf, scriptOf, substitute } from './blocks.js';

const page = [
  '# A page', // 1
  '', // 2
  '```sh', // 3
  'connect-task-loader validate samples/tasks.csv   # exits 1', // 4
  '```', // 5
  '', // 6
  '1. A step:', // 7
  '', // 8
  '   ```sh aws', // 9
  '   aws sso login', // 10
  '   ```', // 11
  '', // 12
  '```bash', // 13
  'npm test', // 14
  '```', // 15
  '```', // 16
  'no info string', // 17
  '```', // 18
  '````text', // 19
  '```sh', // 20
  'not a block of its own', // 21
  '````', // 22
  '```sh clone extra', // 23
  '```', // 24
].join('\n');

/** Runs a script as the docs test does, and returns its exit status and stderr. */
function bash(body: string): { status: number | null; stderr: string } {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', scriptOf(body, 10).text], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('docs blocks', () => {
  const blocks = fencedBlocks(page, 'docs/x.md');

  it('finds fenced blocks with their opening line, indented ones included', () => {
    expect(blocks.map((b) => [b.line, b.lang, b.words.join(' ')])).toEqual([
      [3, 'sh', ''],
      [9, 'sh', 'aws'],
      [13, 'bash', ''],
      [16, '', ''],
      [19, 'text', ''],
      [23, 'sh', 'clone extra'],
    ]);
    expect(blocks[1]!.body).toBe('aws sso login');
    expect(blocks[4]!.body).toBe('```sh\nnot a block of its own');
  });

  it('runs sh, skips sh aws and sh clone, refuses other shells, bare fences and unknown markers', () => {
    expect(blocks.map((b) => planOf(b).kind)).toEqual(['run', 'skip', 'wrong', 'wrong', 'other', 'wrong']);
    expect(planOf({ file: 'x', line: 1, lang: 'sh', words: ['clone'], body: 'npm ci' }).kind).toBe('skip');
  });

  it('a command must exit 0, or the N its "# exits N" says', () => {
    expect(bash('true').status).toBe(0);
    expect(bash('false # exits 1').status).toBe(0);
    expect(bash('sh -c "exit 2" \\\n  -- extra   # exits 2: a reason').status).toBe(0);
    const wrong = bash('true\ntrue   # exits 1');
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('the command ending at line 11 exited 0, expected 1');
    const failed = bash('true\nfalse\ntrue');
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('the command at line 11 exited 1');
  });

  it('reads here-documents as text, not commands', () => {
    expect(bash("cat > /dev/null <<'CSV'\nName # exits 3\nCSV\ntrue").status).toBe(0);
  });

  it('"# runs until Ctrl-C" ends a block of one command', () => {
    expect(scriptOf('connect-task-loader emulator --port 4566   # runs until Ctrl-C', 1).untilCtrlC).toBe(true);
    expect(() => scriptOf('true\nconnect-task-loader emulator   # runs until Ctrl-C', 1)).toThrow(/only command/);
  });

  it("puts the test's emulator and Redis in place of the documented addresses", () => {
    const text =
      'x --endpoint http://127.0.0.1:4566 --redis redis://127.0.0.1:6379\nconnect-task-loader emulator --port 4566';
    expect(substitute(text, { emulator: 'http://127.0.0.1:40001', redis: 'redis://127.0.0.1:40002' })).toBe(
      'x --endpoint http://127.0.0.1:40001 --redis redis://127.0.0.1:40002\nconnect-task-loader emulator --port 0',
    );
    expect(needsAwsCli('AWS_ACCESS_KEY_ID=x aws connect start-task-contact')).toBe(true);
    expect(needsAwsCli('# the aws command\nconnect-task-loader run x.csv --region eu-west-2')).toBe(false);
  });
});
