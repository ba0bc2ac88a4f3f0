import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectCaFiles } from '../../src/pki/ca.js';
import { issueLeaves } from '../../src/pki/leaf.js';
import { caBundlePem, inspectTrust, inspectTrustFiles } from '../../src/pki/trust.js';
import { DAY, T0, leafRequestsFor, makeCa } from './helpers.js';

const codes = (r: { findings: { code: string; path: string }[] }) => r.findings.map((f) => `${f.code} ${f.path}`);

test('ca.trust: CA certificates are trusted in order; leaves, garbage, repeats and expired CAs are findings', async () => {
  const shared = await makeCa({ cn: 'shared' });
  const old = await makeCa({ cn: 'old' });
  const other = await makeCa({ cn: 'other' });
  const gone = await makeCa({ cn: 'gone', now: new Date(T0.getTime() - 400 * DAY), days: 365 });
  const [leaf] = await issueLeaves(
    leafRequestsFor({ cluster: 'a', domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: false, extraDnsNames: [], extraIpAddresses: [] }),
    shared,
    { now: T0, validityDays: 30, renewBeforeDays: 1, keyAlgorithm: 'ecdsa-p256' },
  );
  const ok = inspectTrust([{ path: '/t/old.crt', text: old.certPem }, { path: '/t/two.crt', text: `${other.certPem}\n` }], shared, T0);
  assert.deepEqual(ok.findings, []);
  assert.deepEqual(ok.trusted.map((t) => t.fingerprint256), [old.fingerprint256, other.fingerprint256]);
  assert.equal(ok.trusted[0]!.path, '/t/old.crt');
  assert.equal(caBundlePem(shared, ok.trusted), `${shared.certPem}${old.certPem}${other.certPem}`);

  const bad = inspectTrust(
    [
      { path: '/t/none.txt', text: 'hello' },
      { path: '/t/leaf.crt', text: leaf!.certPem },
      { path: '/t/both.crt', text: old.certPem + shared.certPem + old.certPem },
      { path: '/t/gone.crt', text: gone.certPem },
    ],
    shared,
    T0,
  );
  assert.deepEqual(codes(bad), [
    'CA_TRUST_NOT_PEM ca.trust[0]',
    'CA_TRUST_NOT_CA ca.trust[1]',
    'CA_TRUST_DUPLICATE ca.trust[2]',
    'CA_TRUST_DUPLICATE ca.trust[2]',
    'CA_TRUST_EXPIRED ca.trust[3]',
  ]);
  assert.deepEqual(bad.findings.map((f) => f.severity), ['error', 'error', 'warning', 'warning', 'warning']);
  assert.match(bad.findings[2]!.message, /certificate 2\) is the shared CA \(ca\.cert\) itself/);
  assert.match(bad.findings[3]!.message, /certificate 3\) is already in ca\.trust/);
  assert.deepEqual(bad.trusted.map((t) => t.fingerprint256), [old.fingerprint256]);
});

test('ca.trust files: read with the CA; a missing one is named by its index; errors leave no usable CA', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshform-trust-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const shared = await makeCa({ cn: 'shared' });
  const old = await makeCa({ cn: 'old' });
  const paths = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await writeFile(paths.cert, shared.certPem);
  await writeFile(paths.key, shared.key.reveal());
  await chmod(paths.key, 0o600);
  await writeFile(join(dir, 'old.crt'), old.certPem);

  const r = await inspectCaFiles({ ...paths, trust: [join(dir, 'old.crt')] }, T0);
  assert.deepEqual(r.findings, []);
  assert.deepEqual(r.ca!.trust!.map((x) => x.subject), ['CN=old']);

  const missing = await inspectCaFiles({ ...paths, trust: [join(dir, 'old.crt'), join(dir, 'nope.crt')] }, T0);
  assert.deepEqual(codes(missing), ['CA_FILE_MISSING ca.trust[1]']);
  assert.equal(missing.ca, undefined);
  assert.deepEqual(codes(inspectTrustFiles([join(dir, 'nope.crt')], shared, T0)), ['CA_FILE_MISSING ca.trust[0]']);

  // Only repeats: a warning, and no bundle (nothing beyond the shared CA to trust).
  const same = await inspectCaFiles({ ...paths, trust: [paths.cert] }, T0);
  assert.deepEqual(codes(same), ['CA_TRUST_DUPLICATE ca.trust[0]']);
  assert.ok(same.ca && same.ca.trust === undefined);
});
