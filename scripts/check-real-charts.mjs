// Helper of check-real-charts.sh: checks one cluster's `helm template` output against plan.json.
// Usage: node check-real-charts.mjs OUT_DIR CLUSTER RENDERED.yaml [HELM_METHOD.yaml]
//   HELM_METHOD.yaml: the same values rendered with tls.auto method helm, so that the chart's own
//   server certificate (CN and SANs of this chart version) can be compared with meshform's.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const [out, name, renderedPath, helmMethodPath] = process.argv.slice(2);
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
const minor = Number(me.ciliumVersion.split('.')[1]);
const ns = plan.namespace;

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
// 1.20: the peer's etcd config carries its IPs itself (cilium-host-aliases), for the static dialer.
if (minor >= 20) {
  for (const p of me.peers) {
    const ips = byName.get(p).dial.ips;
    if (!ips || byName.get(p).dial.address !== undefined) continue;
    const cfgDoc = parse(b64d(data[p]) || '{}') ?? {};
    const ha = (cfgDoc['cilium-host-aliases'] ?? []).find((h) => h.hostname === `${p}.${plan.domain}`);
    check(!!ha && JSON.stringify([...ha.ips].sort()) === JSON.stringify([...ips].sort()), `peer ${p}: etcd config lacks cilium-host-aliases ${p}.${plan.domain} → ${ips}`);
  }
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
// The server certificate's names as this chart version makes them (CN, SANs), and meshform's extras in it.
const wantCn = minor >= 20 ? `clustermesh-apiserver.${ns}.svc` : 'clustermesh-apiserver.cilium.io';
const extraNames = [...me.serverExtra.dnsNames, ...me.serverExtra.ipAddresses];
const sansOf = (x) => (x.subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '')).map((v) => (v === '0:0:0:0:0:0:0:1' ? '::1' : v));
if (plan.certMethod === 'provided' && helmMethodPath) {
  const chartObjs = parseAllDocuments(readFileSync(helmMethodPath, 'utf8')).map((d) => d.toJS()).filter(Boolean);
  const chartServer = chartObjs.find((o) => o.kind === 'Secret' && o.metadata?.name === 'clustermesh-apiserver-server-cert');
  const mine = find('Secret', 'clustermesh-apiserver-server-cert');
  if (!chartServer || !mine) check(false, 'no server certificate to compare with the chart\'s own (method helm)');
  else {
    const cx = new X509Certificate(b64d(chartServer.data['tls.crt']));
    const mx = new X509Certificate(b64d(mine.data['tls.crt']));
    check(cx.subject === `CN=${wantCn}`, `the chart's own server certificate has ${cx.subject}, expected CN=${wantCn}`);
    check(mx.subject === cx.subject, `meshform's server certificate has ${mx.subject}, the chart's own ${cx.subject}`);
    const mine2 = new Set(sansOf(mx));
    const missing = sansOf(cx).filter((n) => !mine2.has(n));
    check(missing.length === 0, `meshform's server certificate lacks the chart's SANs ${missing}`);
    for (const n of extraNames) check(sansOf(cx).includes(n), `the chart's own server certificate lacks ${n}: the values do not carry it where this chart reads it`);
  }
}
if (plan.certMethod === 'helm') {
  const s = find('Secret', 'clustermesh-apiserver-server-cert');
  const x = s && new X509Certificate(b64d(s.data['tls.crt']));
  check(!!x && x.subject === `CN=${wantCn}`, `the chart's server certificate has ${x?.subject}, expected CN=${wantCn}`);
  for (const n of extraNames) check(!!x && sansOf(x).includes(n), `the chart's server certificate lacks ${n}`);
  const days = x ? Math.round((Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86400000) : 0;
  check(days === plan.certValidityDays, `the chart's server certificate is valid ${days} days, the plan says ${plan.certValidityDays}`);
}
if (plan.certMethod === 'cronJob') {
  // The one-off Job (named with a hash suffix from 1.20) and the CronJob run the same certgen.
  const pods = objs
    .filter((o) => (o.kind === 'Job' || o.kind === 'CronJob') && o.metadata?.name?.startsWith('clustermesh-apiserver-generate-certs'))
    .map((o) => (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.spec?.template));
  check(pods.length > 0, 'no certgen Job or CronJob');
  for (const pod of pods) {
    const c = pod?.spec?.containers?.[0];
    const conf = parse(c?.env?.find((e) => e.name === 'CILIUM_CERTGEN_CONFIG')?.value ?? '{}') ?? {};
    const server = (conf.certs ?? []).find((x) => x.name === 'clustermesh-apiserver-server-cert');
    check(server?.commonName === wantCn, `certgen's server certificate CN ${server?.commonName}, expected ${wantCn}`);
    for (const n of extraNames) check((server?.hosts ?? []).includes(n), `certgen's server certificate lacks ${n}`);
    for (const x of conf.certs ?? []) check(x.validity === `${plan.certValidityDays * 24}h`, `certgen issues ${x.name} for ${x.validity}, the plan says ${plan.certValidityDays} days`);
    if (minor >= 20) check((c?.args ?? []).includes('--ca-enforce-validity-throughout-leaves-duration=true'), 'certgen does not enforce the CA validity throughout the leaves');
  }
}
if (plan.certMethod === 'certmanager') {
  const cert = find('Certificate', 'clustermesh-apiserver-server-cert');
  check(cert?.spec?.commonName === wantCn, `cert-manager Certificate CN ${cert?.spec?.commonName}, expected ${wantCn}`);
  for (const n of me.serverExtra.dnsNames) check((cert?.spec?.dnsNames ?? []).includes(n), `cert-manager Certificate lacks ${n}`);
  check(cert?.spec?.duration === `${plan.certValidityDays * 24}h0m0s`, `cert-manager Certificate duration ${cert?.spec?.duration}, the plan says ${plan.certValidityDays} days`);
}

// A CA bundle (ca.trust): ConfigMap cilium-root-ca.crt with every CA, projected wherever clustermesh checks a peer.
if (plan.ca?.trust?.length) {
  const cm = find('ConfigMap', 'cilium-root-ca.crt');
  const fps = (cm?.data?.['ca.crt'] ?? '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)?.map(createFp) ?? [];
  const want = [plan.ca.fingerprint256, ...plan.ca.trust.map((t) => t.fingerprint256)];
  check(JSON.stringify(fps) === JSON.stringify(want), `ConfigMap cilium-root-ca.crt holds ${fps.length} CAs, not the shared CA and ca.trust in order`);
  const fpsOf = (text) => (text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(createFp);
  // A trust file comes from the bundle ConfigMap, or from a Secret (a pre-created one, 1.15–1.17's
  // KVStoreMesh) whose ca.crt holds the whole bundle.
  const projects = (obj, volume, path) => {
    const v = obj?.spec?.template?.spec?.volumes?.find((x) => x.name === volume);
    const srcs = (v?.projected?.sources ?? []).filter((src) => (src.configMap ?? src.secret)?.items?.some((i) => i.path === path));
    const ok = srcs.length === 1 && (srcs[0].configMap?.name === 'cilium-root-ca.crt' ||
      (!!srcs[0].secret && JSON.stringify(fpsOf(b64d(find('Secret', srcs[0].secret.name)?.data?.['ca.crt']))) === JSON.stringify(want)));
    return { present: !!v, ok };
  };
  const ds = find('DaemonSet', 'cilium');
  const dep = find('Deployment', 'clustermesh-apiserver');
  const mounts = [
    [ds, 'clustermesh-secrets', 'common-etcd-client-ca.crt'],
    [dep, 'etcd-server-secrets', 'ca.crt'],
    [dep, 'etcd-admin-client', 'ca.crt'],
  ];
  if (minor >= 16) mounts.push([ds, 'clustermesh-secrets', 'local-etcd-client-ca.crt']);
  if (me.kvstoremesh) mounts.push([dep, 'kvstoremesh-secrets', 'common-etcd-client-ca.crt']);
  for (const [obj, vol, path] of mounts) {
    const r = projects(obj, vol, path);
    check(r.present && r.ok, `${obj?.kind}/${obj?.metadata?.name} volume ${vol}: ${path} does not hold the CA bundle`);
  }
  // The bundle's hash on the pod template, so that a new bundle restarts the clustermesh-apiserver's etcd.
  const sha = createHash('sha256').update(cm?.data?.['ca.crt'] ?? '').digest('hex');
  const got = dep?.spec?.template?.metadata?.annotations?.['meshform.io/ca-bundle-sha256'];
  check(got === sha, `Deployment/clustermesh-apiserver pod template annotation meshform.io/ca-bundle-sha256 is ${got}, not the SHA-256 of the bundle (${sha})`);
}
if (plan.ca && plan.certMethod !== 'keep') {
  const ca = find('Secret', 'cilium-ca');
  check(!!ca && createFp(b64d(ca.data['ca.crt'])) === plan.ca.fingerprint256, 'cilium-ca does not hold the shared CA');
} else if (plan.ca) {
  // Method keep: the cluster keeps its own CA (the chart's, from its own tls.auto), never the shared one.
  const ca = find('Secret', 'cilium-ca');
  check(!ca || createFp(b64d(ca.data['ca.crt'])) !== plan.ca.fingerprint256, 'method keep: cilium-ca holds the shared CA instead of the cluster\'s own');
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
