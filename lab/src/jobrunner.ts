/**
 * The lab's helm Job runner (started detached by `lab up`, pid in `.lab/lab.json`): polls every
 * cluster's helm-controller Job pods twice a second and runs each with HelmJobRunner (helmjobs.ts).
 * Log: `.lab/helm-jobs/runner.log`. An unreachable API server (a stopped cluster) is retried.
 */
import { join } from 'node:path';
import { HelmJobRunner } from './helmjobs.js';
import { readState } from './lab.js';
import { labPaths } from './paths.js';
import { sleep } from './proc.js';

const POLL_MS = 500;

async function main(): Promise<void> {
  const paths = labPaths();
  const state = readState(paths);
  if (!state) throw new Error(`no ${paths.stateFile}: the job runner is started by \`lab up\``);
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const runners = state.clusters.map((c) => ({
    name: c.name,
    lastError: '',
    runner: new HelmJobRunner({
      cluster: c.name,
      kubeconfig: paths.kubeconfig,
      context: c.name,
      helm: paths.binary('helm'),
      kubectl: paths.binary('kubectl'),
      workDir: join(paths.helmJobs, c.name, 'pods'),
      log: (line) => log(`${c.name}: ${line}`),
    }),
  }));
  let stopping = false;
  const stop = () => {
    stopping = true;
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  log(`job runner for ${runners.map((r) => r.name).join(', ')}`);
  while (!stopping) {
    await Promise.all(runners.map(async (r) => {
      try {
        await r.runner.poll();
        if (r.lastError) log(`${r.name}: API reachable again`);
        r.lastError = '';
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== r.lastError) log(`${r.name}: ${msg}`);
        r.lastError = msg;
      }
    }));
    await sleep(POLL_MS);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
