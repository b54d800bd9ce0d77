/**
 * The shape of the code as a test, so that it stays readable as features land: folders are layers,
 * each importing only the folders below it (type imports included), and no module import cycle.
 * Line and module counts are guidance for readers, not rules: they decide nothing here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/**
 * The folders of src/ from the top down (the entry modules cli.ts and index.ts at the top, the
 * shared types, errors and AWS constants at the bottom). A module imports only from its own folder
 * and the layers below it; folders in one layer do not import each other.
 */
const LAYERS = [
  ['cli', 'index'],
  ['emulator'],
  ['run'],
  ['report'],
  ['delivery'],
  ['observe'],
  ['rate'],
  ['ledger'],
  ['config'],
  ['input'],
  ['csv'],
  ['s3'],
  ['aws', 'errors', 'types'],
];

function modules(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? modules(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of a module, `import type` included, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.{1,2}\/[^']+)'/g),
    ...text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g),
  ];
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

  it('imports only downwards through the layers (docs/architecture.md)', () => {
    const folder = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');
    const rank = (file: string) => {
      const top = folder(file);
      const at = LAYERS.findIndex((layer) => layer.includes(top));
      if (at < 0) throw new Error(`src/${top} is in no layer: add it to LAYERS (and to docs/architecture.md)`);
      return at;
    };
    const upward = files.flatMap((f) =>
      importsOf(f)
        .filter((i) => folder(i) !== folder(f) && rank(i) <= rank(f))
        .map((i) => `${relative(SRC, f)} → ${relative(SRC, i)}`),
    );
    expect(upward).toEqual([]);
  });
});
