/**
 * The fenced code blocks of the documentation, and the shell script each `sh` block becomes.
 * The conventions (docs/development.md, "Examples in the docs are tested"):
 *
 *  - ```sh           runs: README.md, then the pages in its table-of-contents order, all in one scratch folder;
 *  - ```sh aws       needs a real AWS account: skipped, counted;
 *  - ```sh clone     runs npm in a clone of the repository (npm ci, npm start, npm test, npm run bench):
 *    skipped, counted (CI runs them; the package test installs the packed tarball);
 *  - ```bash, ```shell, ```console, ```zsh…: refused (write ```sh), as is a fence with no info string
 *    (say what it holds: sh, text, ini, json, ts…);
 *  - `cmd   # exits N` — the command must exit N (any other command must exit 0);
 *  - `cmd   # runs until Ctrl-C` — a server, the block's only command: it must print, then stop
 *    with status 0 on Ctrl-C.
 */

export const MARKERS = {
  aws: 'needs a real AWS account',
  clone:
    'runs in a clone of the repository (npm ci, npm start, npm test, npm run bench): CI and the package test ' +
    'cover these',
} as const;
export type Marker = keyof typeof MARKERS;

/** Info strings that hold shell commands but are not `sh`: refused, so that no example escapes the test. */
const OTHER_SHELLS = new Set([
  'bash',
  'shell',
  'console',
  'zsh',
  'ksh',
  'fish',
  'shell-session',
  'sh-session',
  'shellscript',
  'terminal',
]);

export interface Block {
  /** The page, relative to the repository (README.md, docs/input.md). */
  file: string;
  /** Line of the opening fence (1-based). */
  line: number;
  /** The info string's first word: sh, text, ini, json… ('' when there is none). */
  lang: string;
  /** The info string's other words. */
  words: string[];
  /** The block's content, its fence's indentation removed. */
  body: string;
}

/** Every fenced code block of a CommonMark page (``` or ~~~ fences, indented inside list items too). */
export function fencedBlocks(markdown: string, file: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!) ?? /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    if (fence[0] === '`' && info.includes('`')) continue; // inline code, not a fence
    const body: string[] = [];
    const start = i;
    for (i++; i < lines.length; i++) {
      const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
      if (close.test(lines[i]!)) break;
      const text = lines[i]!;
      body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart());
    }
    const [lang = '', ...words] = info.trim().split(/\s+/).filter(Boolean);
    blocks.push({ file, line: start + 1, lang: lang.toLowerCase(), words, body: body.join('\n') });
  }
  return blocks;
}

export type Plan =
  | { kind: 'run'; block: Block }
  | { kind: 'skip'; block: Block; marker: Marker; reason: string }
  | { kind: 'wrong'; block: Block; reason: string }
  | { kind: 'other'; block: Block };

/** What the test does with a block. */
export function planOf(block: Block): Plan {
  if (block.lang === '')
    return {
      kind: 'wrong',
      block,
      reason: 'a fence without an info string: say what it holds (```sh, ```text, ```ini, ```json…)',
    };
  if (OTHER_SHELLS.has(block.lang))
    return {
      kind: 'wrong',
      block,
      reason:
        `\`\`\`${block.lang}: write commands in \`\`\`sh blocks (the docs test runs them; \`\`\`sh aws or ` +
        `\`\`\`sh clone if they cannot run here)`,
    };
  if (block.lang !== 'sh') return { kind: 'other', block };
  if (block.words.length === 0) return { kind: 'run', block };
  const [marker, ...rest] = block.words;
  if (rest.length || !(marker! in MARKERS))
    return {
      kind: 'wrong',
      block,
      reason: `unknown marker "${block.words.join(' ')}" after sh: the markers are ${Object.keys(MARKERS).join(', ')}`,
    };
  return { kind: 'skip', block, marker: marker as Marker, reason: MARKERS[marker as Marker] };
}

const EXITS = /\s+#\s*exits (\d+)\b.*$/;
const UNTIL_CTRL_C = /\s+#\s*runs until Ctrl-C\b.*$/;

export interface Script {
  /** The bash script: a prelude on its first line, then the block line for line. */
  text: string;
  /** The block runs a server until Ctrl-C (its only command). */
  untilCtrlC: boolean;
}

/**
 * The block as a bash script, line for line after a one-line prelude (so that a line number in bash's
 * messages maps back to the page): a command ending in `# exits N` is wrapped so that its status is
 * compared with N instead of stopping the script. `docLine` is the page line of the block's first line.
 */
export function scriptOf(body: string, docLine: number): Script {
  const lines = body.split('\n');
  const out = [...lines];
  let untilCtrlC = false;
  let lastCommand = -1;
  let commands = 0;
  let heredoc: string | undefined;
  let start = -1; // first line of the logical command being read
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (heredoc !== undefined) {
      if (line.replace(/^\t+/, '') === heredoc) heredoc = undefined;
      continue;
    }
    if (start < 0) {
      if (/^\s*(#|$)/.test(line)) continue;
      start = i;
    }
    if (/\\$/.test(line)) continue; // continued on the next line
    const here = /<<-?\s*(['"]?)([A-Za-z_]+)\1/.exec(line);
    if (here) heredoc = here[2];
    const exits = EXITS.exec(line);
    if (exits) {
      if (heredoc !== undefined) throw new Error(`line ${docLine + i}: "# exits" on a command with a here-document`);
      out[start] = `if ${out[start]}`;
      out[i] =
        `${out[i]!.replace(EXITS, '')}; then __rc=0; else __rc=$?; fi; __expect ${exits[1]} "$__rc" ${docLine + i}`;
    }
    if (UNTIL_CTRL_C.test(line)) untilCtrlC = true;
    lastCommand = i;
    commands++;
    start = -1;
  }
  if (untilCtrlC && (commands !== 1 || !UNTIL_CTRL_C.test(lines[lastCommand] ?? ''))) {
    throw new Error(`line ${docLine}: "# runs until Ctrl-C" must end the block's only command`);
  }
  // The block's first line is the script's line 2, and the page's line docLine.
  const offset = docLine - 2;
  const prelude =
    `__expect() { if [ "$2" != "$1" ]; then echo "docs: the command ending at line $3 exited $2, expected $1" ` +
    `>&2; exit 97; fi; }; ` +
    `trap '__s=$?; echo "docs: the command at line $((LINENO + ${offset})) exited $__s" >&2' ERR`;
  return { text: `${prelude}\n${out.join('\n')}\n`, untilCtrlC };
}

export interface Substitutions {
  emulator: string;
  redis?: string;
}

/** The addresses a page writes (the emulator on port 4566, a Redis on 6379) as the test's own. */
export function substitute(body: string, to: Substitutions): string {
  let text = body.replaceAll('http://127.0.0.1:4566', to.emulator).replace(/--port 4566\b/g, '--port 0');
  if (to.redis) text = text.replaceAll('redis://127.0.0.1:6379', to.redis);
  return text;
}

export const needsRedis = (body: string): boolean => body.includes('redis://127.0.0.1:6379');
export const needsAwsCli = (body: string): boolean => /(^|[\s;&|(])aws\s+[a-z]/m.test(body.replace(/^\s*#.*$/gm, ''));
