/**
 * Certificates on the lab, through the built CLI (issue 12): a mesh whose certificates were issued
 * near their expiry (MESHFORM_NOW in the past) shows them as due in `status` and `doctor`; the
 * apply that renews them keeps every link ready (status polled throughout: the longest gap is
 * reported); then a full CA rotation on the 2-cluster mesh, polled the same way. Needs the lab.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdLab, paths, requireLab } from '../lab/harness.js';
import { BIN, meshform } from '../cli/helpers.js';
import { run } from '../../lab/src/proc.js';
import { allLinks, longestGap, startStatusPoller } from './poll.js';

const DAY = 86_400_000;
const REAL_NOW = new Date();
/** Certificates issued "then" (validity 365 days) have 20 days left now: inside the 30-day window. */
const THEN = new Date(REAL_NOW.getTime() - 345 * DAY).toISOString();

describe('certificates on the lab: expiry shown, renewal without a gap, CA rotation', { concurrency: 1 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-certs-'));
  let release: (() => void) | undefined;
  const cli = (args: string[], now = REAL_NOW.toISOString()) => meshform(args, { cwd: dir, env: { MESHFORM_NOW: now, KUBECONFIG: paths.kubeconfig }, timeoutMs: 8 * 60_000 });
  const ok = (args: string[], now?: string) => {
    const r = cli(args, now);
    assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const runAsync = (args: string[]) =>
    run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, MESHFORM_NOW: REAL_NOW.toISOString(), KUBECONFIG: paths.kubeconfig }, allowFail: true, timeoutMs: 20 * 60_000 });

  before(async () => {
    release = await holdLab('test/live/certificates');
    requireLab(2);
  });
  after(() => release?.());

  it('a mesh whose certificates were issued 345 days ago (validity 365): status and doctor show them due', () => {
    ok(['init', '--kubeconfig', paths.kubeconfig, '--context', 'mesh01', '--context', 'mesh02', '--name', 'certs', '--out', '.', '--certificates', 'provided']);
    ok(['ca', 'init', '--spec', 'mesh.yaml'], new Date(REAL_NOW.getTime() - 400 * DAY).toISOString());
    // validityDays 365 (Cilium 1.20's default), issued "then".
    const spec = join(dir, 'mesh.yaml');
    const text = readFileSync(spec, 'utf8');
    writeFileSync(spec, text.replace(/certificates:\n {2}method: provided\n/, 'certificates:\n  method: provided\n  validityDays: 365\n'));
    ok(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m'], THEN);
    ok(['status', 'mesh.yaml', '--wait', '--timeout', '4m']);
    const st = JSON.parse(ok(['status', 'mesh.yaml', '-o', 'json']).stdout) as { certificates: { cluster: string; certs: { role: string; state: string; daysLeft: number }[] }[] };
    for (const c of st.certificates) {
      const leaves = c.certs.filter((x) => x.role !== 'ca');
      assert.ok(leaves.length >= 3, `${c.cluster}: the clustermesh certificates are shown (${JSON.stringify(c.certs)})`);
      for (const x of leaves) {
        assert.equal(x.state, 'due', `${c.cluster} ${x.role}`);
        assert.ok(x.daysLeft >= 18 && x.daysLeft <= 20, `${c.cluster} ${x.role}: ${x.daysLeft} days left`);
      }
    }
    const table = ok(['status', 'mesh.yaml']).stdout;
    assert.match(table, /certificates needing action \(meshform doctor for the fix\):\n {2}mesh01: server certificate due: expires in (18|19|20) day\(s\)/);
    const doc = cli(['doctor', 'mesh.yaml', '--no-probe']);
    assert.equal(doc.code, 0, 'due certificates are a warning: doctor stays healthy\n' + doc.stdout);
    assert.match(doc.stdout, /\[CERT_DUE\]/);
  });

  it('apply renews them; every link stays ready (status polled throughout)', async () => {
    const log = join(dir, 'renew-polls.jsonl');
    const poller = startStatusPoller(dir, log, { MESHFORM_NOW: REAL_NOW.toISOString(), KUBECONFIG: paths.kubeconfig });
    let r;
    try {
      await new Promise((res) => setTimeout(res, 2500));
      r = await runAsync(['apply', 'mesh.yaml', '--out', 'out', '--timeout', '4m']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal((await runAsync(['status', 'mesh.yaml', '--wait', '--timeout', '4m'])).code, 0);
    } finally {
      poller.stop();
    }
    const gap = longestGap(poller.samples(), allLinks(['mesh01', 'mesh02']));
    console.log(`# renewal, 2 clusters: ${gap.samples} status polls; longest unready gap: ${(gap.ms / 1000).toFixed(1)} s${gap.link ? ` (${gap.link})` : ''}`);
    const st = JSON.parse(ok(['status', 'mesh.yaml', '-o', 'json']).stdout) as { certificates: { certs: { role: string; state: string }[] }[] };
    for (const c of st.certificates) for (const x of c.certs) assert.equal(x.state, 'ok', JSON.stringify(x));
  });

  it('ca rotate on the 2-cluster mesh: three phases, every link polled', async () => {
    ok(['ca', 'init', 'newca', '--cn', 'Second CA']);
    const log = join(dir, 'rotation-polls.jsonl');
    const poller = startStatusPoller(dir, log, { MESHFORM_NOW: REAL_NOW.toISOString(), KUBECONFIG: paths.kubeconfig });
    let r;
    try {
      await new Promise((res) => setTimeout(res, 2500));
      r = await runAsync(['ca', 'rotate', 'mesh.yaml', '--new-ca', 'newca', '--out', 'out', '--timeout', '4m', '--gate-timeout', '4m']);
    } finally {
      poller.stop();
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /phase 1\/3 trust-new done[\s\S]*phase 2\/3 reissue done[\s\S]*phase 3\/3 drop-old done/);
    const gap = longestGap(poller.samples(), allLinks(['mesh01', 'mesh02']));
    console.log(`# CA rotation, 2 clusters: ${gap.samples} status polls; longest unready gap: ${(gap.ms / 1000).toFixed(1)} s${gap.link ? ` (${gap.link})` : ''}`);
    const st = JSON.parse(ok(['status', 'mesh.yaml', '-o', 'json']).stdout) as { ready: boolean; certificates: { cluster: string; certs: { role: string; state: string; issuer: string }[] }[] };
    assert.equal(st.ready, true);
    for (const c of st.certificates) for (const x of c.certs) assert.deepEqual([x.role, x.state, x.issuer], [x.role, 'ok', 'CN=Second CA']);
  });
});
