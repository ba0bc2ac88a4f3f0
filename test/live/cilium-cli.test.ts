/**
 * cilium-cli v0.18.4 (the real binary, lab/build-tools.sh) on the lab: first its own mesh as its docs
 * tell an RKE2 user (cluster name/ID through a HelmChartConfig, the shared cilium-ca copied, `enable`,
 * `connect`, `status --wait`) and what RKE2's helm-controller does to it on its next run; then
 * `cilium clustermesh status` on a mesh meshform formed. Needs the lab (`npm run lab -- up`) and the
 * built cilium-cli: fails loudly without either.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdLab, paths, requireLab } from '../lab/harness.js';
import { meshform } from '../cli/helpers.js';
import { requireTool } from '../tools/tools.js';
import {
  cilium,
  connect,
  copyCiliumCa,
  enable,
  kubectl,
  meshPeers,
  must,
  nextHelmControllerRun,
  releaseValues,
  removeLabRunMarker,
  resetToRke2Install,
  setClusterIdentity,
} from '../tools/cilium-cli-flow.js';

const CLUSTERS = ['mesh01', 'mesh02'] as const;

describe('cilium-cli v0.18.4 on the lab (helm mode, --helm-release-name rke2-cilium)', { concurrency: 1 }, () => {
  let release: (() => void) | undefined;
  before(async () => {
    release = await holdLab('test/live/cilium-cli');
    requireLab(2);
    requireTool(paths.ciliumCli);
  });
  after(async () => {
    // Leave the lab as RKE2 installed it (no HelmChartConfig, none of meshform's Secrets) for the next suite.
    try {
      await Promise.all(CLUSTERS.map((c) => resetToRke2Install(c)));
    } finally {
      release?.();
    }
  });

  describe('its own mesh, the RKE2 way, and the next helm-controller run', () => {
    before(async () => {
      // Whatever an earlier suite left (meshform's HelmChartConfig): back to RKE2's own install.
      await Promise.all(CLUSTERS.map((c) => resetToRke2Install(c)));
    });

    it('RKE2 prerequisites, then enable, connect and status --wait: every node connected', async () => {
      await Promise.all(CLUSTERS.map((c, i) => setClusterIdentity(c, i + 1)));
      await enable('mesh01', paths.chartPackage);
      await copyCiliumCa('mesh01', 'mesh02');
      await enable('mesh02', paths.chartPackage);
      must(await connect('mesh01', 'mesh02'), 'cilium clustermesh connect');
      assert.deepEqual(await meshPeers('mesh01'), ['mesh02']);
      assert.deepEqual(await meshPeers('mesh02'), ['mesh01']);
      for (const c of CLUSTERS) {
        const s = must(await cilium(c, ['clustermesh', 'status', '--wait', '--wait-duration', '3m']), `cilium clustermesh status --wait (${c})`);
        assert.match(s.stdout, /All \d+ nodes are connected to all clusters/, s.stdout);
      }
    });

    it('the next helm-controller run drops what connect and enable added; status then finds no mesh', async () => {
      await nextHelmControllerRun('mesh01', 'cilium-cli-test');
      const values = (await releaseValues('mesh01')) as { clustermesh?: Record<string, unknown>; cluster?: { name?: string } };
      assert.equal(values.cluster?.name, 'mesh01', 'the HelmChartConfig values stay');
      assert.equal(values.clustermesh, undefined, 'enable/connect values (helm upgrade --reuse-values) are gone');
      const gone = await kubectl('mesh01', ['get', 'deploy', 'clustermesh-apiserver', '-n', 'kube-system', '--ignore-not-found', '-o', 'name']);
      assert.equal(gone.stdout.trim(), '', 'the clustermesh-apiserver Deployment is removed with them');
      const s = await cilium('mesh01', ['clustermesh', 'status']);
      process.stderr.write(`cilium clustermesh status after the helm-controller run: exit ${s.code}\n${s.stdout}${s.stderr}\n`);
      // What cilium-cli v0.18.4 says then. With the upstream chart the helm-controller run removes the
      // clustermesh-apiserver Service too: exit 1, "unable to get clustermesh service" (seen on the real
      // lab, 2026-12-04). With the Service left (the earlier stand-in chart) it was exit 0 and
      // "🔌 No cluster connected": a false green. Either way no mesh is reported connected.
      assert.doesNotMatch(s.stdout, /All \d+ nodes are connected to all clusters/);
      if (s.code === 0) assert.match(s.stdout, /No cluster connected/);
      else assert.match(s.stdout + s.stderr, /unable to get clustermesh service "clustermesh-apiserver": services "clustermesh-apiserver" not found/);
      await removeLabRunMarker('mesh01');
    });
  });

  describe('cilium clustermesh status on a mesh meshform formed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshform-cilium-cli-'));
    const run = (args: string[]) => meshform(args, { cwd: dir, env: { MESHFORM_NOW: new Date().toISOString(), KUBECONFIG: paths.kubeconfig }, timeoutMs: 6 * 60_000 });

    before(async () => {
      await Promise.all(CLUSTERS.map((c) => resetToRke2Install(c)));
      for (const args of [
        ['init', '--kubeconfig', paths.kubeconfig, ...CLUSTERS.flatMap((c) => ['--context', c]), '--name', 'clicompare', '--out', '.', '--certificates', 'provided'],
        ['ca', 'init', '--spec', 'mesh.yaml'],
        ['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m'],
        ['status', 'mesh.yaml', '--wait', '--timeout', '4m'],
      ]) {
        const r = run(args);
        assert.equal(r.code, 0, `meshform ${args[0]}: ${r.stdout}${r.stderr}`);
      }
    });

    for (const c of CLUSTERS) {
      it(`${c}: cilium-cli sees the peer connected on every node`, async () => {
        const s = must(await cilium(c, ['clustermesh', 'status', '--wait', '--wait-duration', '2m']), `cilium clustermesh status (${c})`);
        assert.match(s.stdout, /All \d+ nodes are connected to all clusters/, s.stdout);
        assert.match(s.stdout, new RegExp(`${c === 'mesh01' ? 'mesh02' : 'mesh01'}`), s.stdout);
      });
    }
  });
});
