/**
 * Adopting clusters that each have their own CA (issue 12 item 4), on the lab through the built CLI:
 * two clusters installed the brownfield way — their own HelmChartConfig with the clustermesh-apiserver,
 * `tls.auto.method: helm` and each other as peers, so the real chart's helm templates make a different `cilium-ca` and
 * certificates on each — are found by `init` to differ; the spec it writes keeps them
 * (certificates.method keep, both CAs in ca.trust); `apply` forms the mesh on the clusters' own
 * certificates; `ca rotate` converges every cluster onto the shared CA, status polled throughout
 * (the longest unready gap is printed); afterwards every certificate is the shared CA's, the spec
 * says method provided without ca.trust, and a render changes nothing. Needs the lab.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { helmRevision, holdLab, kubectl, nodePortOf, paths, requireLab, waitHelmRevision } from '../lab/harness.js';
import { BIN, meshform } from '../cli/helpers.js';
import { run } from '../../lab/src/proc.js';
import { workers, type LabCluster } from '../../lab/src/topology.js';
import { allLinks, longestGap, startStatusPoller } from './poll.js';

describe('adopting two clusters with their own CAs on the lab: init notices, apply keeps them, ca rotate converges', { concurrency: 1 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-adopt-'));
  let release: (() => void) | undefined;
  let clusters: LabCluster[] = [];
  const env = { KUBECONFIG: paths.kubeconfig, MESHFORM_NOW: new Date().toISOString() };
  const cli = (args: string[]) => meshform(args, { cwd: dir, env, timeoutMs: 8 * 60_000 });
  const ok = (args: string[]) => {
    const r = cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const liveCa = async (cluster: string) => {
    const b64 = await kubectl(cluster, ['get', 'secret', 'cilium-ca', '-n', 'kube-system', '-o', 'jsonpath={.data.ca\\.crt}']);
    return new X509Certificate(Buffer.from(b64, 'base64').toString('utf8'));
  };

  before(async () => {
    release = await holdLab('test/live/adopt');
    clusters = requireLab(2).clusters.slice(0, 2);
  });
  let converged = false;
  after(async () => {
    // Stopped midway: the operator's HelmChartConfig (field manager rke2-install) and the two CAs
    // would stay, and every later suite's apply would meet them. Give the next suite a cluster
    // without that HelmChartConfig (its apply creates meshform's own).
    if (!converged) for (const c of clusters) await kubectl(c.name, ['delete', 'helmchartconfig', 'rke2-cilium', '-n', 'kube-system', '--ignore-not-found']).catch(() => undefined);
    release?.();
  });

  it('two clusters installed with tls.auto (helm): each gets its own CA from the real chart', async () => {
    for (const c of clusters) {
      // What earlier suites left: meshform's Secrets and CA. A brownfield cluster has none of them.
      await kubectl(c.name, ['delete', 'secret', '-n', 'kube-system', '--ignore-not-found', '-l', 'app.kubernetes.io/managed-by=meshform']);
      await kubectl(c.name, ['delete', 'secret', '-n', 'kube-system', '--ignore-not-found', 'cilium-ca', 'clustermesh-apiserver-server-cert', 'clustermesh-apiserver-admin-cert', 'clustermesh-apiserver-remote-cert', 'clustermesh-apiserver-local-cert']);
      const values = {
        cluster: { name: c.name, id: c.index },
        clustermesh: {
          useAPIServer: true,
          apiserver: { service: { type: 'NodePort', nodePort: nodePortOf(c) }, tls: { auto: { enabled: true, method: 'helm' } } },
          // A brownfield mesh: each already dials the other (their links wait for trust), so their CAs are in use.
          config: { enabled: true, clusters: clusters.filter((o) => o !== c).map((o) => ({ name: o.name, port: nodePortOf(o), ips: workers(o).map((n) => n.ip) })) },
        },
      };
      const hcc = { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: 'kube-system' }, spec: { valuesContent: YAML.stringify(values) } };
      const before = await helmRevision(c.name);
      // Replaced whole, as an operator's own install would have it (no valuesSecrets of meshform's), in
      // one write: a delete and a create would make two helm-controller runs, and the first one's
      // revision (without the clustermesh-apiserver) could be taken for this one's.
      const exists = (await kubectl(c.name, ['get', 'helmchartconfig', '-n', 'kube-system', '-o', 'name'])).includes('/rke2-cilium');
      await kubectl(c.name, [exists ? 'replace' : 'create', '--field-manager', 'rke2-install', '-f', '-'], JSON.stringify(hcc));
      await waitHelmRevision(c.name, before, 180_000);
      await kubectl(c.name, ['rollout', 'status', 'deploy/clustermesh-apiserver', '-n', 'kube-system', '--timeout=180s']);
    }
    const [a, b] = await Promise.all(clusters.map((c) => liveCa(c.name)));
    assert.notEqual(a!.fingerprint256, b!.fingerprint256, 'two different CAs');
  });

  it('init notices the different CAs and writes a spec that keeps them; apply forms the mesh on the clusters\' own certificates', async () => {
    const r = ok(['init', '--kubeconfig', paths.kubeconfig, ...clusters.flatMap((c) => ['--context', c.name]), '--name', 'adopt', '--out', '.']);
    assert.match(r.stderr, /warning INIT_CAS_DIFFER at ca\.trust: the clusters have 2 different CAs .*are in a mesh already/);
    assert.match(r.stdout, /meshform ca rotate/);
    const spec = YAML.parse(readFileSync(join(dir, 'mesh.yaml'), 'utf8')) as { certificates: { method: string }; ca: { trust: string[] } };
    assert.equal(spec.certificates.method, 'keep');
    assert.deepEqual(spec.ca.trust, clusters.map((c) => `ca-trust/${c.name}.crt`));
    for (const c of clusters) {
      assert.equal(new X509Certificate(readFileSync(join(dir, 'ca-trust', `${c.name}.crt`))).fingerprint256, (await liveCa(c.name)).fingerprint256);
    }
    ok(['ca', 'init', '--spec', 'mesh.yaml', '--cn', 'Adopted mesh CA']);
    // The operator's own HelmChartConfig: meshform does not take it over without --force.
    const refused = cli(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
    assert.notEqual(refused.code, 0, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /--force/);
    ok(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m', '--force']);
    ok(['status', 'mesh.yaml', '--wait', '--timeout', '4m']);
    assert.equal(existsSync(join(dir, 'out', 'secrets')), false, 'method keep renders no key');
    const st = JSON.parse(ok(['status', 'mesh.yaml', '-o', 'json']).stdout) as { ready: boolean; certificates: { cluster: string; certs: { role: string; state: string; fingerprint256: string }[] }[] };
    assert.equal(st.ready, true);
    for (const c of st.certificates) {
      const own = (await liveCa(c.cluster)).fingerprint256;
      assert.equal(c.certs.find((x) => x.role === 'ca')?.fingerprint256, own, `${c.cluster} keeps its own CA`);
      for (const x of c.certs) assert.equal(x.state, 'ok', `${c.cluster} ${x.role}: its own CA is trusted (ca.trust)`);
    }
  });

  it('ca rotate converges both clusters onto the shared CA, every link polled; the spec then says provided', async () => {
    const log = join(dir, 'adopt-polls.jsonl');
    const poller = startStatusPoller(dir, log, env);
    let r;
    try {
      await new Promise((res) => setTimeout(res, 2500));
      r = await run(process.execPath, [BIN, 'ca', 'rotate', 'mesh.yaml', '--out', 'out', '--timeout', '4m', '--gate-timeout', '4m'], { cwd: dir, env: { ...process.env, ...env }, allowFail: true, timeoutMs: 20 * 60_000 });
    } finally {
      poller.stop();
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /phase 1\/3 trust-new done[\s\S]*phase 2\/3 reissue done[\s\S]*phase 3\/3 drop-old done/);
    assert.match(r.stdout, /Mesh converged/);
    const gap = longestGap(poller.samples(), allLinks(clusters.map((c) => c.name)));
    console.log(`# adoption (own CAs → shared CA), 2 clusters: ${gap.samples} status polls; longest unready gap: ${(gap.ms / 1000).toFixed(1)} s${gap.link ? ` (${gap.link})` : ''}`);
    const st = JSON.parse(ok(['status', 'mesh.yaml', '-o', 'json']).stdout) as { ready: boolean; certificates: { cluster: string; certs: { role: string; state: string; issuer: string; subject: string }[] }[] };
    assert.equal(st.ready, true);
    for (const c of st.certificates) {
      assert.equal((await liveCa(c.cluster)).subject, 'CN=Adopted mesh CA', `${c.cluster}: cilium-ca is the shared CA now`);
      for (const x of c.certs) assert.deepEqual([x.role, x.state, x.role === 'ca' ? x.subject : x.issuer], [x.role, 'ok', 'CN=Adopted mesh CA']);
    }
    const spec = YAML.parse(readFileSync(join(dir, 'mesh.yaml'), 'utf8')) as { certificates: { method: string }; ca: Record<string, unknown> };
    assert.equal(spec.certificates.method, 'provided');
    assert.equal(spec.ca['trust'], undefined);
    const again = ok(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
    for (const c of clusters) assert.match(again.stdout, new RegExp(`${c.name}: unchanged`));
    converged = true;
  });
});
