/**
 * The user's journey on the lab, through the built CLI only: init → ca init → validate → render →
 * apply → status --wait, then a second apply that changes nothing, doctor on a healthy mesh, and a
 * fault (a different CA on one cluster) that doctor must name. Needs the lab (`npm run lab -- up`):
 * fails loudly without it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdLab, paths, requireLab } from '../lab/harness.js';
import { syncEndpoints } from '../../lab/src/lab.js';
import { meshform } from '../cli/helpers.js';

const NOW = new Date().toISOString();

describe('the CLI on the lab: init → ca init → render → apply → status --wait', { concurrency: 1 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-e2e-'));
  const spec = join(dir, 'mesh.yaml');
  let release: (() => void) | undefined;
  const run = (args: string[]) => {
    // Live commands wait for rollouts (--timeout 4m): the runner's own limit must be longer.
    const r = meshform(args, { cwd: dir, env: { MESHFORM_NOW: NOW, KUBECONFIG: paths.kubeconfig }, timeoutMs: 6 * 60_000 });
    return r;
  };

  before(async () => {
    release = await holdLab('test/live/cli-e2e');
    requireLab(2);
  });
  after(() => release?.());

  it('init writes mesh.yaml and the values files from the live clusters', () => {
    const r = run(['init', '--kubeconfig', paths.kubeconfig, '--context', 'mesh01', '--context', 'mesh02', '--name', 'lab', '--out', '.', '--certificates', 'provided']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const text = readFileSync(spec, 'utf8');
    assert.match(text, /name: mesh01/);
    assert.match(text, /name: mesh02/);
    const again = run(['init', '--kubeconfig', paths.kubeconfig, '--context', 'mesh01', '--context', 'mesh02', '--out', '.']);
    assert.equal(again.code, 2, 'init never overwrites mesh.yaml without --force');
  });

  it('ca init, validate and render', () => {
    assert.equal(run(['ca', 'init', '--spec', 'mesh.yaml']).code, 0);
    const v = run(['validate', 'mesh.yaml']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const r = run(['render', 'mesh.yaml', '--out', 'out']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('discover --save gives a facts file that validate --facts accepts', () => {
    const d = run(['discover', 'mesh.yaml', '--save', 'facts.yaml']);
    assert.equal(d.code, 0, d.stderr);
    const v = run(['validate', 'mesh.yaml', '--facts', 'facts.yaml']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('apply changes both clusters, in parallel, and status --wait sees every peer ready on every node', () => {
    const a = run(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /mesh01: changed/);
    assert.match(a.stdout, /mesh02: changed/);
    const s = run(['status', 'mesh.yaml', '--wait', '--timeout', '4m', '-o', 'json']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    const status = JSON.parse(s.stdout) as { ready: boolean };
    assert.equal(status.ready, true);
  });

  it('a second apply reports no change and makes none; diff sees no drift', () => {
    const a = run(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /mesh01: unchanged/);
    assert.match(a.stdout, /mesh02: unchanged/);
    const d = run(['diff', 'mesh.yaml', '--out', 'out']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });

  it('doctor finds nothing wrong on the healthy mesh', () => {
    const d = run(['doctor', 'mesh.yaml']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });

  it('a different CA on one cluster: doctor names the x509 cause; re-applying the right CA heals it', async () => {
    // A copy of the spec whose CA is another one, applied to mesh02 only.
    const other = join(dir, 'other');
    assert.equal(run(['init', '--kubeconfig', paths.kubeconfig, '--context', 'mesh01', '--context', 'mesh02', '--name', 'lab', '--out', 'other', '--certificates', 'provided']).code, 0);
    assert.equal(run(['ca', 'init', '--spec', join(other, 'mesh.yaml')]).code, 0);
    const bad = run(['apply', join(other, 'mesh.yaml'), '--out', join(other, 'out'), '--only', 'mesh02', '--timeout', '4m']);
    assert.equal(bad.code, 0, bad.stdout + bad.stderr);
    // The lab's endpoints follow the clusters' Secrets on their next poll: wait for that, or a first
    // status could still see the old endpoint and report the mesh ready.
    await syncEndpoints();
    const s = run(['status', 'mesh.yaml', '--wait', '--timeout', '40s']);
    assert.equal(s.code, 1, 'the mesh is not ready with two CAs');
    const d = run(['doctor', 'mesh.yaml', '-o', 'json']);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    const report = JSON.parse(d.stdout) as { findings: Array<{ code: string; cause: string }> };
    assert.ok(report.findings.some((f) => f.code === 'CA_MISMATCH'), JSON.stringify(report.findings.map((f) => f.code)));
    const heal = run(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
    assert.equal(heal.code, 0, heal.stdout + heal.stderr);
    assert.equal(run(['status', 'mesh.yaml', '--wait', '--timeout', '4m']).code, 0);
  });
});
