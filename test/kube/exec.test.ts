// NodeClusterClient.exec against a local WebSocket server speaking Kubernetes' exec protocol
// (channel byte + payload; 1 stdout, 2 stderr, 3 status as a v1 Status JSON), over HTTPS with
// test certificates on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { NodeClusterClient } from '../../src/kube/node-client.js';
import { MeshformError } from '../../src/errors.js';
import { makeCa, makeLeaf } from '../doctor/certs.js';

interface WsLike {
  send(data: Buffer): void;
  close(): void;
  protocol: string;
}
interface WsServerLike {
  on(ev: 'connection', cb: (ws: WsLike, req: { url?: string }) => void): void;
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (o: { server: Server; handleProtocols: (p: Set<string>) => string | false }) => WsServerLike;
};

let server: Server;
let wss: WsServerLike;
let kubeconfigPath = '';
const urls: string[] = [];
let connections = 0;

const frame = (channel: number, text: string) => Buffer.concat([Buffer.from([channel]), Buffer.from(text)]);

before(async () => {
  const ca = await makeCa('kube CA');
  const leaf = await makeLeaf(ca, 'kube-apiserver', { ips: ['127.0.0.1'], server: true });
  server = createServer({ cert: leaf.certPem, key: leaf.keyPem });
  wss = new WebSocketServer({ server, handleProtocols: (p) => (p.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  wss.on('connection', (ws, req) => {
    urls.push(req.url ?? '');
    const url = new URL(req.url ?? '', 'https://x');
    const cmd = url.searchParams.getAll('command');
    if (cmd[0] === 'cilium-dbg') {
      ws.send(frame(1, '{"cluster-mesh":'));
      ws.send(frame(1, '{"clusters":[]}}'));
      ws.send(frame(2, 'level=warning msg=x\n'));
      ws.send(frame(3, JSON.stringify({ status: 'Success' })));
      ws.close();
    } else if (cmd[0] === 'missing') {
      ws.send(frame(3, JSON.stringify({ status: 'Failure', message: 'exec: "missing": executable file not found in $PATH', reason: 'InternalError' })));
      ws.close();
    } else if (cmd[0] === 'false') {
      ws.send(frame(2, 'boom\n'));
      ws.send(frame(3, JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: exit status 3', details: { causes: [{ reason: 'ExitCode', message: '3' }] } })));
      ws.close();
    }
    // `hang`: never answers.
  });
  server.on('secureConnection', () => connections++);
  server.on('request', (req, res) => {
    const name = /\/secrets\/([^/?]+)$/.exec(req.url ?? '')?.[1] ?? '';
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'kube-system' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'meshform-exec-'));
  kubeconfigPath = join(dir, 'kc.yaml');
  writeFileSync(kubeconfigPath, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'x', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
    users: [{ name: 'x', user: { token: 't' } }],
    contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
  }));
});
after(() => {
  wss.close();
  server.close();
  server.closeAllConnections();
});

test('exec collects stdout and stderr across frames and reports exit code 0', async () => {
  const c = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfigPath });
  const r = await c.exec('kube-system', 'cilium-abc', 'cilium-agent', ['cilium-dbg', 'status', '-o', 'json']);
  assert.deepEqual(JSON.parse(r.stdout), { 'cluster-mesh': { clusters: [] } });
  assert.equal(r.stderr, 'level=warning msg=x\n');
  assert.equal(r.exitCode, 0);
  assert.match(urls.at(-1) ?? '', /^\/api\/v1\/namespaces\/kube-system\/pods\/cilium-abc\/exec\?.*container=cilium-agent/);
});

test('a non-zero exit gives its code; a missing binary gives the API message', async () => {
  const c = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfigPath });
  const r = await c.exec('kube-system', 'p', 'c', ['false']);
  assert.equal(r.exitCode, 3);
  assert.equal(r.stderr, 'boom\n');
  const m = await c.exec('kube-system', 'p', 'c', ['missing']);
  assert.equal(m.exitCode, undefined);
  assert.match(m.message ?? '', /executable file not found/);
});

test('an exec that does not answer times out with a clear error naming the pod', async () => {
  const c = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfigPath });
  await assert.rejects(c.exec('kube-system', 'cilium-x', 'cilium-agent', ['hang'], { timeoutMs: 300 }), (e: MeshformError) =>
    e.findings[0]?.code === 'KUBE_TIMEOUT' && /cluster mesh01: exec hang in kube-system\/cilium-x \(container cilium-agent\) did not finish/.test(e.message));
});

test('one TLS context per cluster for every request and exec; requests share one keep-alive connection', async () => {
  const c = NodeClusterClient.connect('mesh01', { kubeconfig: kubeconfigPath });
  const real = tls.createSecureContext;
  let contexts = 0;
  tls.createSecureContext = (...a: Parameters<typeof real>) => {
    contexts++;
    return real(...a);
  };
  try {
    const before = connections;
    for (const name of ['a', 'b', 'c']) assert.equal((await c.get('Secret', name, 'kube-system'))?.metadata.name, name);
    assert.equal(connections - before, 1, 'three requests, one TLS connection');
    const rs = await Promise.all([1, 2, 3].map(() => c.exec('kube-system', 'cilium-abc', 'cilium-agent', ['cilium-dbg', 'status'])));
    assert.deepEqual(rs.map((r) => r.exitCode), [0, 0, 0]);
    assert.equal(contexts, 1, 'the CA, certificate and key are made into a TLS context once');
  } finally {
    tls.createSecureContext = real;
  }
});
