// Values files are copied into files meant for Git: one outside the spec's folder needs the
// operator's opt-in, and key material or kubeconfig credentials in one are refused whatever its path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshformError, type Finding } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';

const spec = (values: string) => `apiVersion: meshform/v1alpha1
kind: Mesh
name: m
cilium: {version: 1.16.5}
clusters:
  - name: a
    id: 1
    podCIDR: 10.1.0.0/16
    serviceCIDR: 10.101.0.0/16
    values: ${values}
    endpoint: {nodePort: 32379, ips: [192.0.2.1, 192.0.2.2]}
`;

function load(dir: string, values: string, allowOutsidePaths = false): Finding[] {
  try {
    parseSpec(spec(values), join(dir, 'mesh.yaml'), { allowOutsidePaths });
  } catch (e) {
    assert.ok(e instanceof MeshformError, String(e));
    assert.equal(e.exitCode, 2);
    return e.findings;
  }
  return [];
}

function layout(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'meshform-vsafe-'));
  const dir = join(root, 'mesh');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(root, 'outside.yaml'), 'hubble: {enabled: true}\n');
  writeFileSync(join(dir, 'sub', 'inside.yaml'), 'hubble: {enabled: true}\n');
  return { root, dir };
}

const pemKey = (): string => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

test('a values file outside the spec folder is refused: ../x, an absolute path, a symlink pointing out', () => {
  const { root, dir } = layout();
  assert.deepEqual(load(dir, 'sub/inside.yaml'), []);
  for (const v of ['../outside.yaml', join(root, 'outside.yaml'), '/etc/passwd']) {
    const fs = load(dir, v);
    assert.deepEqual(fs.map((f) => [f.code, f.path]), [['VALUES_OUTSIDE_SPEC_FOLDER', 'clusters[0].values']], v);
    assert.match(fs[0]!.fix, /--allow-outside-paths/);
    assert.ok(!fs[0]!.message.includes('root:'), 'nothing of the file is read');
  }
  symlinkSync(join(root, 'outside.yaml'), join(dir, 'link.yaml'));
  assert.equal(load(dir, 'link.yaml')[0]?.code, 'VALUES_OUTSIDE_SPEC_FOLDER');
  symlinkSync(join(dir, 'sub', 'inside.yaml'), join(dir, 'link-in.yaml'));
  assert.deepEqual(load(dir, 'link-in.yaml'), [], 'a symlink that stays inside is fine');
  // The operator's opt-in lifts it (the spec cannot).
  assert.deepEqual(load(dir, '../outside.yaml', true), []);
  assert.deepEqual(load(dir, 'link.yaml', true), []);
});

test('a private key in values is refused with its key path and line, never its content', () => {
  const { dir } = layout();
  const key = pemKey();
  const b64 = Buffer.from(key).toString('base64');
  const cert = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
  writeFileSync(join(dir, 'ca.yaml'), `hubble: {enabled: true}\ntls:\n  ca:\n    cert: ${cert}\n    key: ${b64}\n`);
  let fs = load(dir, 'ca.yaml');
  assert.deepEqual(fs.map((f) => [f.code, f.path]), [['VALUES_PRIVATE_KEY', 'clusters[0].values']]);
  assert.match(fs[0]!.message, /at tls\.ca\.key \(line 5, column 10\)/);
  assert.match(fs[0]!.fix, /meshform ca import .*ca\.yaml --spec /);
  for (const f of fs) for (const t of [f.message, f.value ?? '', f.fix]) assert.ok(!t.includes(b64.slice(20, 60)) && !t.includes('PRIVATE KEY-----'), t);

  writeFileSync(join(dir, 'server.yaml'), `clustermesh:\n  apiserver:\n    tls:\n      server:\n        key: |\n${key.replace(/^/gm, '          ')}\n`);
  fs = load(dir, 'server.yaml');
  assert.equal(fs[0]?.code, 'VALUES_PRIVATE_KEY');
  assert.match(fs[0]!.message, /clustermesh\.apiserver\.tls\.server\.key \(line 5/);
  assert.doesNotMatch(fs[0]!.fix, /ca import/);

  // A public CA certificate alone is fine (a user's existing values may carry tls.ca.cert).
  writeFileSync(join(dir, 'cert.yaml'), `tls:\n  ca:\n    cert: ${cert}\n`);
  assert.deepEqual(load(dir, 'cert.yaml'), []);
  // A key in a comment would be copied too.
  writeFileSync(join(dir, 'comment.yaml'), `hubble: {enabled: true}\n# old key:\n${key.replace(/^/gm, '# ')}\n`);
  fs = load(dir, 'comment.yaml');
  assert.equal(fs[0]?.code, 'VALUES_PRIVATE_KEY');
  assert.match(fs[0]!.message, /in a comment \(line 3, column 3\)/);
  // Refused whatever the path, also with the opt-in.
  assert.equal(load(dir, 'ca.yaml', true)[0]?.code, 'VALUES_PRIVATE_KEY');
});

test('a kubeconfig (or its credentials) as values is refused', () => {
  const { dir } = layout();
  writeFileSync(
    join(dir, 'kube.yaml'),
    'apiVersion: v1\nkind: Config\nclusters: []\nusers:\n  - name: admin\n    user:\n      token: SECRETTOKEN123\n  - name: cert\n    user:\n      client-certificate-data: Q0VSVA==\n      client-key-data: S0VZ\n',
  );
  const fs = load(dir, 'kube.yaml');
  assert.deepEqual(
    fs.map((f) => [f.code, /at (\S+)/.exec(f.message)![1]]),
    [
      ['VALUES_KUBECONFIG_CREDENTIALS', 'users[0].user.token'],
      ['VALUES_KUBECONFIG_CREDENTIALS', 'users[1].user.client-key-data'],
    ],
  );
  for (const f of fs) assert.ok(!JSON.stringify(f).includes('SECRETTOKEN123') && !JSON.stringify(f).includes('S0VZ'));
  // client-key-data is refused anywhere, not only in a kind: Config map.
  writeFileSync(join(dir, 'nested.yaml'), 'extra:\n  client-key-data: S0VZ\n');
  assert.equal(load(dir, 'nested.yaml')[0]?.code, 'VALUES_KUBECONFIG_CREDENTIALS');
  // A token key elsewhere in values (not a kubeconfig user) is not a kubeconfig credential.
  writeFileSync(join(dir, 'token.yaml'), 'hubble:\n  token: abc\n');
  assert.deepEqual(load(dir, 'token.yaml'), []);
});
