/**
 * The stand-in rke2-cilium chart takes meshform's values unchanged: rendered with the real helm
 * (`helm template`, no cluster needed; the binary comes from lab/build.sh).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { labPaths } from '../../lab/src/paths.js';
import { run } from '../../lab/src/proc.js';

const paths = labPaths();
const dir = mkdtempSync(join(tmpdir(), 'meshform-lab-chart-'));

interface Obj {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: { template?: { spec?: { hostAliases?: { ip: string; hostnames: string[] }[] } } };
}

async function render(values: unknown): Promise<Obj[]> {
  const helm = paths.binary('helm');
  if (!existsSync(helm)) throw new Error(`no helm at ${helm}: run bash lab/build.sh first`);
  const file = join(dir, `v${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, YAML.stringify(values));
  const r = await run(helm, ['template', 'rke2-cilium', paths.chart, '-n', 'kube-system', '-f', file]);
  return YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const provided = {
  cluster: { name: 'mesh01', id: 1 },
  tls: { ca: { cert: b64('CA-CERT'), key: b64('CA-KEY') } },
  clustermesh: {
    useAPIServer: true,
    config: { enabled: true, domain: 'mesh.example.org', clusters: [{ name: 'mesh02', port: 32380, ips: ['127.10.2.3', '127.10.2.4'] }, { name: 'mesh03', port: 2379, address: 'mesh03.lab.test' }] },
    apiserver: {
      service: { type: 'NodePort', nodePort: 32379 },
      tls: {
        authMode: 'cluster',
        auto: { enabled: false },
        server: { cert: b64('S-CERT'), key: b64('S-KEY') },
        admin: { cert: b64('A-CERT'), key: b64('A-KEY') },
        remote: { cert: b64('R-CERT'), key: b64('R-KEY') },
      },
    },
  },
};

describe('stand-in rke2-cilium chart', () => {
  it('renders the provided certificates, peers, hostAliases and remote users', async () => {
    const objs = await render(provided);
    const get = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
    const dec = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString();
    assert.equal(dec(get('Secret', 'cilium-ca')?.data?.['ca.key']), 'CA-KEY');
    const server = get('Secret', 'clustermesh-apiserver-server-cert');
    assert.equal(dec(server?.data?.['tls.crt']), 'S-CERT');
    assert.equal(dec(server?.data?.['ca.crt']), 'CA-CERT');
    assert.equal(dec(get('Secret', 'clustermesh-apiserver-remote-cert')?.data?.['tls.key']), 'R-KEY');
    assert.equal(get('Secret', 'clustermesh-apiserver-local-cert'), undefined, 'local-cert is meshform\'s to create');
    const mesh = get('Secret', 'cilium-clustermesh');
    const m2 = YAML.parse(dec(mesh?.data?.mesh02)) as { endpoints: string[]; 'cert-file': string };
    assert.deepEqual(m2.endpoints, ['https://mesh02.mesh.example.org:32380']);
    assert.equal(m2['cert-file'], '/var/lib/cilium/clustermesh/common-etcd-client.crt');
    assert.deepEqual((YAML.parse(dec(mesh?.data?.mesh03)) as { endpoints: string[] }).endpoints, ['https://mesh03.lab.test:2379']);
    const ds = get('DaemonSet', 'cilium');
    assert.deepEqual(ds?.spec?.template?.spec?.hostAliases, [
      { ip: '127.10.2.3', hostnames: ['mesh02.mesh.example.org'] },
      { ip: '127.10.2.4', hostnames: ['mesh02.mesh.example.org'] },
    ]);
    const users = YAML.parse(get('ConfigMap', 'clustermesh-remote-users')?.data?.['users.yaml'] ?? '') as { users: { name: string }[] };
    assert.deepEqual(users.users.map((u) => u.name), ['remote-mesh02', 'remote-mesh03']);
    const cfg = get('ConfigMap', 'cilium-config')?.data;
    assert.equal(cfg?.['cluster-name'], 'mesh01');
    assert.equal(cfg?.['cluster-id'], '1');
    assert.equal(cfg?.['max-connected-clusters'], '255');
    assert.ok(get('Service', 'clustermesh-apiserver'));
    assert.ok(get('Deployment', 'clustermesh-apiserver'));
  });

  it('accepts the 1.19 map form of clustermesh.config.clusters', async () => {
    const values = structuredClone(provided) as unknown as { clustermesh: { config: { clusters: unknown } } };
    values.clustermesh.config.clusters = { mesh02: { port: 32380, ips: ['127.10.2.3'] }, mesh04: { enabled: false, port: 1, ips: ['127.10.4.3'] } };
    const objs = await render(values);
    const mesh = objs.find((o) => o.metadata.name === 'cilium-clustermesh');
    assert.deepEqual(Object.keys(mesh?.data ?? {}), ['mesh02']);
  });

  it('signs its own certificates with tls.auto.method helm, with the given CA', async () => {
    const objs = await render({ cluster: { name: 'mesh01', id: 1 }, clustermesh: { useAPIServer: true, apiserver: { tls: { auto: { enabled: true, method: 'helm' } } } } });
    const ca = objs.find((o) => o.metadata.name === 'cilium-ca')?.data?.['ca.crt'];
    const server = objs.find((o) => o.metadata.name === 'clustermesh-apiserver-server-cert')?.data;
    assert.ok(ca && server?.['tls.crt']);
    assert.equal(server?.['ca.crt'], ca, 'one CA for every certificate of the render');
  });

  it('fails the render when provided certificates are missing', async () => {
    const values = structuredClone(provided);
    (values.clustermesh.apiserver.tls.server as { cert: string }).cert = '';
    await assert.rejects(render(values), /clustermesh.apiserver.tls.server.cert is required/);
  });
});
