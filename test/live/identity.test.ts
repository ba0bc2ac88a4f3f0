/**
 * On the lab, through the built CLI: the spec's cilium.release is what discover reads (a misspelt
 * one is reported, never replaced by rke2-cilium), and renaming a meshed cluster is refused before
 * any write, with the guided sequence as the fix, also with --allow-identity-change. Needs the lab
 * (`npm run lab -- up`): fails loudly without it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { Facts } from '../../src/kube/facts.js';
import { holdLab, kubectl, paths, requireLab } from '../lab/harness.js';
import { meshform, type Run } from '../cli/helpers.js';

describe('identity and release on the lab, through the CLI', { concurrency: 1 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-identity-'));
  const spec = join(dir, 'mesh.yaml');
  let release: (() => void) | undefined;
  const run = (args: string[]): Run => meshform(args, { cwd: dir, env: { MESHFORM_NOW: new Date().toISOString(), KUBECONFIG: paths.kubeconfig }, timeoutMs: 6 * 60_000 });
  const ok = (args: string[]) => {
    const r = run(args);
    assert.equal(r.code, 0, `meshform ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const text = () => readFileSync(spec, 'utf8');
  const edit = (fn: (d: Record<string, any>) => void) => {
    const d = YAML.parse(text()) as Record<string, any>;
    fn(d);
    writeFileSync(spec, YAML.stringify(d));
  };
  const versions = async () =>
    Promise.all(['mesh01', 'mesh02'].map((c) => kubectl(c, ['get', 'helmchartconfig,secret', '-n', 'kube-system', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}'])));

  before(async () => {
    release = await holdLab('test/live/identity');
    requireLab(2);
    ok(['init', '--kubeconfig', paths.kubeconfig, '--context', 'mesh01', '--context', 'mesh02', '--name', 'identity', '--out', '.', '--certificates', 'provided']);
    ok(['ca', 'init', '--spec', 'mesh.yaml']);
  });
  after(() => release?.());

  it("discover reads the spec's cilium.release: a misspelt one is reported, not replaced by rke2-cilium", () => {
    const good = JSON.parse(ok(['discover', 'mesh.yaml', '-o', 'json']).stdout) as Facts;
    assert.ok(good.clusters['mesh01']?.helmRelease, 'release rke2-cilium read');
    const original = text();
    try {
      edit((d) => {
        d['cilium'] = { ...d['cilium'], release: 'rke2-cilum' };
      });
      const r = run(['discover', 'mesh.yaml', '-o', 'json']);
      const facts = JSON.parse(r.stdout) as Facts;
      for (const c of ['mesh01', 'mesh02']) {
        assert.equal(facts.clusters[c]?.helmRelease, undefined, `${c}: nothing read under another name`);
        assert.equal(facts.clusters[c]?.helmChart, undefined);
        assert.ok(facts.clusters[c]?.warnings?.some((w) => w.includes('no helm release "rke2-cilum" in kube-system')), JSON.stringify(facts.clusters[c]?.warnings));
      }
    } finally {
      writeFileSync(spec, original);
    }
  });

  it('a meshed cluster renamed in the spec: apply refuses before any write, with the guided fix, with or without --allow-identity-change', async () => {
    ok(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m', '--force']);
    const facts = JSON.parse(ok(['discover', 'mesh.yaml', '-o', 'json']).stdout) as Facts;
    assert.deepEqual(facts.clusters['mesh02']?.peers, ['mesh01'], 'mesh02 is meshed');
    const original = text();
    try {
      edit((d) => {
        Object.assign(d['clusters'][1], { name: 'mesh09', id: 9 });
      });
      const before = await versions();
      for (const flags of [[], ['--allow-identity-change']]) {
        const r = run(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '1m', ...flags]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /error CLUSTER_RENAME_MESHED at clusters\[1\]\.name: cluster mesh09: the cluster behind its context runs Cilium as mesh02 \(cluster-id 2\) and is meshed with mesh01/);
        assert.match(r.stderr, /1\. disconnect: keep name mesh02 and id 2 in the spec for now/);
        assert.match(r.stderr, /restart every workload/);
        assert.match(r.stderr, /no cluster was touched/);
      }
      assert.deepEqual(await versions(), before, 'nothing written to either cluster');
    } finally {
      writeFileSync(spec, original);
    }
  });
});
