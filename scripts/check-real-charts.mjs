// Helper of check-real-charts.sh: checks one cluster's `helm template` output against plan.json.
// Usage: node check-real-charts.mjs OUT_DIR CLUSTER RENDERED.yaml
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const [out, name, renderedPath] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
const me = plan.clusters.find((c) => c.name === name);
const byName = new Map(plan.clusters.map((c) => [c.name, c]));
const objs = parseAllDocuments(readFileSync(renderedPath, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const seen = new Set();
for (const o of objs) { const k = `${o.kind}/${o.metadata?.name}`; if (seen.has(k)) { console.error(`  ${name}: duplicate object ${k}`); process.exit(1); } seen.add(k); }
const find = (kind, n) => objs.find((o) => o.kind === kind && o.metadata?.name === n);
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
const b64d = (s) => Buffer.from(s ?? '', 'base64').toString('utf8');

const cfg = find('ConfigMap', 'cilium-config');
check(cfg?.data?.['cluster-name'] === name, `cilium-config cluster-name is ${cfg?.data?.['cluster-name']}`);
check(cfg?.data?.['cluster-id'] === String(me.id), `cilium-config cluster-id is ${cfg?.data?.['cluster-id']}`);
const mcc = cfg?.data?.['max-connected-clusters'];
check(mcc === undefined || mcc === String(plan.maxConnectedClusters), `max-connected-clusters is ${mcc}`);

const svc = find('Service', 'clustermesh-apiserver');
check(svc?.spec?.type === me.service.type, `Service type ${svc?.spec?.type}, want ${me.service.type}`);
if (me.service.type === 'NodePort') check(svc?.spec?.ports?.[0]?.nodePort === me.service.nodePort, `nodePort ${svc?.spec?.ports?.[0]?.nodePort}`);
if (me.service.loadBalancerIP) check(svc?.spec?.loadBalancerIP === me.service.loadBalancerIP, 'loadBalancerIP');

// With KVStoreMesh the agents' secret points at the local apiserver and the peers move to cilium-kvstoremesh.
const peerSecret = find('Secret', me.kvstoremesh ? 'cilium-kvstoremesh' : 'cilium-clustermesh');
const agentSecret = find('Secret', 'cilium-clustermesh');
check(!!peerSecret && !!agentSecret, 'cilium-clustermesh / cilium-kvstoremesh Secret missing');
const data = peerSecret?.data ?? {};
for (const p of me.peers) {
  const peer = byName.get(p);
  const want = peer.dial.address !== undefined ? `https://${peer.dial.address}:${peer.dial.port}` : `https://${p}.${plan.domain}:${peer.dial.port}`;
  const cfgText = b64d(data[p]);
  check(cfgText.includes(want), `peer ${p}: endpoint ${want} not in ${peerSecret?.metadata?.name}`);
  if (me.kvstoremesh) check(b64d(agentSecret?.data?.[p]).includes('clustermesh-apiserver.'), `peer ${p}: agent secret does not point at the local apiserver`);
}
const extra = Object.keys(data).filter((k) => !k.includes('.') && !me.peers.includes(k));
check(extra.length === 0, `unexpected peer keys ${extra}`);

// hostAliases for dialled peer IPs: on the agent (no KVStoreMesh) or the clustermesh-apiserver.
const holder = me.kvstoremesh ? find('Deployment', 'clustermesh-apiserver') : find('DaemonSet', 'cilium');
const aliases = holder?.spec?.template?.spec?.hostAliases ?? [];
for (const p of me.peers) {
  for (const ip of byName.get(p).dial.ips ?? []) {
    check(aliases.some((a) => a.ip === ip && a.hostnames.includes(`${p}.${plan.domain}`)), `hostAlias ${ip} → ${p}.${plan.domain} missing`);
  }
}

// Certificates: the Secrets the pods mount must carry meshform's certs (method provided).
if (plan.certMethod === 'provided') {
  for (const kind of ['server', 'admin', 'remote', ...(me.certs.local ? ['local'] : [])]) {
    const s = find('Secret', `clustermesh-apiserver-${kind}-cert`);
    check(!!s, `Secret clustermesh-apiserver-${kind}-cert missing`);
    if (!s) continue;
    const pem = b64d(s.data['tls.crt']);
    const fp = pem ? createFp(pem) : '';
    check(fp === me.certs[kind].fingerprint256, `clustermesh-apiserver-${kind}-cert does not hold meshform's ${kind} certificate`);
  }
}
if (plan.ca) {
  const ca = find('Secret', 'cilium-ca');
  check(!!ca && createFp(b64d(ca.data['ca.crt'])) === plan.ca.fingerprint256, 'cilium-ca does not hold the shared CA');
}
if (plan.authMode !== 'legacy') {
  const users = find('ConfigMap', 'clustermesh-remote-users');
  const list = users ? parse(users.data['users.yaml']).users.map((u) => u.name) : [];
  for (const p of me.peers) check(list.includes(`remote-${p}`), `clustermesh-remote-users lacks remote-${p}`);
}

if (me.hubbleUiNodePort != null) {
  const ui = find('Service', 'hubble-ui');
  check(ui?.spec?.type === 'NodePort' && ui.spec.ports?.[0]?.nodePort === me.hubbleUiNodePort, `hubble-ui Service is not NodePort ${me.hubbleUiNodePort}`);
}

function createFp(pem) {
  return new X509Certificate(pem).fingerprint256;
}

if (problems.length) {
  for (const p of problems) console.error(`  ${name}: ${p}`);
  process.exit(1);
}
