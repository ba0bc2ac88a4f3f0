/**
 * Golden files: test/fixtures/golden/<case>/mesh.yaml → expected/** byte for byte.
 * MESHFORM_UPDATE_GOLDEN=1 rewrites expected/ from the current output.
 * Certificates come from the committed THROWAWAY test PKI (see _pki/README.md), so output is fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadSpec } from '../../src/spec/load.js';
import { inspectCa } from '../../src/pki/ca.js';
import { renderFromSpec } from '../../src/pipeline.js';
import { ALL_TARGETS, type RenderedFile } from '../../src/render/types.js';
import { RENDER_AT } from './clock.js';

const root = resolve('test/fixtures/golden');
const update = process.env.MESHFORM_UPDATE_GOLDEN === '1';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  (function walk(d: string) {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  })(dir);
  return out.sort();
}

/** Renders a case the way the CLI does, reusing the committed throwaway certificates. */
export async function renderCase(caseDir: string): Promise<RenderedFile[]> {
  const spec = await loadSpec(join(caseDir, 'mesh.yaml'));
  const ca = spec.ca ? inspectCa(readFileSync(spec.ca.cert, 'utf8'), readFileSync(spec.ca.key, 'utf8'), RENDER_AT, spec.ca).ca : undefined;
  const existing = new Map<string, { certPem: string; keyPem: string }>();
  const certDir = join(caseDir, 'certs');
  for (const f of listFiles(certDir).filter((f) => f.endsWith('.crt'))) {
    const [cluster, file] = f.split('/');
    const kind = file!.replace(/\.crt$/, '');
    existing.set(`${cluster}/${kind}`, {
      certPem: readFileSync(join(certDir, f), 'utf8'),
      keyPem: readFileSync(join(certDir, cluster!, `${kind}.key`), 'utf8'),
    });
  }
  const { plan, files } = await renderFromSpec(spec, { ...(ca ? { ca } : {}), existing, now: RENDER_AT, targets: ALL_TARGETS });
  // The certificate store written back must be exactly the committed certificates: all reused.
  const store = files.filter((f) => /^secrets\/[^/]+\/certs\//.test(f.path));
  for (const f of store) assert.equal(f.content, readFileSync(join(certDir, f.path.replace(/^secrets\/([^/]+)\/certs\//, '$1/')), 'utf8'), `${f.path} was re-issued`);
  for (const c of plan.clusters) if (c.certs) assert.ok(c.certs.server.reused && c.certs.remote.reused, `${c.name}: certificates not reused`);
  return files.filter((f) => !store.includes(f));
}

const cases = readdirSync(root).filter((d) => existsSync(join(root, d, 'mesh.yaml'))).sort();

test('there are golden cases', () => {
  assert.ok(cases.length >= 7, `found ${cases.join(', ')}`);
});

for (const name of cases) {
  test(`golden: ${name}`, async () => {
    const caseDir = join(root, name);
    const expectedDir = join(caseDir, 'expected');
    const files = await renderCase(caseDir);
    if (update) {
      rmSync(expectedDir, { recursive: true, force: true });
      for (const f of files) {
        const p = join(expectedDir, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.content);
      }
      return;
    }
    assert.deepEqual(files.map((f) => f.path), listFiles(expectedDir), 'the set of rendered files differs from expected/');
    for (const f of files) {
      assert.equal(f.content, readFileSync(join(expectedDir, f.path), 'utf8'), `${name}: ${f.path} differs`);
    }
    // Key material (PEM or the base64 of a PEM, as in values) only ever sits under secrets/.
    for (const f of files) {
      const keyish = /PRIVATE KEY|LS0tLS1CRUdJTiBQUklWQVRFIEtFWS|LS0tLS1CRUdJTiBFQyBQUklWQVRF|LS0tLS1CRUdJTiBSU0EgUFJJVkFURS/.test(f.content);
      if (keyish) assert.ok(f.secret && f.path.startsWith('secrets/'), `${name}: key material in ${f.path}`);
      assert.equal(f.secret, f.path.startsWith('secrets/'), f.path);
    }
    // A second render of the same inputs is byte-identical.
    const again = await renderCase(caseDir);
    assert.deepEqual(again, files);
  });
}
