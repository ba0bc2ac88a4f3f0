import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { NodeClusterClient } from '../../src/kube/node-client.js';
import { loadKubeConfig, kubeconfigFiles } from '../../src/kube/config.js';
import { MeshformError } from '../../src/errors.js';
import { makeCa, makeLeaf } from '../doctor/certs.js';

interface Seen {
  method?: string;
  url?: string;
  auth?: string;
  contentType?: string;
  body: string;
}
const seen: Seen[] = [];
let server: Server;
let port = 0;
let tlsServer: HttpsServer;
let tlsPort = 0;
const dir = mkdtempSync(join(tmpdir(), 'meshform-kube-'));
let caPem = '';

function reply(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function handler(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, contentType: req.headers['content-type'], body });
    const url = req.url ?? '';
    if (req.headers.authorization !== 'Bearer good-token') return reply(res, 401, { kind: 'Status', message: 'Unauthorized' });
    if (url === '/api/v1/namespaces/kube-system') return reply(res, 200, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', uid: 'uid-1' } });
    if (url === '/api/v1/nodes') return reply(res, 200, { kind: 'NodeList', items: [{ metadata: { name: 'w1' } }] });
    if (url.startsWith('/api/v1/namespaces/kube-system/secrets')) return reply(res, 403, { kind: 'Status', message: 'secrets is forbidden: User "bob" cannot list resource "secrets"' });
    if (url === '/apis/helm.cattle.io/v1/namespaces/kube-system/helmcharts/rke2-cilium') return reply(res, 404, { kind: 'Status', message: 'not found' });
    if (url === '/apis/helm.cattle.io/v1/namespaces/kube-system/helmcharts') return reply(res, 404, { kind: 'Status', message: 'the server could not find the requested resource' });
    if (req.method === 'PATCH') return reply(res, 200, JSON.parse(body));
    if (url === '/api/v1/namespaces/kube-system/configmaps/slow') return; // never answers
    return reply(res, 500, { kind: 'Status', message: 'boom' });
  });
}

function kubeconfig(file: string, contexts: { name: string; server: string; token: string; ca?: string }[], current?: string): string {
  const path = join(dir, file);
  writeFileSync(path, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: contexts.map((c) => ({ name: `c-${c.name}`, cluster: { server: c.server, ...(c.ca ? { 'certificate-authority-data': Buffer.from(c.ca).toString('base64') } : {}) } })),
    users: contexts.map((c) => ({ name: `u-${c.name}`, user: { token: c.token } })),
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: `c-${c.name}`, user: `u-${c.name}` } })),
    ...(current ? { 'current-context': current } : {}),
  }));
  return path;
}

before(async () => {
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  const ca = await makeCa('kube CA');
  caPem = ca.certPem;
  const leaf = await makeLeaf(ca, 'kube-apiserver', { ips: ['127.0.0.1'], server: true });
  tlsServer = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, handler);
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as { port: number }).port;
});
after(() => {
  server.close();
  tlsServer.close();
});

const client = (token = 'good-token', timeoutMs?: number) =>
  NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfig(`kc-${token}.yaml`, [{ name: 'mesh01', server: `https://127.0.0.1:${tlsPort}`, token, ca: caPem }], 'mesh01'), timeoutMs });

test('get and list send the bearer token and fill kind on list items', async () => {
  const c = client();
  assert.equal((await c.get('Namespace', 'kube-system'))?.metadata.uid, 'uid-1');
  const nodes = await c.list('Node');
  assert.deepEqual(nodes.map((n) => [n.kind, n.apiVersion, n.metadata.name]), [['Node', 'v1', 'w1']]);
  assert.equal(seen.at(-1)?.auth, 'Bearer good-token');
});

test('404 on get is undefined; 404 on a list of a CRD kind names RKE2', async () => {
  const c = client();
  assert.equal(await c.get('HelmChart', 'rke2-cilium', 'kube-system'), undefined);
  await assert.rejects(c.list('HelmChart', { namespace: 'kube-system' }), (e: MeshformError) => e.findings[0]?.code === 'KUBE_NOT_FOUND' && /RKE2/.test(e.message));
});

test('403 names the missing permission; 401 says the credentials were rejected; both exit 3', async () => {
  await assert.rejects(client().list('Secret', { namespace: 'kube-system', labelSelector: 'owner=helm' }), (e: MeshformError) =>
    e.exitCode === 3 && e.findings[0]?.code === 'KUBE_FORBIDDEN' && e.message === 'cluster mesh01: missing RBAC: needs list on secrets in kube-system');
  await assert.rejects(client('bad-token').get('Namespace', 'kube-system'), (e: MeshformError) => e.findings[0]?.code === 'KUBE_UNAUTHORIZED' && /cluster mesh01/.test(e.message));
});

