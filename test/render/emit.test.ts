import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'yaml';
import { emitFlow, emitYaml, isPlainSafe, scalarString, type Plain } from '../../src/render/emit.js';

// Plain data as JSON has it: no -0, no non-finite numbers.
const key = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('on', 'yes', 'No', '~', 'null', '1e3', '0x1F', '- a', 'a: b', '#c', '', ' '));
const str = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('true', 'False', 'ON', 'y', '192.0.2.1', '10.0.0.0/8', '0755', '1_000', '.inf', '-.5', '2001:db8::1', 'a\nb', '\u2028', '\u0085', '\ufeff', '@x', '`x', '"q"', "'s'", '*a', '&a', '!t', '%d', '|', '>', '? k'),
);
const num = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)));
const leaf: fc.Arbitrary<Plain> = fc.oneof(str, num, fc.boolean(), fc.constant(null));
const { tree } = fc.letrec<{ tree: Plain }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 5 }),
    fc.dictionary(key, tie('tree'), { maxKeys: 5, noNullPrototype: true }),
  ),
}));

test('emitter: any plain data reads back with the yaml library to the same value', () => {
  fc.assert(
    fc.property(tree, (v) => {
      const text = emitYaml(v);
      assert.deepEqual(parse(text), v, text);
    }),
    { numRuns: 3000 },
  );
});

test('emitter: nested at an indent, under a parent key, still reads back', () => {
  fc.assert(
    fc.property(fc.dictionary(key, tree, { minKeys: 1, maxKeys: 4, noNullPrototype: true }), (v) => {
      const text = 'parent:\n' + emitYaml(v, 2);
      assert.deepEqual(parse(text), { parent: v });
    }),
    { numRuns: 1000 },
  );
});

test('emitter: strings YAML 1.1 (Helm) reads as bool, null or number are quoted', () => {
  for (const s of ['yes', 'No', 'on', 'OFF', 'y', 'n', '~', 'null', 'true', '1', '1.5', '0o7', '.nan', '1e3', '']) {
    assert.ok(!isPlainSafe(s), s);
    assert.equal(scalarString(s)[0], '"', s);
  }
  for (const s of ['mesh01', 'mesh.cilium.io', '192.0.2.21', '10.244.0.0/16', 'kube-system', 'LS0tLS1CRUdJTi+/=']) assert.ok(isPlainSafe(s), s);
  // Also when read as YAML 1.1.
  assert.deepEqual(parse(emitYaml({ a: ['yes', 'on', '0755', '1_000'] }), { version: '1.1' }), { a: ['yes', 'on', '0755', '1_000'] });
});

test('emitter: PEM and base64 are never folded', () => {
  const long = 'A'.repeat(5000);
  assert.equal(emitYaml({ k: long }), `k: ${long}\n`);
  const pem = '-----BEGIN CERTIFICATE-----\n' + 'B'.repeat(64) + '\n-----END CERTIFICATE-----\n';
  const text = emitYaml({ pem });
  assert.equal(text.split('\n').length, 2);
  assert.deepEqual(parse(text), { pem });
});

test('flow emitter: any plain data reads back, also as a value in a block mapping and sequence', () => {
  fc.assert(
    fc.property(tree, (v) => {
      const line = emitFlow(v);
      assert.ok(!line.includes('\n'));
      assert.deepEqual(parse(`k: ${line}\n`), { k: v }, line);
      assert.deepEqual(parse(`- ${line}\n`), [v], line);
    }),
    { numRuns: 3000 },
  );
});
