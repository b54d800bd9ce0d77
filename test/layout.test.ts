/**
 * The shape of the code as a test, so that it stays readable as features land: no import cycle
 * (type imports included), rate control below delivery and the run, no module over 300 lines, few
 * modules per folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

function modules(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? modules(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a module, `import type` included, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g), ...text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)];
  return specs.map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** The import cycles of the graph, each as a list of module paths (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(relative(SRC, w));
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('code layout', () => {
  const files = modules();

  it('has no import cycle, type imports included', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps rate control below delivery and the run: src/rate/ imports neither', () => {
    const upward = files
      .filter((f) => relative(SRC, f).startsWith('rate/'))
      .flatMap((f) => importsOf(f).filter((i) => /^(delivery|run)\//.test(relative(SRC, i))).map((i) => `${relative(SRC, f)} → ${relative(SRC, i)}`));
    expect(upward).toEqual([]);
  });

  it('keeps every module under 300 lines', () => {
    const long = files.map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 300);
    expect(long).toEqual([]);
  });

  it('keeps at most 8 modules directly in src/ and at most 12 in any folder', () => {
    const perFolder = new Map<string, number>();
    for (const f of files) perFolder.set(relative(SRC, dirname(f)) || '.', (perFolder.get(relative(SRC, dirname(f)) || '.') ?? 0) + 1);
    expect(perFolder.get('.')).toBeLessThanOrEqual(8);
    for (const [folder, count] of perFolder) expect({ folder, count: Math.min(count, 12) }).toEqual({ folder, count });
  });
});
