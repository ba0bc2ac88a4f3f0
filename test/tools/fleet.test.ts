/**
 * The real Fleet CLI (v0.12.0, built by lab/build-tools.sh) on meshform's rendered `fleet/` folder of
 * the built-in example (examples/seed): `fleet apply -o -` needs no cluster and prints the Bundle a
 * GitRepo would create; `fleet deploy --dry-run` runs Fleet's own kustomize + helm deployer offline on
 * a BundleDeployment. Fails loudly when the binary is missing.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import YAML from 'yaml';
import { run } from '../../lab/src/proc.js';
import { exampleCopy, meshform } from '../cli/helpers.js';
import { requireTool, toolPaths } from './tools.js';

interface BundleResource {
  name: string;
  content: string;
  encoding?: string;
}
interface BundleTarget {
  name: string;
  clusterName?: string;
  clusterSelector?: Record<string, unknown>;
  doNotDeploy?: boolean;
  kustomize?: { dir?: string };
}
interface Bundle {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: { defaultNamespace?: string; resources?: BundleResource[]; targets?: BundleTarget[] } & Record<string, unknown>;
}

/** The example rendered into a private folder; `rke2Version` (if given) replaces both clusters'. */
async function renderSeed(rke2Version?: string): Promise<string> {
  const dir = await exampleCopy('seed');
  if (rke2Version) {
    const spec = join(dir, 'mesh.yaml');
    const text = await readFile(spec, 'utf8');
    const changed = text.replace(/rke2Version: v1\.27\.14\+rke2r1/g, `rke2Version: ${rke2Version}`);
    assert.notEqual(changed, text, 'the seed example names its clusters\' RKE2 version');
    await writeFile(spec, changed);
  }
  for (const args of [['ca', 'init', '--spec', 'mesh.yaml'], ['render', 'mesh.yaml', '--out', 'out']]) {
    const r = meshform(args, { cwd: dir });
    assert.equal(r.code, 0, `meshform ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  }
  return join(dir, 'out', 'fleet');
}

async function fleetApply(fleetDir: string, name: string): Promise<Bundle> {
  const r = await run(requireTool(toolPaths.fleet), ['apply', '-o', '-', name, '.'], { cwd: fleetDir, timeoutMs: 60_000 });
  const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as Bundle).filter((d) => d?.kind === 'Bundle');
  assert.equal(docs.length, 1, `one Bundle from fleet apply:\n${r.stdout}\n${r.stderr}`);
  return docs[0]!;
}

interface K8sObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** HelmChartConfigs in YAML documents or lists of objects (`fleet deploy --dry-run` prints a list). */
const helmChartConfigs = (yamlText: string) =>
  YAML.parseAllDocuments(yamlText)
    .flatMap((d) => [d.toJS() as K8sObject | K8sObject[] | null].flat())
    .filter((d): d is K8sObject => d?.kind === 'HelmChartConfig');

describe('the real Fleet CLI on the rendered fleet/ folder', () => {
  before(() => requireTool(toolPaths.fleet));

  it('the seed as it is (RKE2 1.27: no valuesSecrets, so no cluster is shipped): Fleet refuses the empty bundle', async () => {
    // meshform writes fleet.yaml with only the doNotDeploy catch-all; the real CLI (v0.12.0) stops
    // with "no resource found at the following paths to deploy" (a GitRepo on it would fail the same).
    const fleetDir = await renderSeed();
    const r = await run(requireTool(toolPaths.fleet), ['apply', '-o', '-', 'meshform-seed', '.'], { cwd: fleetDir, timeoutMs: 60_000, allowFail: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no resource found at the following paths to deploy/);
  });

  describe('the seed on RKE2 1.33 (valuesSecrets): one target per cluster, with its own HelmChartConfig', () => {
    let bundle: Bundle;
    before(async () => {
      bundle = await fleetApply(await renderSeed('v1.33.1+rke2r1'), 'meshform-seed');
    });

    it('targets mesh01 and mesh02 by name, each with its overlay; every other cluster gets nothing', () => {
      assert.deepEqual([bundle.metadata.name, bundle.metadata.namespace, bundle.spec.defaultNamespace], ['meshform-seed', 'fleet-local', 'kube-system']);
      assert.deepEqual(
        bundle.spec.targets?.map((t) => [t.name, t.clusterName, t.kustomize?.dir, t.doNotDeploy]),
        [
          ['mesh01', 'mesh01', 'clusters/mesh01', undefined],
          ['mesh02', 'mesh02', 'clusters/mesh02', undefined],
          ['not-in-mesh', undefined, undefined, true],
        ],
      );
      const names = (bundle.spec.resources ?? []).map((r) => r.name).sort();
      assert.deepEqual(names, [
        'clusters/mesh01/kustomization.yaml',
        'clusters/mesh01/rke2-cilium-config.yaml',
        'clusters/mesh02/kustomization.yaml',
        'clusters/mesh02/rke2-cilium-config.yaml',
      ]);
    });

    for (const cluster of ['mesh01', 'mesh02']) {
      it(`fleet deploy --dry-run for ${cluster} renders exactly its HelmChartConfig, keys in a Secret`, async () => {
        const target = bundle.spec.targets?.find((t) => t.clusterName === cluster);
        assert.ok(target, `a target for ${cluster}`);
        // What Fleet's controller would create for this target (fleet v0.12.0 internal/cmd/cli/target.go):
        // a Content holding the gzipped manifest JSON {"resources": [...]} (internal/manifest/manifest.go),
        // and a BundleDeployment whose options are the Bundle's, with the target's customisation on top.
        const manifest = JSON.stringify({ resources: bundle.spec.resources }) + '\n';
        const sha = createHash('sha256').update(manifest).digest('hex');
        const contentName = `s-${sha}`.slice(0, 63);
        const input = [
          { apiVersion: 'fleet.cattle.io/v1alpha1', kind: 'Content', metadata: { name: contentName }, content: gzipSync(manifest).toString('base64'), sha256sum: sha },
          {
            apiVersion: 'fleet.cattle.io/v1alpha1',
            kind: 'BundleDeployment',
            metadata: { name: `meshform-seed-${cluster}`, namespace: 'cluster-fleet-local-local' },
            spec: {
              deploymentID: `${contentName}:options`,
              options: { defaultNamespace: bundle.spec.defaultNamespace, kustomize: target.kustomize },
            },
          },
        ];
        const dir = join(await exampleCopy('seed'), 'bd.yaml');
        await writeFile(dir, input.map((d) => YAML.stringify(d)).join('---\n'));
        const r = await run(toolPaths.fleet, ['deploy', '--dry-run', '-i', dir], { timeoutMs: 60_000 });
        const hccs = helmChartConfigs(r.stdout);
        assert.equal(hccs.length, 1, r.stdout);
        assert.equal(hccs[0]!.metadata?.name, 'rke2-cilium');
        assert.equal(hccs[0]!.metadata?.namespace, 'kube-system');
        assert.deepEqual(hccs[0]!.spec?.valuesSecrets, [{ name: 'meshform-rke2-cilium-values', keys: ['values.yaml'] }]);
        assert.equal(hccs[0]!.spec?.failurePolicy, 'abort');
        const values = YAML.parse(String(hccs[0]!.spec?.valuesContent ?? '')) as { cluster?: { name?: string } } | null;
        assert.equal(values?.cluster?.name, cluster, 'the HelmChartConfig is this cluster\'s');
        assert.doesNotMatch(r.stdout, /BEGIN [A-Z ]*PRIVATE KEY/, 'no key material in what Fleet deploys');
      });
    }
  });
});
