/**
 * cilium-cli v0.18.4 (built by lab/build-tools.sh) on the lab, as its Cluster Mesh docs tell an RKE2
 * user, and the RKE2 steps it needs but does not do itself. Shared by test/live/cilium-cli.test.ts and
 * bench/side-by-side.bench.ts. Every step runs a real command; nothing here answers for cilium-cli.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { labPaths } from '../../lab/src/paths.js';
import { run, sleep, type RunResult } from '../../lab/src/proc.js';
import { requireTool } from './tools.js';

const paths = labPaths();
const NS = 'kube-system';
/** RKE2's release name; cilium-cli's default is `cilium` (REAL-COMPONENTS "cilium-cli on RKE2"). */
export const RKE2_RELEASE = 'rke2-cilium';

export interface Timed extends RunResult {
  ms: number;
}

async function timed(cmd: string, args: string[], timeoutMs: number, input?: string): Promise<Timed> {
  const t0 = performance.now();
  const r = await run(cmd, args, { env: { ...process.env, KUBECONFIG: paths.kubeconfig }, allowFail: true, timeoutMs, input });
  return { ...r, ms: performance.now() - t0 };
}

/** `cilium <args> --context <ctx> --helm-release-name rke2-cilium`; never throws (see `.code`). */
export function cilium(context: string, args: string[], timeoutMs = 5 * 60_000): Promise<Timed> {
  return timed(requireTool(paths.ciliumCli), [...args, '--context', context, '--helm-release-name', RKE2_RELEASE], timeoutMs);
}

export function kubectl(context: string, args: string[], input?: string): Promise<Timed> {
  return timed(paths.binary('kubectl'), ['--context', context, ...args], 120_000, input);
}

export function helm(context: string, args: string[]): Promise<Timed> {
  return timed(paths.binary('helm'), ['--kube-context', context, ...args], 180_000);
}

