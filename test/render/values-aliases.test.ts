// The user's anchors and aliases stay in the rendered values; where meshform sets or removes keys
// inside a shared node, the other places keep meaning exactly what the user wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { planMesh } from '../../src/plan/plan.js';
import { renderMesh } from '../../src/render/render.js';
import { FAKE_CA, makeSpec, valuesFile } from './helpers.js';

const USER = `# user
defaults: &d
  enabled: true # on
hubble: *d  # note on alias
relay: *d
clustermesh: &cm
  annotations: {team: net}
cmcopy: *cm
global: &g
  clusterCIDR: 10.42.0.0/16
gcopy: *g
name: &n hello
again: *n # n2
`;

function renderValues(text: string) {
  const spec = makeSpec(2, { method: 'helm', values: () => valuesFile(text) });
  spec.clusters[0]!.hubbleUiNodePort = 31000;
  const files = renderMesh(planMesh(spec, { ca: FAKE_CA }), { targets: ['values', 'rke2', 'rancher'] });
  const get = (p: string) => files.find((f) => f.path === p)!.content;
  for (const f of files.filter((x) => x.path.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(f.content)) assert.deepEqual(d.errors, [], f.path);
  }
  return { values: get('values/c000.yaml'), hcc: parse(get('rke2/c000/rke2-cilium-config.yaml')).spec.valuesContent as string };
}

test('anchors and aliases are kept in values/<c>.yaml, with the comments on alias lines', () => {
  const { values } = renderValues(USER);
  // Before, every alias was expanded into a copy and its line comment dropped.
  assert.match(values, /^defaults: &d$/m);
  assert.match(values, /^relay: \*d$/m);
  assert.match(values, /^name: &n hello$/m);
  assert.match(values, /^again: \*n # n2$/m);
  assert.match(values, /^global: &g$/m);
  assert.match(values, /^gcopy: \*g$/m);
  assert.match(values, /^hubble: # note on alias$/m, 'the comment of an alias meshform had to copy stays on its line');
});

test('a mesh key inside an aliased node changes only that place, never the anchor or its other aliases', () => {
  const out = parse(renderValues(USER).values, { maxAliasCount: -1 });
  // hubble was `*d`; meshform sets hubble.ui there, so hubble became a copy with the user's content.
  assert.deepEqual(out.hubble, { enabled: true, ui: { service: { type: 'NodePort', nodePort: 31000 } } });
  assert.deepEqual(out.defaults, { enabled: true }, 'the anchor target is not changed');
  assert.deepEqual(out.relay, { enabled: true }, 'another alias of it is not changed');
  // clustermesh carries the anchor &cm; meshform merges into it, so its alias keeps the user's content.
  assert.equal(out.clustermesh.useAPIServer, true);
  assert.deepEqual(out.cmcopy, { annotations: { team: 'net' } });
});

test('removing global (HelmChartConfig, Rancher) turns aliases into it into copies, not dangling aliases', () => {
  const v = parse(renderValues(USER).hcc);
  assert.equal(v.global, undefined);
  assert.deepEqual(v.gcopy, { clusterCIDR: '10.42.0.0/16' });
  assert.equal(v.again, 'hello');
});

test('key material reached through an alias is still stripped from the values', () => {
  const text = 'certs: &c\n  ca:\n    cert: OLDCA\ntls: *c\nother: *c\n';
  const out = parse(renderValues(text).values);
  assert.equal(out.tls?.ca?.cert, undefined, 'tls.ca.cert removed');
  assert.deepEqual(out.other, { ca: { cert: 'OLDCA' } }, 'the user key the alias also stood for is unchanged');
});

test('aliases nested inside a copied node are expanded into the copy, so nothing dangles', () => {
  const text = 'global: &g\n  inner: &i {a: 1}\n  more: *i\nx: *g\ny: *i\n';
  const v = parse(renderValues(text).hcc);
  assert.deepEqual(v.x, { inner: { a: 1 }, more: { a: 1 } });
  assert.deepEqual(v.y, { a: 1 });
});

test('looking for key material to strip unshares nothing when it is not there', () => {
  const { values } = renderValues('tls: &t\n  foo: 1\nx: *t\n');
  assert.match(values, /^tls: &t$/m);
  assert.match(values, /^x: \*t$/m, 'the alias stays: nothing under tls was removed');
});
