/**
 * meshform next to cilium-cli v0.18.4 on the lab (issue 9 item 7), each from two fresh clusters:
 *
 * - time to a ready 2-cluster mesh: meshform `init` → `ca init` → `apply` → `status --wait`, against
 *   cilium-cli as its docs tell an RKE2 user: `cilium clustermesh enable` (×2), `connect`,
 *   `status --wait` (×2), all with `--helm-release-name rke2-cilium`, after the RKE2 steps it needs but
 *   does not do (cluster name/ID through a HelmChartConfig, the shared `cilium-ca` copied). cilium-cli's
 *   `enable` always sets `tls.auto.method: cronJob`, whose certgen Job cannot run here
 *   (github.com/cilium/certgen is refused by the proxy): each `enable` is followed by the same
 *   `helm upgrade --reuse-values` with `tls.auto.method: helm`, timed and counted with it;
 * - `status` on the ready mesh (no wait): both verdicts, both times;
 * - the next helm-controller run (a HelmChart spec change, as an RKE2 upgrade makes): does each mesh
 *   survive, and what does each tool's `status` say then.
 *
 * It brings up its own lab (twice) and takes it down; it refuses to run while another lab is up.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labPaths } from '../lab/src/paths.js';
import { lockLab, readState } from '../lab/src/lab.js';
import {
  cilium,
  connect,
  copyCiliumCa,
  enable,
  kubectl,
  meshPeers,
  must,
  nextHelmControllerRun,
  setClusterIdentity,
  type Timed,
} from '../test/tools/cilium-cli-flow.js';
import { requireTool } from '../test/tools/tools.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/meshform.js');
const LAB = join(ROOT, 'dist/lab/src/cli.js');
const paths = labPaths();
const CLUSTERS = ['mesh01', 'mesh02'] as const;

function sh(cmd: string, args: string[], cwd = ROOT): Timed {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, KUBECONFIG: paths.kubeconfig }, maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - t0, code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const meshform = (dir: string, ...args: string[]) => sh(process.execPath, [BIN, ...args], dir);
const lab = (...args: string[]) => must(sh(process.execPath, [LAB, ...args]), `lab ${args.join(' ')}`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const sum = (xs: Timed[]) => xs.reduce((a, r) => a + r.ms, 0);
const CONNECTED = /All \d+ nodes are connected to all clusters/;

interface Side {
  /** Commands to a ready mesh (the tool's own steps). */
  toMesh: Array<[string, number]>;
  /** Steps the tool needs but leaves to the user. */
  prerequisites: Array<[string, number]>;
  status: Array<[string, Timed, string]>;
  afterRun: { survived: boolean; what: string; status: Array<[string, Timed, string]> };
}

/** The first line of the output matching one of `patterns` (in their order), else the first line. */
function firstLine(r: Timed, ...patterns: RegExp[]): string {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const hit = patterns.map((p) => lines.find((l) => p.test(l))).find((l) => l !== undefined);
  return (hit ?? lines[0] ?? '').slice(0, 140);
}