export function must(r: Timed, what: string): Timed {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** The user-supplied values of the rke2-cilium release (`helm get values -o json`). */
export async function releaseValues(context: string): Promise<Record<string, unknown>> {
  const r = must(await helm(context, ['get', 'values', RKE2_RELEASE, '-n', NS, '-o', 'json']), 'helm get values');
  return (JSON.parse(r.stdout || '{}') ?? {}) as Record<string, unknown>;
}

/** `clustermesh.config.clusters` of the release's values (what `connect` adds), [] when none. */
export async function meshPeers(context: string): Promise<string[]> {
  const v = (await releaseValues(context)) as { clustermesh?: { config?: { clusters?: Array<{ name?: string }> } } };
  return (v.clustermesh?.config?.clusters ?? []).map((c) => String(c.name));
}

/**
 * Waits until the deployed release's values satisfy `pred` (a helm-controller run that read the
 * current HelmChart/HelmChartConfig is done). Content, not revision numbers: runs for several quick
 * changes may be folded into one.
 */
export async function waitValues(context: string, what: string, pred: (v: Record<string, unknown>) => boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await helm(context, ['status', RKE2_RELEASE, '-n', NS, '-o', 'json']);
    if (st.code === 0 && (JSON.parse(st.stdout) as { info: { status: string } }).info.status === 'deployed' && pred(await releaseValues(context))) return;
    if (Date.now() > deadline) throw new Error(`${context}: release ${RKE2_RELEASE} not ${what} after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/**
 * The next helm-controller run, as an RKE2 upgrade or restart causes it: a change of HelmChart
 * kube-system/rke2-cilium's spec (a `set` entry the chart ignores); done when the release has it.
 */
export async function nextHelmControllerRun(context: string, tag: string): Promise<void> {
  const patch = JSON.stringify({ spec: { set: { meshformLabRun: tag } } });
  must(await kubectl(context, ['patch', 'helmchart', RKE2_RELEASE, '-n', NS, '--type', 'merge', '-p', patch]), 'patch HelmChart');
  await waitValues(context, `upgraded with meshformLabRun=${tag}`, (v) => v['meshformLabRun'] === tag);
}

/**
 * RKE2 prerequisite of cilium-cli's Cluster Mesh: a unique cluster name and ID, which on RKE2 go into
 * HelmChartConfig kube-system/rke2-cilium (cilium-cli never sets them), then the helm-controller's run.
 */
export async function setClusterIdentity(context: string, id: number): Promise<Timed> {
  const t0 = performance.now();
  const hcc = {
    apiVersion: 'helm.cattle.io/v1',
    kind: 'HelmChartConfig',
    metadata: { name: RKE2_RELEASE, namespace: NS },
    spec: { valuesContent: YAML.stringify({ cluster: { name: context, id } }) },
  };
  const r = must(await kubectl(context, ['apply', '-f', '-'], JSON.stringify(hcc)), 'apply HelmChartConfig');
  await waitValues(context, `upgraded with cluster ${context}/${id}`, (v) => {
    const c = v['cluster'] as { name?: string; id?: number } | undefined;
    return c?.name === context && c.id === id;
  });
  return { ...r, ms: performance.now() - t0 };
}

/**
 * The shared CA Cilium's docs require: Secret kube-system/cilium-ca of `from` (which exists once
 * `enable` ran there) copied into `to` before `enable` there, so the chart reuses it (its lookup).
 */
export async function copyCiliumCa(from: string, to: string): Promise<Timed> {
  const t0 = performance.now();
  const src = JSON.parse(must(await kubectl(from, ['get', 'secret', 'cilium-ca', '-n', NS, '-o', 'json']), 'get cilium-ca').stdout) as {
    data: Record<string, string>;
    type?: string;
    metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  };
  // As `kubectl get secret -o yaml | kubectl apply` carries them: the Helm ownership labels and
  // annotations name release rke2-cilium in kube-system on both clusters, so the release adopts it.
  const annotations = Object.fromEntries(Object.entries(src.metadata.annotations ?? {}).filter(([k]) => k.startsWith('meta.helm.sh/')));
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'cilium-ca', namespace: NS, labels: src.metadata.labels, annotations },
    type: src.type ?? 'Opaque',
    data: src.data,
  };
  const r = must(await kubectl(to, ['apply', '--server-side', '--force-conflicts', '--field-manager', 'rke2-user', '-f', '-'], JSON.stringify(secret)), 'copy cilium-ca');
  return { ...r, ms: performance.now() - t0 };
}

/**
 * What `cilium clustermesh enable --service-type NodePort` upgrades the release with
 * (generateEnableHelmValues in cilium-cli/clustermesh/clustermesh.go, cilium v1.18.0-pre.3), except
 * `tls.auto.method`: enable always sets `cronJob`, whose certgen Job cannot run here
 * (github.com/cilium/certgen is refused by the proxy for every version tried), so this is `helm`.
 */
export const ENABLE_VALUES_HELM_METHOD = {
  clustermesh: {
    useAPIServer: true,
    apiserver: {
      service: { type: 'NodePort' },
      tls: { auto: { enabled: true, method: 'helm', schedule: '0 0 1 */4 *' } },
    },
  },
};

const valuesDir = mkdtempSync(join(tmpdir(), 'meshform-cilium-cli-'));

/**
 * `cilium clustermesh enable` as cilium-cli runs it (a `helm upgrade --reuse-values` of the release),
 * then the same upgrade with `tls.auto.method: helm` (ENABLE_VALUES_HELM_METHOD) so that the
 * certificates exist here. Returns both commands; `enable` itself may fail on a chart that rejects
 * `cronJob` (the lab's stand-in chart does): its output is kept for the report.
 */
export async function enable(context: string, chartDir: string): Promise<{ enable: Timed; helmMethod: Timed }> {
  const en = await cilium(context, ['clustermesh', 'enable', '--service-type', 'NodePort']);
  const file = join(valuesDir, `${context}-enable.yaml`);
  writeFileSync(file, YAML.stringify(ENABLE_VALUES_HELM_METHOD));
  const hm = must(await helm(context, ['upgrade', RKE2_RELEASE, chartDir, '-n', NS, '--reuse-values', '-f', file]), 'helm upgrade (enable values, tls.auto.method=helm)');
  return { enable: en, helmMethod: hm };
}

/** The clustermesh-apiserver NodePort of a cluster and its first worker's InternalIP (its endpoint). */
export async function workerEndpoint(context: string): Promise<string> {
  const svc = JSON.parse(must(await kubectl(context, ['get', 'svc', 'clustermesh-apiserver', '-n', NS, '-o', 'json']), 'get svc').stdout) as {
    spec: { ports: Array<{ nodePort?: number }> };
  };
  const nodes = JSON.parse(
    must(await kubectl(context, ['get', 'nodes', '-l', '!node-role.kubernetes.io/control-plane', '-o', 'json']), 'get nodes').stdout,
  ) as { items: Array<{ status: { addresses: Array<{ type: string; address: string }> } }> };
  const ip = nodes.items[0]?.status.addresses.find((a) => a.type === 'InternalIP')?.address;
  if (!ip || !svc.spec.ports[0]?.nodePort) throw new Error(`${context}: no worker InternalIP or clustermesh-apiserver NodePort`);
  return `${ip}:${svc.spec.ports[0].nodePort}`;
}

/**
 * `cilium clustermesh connect` from `a` to `b` (bidirectional, the default). For NodePort cilium-cli
 * dials the first listed node's IP, a control-plane node here (and on RKE2); the docs' flags
 * `--source-endpoint`/`--destination-endpoint` name a worker instead.
 */
export async function connect(a: string, b: string): Promise<Timed> {
  const [src, dst] = await Promise.all([workerEndpoint(a), workerEndpoint(b)]);
  return cilium(a, ['clustermesh', 'connect', '--destination-context', b, '--source-endpoint', src, '--destination-endpoint', dst]);
}

/** Undoes `nextHelmControllerRun`'s marker (itself one more helm-controller run). */
export async function removeLabRunMarker(context: string): Promise<void> {
  const patch = JSON.stringify([{ op: 'remove', path: '/spec/set/meshformLabRun' }]);
  must(await kubectl(context, ['patch', 'helmchart', RKE2_RELEASE, '-n', NS, '--type', 'json', '-p', patch]), 'patch HelmChart');
  await waitValues(context, 'upgraded without meshformLabRun', (v) => !('meshformLabRun' in v));
}

/**
 * Back to RKE2's own install of rke2-cilium: no HelmChartConfig, none of meshform's Secrets (field
 * manager `meshform`, not owned by the release), and a helm-controller run from the HelmChart alone,
 * which drops whatever a bare `helm upgrade` (cilium-cli's) had added.
 */
export async function resetToRke2Install(context: string): Promise<void> {
  must(await kubectl(context, ['delete', 'helmchartconfig', RKE2_RELEASE, '-n', NS, '--ignore-not-found', '--wait']), 'delete HelmChartConfig');
  // kubectl hides managedFields unless asked (--show-managed-fields).
  const secrets = JSON.parse(must(await kubectl(context, ['get', 'secrets', '-n', NS, '-o', 'json', '--show-managed-fields']), 'get secrets').stdout) as {
    items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: Array<{ manager?: string }> } }>;
  };
  const mine = secrets.items
    // meshform's: labelled so (helm cannot own a Secret whose managed-by is not Helm, even one that
    // still carries the release annotations of a chart that made it before meshform took it over:
    // an adopted cluster's certificate Secrets), or written by meshform and not helm's.
    .filter((s) => s.metadata.labels?.['app.kubernetes.io/managed-by'] === 'meshform' || (s.metadata.managedFields?.some((f) => f.manager === 'meshform') && !s.metadata.annotations?.['meta.helm.sh/release-name']))
    .map((s) => s.metadata.name);
  if (mine.length) must(await kubectl(context, ['delete', 'secret', '-n', NS, ...mine]), 'delete meshform Secrets');
  // The marker proves a run that read the state above; removing it is one more run.
  await nextHelmControllerRun(context, `reset-${Date.now()}`);
  await removeLabRunMarker(context);
}
