import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { currentReleaseSecret, decodeHelmReleaseSecret, decodeReleasePayload, encodeReleasePayload } from '../../src/kube/helm-release.js';
import type { KubeObject } from '../../src/kube/client.js';

// Built here the way Helm 3's Secret driver stores a release: JSON → gzip → base64 (Helm), then
// base64 again by Kubernetes for `data` in the API's JSON.
function helmSecret(release: object, revision: number, status: string): KubeObject {
  const helmB64 = gzipSync(Buffer.from(JSON.stringify(release))).toString('base64');
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.rke2-cilium.v${revision}`, namespace: 'kube-system', labels: { name: 'rke2-cilium', owner: 'helm', status, version: String(revision) } },
    data: { release: Buffer.from(helmB64).toString('base64') },
  };
}

const release = (version: number, config: object, status = 'deployed') => ({
  name: 'rke2-cilium', namespace: 'kube-system', version,
  info: { status },
  chart: { metadata: { name: 'rke2-cilium', version: '1.15.500', appVersion: '1.15.5' }, values: { debug: { enabled: false } } },
  config,
});

test('decodes a Helm release Secret without helm: user values, chart and app version', () => {
  const s = helmSecret(release(3, { cluster: { name: 'mesh01', id: 1 }, hubble: { enabled: true } }), 3, 'deployed');
  const r = decodeHelmReleaseSecret(s);
  assert.deepEqual(r.config, { cluster: { name: 'mesh01', id: 1 }, hubble: { enabled: true } });
  assert.equal(r.chartVersion, '1.15.500');
  assert.equal(r.appVersion, '1.15.5');
  assert.equal(r.revision, 3);
  assert.equal(r.status, 'deployed');
});

test('encodeReleasePayload round-trips through decodeReleasePayload, and matches the Helm layout', () => {
  const rel = release(1, { a: 1 });
  assert.deepEqual(decodeReleasePayload(encodeReleasePayload(rel)), rel);
  const s = helmSecret(rel, 1, 'deployed');
  assert.deepEqual(decodeReleasePayload((s['data'] as { release: string }).release), rel);
});

test('a payload without gzip (plain JSON under Helm base64) also decodes', () => {
  const plain = Buffer.from(Buffer.from(JSON.stringify({ config: { x: 1 } })).toString('base64')).toString('base64');
  assert.deepEqual(decodeReleasePayload(plain), { config: { x: 1 } });
});

test('the current release is the newest deployed revision; a newer failed one is skipped', () => {
  const secrets = [
    helmSecret(release(1, { v: 1 }, 'superseded'), 1, 'superseded'),
    helmSecret(release(2, { v: 2 }), 2, 'deployed'),
    helmSecret(release(10, { v: 10 }, 'failed'), 10, 'failed'),
  ];
  assert.equal(currentReleaseSecret(secrets, 'rke2-cilium')?.metadata.name, 'sh.helm.release.v1.rke2-cilium.v2');
  assert.equal(currentReleaseSecret(secrets.slice(2), 'rke2-cilium')?.metadata.name, 'sh.helm.release.v1.rke2-cilium.v10');
  assert.equal(currentReleaseSecret(secrets, 'other'), undefined);
});

test('a Secret without data.release is an error', () => {
  assert.throws(() => decodeHelmReleaseSecret({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }), /no data.release/);
});