async function ciliumCliSide(): Promise<Side> {
  const prerequisites: Side['prerequisites'] = [];
  const toMesh: Side['toMesh'] = [];
  const t0 = performance.now();
  await Promise.all(CLUSTERS.map((c, i) => setClusterIdentity(c, i + 1)));
  prerequisites.push(['cluster name/ID via HelmChartConfig + helm-controller run (both, in parallel)', performance.now() - t0]);
  for (const c of CLUSTERS) {
    // The shared CA: mesh01's cilium-ca (made by its enable) copied before mesh02's enable.
    if (c === 'mesh02') prerequisites.push(['copy cilium-ca mesh01 → mesh02 (between the enables)', (await copyCiliumCa('mesh01', 'mesh02')).ms]);
    const e = await enable(c, paths.chartPackage);
    log(`cilium clustermesh enable ${c}: exit ${e.enable.code} ${s(e.enable.ms)}: ${firstLine(e.enable, /^Error/, /rror:/)}`);
    toMesh.push([`cilium clustermesh enable (${c}, exit ${e.enable.code}${e.enable.code ? `: ${firstLine(e.enable, /^Error/, /rror:/)}` : ''})`, e.enable.ms]);
    toMesh.push([`  + helm upgrade --reuse-values, tls.auto.method=helm (${c})`, e.helmMethod.ms]);
  }
  const con = must(await connect('mesh01', 'mesh02'), 'cilium clustermesh connect');
  toMesh.push(['cilium clustermesh connect mesh01 ↔ mesh02', con.ms]);
  for (const c of CLUSTERS) {
    const w = must(await cilium(c, ['clustermesh', 'status', '--wait', '--wait-duration', '5m']), `cilium clustermesh status --wait (${c})`);
    toMesh.push([`cilium clustermesh status --wait (${c})`, w.ms]);
  }
  const status: Side['status'] = [];
  for (const c of CLUSTERS) {
    const r = await cilium(c, ['clustermesh', 'status']);
    status.push([c, r, `exit ${r.code}: ${firstLine(r, CONNECTED, /cluster/i)}`]);
  }
  await Promise.all(CLUSTERS.map((c) => nextHelmControllerRun(c, 'bench')));
  const peers = await Promise.all(CLUSTERS.map((c) => meshPeers(c)));
  const deploy = await kubectl('mesh01', ['get', 'deploy', 'clustermesh-apiserver', '-n', 'kube-system', '--ignore-not-found', '-o', 'name']);
  const after: Side['afterRun']['status'] = [];
  for (const c of CLUSTERS) {
    const r = await cilium(c, ['clustermesh', 'status']);
    after.push([c, r, `exit ${r.code}: ${firstLine(r, CONNECTED, /No cluster connected/, /rror/)}`]);
  }
  const survived = peers.every((p) => p.length === 1) && after.every(([, r]) => r.code === 0 && CONNECTED.test(r.stdout));
  return {
    toMesh,
    prerequisites,
    status,
    afterRun: {
      survived,
      what: `clustermesh.config.clusters after the run: ${CLUSTERS.map((c, i) => `${c} [${peers[i]!.join(', ')}]`).join(', ')}; clustermesh-apiserver Deployment: ${deploy.stdout.trim() ? 'present' : 'removed'}`,
      status: after,
    },
  };
}

async function meshformSide(): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'meshform-bench-sbs-'));
  const step = (what: string, ...args: string[]): [string, number] => [what, must(meshform(dir, ...args), `meshform ${what}`).ms];
  const toMesh: Side['toMesh'] = [
    step('init', 'init', '--kubeconfig', paths.kubeconfig, ...CLUSTERS.flatMap((c) => ['--context', c]), '--name', 'sbs', '--out', '.', '--certificates', 'provided'),
    step('ca init', 'ca', 'init', '--spec', 'mesh.yaml'),
    step('apply (both clusters, incl. the helm-controller and rollout waits)', 'apply', 'mesh.yaml', '--out', 'out', '--timeout', '10m'),
    step('status --wait', 'status', 'mesh.yaml', '--wait', '--timeout', '10m'),
  ];
  const verdict = (r: Timed) => `exit ${r.code}: ${firstLine(r, /ready/i)}`;
  const st = meshform(dir, 'status', 'mesh.yaml');
  const t0 = performance.now();
  await Promise.all(CLUSTERS.map((c) => nextHelmControllerRun(c, 'bench')));
  const runMs = performance.now() - t0;
  const now = meshform(dir, 'status', 'mesh.yaml');
  const again = meshform(dir, 'status', 'mesh.yaml', '--wait', '--timeout', '5m');
  const peers = await Promise.all(CLUSTERS.map((c) => meshPeers(c)));
  return {
    toMesh,
    prerequisites: [],
    status: [['both clusters', st, verdict(st)]],
    afterRun: {
      survived: again.code === 0 && peers.every((p) => p.length === 1),
      what: `clustermesh.config.clusters after the run: ${CLUSTERS.map((c, i) => `${c} [${peers[i]!.join(', ')}]`).join(', ')} (the runs took ${s(runMs)})`,
      status: [
        ['right after', now, verdict(now)],
        ['--wait', again, verdict(again)],
      ],
    },
  };
}

