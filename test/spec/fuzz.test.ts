// Thousands of bad specs: random text, random YAML values, and random mutations of the seed
// example. Loading and validating must never throw anything but a MeshformError, and every
// finding must be complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { MeshformError, type Finding } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';
import { validateSpec } from '../../src/validate/rules.js';

const SEED = resolve('examples/seed/mesh.yaml');
const seedText = readFileSync(SEED, 'utf8');
const seedObj = parse(seedText) as Record<string, unknown>;
const now = new Date('2025-01-01T00:00:00Z');

function checkFinding(f: Finding): void {
  assert.ok(typeof f.code === 'string' && /^[A-Z0-9_]+$/.test(f.code), `code ${f.code}`);
  assert.ok(f.severity === 'error' || f.severity === 'warning');
  assert.equal(typeof f.path, 'string');
  assert.ok(typeof f.rule === 'string' && f.rule.length > 0, `rule of ${f.code}`);
  assert.ok(typeof f.fix === 'string' && f.fix.length > 0, `fix of ${f.code}`);
  assert.ok(typeof f.message === 'string' && f.message.length > 0, `message of ${f.code}`);
  assert.ok(!/\n\s+at /.test(f.message), 'no stack trace in a message');
}

let loaded = 0;
function run(text: string): void {
  let spec;
  try {
    spec = parseSpec(text, SEED);
  } catch (e) {
    if (!(e instanceof MeshformError)) throw new Error(`non-MeshformError escaped: ${String(e)}\n--- input ---\n${text.slice(0, 2000)}`);
    assert.equal(e.exitCode, 2);
    assert.ok(e.findings.length > 0, 'a MeshformError carries findings');
    e.findings.forEach(checkFinding);
    return;
  }
  loaded++;
  validateSpec(spec, { now }).forEach(checkFinding);
}

/** Every path into a plain value (objects and arrays), the root included. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

const ALL_PATHS = paths(seedObj).filter((p) => p.length > 0);

const interesting = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom('10.244.1.0/16', '10.42.0.0/16', 'fd00::/48', '::/0', '0.0.0.0/0', '1.2.3.4', '::1', '', 'default', '1.15', '1.99.0', '0.9.0', 'x'.repeat(300)),
  fc.integer({ min: -2, max: 70000 }),
  fc.constantFrom(0, 255, 256, 511, 512, 1.5, -1, null, true, [], {}),
);

type Mutation = { kind: 'set'; at: number; value: unknown } | { kind: 'delete'; at: number } | { kind: 'add'; at: number; key: string; value: unknown } | { kind: 'rename'; at: number; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: interesting }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.string({ maxLength: 12 }), value: interesting }),
  fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), key: fc.string({ maxLength: 12 }) }),
);

function apply(obj: unknown, m: Mutation): void {
  const path = ALL_PATHS[m.at % ALL_PATHS.length]!;
  let parent = obj as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) {
    const next = parent?.[seg];
    if (!next || typeof next !== 'object') return;
    parent = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (!(last in parent)) return;
  if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (m.kind === 'add') {
    const target = parent[last];
    if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value;
  } else if (!Array.isArray(parent)) {
    parent[m.key] = parent[last];
    delete parent[last];
  }
}

test('random text never escapes as a non-MeshformError', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (t) => run(t)), { numRuns: 1000 });
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', '&x', '*x', '!!int', '"', "'", '#', '?', '|', '>', '%', '\t', '0'), { maxLength: 60 }), (xs) => run(xs.join(''))),
    { numRuns: 1000 },
  );
});

test('random YAML values never escape as a non-MeshformError', () => {
  fc.assert(fc.property(fc.anything({ maxDepth: 3 }), (v) => run(stringify(v) ?? '')), { numRuns: 400 });
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => run(JSON.stringify(v) ?? '')), { numRuns: 400 });
});

test('random mutations of the seed spec give coded findings, never a crash', () => {
  loaded = 0;
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      const obj = structuredClone(seedObj);
      for (const m of ms) apply(obj, m);
      run(stringify(obj));
    }),
    { numRuns: 1200 },
  );
  // Some mutations keep the spec loadable, so validateSpec is exercised too.
  assert.ok(loaded > 0, 'no mutated spec loaded; the fuzz would not reach validateSpec');
});
