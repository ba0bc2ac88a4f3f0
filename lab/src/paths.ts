/** Where the lab keeps its binaries (outside the repo) and its runtime state (gitignored `.lab/`). */
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
    state,
    /** The one kubeconfig with a context per cluster. */
    kubeconfig: join(state, 'kubeconfig'),
    kwokWorkdir: join(state, 'kwok'),
    shims: join(state, 'shims'),
    endpoints: join(state, 'endpoints'),
    stateFile: join(state, 'lab.json'),
    daemonLog: join(state, 'endpoints', 'daemon.log'),
    chart: join(repoRoot, 'lab', 'charts', 'rke2-cilium'),
    manifests: join(repoRoot, 'lab', 'manifests'),
    buildScript: join(repoRoot, 'lab', 'build.sh'),
    daemonEntry: join(repoRoot, 'dist', 'lab', 'src', 'daemon.js'),
  };
}

export type LabPaths = ReturnType<typeof labPaths>;