test('server-side apply: PATCH with apply-patch content type, field manager meshform, dry run', async () => {
  const c = client();
  const obj = { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system', resourceVersion: '7' }, spec: { valuesContent: 'a: 1\n' } };
  await c.apply(obj, { dryRun: true, force: true });
  const s = seen.at(-1);
  assert.equal(s?.method, 'PATCH');
  assert.equal(s?.contentType, 'application/apply-patch+yaml');
  assert.equal(s?.url, '/apis/helm.cattle.io/v1/namespaces/kube-system/helmchartconfigs/rke2-cilium?fieldManager=meshform&force=true&dryRun=All');
  assert.equal(JSON.parse(s?.body ?? '{}').metadata.resourceVersion, undefined);
});

test('a refused connection is KUBE_UNREACHABLE naming the cluster and server', async () => {
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const p = (free.address() as { port: number }).port;
  await new Promise<void>((r) => free.close(() => r()));
  const c = NodeClusterClient.connect('mesh02', { kubeconfig: kubeconfig('refused.yaml', [{ name: 'x', server: `https://127.0.0.1:${p}`, token: 't', ca: caPem }], 'x') });
  await assert.rejects(c.get('Namespace', 'kube-system'), (e: MeshformError) =>
    e.findings[0]?.code === 'KUBE_UNREACHABLE' && e.message === `cluster mesh02: cannot reach the Kubernetes API at https://127.0.0.1:${p} (connection refused)`);
});

test('a plain http:// server is refused as a kubeconfig problem, not a crash', async () => {
  const c = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfig('http.yaml', [{ name: 'h', server: `http://127.0.0.1:${port}`, token: 'good-token' }], 'h') });
  await assert.rejects(c.get('Namespace', 'kube-system'), (e: MeshformError) => e.findings[0]?.code === 'KUBE_CONFIG' && e.exitCode === 3);
});

test('a request that does not answer times out', async () => {
  await assert.rejects(client('good-token', 200).get('ConfigMap', 'slow', 'kube-system'), (e: MeshformError) => e.findings[0]?.code === 'KUBE_TIMEOUT');
});

test('HTTPS: verified with the kubeconfig CA; an unknown CA is KUBE_TLS', async () => {
  const good = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfig('tls.yaml', [{ name: 't', server: `https://127.0.0.1:${tlsPort}`, token: 'good-token', ca: caPem }], 't') });
  assert.equal((await good.get('Namespace', 'kube-system'))?.metadata.uid, 'uid-1');
  const other = await makeCa('other');
  const bad = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfig('tls-bad.yaml', [{ name: 't', server: `https://127.0.0.1:${tlsPort}`, token: 'good-token', ca: other.certPem }], 't') });
  await assert.rejects(bad.get('Namespace', 'kube-system'), (e: MeshformError) => e.findings[0]?.code === 'KUBE_TLS');
});

test('KUBECONFIG lists merge like kubectl: first definition and first current-context win', () => {
  const a = kubeconfig('a.yaml', [{ name: 'mesh01', server: 'https://a:6443', token: 't1' }], 'mesh01');
  const b = kubeconfig('b.yaml', [{ name: 'mesh01', server: 'https://shadowed:6443', token: 't2' }, { name: 'mesh02', server: 'https://b:6443', token: 't3' }], 'mesh02');
  const env = { KUBECONFIG: `${a}:${b}:${join(dir, 'missing.yaml')}` };
  assert.deepEqual(kubeconfigFiles(undefined, env), [a, b, join(dir, 'missing.yaml')]);
  assert.equal(loadKubeConfig('x', {}, env).getCurrentCluster()?.server, 'https://a:6443');
  assert.equal(loadKubeConfig('x', { context: 'mesh02' }, env).getCurrentCluster()?.server, 'https://b:6443');
  // An explicit kubeconfig wins over KUBECONFIG.
  assert.equal(loadKubeConfig('x', { kubeconfig: b }, env).getCurrentContext(), 'mesh02');
});

test('kubeconfig problems are clear errors naming the cluster', () => {
  const a = kubeconfig('only.yaml', [{ name: 'mesh01', server: 'https://a:6443', token: 't' }]);
  assert.throws(() => loadKubeConfig('mesh01', { kubeconfig: a, context: 'nope' }), (e: MeshformError) =>
    e.exitCode === 3 && /cluster mesh01: context "nope" is not in the kubeconfig \(contexts: mesh01\)/.test(e.message));
  assert.throws(() => loadKubeConfig('mesh01', { kubeconfig: a }), /no current-context/);
  assert.throws(() => loadKubeConfig('mesh01', { kubeconfig: join(dir, 'nothere.yaml') }), /does not exist/);
  assert.throws(() => loadKubeConfig('mesh01', {}, { HOME: dir }), /no kubeconfig found/);
});

test('connectSpec: spec kubeconfig/context win over flags; an unusable one fails only its cluster', async () => {
  const { connectSpec, UnusableClusterClient } = await import('../../src/kube/connect.js');
  const file = kubeconfig('spec.yaml', [{ name: 'mesh01', server: `https://127.0.0.1:${tlsPort}`, token: 'good-token', ca: caPem }], 'mesh01');
  const spec = { clusters: [{ name: 'mesh01', index: 0, kubeconfig: file }, { name: 'mesh02', index: 1, context: 'nope' }] } as unknown as import('../../src/spec/types.js').MeshSpec;
  const [a, b] = connectSpec(spec, { kubeconfig: file });
  assert.equal((await a?.client.get('Namespace', 'kube-system'))?.metadata.uid, 'uid-1');
  assert.ok(b?.client instanceof UnusableClusterClient);
  await assert.rejects(Promise.resolve().then(() => b?.client.get('Namespace', 'kube-system')), (e: MeshformError) =>
    e.findings[0]?.code === 'KUBE_CONFIG' && e.findings[0]?.path === 'clusters[1]' && /cluster mesh02: context "nope"/.test(e.message));
});
