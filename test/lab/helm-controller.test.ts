/**
 * RKE2's real helm-controller (v0.17.9, lab/build-helm.sh) installing the upstream Cilium chart as
 * release rke2-cilium, its Job pods run by the lab's job runner (lab/src/helmjobs.ts): what meshform's
 * HelmChartConfig path relies on (valuesSecrets, failurePolicy abort, merge order) and what the old
 * stand-in got wrong (a valuesSecrets entry without `keys`, `ignoreUpdates`, structured `values`,
 * `--set` typing), against the controller's own code. Needs `npm run lab -- up`; fails (never
 * skips) when the lab is down. Leaves the cluster without a HelmChartConfig, as `up` made it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { labCiliumVersion } from '../../lab/src/paths.js';
import { isAlive, sleep, waitFor } from '../../lab/src/proc.js';
import { HELM_JOB_LABEL } from '../../lab/src/shape.js';
import type { LabCluster } from '../../lab/src/topology.js';
import { helm, holdLab, kubectl, paths, requireLab } from './harness.js';

const NS = 'kube-system';
const CONFIG_HASH_LABEL = 'helmcharts.helm.cattle.io/configHash';
const FIELD_MANAGER = 'meshform-lab-helm-test';
const SECRETS = ['lab-vs-1', 'lab-vs-2', 'lab-vs-nokeys', 'lab-vs-optional'];

interface Release {
  version: number;
  info: { status: string };
  config: Record<string, unknown>;
}

interface Job {
  metadata: { uid: string };
  status?: { succeeded?: number; conditions?: { type: string; status: string }[] };
  spec: { template: { spec: {
    containers: { name: string; args: string[]; env: { name: string; value?: string }[] }[];
    volumes: { name: string; projected?: { sources: { secret?: { name: string; optional?: boolean; items?: { key: string; path: string }[] } }[] } }[];
  } } };
}

interface Pod {
  metadata: { name: string };
  status?: { phase?: string; containerStatuses?: { restartCount: number; state?: { waiting?: { reason: string } }; lastState?: { terminated?: { exitCode: number; message?: string } } }[] };
}

const json = async <T>(context: string, args: string[]): Promise<T> => JSON.parse(await kubectl(context, [...args, '-o', 'json'])) as T;

async function release(context: string): Promise<Release> {
  return JSON.parse(await helm(context, ['status', 'rke2-cilium', '-n', NS, '-o', 'json'])) as Release;
}

async function job(context: string): Promise<Job | undefined> {
  try {
    return await json<Job>(context, ['get', 'job', 'helm-install-rke2-cilium', '-n', NS]);
  } catch {
    return undefined;
  }
}

const env = (j: Job, name: string) => j.spec.template.spec.containers[0]!.env.find((e) => e.name === name)?.value;

/** The configHash label of the release's newest revision (its helm Secret). */
async function releaseHash(context: string, version: number): Promise<string | undefined> {
  const s = await json<{ metadata: { labels?: Record<string, string> } }>(context, ['get', 'secret', `sh.helm.release.v1.rke2-cilium.v${version}`, '-n', NS]);
  return s.metadata.labels?.[CONFIG_HASH_LABEL];
}

/** The CONFIG_HASH of the current helm-install Job (what its next successful run labels the release with). */
async function currentHash(context: string): Promise<string | undefined> {
  const j = await job(context);
  return j ? env(j, 'CONFIG_HASH') : undefined;
}

/**
 * Waits for helm-controller's next successful run with inputs other than `beforeHash`: a completed
 * Job whose CONFIG_HASH is on the newest, deployed revision (what the controller itself checks).
 * Returns the release, the Job and the seconds it took.
 */
async function controllerRun(context: string, beforeHash: string | undefined, timeoutMs = 120_000) {
  const t0 = Date.now();
  return waitFor('helm-controller to deploy the new inputs', timeoutMs, async () => {
    const j = await job(context);
    const hash = j ? env(j, 'CONFIG_HASH') : undefined;
    if (!j || hash === beforeHash || (j.status?.succeeded ?? 0) < 1) return undefined;
    const rel = await release(context);
    if (rel.info.status !== 'deployed' || (await releaseHash(context, rel.version)) !== hash?.slice(0, 63)) return undefined;
    return { rel, job: j, seconds: (Date.now() - t0) / 1000 };
  });
}

/** Server-side applies HelmChartConfig rke2-cilium with this spec (this suite's field manager owns all of it). */
async function applyConfig(context: string, spec: Record<string, unknown>): Promise<void> {
  const obj = { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: NS }, spec };
  await kubectl(context, ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify(obj));
}

