// Hostile input files: special files must be refused without blocking, sizes are bounded by the
// read itself, and every such problem is a finding naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshformError, type Finding } from '../../src/errors.js';
import { expandedSize, parseYamlText, readInputFileSync, MAX_INPUT_BYTES } from '../../src/spec/input.js';
import { loadFacts, loadSpec } from '../../src/spec/load.js';
import { readBoundedSync } from '../../src/util/bounded-read.js';

const role = { what: 'values file', findingPath: 'clusters[0].values' };

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'meshform-input-'));
}

function fifo(dir: string, name = 'pipe'): string {
  const p = join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

async function findingsOf(p: Promise<unknown>): Promise<Finding[]> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MeshformError, String(e));
    assert.equal(e.exitCode, 2);
    return e.findings;
  }
  assert.fail('expected a MeshformError');
}

test('a FIFO is refused without waiting for a writer (open is non-blocking, the type is checked on the fd)', () => {
  // Before, readFileSync on a FIFO without a writer blocked this test forever.
  const f = readInputFileSync(fifo(tmp()), role);
  assert.equal(typeof f, 'object');
  assert.equal((f as Finding).code, 'FILE_UNREADABLE');
  assert.match((f as Finding).message, /FIFO/);
  assert.equal((f as Finding).path, 'clusters[0].values');
});

test('character devices (/dev/zero, /dev/urandom) are refused, not read until memory runs out', () => {
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    const f = readInputFileSync(dev, role) as Finding;
    assert.equal(f.code, 'FILE_UNREADABLE', dev);
    assert.match(f.message, /character device, not a regular file/);
  }
});

test('a Unix socket is refused', async () => {
  const dir = tmp();
  const path = join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((res) => server.listen(path, res));
  try {
    const f = readInputFileSync(path, role) as Finding;
    assert.equal(f.code, 'FILE_UNREADABLE');
    assert.match(f.message, /socket/);
  } finally {
    server.close();
  }
});

test('a symlink to a regular file is read; a symlink to a FIFO is refused', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'real.yaml'), 'a: 1\n');
  symlinkSync(join(dir, 'real.yaml'), join(dir, 'link.yaml'));
  assert.equal(readInputFileSync(join(dir, 'link.yaml'), role), 'a: 1\n');
  symlinkSync(fifo(dir), join(dir, 'to-pipe.yaml'));
  assert.equal((readInputFileSync(join(dir, 'to-pipe.yaml'), role) as Finding).code, 'FILE_UNREADABLE');
});

test('the read is bounded by the limit, not by what fstat says', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'ten'), '0123456789');
  assert.deepEqual(readBoundedSync(join(dir, 'ten'), 10), { ok: true, bytes: Buffer.from('0123456789') });
  const over = readBoundedSync(join(dir, 'ten'), 9);
  assert.equal(over.ok, false);
  // /proc files report size 0 and still hold data: the read goes on, up to the limit and no further.
  const proc = readBoundedSync('/proc/self/status', 4);
  assert.deepEqual(proc, { ok: false, failure: { kind: 'too-large', size: 5 } });
  const whole = readBoundedSync('/proc/self/status', MAX_INPUT_BYTES);
  assert.ok(whole.ok && whole.bytes.length > 0);
});

test('the spec, values and facts files all go through the bounded reader', async () => {
  const dir = tmp();
  assert.equal((await findingsOf(loadSpec(fifo(dir, 'spec'))))[0]!.code, 'FILE_UNREADABLE');
  assert.equal((await findingsOf(loadFacts('/dev/zero')))[0]!.code, 'FILE_UNREADABLE');
  fifo(dir, 'values.yaml');
  writeFileSync(
    join(dir, 'mesh.yaml'),
    `apiVersion: meshform/v1alpha1
kind: Mesh
name: m
cilium: {version: 1.16.5}
clusters:
  - name: a
    id: 1
    podCIDR: 10.1.0.0/16
    serviceCIDR: 10.101.0.0/16
    values: values.yaml
    endpoint: {nodePort: 32379, ips: [192.0.2.1, 192.0.2.2]}
`,
  );
  const fs = await findingsOf(loadSpec(join(dir, 'mesh.yaml')));
  assert.ok(fs.some((f) => f.code === 'FILE_UNREADABLE' && f.path === 'clusters[0].values' && /FIFO/.test(f.message)), JSON.stringify(fs));
});

test('an alias bomb (one large anchor, many aliases) is refused from the parsed nodes, without expanding', () => {
  const big = 'x'.repeat(1024 * 1024);
  const text = `a: &a ${big}\nb:\n${'  - *a\n'.repeat(70)}`;
  const r = parseYamlText(text, '/x/values.yaml', role, 'VALUES');
  assert.ok(Array.isArray(r));
  assert.equal(r[0]!.code, 'YAML_EXPANSION_TOO_LARGE');
  assert.equal(r[0]!.path, 'clusters[0].values');
  assert.match(r[0]!.message, /about 7[12] MiB/);
  assert.ok(!r[0]!.message.includes('xxxx'), 'no content');
  // Below the limit the same shape is fine.
  assert.ok(!Array.isArray(parseYamlText(`a: &a ${big}\nb:\n${'  - *a\n'.repeat(50)}`, '/x/v.yaml', role, 'VALUES')));
});

test('expandedSize counts an alias as its anchor, nested anchors multiply, a self-alias is endless', () => {
  const doc = (t: string) => {
    const r = parseYamlText(t, '/x/v.yaml', role);
    assert.ok(!Array.isArray(r), JSON.stringify(r));
    return r.doc;
  };
  const one = expandedSize(doc('a: &a [xxxxxxxxxx]\n'));
  const three = expandedSize(doc('a: &a [xxxxxxxxxx]\nb: *a\nc: *a\n'));
  assert.ok(three > 2 * one, `${one} ${three}`);
  const nested = expandedSize(doc('a: &a [xxxxxxxxxx]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n'));
  assert.ok(nested > 16 * 10);
  const self = parseYamlText('a: &a [1, *a]\n', '/x/v.yaml', role);
  assert.ok(Array.isArray(self));
  assert.match(self[0]!.message, /without end/);
});

test('syntax errors give line and column but never a source excerpt or quoted content', () => {
  for (const text of ['password: |SECRETPW1\n  text\n', 'a: 1\nb: "x\\qSECRETPW1"\n', 'a: [\n  SECRETPW1: x\n  - y\n']) {
    const r = parseYamlText(text, '/x/v.yaml', role, 'VALUES');
    assert.ok(Array.isArray(r), text);
    assert.equal(r[0]!.code, 'VALUES_SYNTAX');
    assert.match(r[0]!.message, /line \d+, column \d+/);
    assert.ok(!r[0]!.message.includes('SECRETPW1'), r[0]!.message);
    assert.ok(!r[0]!.message.includes('\n'), r[0]!.message);
  }
});
