/**
 * Golden files: test/fixtures/golden/<case>/mesh.yaml → expected/** byte for byte, through the
 * CLI's own load-and-validate front (`prepare`); the findings it reports are pinned in
 * `<case>/findings.json` (code, severity, path), and a case with error findings fails: render
 * would refuse it. MESHFORM_UPDATE_GOLDEN=1 rewrites expected/ and findings.json from the current output.
 * Certificates come from the committed THROWAWAY test PKI (see _pki/README.md), so output is fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { prepare } from '../../src/prepare.js';
import { renderFromSpec } from '../../src/pipeline.js';
import { ALL_TARGETS, type RenderedFile } from '../../src/render/types.js';
import { RENDER_AT } from './clock.js';
import './pki.js';

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

type PinnedFinding = { code: string; severity: string; path: string };

/** Renders a case the way the CLI does (load, validate, render), reusing the committed throwaway certificates. */
export async function renderCase(caseDir: string): Promise<{ files: RenderedFile[]; findings: PinnedFinding[] }> {
  const { spec, ca, findings } = await prepare(join(caseDir, 'mesh.yaml'), { now: RENDER_AT });
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
  return {
    files: files.filter((f) => !store.includes(f)),
    findings: [...findings, ...plan.warnings].map((f) => ({ code: f.code, severity: f.severity, path: f.path })),
  };
}

const cases = readdirSync(root).filter((d) => existsSync(join(root, d, 'mesh.yaml'))).sort();

test('there are golden cases', () => {
  assert.ok(cases.length >= 7, `found ${cases.join(', ')}`);
});

for (const name of cases) {
  test(`golden: ${name}`, async () => {
    const caseDir = join(root, name);
    const expectedDir = join(caseDir, 'expected');
    const { files, findings } = await renderCase(caseDir);
    const findingsFile = join(caseDir, 'findings.json');
    if (update) {
      writeFileSync(findingsFile, JSON.stringify(findings, null, 2) + '\n');
      rmSync(expectedDir, { recursive: true, force: true });
      for (const f of files) {
        const p = join(expectedDir, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.content);
      }
      return;
    }
    // The CLI would refuse to render a spec with error findings; a golden case must be one it renders.
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), [], `${name}: validate reports errors`);
    assert.ok(existsSync(findingsFile), `${name}: findings.json is missing; run npm run golden:update, review and commit it`);
    assert.deepEqual(findings, JSON.parse(readFileSync(findingsFile, 'utf8')), `${name}: the findings differ from findings.json`);
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
    assert.deepEqual(again.files, files);
  });
}