async function applySecret(context: string, name: string, data: Record<string, unknown>): Promise<void> {
  const stringData = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, YAML.stringify(v)]));
  await kubectl(context, ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, stringData }));
}

const extra = (rel: Release) => (rel.config.extraConfig ?? {}) as Record<string, string>;

describe('the real helm-controller and the upstream Cilium chart', { concurrency: 1 }, () => {
  let a: LabCluster;
  let release_: () => void = () => undefined;

  before(async () => {
    requireLab(2);
    release_ = await holdLab('test/lab/helm-controller');
    [a] = requireLab(2).clusters as [LabCluster];
  });
  after(async () => {
    try {
      const before = await currentHash(a.name);
      await kubectl(a.name, ['delete', 'helmchartconfig', 'rke2-cilium', '-n', NS, '--ignore-not-found']);
      await kubectl(a.name, ['delete', 'secret', '-n', NS, '--ignore-not-found', ...SECRETS]);
      await controllerRun(a.name, before);
    } finally {
      release_();
    }
  });

  it('lab up runs helm-controller: its CRDs and lease, the HelmChart claimed, the upstream chart deployed with the config hash', async () => {
    const { state, clusters } = requireLab(2);
    const version = labCiliumVersion(paths.versions).replace(/^v/, '');
    for (const c of state.clusters) {
      assert.ok(c.helmControllerPid && isAlive(c.helmControllerPid), `${c.name}: helm-controller runs`);
      const lease = await json<{ spec: { holderIdentity?: string } }>(c.name, ['get', 'lease', 'helm-controller-lock', '-n', NS]);
      assert.ok(lease.spec.holderIdentity, `${c.name}: helm-controller holds its lease`);
      const hc = await json<{ metadata: { annotations?: Record<string, string> }; spec: { chartContent?: string; set: Record<string, string> } }>(c.name, ['get', 'helmchart', 'rke2-cilium', '-n', NS]);
      assert.ok(hc.metadata.annotations?.['helmcharts.cattle.io/managed-by'], 'the controller claimed the HelmChart');
      assert.ok((hc.spec.chartContent ?? '').length > 100_000, 'the chart travels in chartContent');
      const rel = await release(c.name);
      assert.equal(rel.info.status, 'deployed');
      const meta = JSON.parse(await helm(c.name, ['get', 'metadata', 'rke2-cilium', '-n', NS, '-o', 'json'])) as { chart: string; version: string; appVersion: string };
      assert.deepEqual([meta.chart, meta.version, meta.appVersion], ['cilium', version, version]);
      const j = await job(c.name);
      assert.ok(j && (j.status?.succeeded ?? 0) >= 1, 'Job helm-install-rke2-cilium completed');
      assert.equal(await releaseHash(c.name, rel.version), env(j, 'CONFIG_HASH')?.slice(0, 63), 'release labelled with the Job\'s config hash');
      // What the real chart renders and the lab's shims and daemon rely on.
      const ds = await json<{ spec: { template: { spec: { containers: { name: string }[] } } } }>(c.name, ['get', 'ds', 'cilium', '-n', NS]);
      assert.ok(ds.spec.template.spec.containers.some((x) => x.name === 'cilium-agent'));
      await kubectl(c.name, ['get', 'ds/cilium-envoy', 'deploy/cilium-operator', '-n', NS]);
      const cn = await json<{ items: { metadata: { name: string } }[] }>(c.name, ['get', 'ciliumnodes']);
      assert.deepEqual(cn.items.map((x) => x.metadata.name).sort(), clusters.find((x) => x.name === c.name)!.nodes.map((n) => n.name).sort(), 'a CiliumNode per node');
    }
    // kwok's own pod-complete Stage leaves the Job pods to the runner: a completed pod carries its exit.
    const pods = await json<{ items: Pod[] }>(a.name, ['get', 'pods', '-n', NS, '-l', HELM_JOB_LABEL]);
    assert.ok(pods.items.some((p) => p.status?.phase === 'Succeeded'));
  });

  // Values are strings helm's YAML 1.1 parser keeps as strings ('yes' would become true, and the chart's
  // cilium-config ConfigMap invalid).
  it('merge order: valuesContent < values < valuesSecrets keys in list order; an entry without keys is ignored; spec.set wins; failurePolicy reaches the Job', async () => {
    await applySecret(a.name, 'lab-vs-1', {
      'one.yaml': { extraConfig: { 'lab-order': 'secret-1-one', 'lab-secret-1': 'set' } },
      'two.yaml': { extraConfig: { 'lab-order': 'secret-1-two' } },
      'unlisted.yaml': { extraConfig: { 'lab-unlisted': 'set' } },
    });
    await applySecret(a.name, 'lab-vs-2', { 'three.yaml': { extraConfig: { 'lab-order': 'secret-2-three' } } });
    await applySecret(a.name, 'lab-vs-nokeys', { 'all.yaml': { extraConfig: { 'lab-order': 'nokeys', 'lab-nokeys': 'set' } } });
    const before = await currentHash(a.name);
    await applyConfig(a.name, {
      failurePolicy: 'abort',
      valuesContent: YAML.stringify({ extraConfig: { 'lab-order': 'content', 'lab-content': 'set' }, global: { clusterCIDR: '10.0.0.0/8' } }),
      values: { extraConfig: { 'lab-order': 'values', 'lab-values': 'set' } },
      valuesSecrets: [{ name: 'lab-vs-1', keys: ['one.yaml', 'two.yaml'] }, { name: 'lab-vs-nokeys' }, { name: 'lab-vs-2', keys: ['three.yaml'] }],
    });
    const { rel, job: j, seconds } = await controllerRun(a.name, before);
    console.log(`# HelmChartConfig change → new revision deployed, Job complete: ${seconds.toFixed(1)} s`);
    const values = j.spec.template.spec.volumes.find((v) => v.name === 'values')!.projected!.sources;
    assert.deepEqual(values.flatMap((s) => (s.secret?.items ?? []).map((i) => `${s.secret!.name}:${i.key}→${i.path}`)), [
      'chart-values-rke2-cilium:HelmChartConfigValuesContent→values-1-000-HelmChartConfig-ValuesContent.yaml',
      'chart-values-rke2-cilium:HelmChartConfigValues→values-1-001-HelmChartConfig-Values.yaml',
      'lab-vs-1:one.yaml→values-1-002-HelmChartConfig-ValuesSecret.yaml',
      'lab-vs-1:two.yaml→values-1-003-HelmChartConfig-ValuesSecret.yaml',
      'lab-vs-2:three.yaml→values-1-004-HelmChartConfig-ValuesSecret.yaml',
    ]);
    assert.equal(env(j, 'FAILURE_POLICY'), 'abort');
    assert.deepEqual(extra(rel), { 'lab-order': 'secret-2-three', 'lab-content': 'set', 'lab-values': 'set', 'lab-secret-1': 'set' });
    assert.equal((rel.config.global as Record<string, string>).clusterCIDR, a.clusterCIDR, 'spec.set overrides every values file');
    const cm = await json<{ data: Record<string, string> }>(a.name, ['get', 'configmap', 'cilium-config', '-n', NS]);
    assert.equal(cm.data['lab-order'], 'secret-2-three', 'the chart rendered the merged values');

    // A listed Secret that changes re-runs the Job.
    await applySecret(a.name, 'lab-vs-2', { 'three.yaml': { extraConfig: { 'lab-order': 'secret-2-three-v2' } } });
    const again = await controllerRun(a.name, env(j, 'CONFIG_HASH'));
    assert.equal(extra(again.rel)['lab-order'], 'secret-2-three-v2');
  });

  it('ignoreUpdates: a missing Secret is optional and its later changes do not re-run the Job; without it a missing Secret blocks the pod', async () => {
    const before = await currentHash(a.name);
    await applyConfig(a.name, {
      failurePolicy: 'abort',
      valuesContent: YAML.stringify({ extraConfig: { 'lab-order': 'content-optional' } }),
      valuesSecrets: [{ name: 'lab-vs-optional', keys: ['x.yaml'], ignoreUpdates: true }],
    });
    const { rel, job: j } = await controllerRun(a.name, before);
    const source = j.spec.template.spec.volumes.find((v) => v.name === 'values')!.projected!.sources.find((s) => s.secret?.name === 'lab-vs-optional');
    assert.equal(source?.secret?.optional, true);
    assert.deepEqual(extra(rel), { 'lab-order': 'content-optional' });
    await applySecret(a.name, 'lab-vs-optional', { 'x.yaml': { extraConfig: { 'lab-order': 'optional-appeared' } } });
    await sleep(10_000);
    const later = await job(a.name);
    assert.equal(env(later!, 'CONFIG_HASH'), env(j, 'CONFIG_HASH'), 'no new Job for an ignoreUpdates Secret');
    assert.equal((await release(a.name)).version, rel.version, 'no new revision');

    // Not optional: the pod cannot start (a kubelet's FailedMount), so no new revision.
    await kubectl(a.name, ['delete', 'secret', 'lab-vs-optional', '-n', NS]);
    await applyConfig(a.name, { failurePolicy: 'abort', valuesSecrets: [{ name: 'lab-vs-optional', keys: ['x.yaml'] }] });
    const blocked = await waitFor('the new Job', 60_000, async () => {
      const nj = await job(a.name);
      return nj && nj.metadata.uid !== later!.metadata.uid ? nj : undefined;
    });
    await sleep(8000);
    assert.equal((await release(a.name)).version, rel.version, 'nothing installed while the Secret is missing');
    assert.equal(blocked.status?.succeeded ?? 0, 0);
    await applySecret(a.name, 'lab-vs-optional', { 'x.yaml': { extraConfig: { 'lab-order': 'mounted-at-last' } } });
    const done = await controllerRun(a.name, env(j, 'CONFIG_HASH'));
    assert.equal(extra(done.rel)['lab-order'], 'mounted-at-last');
  });

  it('--set typing: ints and "true"/"false"/"null" go to --set, other strings to --set-string with commas escaped', async () => {
    const before = await currentHash(a.name);
    const set = { 'labSet.int': 5, 'labSet.bool': 'true', 'labSet.falseish': 'False', 'labSet.numeric': '123', 'labSet.list': 'a,b' };
    await kubectl(a.name, ['patch', 'helmchart', 'rke2-cilium', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { set } })]);
    try {
      const { rel, job: j } = await controllerRun(a.name, before);
      const args = j.spec.template.spec.containers[0]!.args;
      for (const flag of ['--set labSet.int=5', '--set labSet.bool=true', '--set labSet.falseish=False', '--set-string labSet.numeric=123', '--set-string labSet.list=a\\,b']) {
        const [k, v] = flag.split(' ');
        assert.ok(args.some((x, i) => x === k && args[i + 1] === v), `${flag} in ${args.join(' ')}`);
      }
      assert.deepEqual(rel.config.labSet, { int: 5, bool: true, falseish: false, numeric: '123', list: 'a,b' });
    } finally {
      const unset = Object.fromEntries(Object.keys(set).map((k) => [k, null]));
      const now = await currentHash(a.name);
      await kubectl(a.name, ['patch', 'helmchart', 'rke2-cilium', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { set: unset } })]);
      await controllerRun(a.name, now);
    }
  });

  it('failurePolicy abort: a failed upgrade is not uninstalled; the next Job waits for the operator with back-off; a rollback heals', async () => {
    const before = await release(a.name);
    // An annotation key the API server rejects: the upgrade fails when applied, leaving a failed revision.
    await applyConfig(a.name, { failurePolicy: 'abort', values: { podAnnotations: { 'not a valid key!': 'x' } } });
    // Seen with v0.17.9: the failed pod's restart finds revision N+1 ≠ EXPECTED_RELEASE_REVISION N and
    // exits 0; the controller sees the wrong hash and makes a new Job, which meets status failed + abort.
    const waiting = /failure policy is 'abort'; waiting for operator intervention/;
    const pod = await waitFor('a Job pod waiting for the operator', 120_000, async () => {
      const pods = await json<{ items: Pod[] }>(a.name, ['get', 'pods', '-n', NS, '-l', 'job-name=helm-install-rke2-cilium']);
      return pods.items.find((p) => waiting.test(p.status?.containerStatuses?.[0]?.lastState?.terminated?.message ?? ''));
    });
    const cs = pod.status!.containerStatuses![0]!;
    assert.ok(cs.restartCount >= 1, `restarted ${cs.restartCount} times`);
    assert.equal(cs.lastState?.terminated?.exitCode, 1);
    assert.equal(cs.state?.waiting?.reason, 'CrashLoopBackOff');
    const badHash = await currentHash(a.name);
    const rel = await release(a.name);
    assert.equal(rel.version, before.version + 1);
    assert.equal(rel.info.status, 'failed');
    await kubectl(a.name, ['get', 'ds/cilium', '-n', NS]);

    // A fixed HelmChartConfig alone does not help (status failed + abort); the operator rolls back, and
    // the next restart of the Job upgrades from the deployed rollback revision.
    await applyConfig(a.name, { failurePolicy: 'abort', valuesContent: YAML.stringify({ extraConfig: { 'lab-order': 'after-rollback' } }) });
    await sleep(5000);
    assert.equal((await release(a.name)).info.status, 'failed', 'still failed: abort waits for the operator');
    await helm(a.name, ['rollback', 'rke2-cilium', String(before.version), '-n', NS]);
    const healed = await controllerRun(a.name, badHash, 180_000);
    assert.equal(extra(healed.rel)['lab-order'], 'after-rollback');
  });
});
