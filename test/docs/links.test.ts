/**
 * The pages themselves: every relative link and anchor of README.md, CHANGELOG.md and docs/*.md
 * resolves; every page of docs/ starts with its title and a one-line purpose and is in the README's
 * table of contents; the README stays short (details belong in docs/).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => `docs/${f}`);
const PAGES = ['README.md', 'CHANGELOG.md', ...DOCS];
const README_MAX_LINES = 250;

const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** The page's prose: fenced blocks and code spans removed, so that neither is read as a link or a heading. */
function prose(text: string): string {
  return text.replace(/^( {0,3}|\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n\s*\2[`~]*\s*$/gm, '').replace(/`+[^`\n]*`+/g, '');
}

/** GitHub's anchors for a page's headings (lower case, punctuation dropped, spaces as hyphens, repeats numbered). */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const withoutFences = text.replace(/^( {0,3}|\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n\s*\2[`~]*\s*$/gm, '');
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

describe('the docs hold together', () => {
  it.each(PAGES)('%s: relative links and anchors resolve', (page) => {
    const broken: string[] = [];
    for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path ? join(dirname(join(ROOT, page)), path) : join(ROOT, page);
      if (!existsSync(file)) {
        broken.push(`${target}: no file ${relative(ROOT, file)}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading with that anchor in ${relative(ROOT, file)}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(DOCS)('%s: a title, then a one-line purpose', (page) => {
    const [title, blank, purpose, after] = read(page).split('\n');
    expect(title).toMatch(/^# \S/);
    expect(blank).toBe('');
    expect(purpose).toMatch(/^[A-Z].*\.$/);
    expect(after, 'the purpose is one line, followed by a blank line').toBe('');
  });

  it('the README links every page of docs/', () => {
    const readme = read('README.md');
    expect(DOCS.filter((page) => !readme.includes(`](${page})`))).toEqual([]);
  });

  it.each(PAGES)('%s holds no merge-conflict markers', (page) => {
    expect(read(page)).not.toMatch(/^(<{7}|>{7}) /m);
  });

  it(`the README is at most ${README_MAX_LINES} lines`, () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(README_MAX_LINES);
  });
});
