/** Where the lab keeps its binaries (outside the repo) and its runtime state (gitignored `.lab/`). */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo root: this file is lab/src/paths.ts, compiled to dist/lab/src/paths.js. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'lab', 'versions.env')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repo root (lab/versions.env) above ' + fileURLToPath(import.meta.url));
}

export const repoRoot = findRepoRoot();

/** Pinned versions from lab/versions.env. */
export function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(repoRoot, 'lab', 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** All paths the lab uses. `MESHFORM_LAB_STATE` moves the state dir (default `<repo>/.lab`). */
export function labPaths() {
  const versions = readVersions();
  const cacheRoot = process.env.MESHFORM_LAB_CACHE ?? join(homedir(), '.cache', 'meshform-lab');
  const state = resolve(process.env.MESHFORM_LAB_STATE ?? join(repoRoot, '.lab'));
  const bin = join(cacheRoot, versions.LAB_VERSIONS_TAG ?? 'unknown', 'bin');
  return {
    versions,
    bin,
    binary: (name: string) => join(bin, name),
    /** cilium-cli and the Fleet CLI, built by lab/build-tools.sh as <tool>-<version>. */
    ciliumCli: join(bin, `cilium-cli-${versions.CILIUM_CLI_VERSION ?? 'unknown'}`),
    fleet: join(bin, `fleet-${versions.FLEET_VERSION ?? 'unknown'}`),
    state,
    /** The one kubeconfig with a context per cluster. */
    kubeconfig: join(state, 'kubeconfig'),
    kwokWorkdir: join(state, 'kwok'),
    shims: join(state, 'shims'),
    /** The kwok controller kwokctl starts: kwok with the shims overlaid on /usr/bin (lab.ts). */
    kwokInNamespace: join(state, 'kwok-in-namespace'),
    endpoints: join(state, 'endpoints'),
    stateFile: join(state, 'lab.json'),
    daemonLog: join(state, 'endpoints', 'daemon.log'),
    /** The upstream Cilium chart the lab installs, packaged by `up` from the Go module cache (see labChartSource). */
    chartPackage: join(state, 'charts', 'rke2-cilium.tgz'),
    /** RKE2's helm-controller (lab/build-helm.sh). */
    helmController: join(bin, `helm-controller-${versions.HELM_CONTROLLER_VERSION ?? 'unknown'}`),
    /** Per-cluster helm-controller kubeconfig and log, and the Job runner's work. */
    helmJobs: join(state, 'helm-jobs'),
    jobRunnerEntry: join(repoRoot, 'dist', 'lab', 'src', 'jobrunner.js'),
    buildScript: join(repoRoot, 'lab', 'build.sh'),
    daemonEntry: join(repoRoot, 'dist', 'lab', 'src', 'daemon.js'),
  };
}

/** The Go module cache (`go env GOMODCACHE`), where build.sh downloads the cilium and kwok modules. */
export function goModCache(): string {
  const r = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  const dir = r.status === 0 ? r.stdout.trim() : '';
  if (!dir) throw new Error(`cannot ask go for its module cache (go env GOMODCACHE: ${r.error?.message ?? r.stderr}): the lab reads the Cilium chart and kwok's stages there`);
  return dir;
}

/** A downloaded module's directory in the module cache; fails loudly when build.sh has not fetched it. */
export function moduleDir(module: string, version: string, mustHave: string): string {
  const dir = join(goModCache(), `${module}@${version}`);
  if (!existsSync(join(dir, mustHave))) throw new Error(`no ${mustHave} in ${dir}: run bash lab/build.sh (it downloads ${module}@${version} into the Go module cache)`);
  return dir;
}

/** The pinned Cilium version whose upstream chart the lab installs (LAB_CILIUM_CHART in lab/versions.env). */
export function labCiliumVersion(versions: Record<string, string> = readVersions()): string {
  const v = versions.LAB_CILIUM_CHART;
  if (!v) throw new Error('lab/versions.env has no LAB_CILIUM_CHART');
  return v;
}

export type LabPaths = ReturnType<typeof labPaths>;
