/**
 * Live benchmarks on the lab (DESIGN.md §10, issue 4), through the built CLI as a user runs it:
 *
 * - `status`: 2 lab clusters with 50 agent pods each (48 workers + 2 control-plane nodes), a formed
 *   mesh; wall time of `meshform status -o json` (every agent pod asked for `cilium-dbg status` and
 *   `cilium-health status`). Goal: 100 agent pods under 10 s.
 * - `apply`: 8 lab clusters in a full mesh; every cluster gets a real change (its server certificate's
 *   extra DNS name), first one cluster at a time (`apply --only`), then all 8 in one `apply`.
 *   Goal: all 8 within 1.5× of the slowest single-cluster apply (parallelism works).
 *
 * - `membership`: 3 lab clusters; the time to add a third cluster to a ready 2-cluster mesh
 *   (`init --add`, `apply` in its two waves, `status --wait`) and to remove one again
 *   (`apply --prune`, `status --wait`), next to forming the 3-cluster mesh from scratch (`apply`,
 *   `status --wait`) in the same run.
 *
 * It brings up its own lab and takes it down; it refuses to run while another lab is up.
 * `node dist/bench/live.bench.js [status] [apply] [membership]` runs a part.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { labPaths } from '../lab/src/paths.js';
import { lockLab, readState } from '../lab/src/lab.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/meshform.js');
const LAB = join(ROOT, 'dist/lab/src/cli.js');
const paths = labPaths();

interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** CPU time the whole machine spent busy so far (all cores, /proc/stat), in ms. */
function machineBusyMs(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) * 10;
}

