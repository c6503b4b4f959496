import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { preProcessFile } from 'typescript';

/**
 * The shape of src/ as a graph of imports (type-only imports included, as madge counts them): no file imports
 * itself through others, and no folder does either, so every folder's imports point one way along the pipeline
 * (admission → queue → placement → fleet, ...). Which files may import ioredis, bullmq and undici is an ESLint
 * rule (eslint.config.mjs).
 */
const SRC = __dirname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'public' ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const imported = preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    graph.set(
      relative(SRC, file),
      imported.flatMap((i) => {
        const target = resolveImport(file, i.fileName);
        return target ? [relative(SRC, target)] : [];
      }),
    );
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** Files at the top of src/ (main, bootstrap, the app module, the lifecycle) wire every folder; they are no folder. */
function folderOf(file: string): string | undefined {
  const parts = file.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

function folderGraph(files: Map<string, string[]>): Map<string, string[]> {
  const graph = new Map<string, Set<string>>();
  for (const [file, imports] of files) {
    const from = folderOf(file);
    if (!from) continue;
    const targets = graph.get(from) ?? new Set<string>();
    graph.set(from, targets);
    for (const imported of imports) {
      const to = folderOf(imported);
      if (to && to !== from) targets.add(to);
    }
  }
  return new Map([...graph].map(([folder, targets]) => [folder, [...targets].sort()]));
}

describe('import graph of src/', () => {
  const files = importGraph();

  it('reads the files and their imports', () => {
    expect(files.size).toBeGreaterThan(50);
    expect(files.get(join('inference', 'inference.service.ts'))).toContain(join('admission', 'admission.service.ts'));
  });

  it('has no import cycle between files', () => {
    expect(cycles(files).map((c) => c.join(' → '))).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(cycles(folderGraph(files)).map((c) => c.join(' → '))).toEqual([]);
  });
});
