import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCa, inspectCa } from '../../src/pki/ca.js';
import { renderFromSpec } from '../../src/pipeline.js';
import { ALL_TARGETS } from '../../src/render/types.js';
import { makeSpec, valuesFile } from './helpers.js';

const now = new Date('2027-03-01T00:00:00Z');

async function testCa() {
  const raw = await createCa({ commonName: 'pipeline test CA', algorithm: 'ecdsa-p256', validityDays: 3650, now });
  return inspectCa(raw.certPem, raw.key.reveal(), now, { cert: 'ca.crt', key: 'ca.key' }).ca!;
}

function storeOf(files: { path: string; content: string }[]) {
  const existing = new Map<string, { certPem: string; keyPem: string }>();
  for (const f of files) {
    const m = /^secrets\/([^/]+)\/certs\/([a-z]+)\.(crt|key)$/.exec(f.path);
    if (!m) continue;
    const e = existing.get(`${m[1]}/${m[2]}`) ?? { certPem: '', keyPem: '' };
    if (m[3] === 'crt') e.certPem = f.content;
    else e.keyPem = f.content;
    existing.set(`${m[1]}/${m[2]}`, e);
  }
  return existing;
}

test('renderFromSpec: a re-render with the stored certificates is byte-identical', async () => {
  const ca = await testCa();
  const spec = makeSpec(3, { version: '1.17.6', values: () => valuesFile('hubble:\n  enabled: true\n') });
  const cold = await renderFromSpec(spec, { ca, now, targets: ALL_TARGETS });
  const existing = storeOf(cold.files);
  assert.equal(existing.size, 3 * 4);
  const warm = await renderFromSpec(spec, { ca, now: new Date(now.getTime() + 86_400_000), targets: ALL_TARGETS, existing });
  assert.deepEqual(warm.files, cold.files);
  for (const c of warm.plan.clusters) assert.ok(c.certs!.server.reused && c.certs!.local!.reused);
});

test('renderFromSpec: certificates in the output chain to the CA and name the cluster', async () => {
  const ca = await testCa();
  const spec = makeSpec(2, { version: '1.18.6' });
  const { files, plan } = await renderFromSpec(spec, { ca, now, targets: ['values'] });
  const caX = new X509Certificate(ca.certPem);
  for (const c of plan.clusters) {
    const server = new X509Certificate(c.certs!.server.certPem);
    assert.ok(server.verify(caX.publicKey));
    assert.ok(server.subjectAltName!.includes(`DNS:${c.name}.mesh.cilium.io`));
    assert.match(new X509Certificate(c.certs!.remote.certPem).subject, new RegExp(`CN=remote-${c.name}`));
  }
  // The values secret carries exactly the plan's server certificate.
  const sec = files.find((f) => f.path === 'secrets/c000.values.yaml')!.content;
  assert.ok(sec.includes(Buffer.from(plan.clusters[0]!.certs!.server.certPem).toString('base64')));
});

test('renderFromSpec: method provided without a CA is a coded input error', async () => {
  await assert.rejects(renderFromSpec(makeSpec(2), { now, targets: ALL_TARGETS }), (e: Error & { findings?: { code: string }[] }) => e.findings?.[0]?.code === 'CA_MISSING');
});
