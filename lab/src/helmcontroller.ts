/**
 * A small stand-in for RKE2's helm-controller, run by the endpoints daemon for each lab cluster:
 * when HelmChart kube-system/rke2-cilium, HelmChartConfig kube-system/rke2-cilium or a Secret they
 * name in `valuesSecrets` changes, it re-installs the release with the real helm from those objects
 * ONLY, as the helm-controller's job does: values a bare `helm upgrade` added by hand are dropped
 * (DESIGN.md §4, RKE2 and Rancher). It reports in HelmChart `.status` like the real controller.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { run } from './proc.js';

const NS = 'kube-system';
const NAME = 'rke2-cilium';

interface ValuesSecretRef {
  name?: string;
  keys?: string[];
  ignoreUpdates?: boolean;
}

interface ChartSpec {
  chart?: string;
  version?: string;
  targetNamespace?: string;
  set?: Record<string, string | number>;
  valuesContent?: string;
  valuesSecrets?: ValuesSecretRef[];
  failurePolicy?: string;
}

export interface HelmControllerDeps {
  kubeconfig: string;
  context: string;
  helm: string;
  kubectl: string;
  chartDir: string;
  workDir: string;
}

export class HelmController {
  private applied: string | undefined;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly chartVersion: string;

  constructor(private readonly d: HelmControllerDeps) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(d.kubeconfig);
    kc.setCurrentContext(d.context);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.chartVersion = String((YAML.parse(readFileSync(join(d.chartDir, 'Chart.yaml'), 'utf8')) as { version: string }).version);
    mkdirSync(d.workDir, { recursive: true, mode: 0o700 });
  }

  private async get(plural: string): Promise<{ spec?: ChartSpec } | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: 'helm.cattle.io', version: 'v1', namespace: NS, plural, name: NAME })) as { spec?: ChartSpec };
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  private async secretValues(refs: ValuesSecretRef[] | undefined): Promise<string[]> {
    const out: string[] = [];
    for (const ref of refs ?? []) {
      if (!ref.name) continue;
      const s = await this.core.readNamespacedSecret({ name: ref.name, namespace: NS });
      for (const key of ref.keys ?? Object.keys(s.data ?? {}).sort()) {
        const v = s.data?.[key];
        if (v === undefined) throw new Error(`secret ${NS}/${ref.name} has no key ${key}`);
        out.push(Buffer.from(v, 'base64').toString('utf8'));
      }
    }
    return out;
  }

  /** The values files and --set flags the helm-controller job would run with. */
  private async desired(): Promise<{ files: string[]; sets: string[]; spec: ChartSpec } | undefined> {
    const chart = await this.get('helmcharts');
    if (!chart?.spec) return undefined;
    const config = await this.get('helmchartconfigs');
    const files: string[] = [];
    if (chart.spec.valuesContent) files.push(chart.spec.valuesContent);
    files.push(...(await this.secretValues(chart.spec.valuesSecrets)));
    if (config?.spec?.valuesContent) files.push(config.spec.valuesContent);
    files.push(...(await this.secretValues(config?.spec?.valuesSecrets)));
    const sets = Object.entries(chart.spec.set ?? {})
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([k, v]) => (typeof v === 'string' ? `--set-string=${k}=${v}` : `--set=${k}=${v}`));
    const failurePolicy = config?.spec?.failurePolicy ?? chart.spec.failurePolicy ?? 'reinstall';
    return { files, sets, spec: { ...chart.spec, failurePolicy } };
  }

  private hash(d: { files: string[]; sets: string[]; spec: ChartSpec }): string {
    return createHash('sha256').update(JSON.stringify([d.files, d.sets, d.spec.version, d.spec.failurePolicy])).digest('hex');
  }

  /** Records what `up` installed as applied, so only later changes re-install. */
  async baseline(): Promise<void> {
    const d = await this.desired();
    this.applied = d ? this.hash(d) : '';
  }

  /** Re-installs when the inputs changed since the last run. Returns what happened, if anything. */
  async reconcile(): Promise<string | undefined> {
    const d = await this.desired();
    if (!d) return undefined;
    const h = this.hash(d);
    if (h === this.applied) return undefined;
    this.applied = h;
    const args: string[] = [];
    d.files.forEach((content, i) => {
      const f = join(this.d.workDir, `values-${String(i).padStart(2, '0')}.yaml`);
      writeFileSync(f, content, { mode: 0o600 });
      args.push('--values', f);
    });
    const conn = ['--kubeconfig', this.d.kubeconfig, '--kube-context', this.d.context];
    let result: string;
    if (d.spec.version && d.spec.version !== this.chartVersion) {
      result = `Error: chart "${NAME}" version "${d.spec.version}" not found (the lab has ${this.chartVersion})`;
    } else {
      const r = await run(this.d.helm, [...conn, 'upgrade', '--install', NAME, this.d.chartDir, '-n', d.spec.targetNamespace ?? NS, ...args, ...d.sets], { allowFail: true, timeoutMs: 120_000 });
      if (r.code === 0) result = '';
      else if (d.spec.failurePolicy === 'abort') result = r.stderr.trim();
      else {
        // reinstall: what the real controller does on a failed upgrade, and why `abort` is the safe choice for a CNI
        await run(this.d.helm, [...conn, 'uninstall', NAME, '-n', NS], { allowFail: true, timeoutMs: 120_000 });
        const again = await run(this.d.helm, [...conn, 'install', NAME, this.d.chartDir, '-n', NS, ...args, ...d.sets], { allowFail: true, timeoutMs: 120_000 });
        result = again.code === 0 ? '' : again.stderr.trim();
      }
    }
    const condition = result
      ? { type: 'Failed', status: 'True', reason: 'Error', message: result.slice(0, 1000) }
      : { type: 'Failed', status: 'False', reason: '', message: '' };
    await run(this.d.kubectl, ['--kubeconfig', this.d.kubeconfig, '--context', this.d.context, 'patch', 'helmchart', NAME, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { jobName: `helm-install-${NAME}`, conditions: [condition] } })], { allowFail: true });
    return result ? `helm-install-${NAME} failed: ${result}` : `helm-install-${NAME} applied HelmChart + HelmChartConfig`;
  }
}
