// The fast reader (js-yaml on the plain subset) must read every text it accepts exactly as the
// `yaml` library's Document parser does, and leave to that parser every text where the two are
// known to differ. Generated texts: line soup from YAML's tricky tokens, and `yaml.stringify` of
// random data in every style; each accepted text is parsed by both and compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { parseDocument, stringify } from 'yaml';
import { readPlainYaml } from '../../src/spec/plain-yaml.js';
import { parseYamlText } from '../../src/spec/input.js';

/** What the full parser makes of `text`, with meshform's options. */
function full(text: string): { ok: true; data: unknown } | { ok: false } {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) return { ok: false };
  return { ok: true, data: doc.toJS({ maxAliasCount: 1000 }) };
}

function agrees(text: string): boolean {
  const fast = readPlainYaml(text);
  if (!fast) return true;
  const f = full(text);
  return f.ok && isDeepStrictEqual(f.data, fast.data);
}

const TOKENS = ['a', 'b c', 'null', '~', 'Null', 'true', 'False', 'yes', '0', '-1', '+1', '0o17', '0x1f', '012', '1.5', '.5', '1.', '1e3', '.inf', '-.Inf', '.nan',
  '"q"', "'s'", '"x\\ny"', "'it''s'", '', 'a:b', 'a: b', 'a #c', '#c', 'http://x:1/y', '[a, b]', '{a: 1}', '[]', '{}', '|', '>', '|-', '>+', '-', '- a', ':', '::',
  ',', '[', ']', '{', '}', '"', "'", '2001-12-14', '1_000', '0b1', '  ', 'x y: z', '@', '`', '=', '<<', 'key with: colon', '- - a', '? x', '&a x', '*a', '!!str 1', '"a&b *c !d"', "'&x'", 'a&b', 'x*', '%YAML 1.2', '---', '...'];
const KEYS = ['a', 'b', 'c d', '"e"', "'f'", '1', '1.0', 'true', 'null', '~', '[a]', '{a: b}', '-', 'x:', 'a b', '0x1', 'NULL', '"null"', '""'];
const line = fc
  .tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom('', '- ', '- - '), fc.constantFrom(...KEYS), fc.constantFrom(':', ': ', ':  ', ''), fc.constantFrom(...TOKENS), fc.constantFrom('', ' # c', '#c', ' ', ' # a && b *c !d', ' #&x'))
  .map(([ind, dash, k, colon, v, com]) => ' '.repeat(ind) + dash + k + colon + v + com);
const soup = fc.array(fc.oneof(line, fc.constantFrom(...TOKENS)), { minLength: 1, maxLength: 8 }).map((ls) => `${ls.join('\n')}\n`);

test('the fast reader agrees with the yaml library on every text it accepts: token soup', () => {
  let accepted = 0;
  fc.assert(
    fc.property(soup, (text) => {
      if (readPlainYaml(text)) accepted++;
      return agrees(text);
    }),
    { numRuns: 20000, seed: 20261205 },
  );
  assert.ok(accepted > 1000, `the subset is not empty (${accepted} accepted)`);
});

test('the fast reader agrees with the yaml library on every text it accepts: yaml.stringify of random data in every style', () => {
  const chars = fc.constantFrom('a', ' ', ':', '#', '-', '"', "'", '\\', '\n', '[', ']', '{', '}', ',', '1', '.', 'e', 'x', '0', '|', '>', '~', '@', '`', '%', '?', 'é', '\u00a0', '\u2028');
  const scalar = fc.oneof(fc.string({ unit: chars, maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const key = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '-', ':', '1', '.', '"', "'"), maxLength: 5 });
  const { v } = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
  }));
  const style = fc.record({
    indent: fc.integer({ min: 1, max: 4 }),
    flow: fc.boolean(),
    lineWidth: fc.constantFrom(0, 10, 80),
    defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED') as fc.Arbitrary<'PLAIN'>,
    indentSeq: fc.boolean(),
  });
  let accepted = 0;
  fc.assert(
    fc.property(v, style, (data, s) => {
      const text = stringify(data, { ...s, collectionStyle: s.flow ? 'flow' : 'any' });
      if (readPlainYaml(text)) accepted++;
      return agrees(text);
    }),
    { numRuns: 10000, seed: 20261205 },
  );
  assert.ok(accepted > 5000, `most plain data is read fast (${accepted} accepted)`);
});

test('texts where js-yaml and the yaml library differ are left to the yaml library', () => {
  const differ = [
    'null: a\n', // "" to yaml, "null" to js-yaml
    '~: a\n',
    '[a]: q\n', // a collection key
    'a: {}#c\n', // a comment touching a bracket: an error to yaml
    'a: ""#c\n',
    'a: "\n-: b\n"\n', // a quoted scalar over lines less indented than its key
    'a: [ # c\n]\n', // a flow collection over lines
    '|1-\n  x\n', // an indentation indicator
    '- -   \n- b\n', // a compact nested sequence with an empty item
    '     - a\n    - b\n', // a dedent to a column no enclosing line has
    'a: &x 1\nb: *x\n', // aliases: the yaml library bounds what they expand to
    'a: !!str 1\n',
    '%YAML 1.2\n---\na: 1\n',
    'a: 1\n---\nb: 2\n',
    '? a\n: b\n',
    'a:\tb\n',
    'a: 1\r\nb: 2\r\n',
    `a: ${'x'.repeat(1001)}\n`,
    '__proto__: {a: 1}\n',
  ];
  for (const text of differ) assert.equal(readPlainYaml(text), undefined, JSON.stringify(text));
});

test('a spec, the seed and the examples are read by the fast reader, and their documents hold the same data', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) {
        if (n !== 'out' && n !== 'ca') walk(p);
      } else if (/\.ya?ml$/.test(n)) files.push(p);
    }
  };
  walk('examples');
  assert.ok(files.length >= 3, files.join(' '));
  let fast = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (readPlainYaml(text)) fast++;
    const parsed = parseYamlText(text, f, { what: 'file', findingPath: '' });
    if (Array.isArray(parsed)) continue;
    assert.deepEqual(parsed.doc.toJS(), parsed.data, f);
    assert.ok(agrees(text), f);
  }
  assert.ok(fast >= 1, 'the examples keep to the plain subset');
});

test('parseYamlText: data from the fast reader, the document built only when used, errors from the yaml library', () => {
  const role = { what: 'values file', findingPath: 'clusters[0].values' };
  const p = parseYamlText('a: 1 # one\nb: [x, y]\n', 'v.yaml', role, 'VALUES');
  assert.ok(!Array.isArray(p));
  assert.deepEqual(p.data, { a: 1, b: ['x', 'y'] });
  assert.equal(p.doc.toString(), 'a: 1 # one\nb: [ x, y ]\n');
  assert.deepEqual(p.lines.linePos(5), { line: 1, col: 6 });
  // js-yaml refuses: the yaml library's finding, with its position and code.
  const bad = parseYamlText('a: 1\na: 2\n', 'v.yaml', role, 'VALUES');
  assert.ok(Array.isArray(bad));
  assert.equal(bad[0]!.code, 'VALUES_SYNTAX');
  assert.match(bad[0]!.message, /line 2, column 1/);
});