function report(name: string, side: Side): string[] {
  const total = side.toMesh.reduce((a, [, ms]) => a + ms, 0);
  const pre = side.prerequisites.reduce((a, [, ms]) => a + ms, 0);
  return [
    `${name}: ready 2-cluster mesh after ${s(total)} of its commands${pre ? ` (+ ${s(pre)} of RKE2 prerequisites it leaves to the user)` : ''}`,
    ...side.prerequisites.map(([w, ms]) => `    prerequisite: ${w}: ${s(ms)}`),
    ...side.toMesh.map(([w, ms]) => `    ${w}: ${s(ms)}`),
    ...side.status.map(([c, r, v]) => `  status on the ready mesh (${c}): ${s(r.ms)}, ${v}`),
    `  after the next helm-controller run: mesh ${side.afterRun.survived ? 'SURVIVED' : 'GONE'}; ${side.afterRun.what}`,
    ...side.afterRun.status.map(([c, r, v]) => `    status (${c}): ${s(r.ms)}, ${v}`),
  ];
}

/** Runs one side on a fresh 2-cluster lab, always taking it down again. */
async function onFreshLab(who: string, side: () => Promise<Side>): Promise<Side> {
  log(`lab up 2 (${who})`);
  lab('up', '2');
  try {
    return await side();
  } finally {
    lab('down');
  }
}

async function main(): Promise<void> {
  requireTool(paths.ciliumCli);
  if (readState(paths)) throw new Error(`a lab is up (${paths.stateFile}); this benchmark brings up its own: run \`npm run lab -- down\` first`);
  const release = await lockLab('bench/side-by-side');
  try {
    const cli = await onFreshLab('cilium-cli', ciliumCliSide);
    const mf = await onFreshLab('meshform', meshformSide);
    const cliTotal = cli.toMesh.reduce((a, [, ms]) => a + ms, 0);
    const cliWithPre = cliTotal + cli.prerequisites.reduce((a, [, ms]) => a + ms, 0);
    const mfTotal = mf.toMesh.reduce((a, [, ms]) => a + ms, 0);
    const cliStatus = Math.max(...cli.status.map(([, r]) => r.ms));
    const cliStatusSum = sum(cli.status.map(([, r]) => r));
    const mfStatus = mf.status[0]![1].ms;
    const lines = [
      ...report('meshform', mf),
      ...report(`cilium-cli ${paths.versions.CILIUM_CLI_VERSION}`, cli),
      `ratio time to mesh meshform / cilium-cli: ${(mfTotal / cliTotal).toFixed(2)}× of its commands, ${(mfTotal / cliWithPre).toFixed(2)}× with its RKE2 prerequisites  (goal ≤ 0.5×: ${mfTotal <= 0.5 * cliWithPre ? 'met' : 'NOT met'} with prerequisites, ${mfTotal <= 0.5 * cliTotal ? 'met' : 'NOT met'} without)`,
      `ratio status meshform (both clusters, one command) / cilium-cli (one per cluster, ${s(cliStatusSum)} for both): ${(mfStatus / cliStatusSum).toFixed(2)}× ( ${(mfStatus / cliStatus).toFixed(2)}× its slower single)  (goal ≤ 0.5×: ${mfStatus <= 0.5 * cliStatusSum ? 'met' : 'NOT met'})`,
      `survives the next helm-controller run: meshform ${mf.afterRun.survived ? 'yes' : 'NO'}, cilium-cli ${cli.afterRun.survived ? 'yes' : 'no'}`,
    ];
    const load = loadavg().map((l) => l.toFixed(1)).join(' / ');
    process.stdout.write(`\nmeshform vs cilium-cli, side by side (lab on this machine; load average at the end ${load})\n${lines.join('\n')}\n`);
  } finally {
    release();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] ${err instanceof Error ? err.message : String(err)}\n`);
  try {
    if (readState(paths)) lab('down');
  } catch {
    // already down
  }
  process.exit(1);
});
