/**
 * The tree reads as the pipeline (docs/architecture.md): src/core at the bottom imports nothing
 * above it; src/wire (the whoami ↔ probe contract) imports only core; the sources (probe, pcap,
 * whoami) never import the commands that drive them (lab, completion, cli.ts); and no import cycle
 * anywhere, type-only imports included. Parses the import statements of src/**\/*.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers of static imports, re-exports and dynamic import() calls, comments removed. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const out: string[] = [];
  const re = /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[\w*${},\s]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** The graph of src: file (relative to src, e.g. `core/units.ts`) → the src files it imports. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of tsFiles(SRC)) {
    const from = path.relative(SRC, file);
    const deps: string[] = [];
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // node: builtins and packages
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC + path.sep)) continue; // package.json and the like
      assert.ok(existsSync(target), `${from} imports ${spec}, which does not exist`);
      deps.push(path.relative(SRC, target));
    }
    g.set(from, deps);
  }
  return g;
}

function layer(file: string): string {
  return file.includes(path.sep) ? file.slice(0, file.indexOf(path.sep)) : file;
}

const SOURCES = new Set(['probe', 'pcap', 'whoami']);
/** What each lower layer may import (besides itself). Layers not listed (lab, completion, cli.ts, ...) may import anything below them. */
const ALLOWED: Record<string, (to: string) => boolean> = {
  core: () => false,
  wire: (to) => to === 'core',
  // html renders the JSON documents (a leaf over core; it reads the probe document's types): the
  // command files of probe and pcap call it for --html.
  html: (to) => to === 'core' || to === 'probe',
  probe: (to) => to === 'core' || to === 'wire' || to === 'html' || SOURCES.has(to),
  pcap: (to) => to === 'core' || to === 'wire' || to === 'html' || SOURCES.has(to),
  whoami: (to) => to === 'core' || to === 'wire' || SOURCES.has(to),
};

test('the import parser sees every form used in src', () => {
  const src = `import a from './a.js';\nimport type { B } from '../b.js';\nimport {\n  c,\n  type D,\n} from './c.js';\nexport { e } from './e.js';\nexport * from './f.js';\nimport './g.js';\nconst h = await import('./h.js');\n// import x from './commented.js';\n/* import y from './block.js'; */\nconst s = "import z from './string.js'";`;
  assert.deepEqual(importSpecifiers(src), ['./a.js', '../b.js', './c.js', './e.js', './f.js', './g.js', './h.js']);
});

test('no upward import: core imports only core, wire only core, sources never the commands', () => {
  const bad: string[] = [];
  for (const [from, deps] of graph()) {
    const rule = ALLOWED[layer(from)];
    if (!rule) continue;
    for (const to of deps) if (layer(to) !== layer(from) && !rule(layer(to))) bad.push(`${from} → ${to}`);
  }
  assert.deepEqual(bad, []);
});

test('no import cycle in src', () => {
  const g = graph();
  // Tarjan's strongly connected components: any component of more than one file is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  assert.ok(g.size > 50, `found only ${g.size} files under src`);
  assert.deepEqual(cycles, []);
});
