/**
 * meshform's rendered golden output against the REAL upstream Cilium charts: `helm template` of
 * the chart inside the cilium module of every supported minor (lab/versions.env
 * CILIUM_CHART_MODULES, downloaded into the Go module cache by lab/build.sh; copied to a temp
 * folder, never into the repository), checked by scripts/check-real-charts.sh. Needs the lab's
 * helm and the modules; fails loudly, never skips, when either is missing. No cluster needed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { goModCache, labPaths, repoRoot } from '../../lab/src/paths.js';

const paths = labPaths();
const golden = join(repoRoot, 'test/fixtures/golden');
const script = join(repoRoot, 'scripts/check-real-charts.sh');
const tmp = mkdtempSync(join(tmpdir(), 'meshform-real-charts-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Minor → module version, from lab/versions.env (one home for what build.sh downloads). */
function chartModules(): Map<number, string> {
  const list = paths.versions.CILIUM_CHART_MODULES;
  if (!list) throw new Error('lab/versions.env has no CILIUM_CHART_MODULES');
  return new Map(list.split(',').map((v) => [Number(v.split('.')[1]), v] as const));
}

const charts = new Map<string, string>();
/** A private, writable copy of the upstream chart of module version `v`. */
function chart(v: string): string {
  let dir = charts.get(v);
  if (dir) return dir;
  const src = join(goModCache(), `github.com/cilium/cilium@${v}`, 'install/kubernetes/cilium');
  if (!existsSync(join(src, 'Chart.yaml'))) throw new Error(`no Cilium chart at ${src}: run bash lab/build.sh (it downloads github.com/cilium/cilium@${v} into the Go module cache)`);
  dir = join(tmp, `cilium-${v}`);
  cpSync(src, dir, { recursive: true });
  chmodSync(dir, 0o755);
  charts.set(v, dir);
  return dir;
}

function helm(): string {
  const h = paths.binary('helm');
  if (!existsSync(h)) throw new Error(`no helm at ${h}: run bash lab/build.sh first`);
  return h;
}

interface Check {
  code: number;
  out: string;
}

/** check-real-charts.sh on one output folder, one chart, the given clusters. */
function check(out: string, chartDir: string, clusters: string[]): Promise<Check> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, out, chartDir], { env: { ...process.env, HELM: helm(), CLUSTERS: clusters.join(' ') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out: text }));
  });
}

interface PlanCluster {
  name: string;
  ciliumVersion: string;
}
const planOf = (out: string) => JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { clusters: PlanCluster[] };
const minorOf = (v: string) => Number(v.split('.')[1]);

/** Two checks at a time: the machine has two cores, and helm template of the chart takes ~1 s. */
async function pooled<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

const cases = readdirSync(golden).filter((d) => existsSync(join(golden, d, 'expected', 'plan.json'))).sort();