function sh(cmd: string, args: string[], cwd = ROOT): Timed & { busyMs: number } {
  const b0 = machineBusyMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, KUBECONFIG: paths.kubeconfig }, maxBuffer: 256 * 1024 * 1024 });
  return { ms: performance.now() - t0, busyMs: machineBusyMs() - b0, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * When meshform's own part of an apply was over for every cluster: the last progress line before the
 * wait for RKE2's helm-controller (live checks, diff, dry run and writes done), in ms from the start.
 */
function writesDoneMs(stderr: string): number {
  const at = [...stderr.matchAll(/^\[\s*([\d.]+)s\] \S+: wait: waiting for RKE2/gm)].map((m) => Number(m[1]) * 1000);
  return at.length ? Math.max(...at) : NaN;
}

function must<T extends Timed>(r: T, what: string): T {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return r;
}

const meshform = (dir: string, ...args: string[]) => sh(process.execPath, [BIN, ...args], dir);
const lab = (...args: string[]) => must(sh(process.execPath, [LAB, ...args]), `lab ${args.join(' ')}`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const cores = cpus().length;

/** A formed mesh on the running lab: init → ca init → apply → status --wait. Returns the spec folder. */
function formMesh(clusters: string[]): { dir: string; applyMs: number; waitMs: number } {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-bench-live-'));
  must(meshform(dir, 'init', '--kubeconfig', paths.kubeconfig, ...clusters.flatMap((c) => ['--context', c]), '--name', 'bench', '--out', '.', '--certificates', 'provided'), 'init');
  must(meshform(dir, 'ca', 'init', '--spec', 'mesh.yaml'), 'ca init');
  const a = must(meshform(dir, 'apply', 'mesh.yaml', '--out', 'out', '--timeout', '15m'), 'first apply');
  const w = must(meshform(dir, 'status', 'mesh.yaml', '--wait', '--timeout', '15m'), 'status --wait');
  return { dir, applyMs: a.ms, waitMs: w.ms };
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.floor(a.length / 2)] ?? NaN;
}

function benchStatus(): string[] {
  const workers = 48;
  log(`lab up 2 --workers ${workers}`);
  const up = lab('up', '2', '--workers', String(workers));
  try {
    const { dir } = formMesh(['mesh01', 'mesh02']);
    const runs: number[] = [];
    const busy: number[] = [];
    let pods = 0;
    let ready = false;
    for (let i = 0; i < 3; i++) {
      const r = must(meshform(dir, 'status', 'mesh.yaml', '-o', 'json'), 'status');
      const st = JSON.parse(r.stdout) as { ready: boolean; clusters: Array<{ nodes: unknown[] }> };
      pods = st.clusters.reduce((n, c) => n + c.nodes.length, 0);
      ready = st.ready;
      runs.push(r.ms);
      busy.push(r.busyMs);
      log(`status run ${i + 1}: ${s(r.ms)} for ${pods} agent pods (ready: ${ready})`);
    }
    const m = median(runs);
    return [
      `status: 2 clusters, ${pods} agent pods, mesh ready: ${ready}`,
      `  lab up: ${s(up.ms)}`,
      `  meshform status -o json: median ${s(m)} of ${runs.map(s).join(', ')}  (goal < 10 s: ${m < 10_000 ? 'met' : 'NOT met'})`,
      `  machine CPU busy per run (meshform + both lab clusters on ${cores} cores): ${busy.map(s).join(', ')} of ${runs.map((ms) => s(ms * cores)).join(', ')} available`,
    ];
  } finally {
    lab('down');
  }
}

function setDnsName(dir: string, tag: string): void {
  const file = join(dir, 'mesh.yaml');
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { clusters: Array<Record<string, unknown>> };
  for (const c of doc.clusters) c['tls'] = { extraDnsNames: [`${String(c['name'])}.${tag}.bench.test`] };
  writeFileSync(file, YAML.stringify(doc));
}

function benchApply(): string[] {
  const n = 8;
  const names = Array.from({ length: n }, (_, i) => `mesh${String(i + 1).padStart(2, '0')}`);
  log(`lab up ${n}`);
  const up = lab('up', String(n));
  try {
    const { dir, applyMs } = formMesh(names);
    setDnsName(dir, 'one');
    const single: Array<[string, number]> = [];
    let singleBusy = 0;
    let singleWrites = 0;
    for (const c of names) {
      const r = must(meshform(dir, 'apply', 'mesh.yaml', '--out', 'out', '--only', c, '--timeout', '10m'), `apply --only ${c}`);
      if (!new RegExp(`${c}: changed`).test(r.stdout)) throw new Error(`apply --only ${c} changed nothing:\n${r.stdout}`);
      single.push([c, r.ms]);
      singleBusy += r.busyMs;
      singleWrites = Math.max(singleWrites, writesDoneMs(r.stderr));
      log(`apply --only ${c}: ${s(r.ms)}`);
    }
    setDnsName(dir, 'all');
    const all = must(meshform(dir, 'apply', 'mesh.yaml', '--out', 'out', '--timeout', '10m'), 'apply all');
    const changed = (all.stdout.match(/: changed/g) ?? []).length;
    if (changed !== n) throw new Error(`apply of all ${n} clusters changed ${changed}:\n${all.stdout}`);
    log(`apply of all ${n}: ${s(all.ms)}`);
    const slowest = Math.max(...single.map(([, ms]) => ms));
    const ratio = all.ms / slowest;
    return [
      `apply: ${n} clusters, each with a changed server certificate`,
      `  lab up: ${s(up.ms)}; first apply of the whole mesh: ${s(applyMs)}`,
      `  one cluster at a time: ${single.map(([c, ms]) => `${c} ${s(ms)}`).join(', ')}`,
      `  slowest single ${s(slowest)}, sum ${s(single.reduce((a, [, ms]) => a + ms, 0))}`,
      `  all ${n} in one apply: ${s(all.ms)} = ${ratio.toFixed(2)}× the slowest single  (goal ≤ 1.5×: ${ratio <= 1.5 ? 'met' : 'NOT met'})`,
      `  meshform's own part (live checks, diff, dry run, writes) done for every cluster after: ${s(writesDoneMs(all.stderr))} for all ${n}, ${s(singleWrites)} at most for one`,
      `  machine CPU busy (meshform + ${n} lab clusters incl. their helm-controller upgrades, on ${cores} cores): all ${n} at once ${s(all.busyMs)} of ${s(all.ms * cores)} available; one at a time ${s(singleBusy)} in all`,
    ];
  } finally {
    lab('down');
  }
}

function setClusters(dir: string, keep: (name: string) => boolean): void {
  const file = join(dir, 'mesh.yaml');
  const doc = YAML.parseDocument(readFileSync(file, 'utf8'));
  const list = doc.get('clusters') as YAML.YAMLSeq<YAML.YAMLMap>;
  list.items = list.items.filter((c) => keep(String(c.get('name'))));
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

function benchMembership(): string[] {
  log('lab up 3');
  lab('up', '3');
  try {
    const wait = (dir: string) => must(meshform(dir, 'status', 'mesh.yaml', '--wait', '--timeout', '15m'), 'status --wait');
    // From scratch: all three at once.
    const scratch = formMesh(['mesh01', 'mesh02', 'mesh03']);
    const scratchMs = scratch.applyMs + scratch.waitMs;
    log(`form 3 from scratch: apply ${s(scratch.applyMs)} + status --wait ${s(scratch.waitMs)}`);
    // Take mesh03 out (pruned), so the next step starts from a ready mesh of two.
    setClusters(scratch.dir, (n) => n !== 'mesh03');
    const remove = must(meshform(scratch.dir, 'apply', 'mesh.yaml', '--out', 'out', '--prune', '--timeout', '15m'), 'apply --prune');
    const removeReady = wait(scratch.dir);
    log(`remove mesh03: apply --prune ${s(remove.ms)} + status --wait ${s(removeReady.ms)}`);
    const add = must(meshform(scratch.dir, 'init', '--add', 'mesh.yaml', '--kubeconfig', paths.kubeconfig, '--context', 'mesh03', '--force'), 'init --add');
    const addApply = must(meshform(scratch.dir, 'apply', 'mesh.yaml', '--out', 'out', '--timeout', '15m'), 'apply (add)');
    if (!/wave 1 \(join\): join mesh03/.test(addApply.stderr)) throw new Error(`the add did not run as a join wave:\n${addApply.stderr.slice(-3000)}`);
    const addReady = wait(scratch.dir);
    const addMs = add.ms + addApply.ms + addReady.ms;
    log(`add mesh03: init --add ${s(add.ms)} + apply ${s(addApply.ms)} + status --wait ${s(addReady.ms)}`);
    const removeMs = remove.ms + removeReady.ms;
    return [
      'membership: 3 lab clusters, full mesh',
      `  form the 3-cluster mesh from scratch (apply + status --wait): ${s(scratchMs)}`,
      `  add a third cluster to a ready 2-cluster mesh (init --add + apply in 2 waves + status --wait): ${s(addMs)} = ${(addMs / scratchMs).toFixed(2)}× from scratch`,
      `  remove one (apply --prune: clear it, then the others + status --wait): ${s(removeMs)} = ${(removeMs / scratchMs).toFixed(2)}× from scratch`,
    ];
  } finally {
    lab('down');
  }
}

async function main(): Promise<void> {
  const parts = process.argv.slice(2);
  const want = (p: string) => parts.length === 0 || parts.includes(p);
  if (readState(paths)) throw new Error(`a lab is up (${paths.stateFile}); the live benchmark brings up its own: run \`npm run lab -- down\` first`);
  const release = await lockLab('bench/live');
  const lines: string[] = [];
  try {
    if (want('status')) lines.push(...benchStatus());
    if (want('apply')) lines.push(...benchApply());
    if (want('membership')) lines.push(...benchMembership());
  } finally {
    release();
  }
  process.stdout.write(`\nlive benchmarks (lab on this machine: ${cores} cores)\n${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] ${err instanceof Error ? err.message : String(err)}\n`);
  try {
    lab('down');
  } catch {
    // already down
  }
  process.exit(1);
});