describe('the golden output against the real upstream Cilium charts (helm template)', { concurrency: 1 }, () => {
  it('every supported minor has its chart module, and every golden case a chart of its minors', () => {
    const modules = chartModules();
    assert.deepEqual([...modules.keys()].sort((a, b) => a - b), [15, 16, 17, 18, 19, 20]);
    for (const v of modules.values()) chart(v);
    for (const c of cases) for (const cl of planOf(join(golden, c, 'expected')).clusters) assert.ok(modules.has(minorOf(cl.ciliumVersion)), `${c}/${cl.name}: ${cl.ciliumVersion}`);
    // Every minor is rendered by at least one golden case, and a CA bundle on each.
    const covered = new Set(cases.flatMap((c) => planOf(join(golden, c, 'expected')).clusters.map((cl) => minorOf(cl.ciliumVersion))));
    const bundled = new Set(cases.filter((c) => c.startsWith('ca-bundle-')).flatMap((c) => planOf(join(golden, c, 'expected')).clusters.map((cl) => minorOf(cl.ciliumVersion))));
    assert.deepEqual([[...covered].sort(), [...bundled].sort()], [[...modules.keys()].sort(), [...modules.keys()].sort()]);
  });

  it('every cluster of every golden case renders and checks out with the chart of its minor', async () => {
    const modules = chartModules();
    const jobs = cases.flatMap((c) => {
      const out = join(golden, c, 'expected');
      const byMinor = new Map<number, string[]>();
      for (const cl of planOf(out).clusters) byMinor.set(minorOf(cl.ciliumVersion), [...(byMinor.get(minorOf(cl.ciliumVersion)) ?? []), cl.name]);
      return [...byMinor].map(([m, names]) => async () => ({ c, names, r: await check(out, chart(modules.get(m)!), names) }));
    });
    const results = await pooled(jobs);
    const failed = results.filter((x) => x.r.code !== 0);
    assert.deepEqual(failed.map((x) => `${x.c}: ${x.r.out}`), []);
    for (const x of results) for (const n of x.names) assert.match(x.r.out, new RegExp(`^ok   cilium-v[\\d.]+ ${n}$`, 'm'), `${x.c}/${n}`);
  });

  // The checks can fail, and the chart facts the rendering rests on hold: each case breaks one.
  const copy = (name: string): string => {
    const dir = join(tmp, `${name}-${Math.random().toString(36).slice(2)}`);
    cpSync(join(golden, name, 'expected'), dir, { recursive: true });
    return dir;
  };
  const edit = (file: string, from: string | RegExp, to: string) => {
    const text = readFileSync(file, 'utf8');
    const next = text.replace(from, to);
    assert.notEqual(next, text, `${file}: nothing to replace`);
    writeFileSync(file, next);
  };

  it('1.20 refuses certificates in values; a wrong server certificate or NodePort is caught', async () => {
    const v20 = chart(chartModules().get(20)!);
    const inValues = copy('provided-1.20');
    writeFileSync(join(inValues, 'secrets/east.values.yaml'), `${readFileSync(join(inValues, 'secrets/east.values.yaml'), 'utf8')}clustermesh:\n  apiserver:\n    tls:\n      server: {cert: Y2VydA==, key: a2V5}\n`);
    const r = await check(inValues, v20, ['east']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /providing Cluster Mesh certs and keys as helm values has been removed/);

    const swapped = copy('provided-1.20');
    const admin = readFileSync(join(swapped, 'secrets/east/clustermesh-apiserver-admin-cert.yaml'), 'utf8').match(/tls\.crt: (\S+)/)![1]!;
    edit(join(swapped, 'secrets/east/clustermesh-apiserver-server-cert.yaml'), /tls\.crt: \S+/, `tls.crt: ${admin}`);
    const s = await check(swapped, v20, ['east']);
    assert.match(s.out, /clustermesh-apiserver-server-cert does not hold meshform's server certificate/);
    assert.match(s.out, /meshform's server certificate has CN=admin-east, the chart's own CN=clustermesh-apiserver\.kube-system\.svc/);

    const port = copy('provided-1.20');
    edit(join(port, 'values/east.yaml'), 'nodePort: 32379', 'nodePort: 32399');
    assert.match((await check(port, v20, ['east'])).out, /FAIL .* east[\s\S]*nodePort 32399/);
  });

  it('1.19 needs tls.enableSecrets off for pre-created Secrets; 1.20 carries the peer IPs in the etcd config', async () => {
    const broken = copy('map-1.19');
    edit(join(broken, 'values/north.yaml'), /\n *enableSecrets: false/, '');
    const r = await check(broken, chart(chartModules().get(19)!), ['north']);
    assert.match(r.out, /missing clustermesh\.apiserver\.tls\.server\.cert/);
    // Taken for 1.20 (the plan says so), the 1.19 output misses the 1.20 chart's facts: with the 1.19
    // chart there is no cilium-host-aliases in the etcd config, and meshform's 1.19 server
    // certificate has the old CN that the 1.20 chart's own certificate no longer has.
    const old = copy('map-1.19');
    const plan = JSON.parse(readFileSync(join(old, 'plan.json'), 'utf8')) as { clusters: PlanCluster[] };
    for (const c of plan.clusters) c.ciliumVersion = '1.20.2';
    writeFileSync(join(old, 'plan.json'), JSON.stringify(plan));
    assert.match((await check(old, chart(chartModules().get(19)!), ['north'])).out, /peer south: etcd config lacks cilium-host-aliases south\.mesh\.cilium\.io/);
    const m = await check(old, chart(chartModules().get(20)!), ['north']);
    assert.match(m.out, /meshform's server certificate has CN=clustermesh-apiserver\.cilium\.io, the chart's own CN=clustermesh-apiserver\.kube-system\.svc/);
  });

  it('a CA bundle does not reach 1.15 KVStoreMesh, or 1.16–1.17 KVStoreMesh through a chart-made Secret', async () => {
    const kvs = copy('ca-bundle-1.15-1.16');
    edit(join(kvs, 'values/bundle15-a.yaml'), /kvstoremesh:\n( *)enabled: false/, 'kvstoremesh:\n$1enabled: true');
    const plan = JSON.parse(readFileSync(join(kvs, 'plan.json'), 'utf8')) as { clusters: (PlanCluster & { kvstoremesh: boolean })[] };
    plan.clusters[0]!.kvstoremesh = true;
    writeFileSync(join(kvs, 'plan.json'), JSON.stringify(plan));
    const r = await check(kvs, chart(chartModules().get(15)!), ['bundle15-a']);
    assert.match(r.out, /volume kvstoremesh-secrets: common-etcd-client-ca\.crt does not hold the CA bundle/);

    const signOnly = copy('ca-bundle-1.17-1.18');
    const ca = Buffer.from(readFileSync(join(repoRoot, 'test/fixtures/golden/_pki/ca.crt'))).toString('base64');
    edit(join(signOnly, 'secrets/bundle17-a/clustermesh-apiserver-remote-cert.yaml'), /ca\.crt: \S+/, `ca.crt: ${ca}`);
    assert.match((await check(signOnly, chart(chartModules().get(17)!), ['bundle17-a'])).out, /volume kvstoremesh-secrets: common-etcd-client-ca\.crt does not hold the CA bundle/);
  });
});
