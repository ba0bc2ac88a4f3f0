/**
 * The lab's endpoints daemon (started detached by `lab up`): keeps every cluster's real clustermesh
 * chain (etcd, clustermesh-apiserver, kvstoremesh: realmesh.ts) in line with the cluster's Secrets,
 * ConfigMaps, Service, workloads and nodes, polling once a second, reports in
 * `.lab/endpoints/status.json`, and answers every exec into a lab agent pod (agentserver.ts) on
 * `.lab/endpoints/agent.sock`. SIGTERM stops every process it started. (RKE2's real helm-controller
 * runs beside it, one process per cluster, started by `up`.)
 */
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServer } from './agentserver.js';
import { kubeClient, readClusterInputs } from './clusterstate.js';
import { readState } from './lab.js';
import { labPaths } from './paths.js';
import { run, sleep } from './proc.js';
import { ClusterChain, type EndpointStatus } from './realmesh.js';

const POLL_MS = 1000;

async function main(): Promise<void> {
  const paths = labPaths();
  const state = readState(paths);
  if (!state) throw new Error(`no ${paths.stateFile}: the daemon is started by \`lab up\``);
  const apis = new Map(state.clusters.map((c) => [c.name, kubeClient(paths.kubeconfig, c.name)]));
  let modCache: Promise<string> | undefined;
  const goModCache = () =>
    (modCache ??= run('go', ['env', 'GOMODCACHE'], { env: { ...process.env, GOTOOLCHAIN: 'local' } }).then((r) => r.stdout.trim()));
  const kubectl = (context: string, args: string[]) => run(paths.binary('kubectl'), ['--kubeconfig', paths.kubeconfig, '--context', context, ...args], { timeoutMs: 60_000 });
  const chains = new Map<string, ClusterChain>();
  for (const [i, c] of state.clusters.entries()) {
    const kubeconfig = (await kubectl(c.name, ['config', 'view', '--minify', '--flatten', '--context', c.name])).stdout;
    const apply = async (files: string[]) => void (await kubectl(c.name, ['apply', '--server-side', '--force-conflicts', '--field-manager=meshform-lab', ...files.flatMap((f) => ['-f', f])]));
    chains.set(c.name, new ClusterChain(c.name, i + 1, join(paths.endpoints, c.name), paths.bin, apply, goModCache, kubeconfig));
  }
  const agents = new AgentServer(paths.state, apis, (c) => chains.get(c));
  await agents.listen();
  const release = setInterval(() => agents.releaseHeld(), 250);
  const eps = state.clusters.map((c) => ({
    ep: chains.get(c.name)!,
    core: apis.get(c.name)!.core,
    apps: apis.get(c.name)!.apps,
    lastError: '' as string,
  }));
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(release);
    await agents.close().catch(() => undefined);
    await Promise.all(eps.map((e) => e.ep.stop()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stopAll());
  process.on('SIGINT', () => void stopAll());
  let generation = 0;
  while (!stopping) {
    generation++;
    await Promise.all(
      eps.map(async (e) => {
        try {
          const inputs = await readClusterInputs(e.core, e.apps);
          if (stopping) return;
          const seen = () => `${e.ep.status.fingerprint}/${e.ep.status.state}`;
          const before = seen();
          await e.ep.sync(inputs);
          // A rebuilt chain changes what every other cluster's agents see.
          if (seen() !== before) agents.agents.invalidate();
          e.lastError = '';
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          if (msg !== e.lastError) console.error(`${new Date().toISOString()} ${e.ep.cluster}: ${msg}`);
          e.lastError = msg;
        }
      }),
    );
    const report: { generation: number; at: string; clusters: Record<string, EndpointStatus & { readError?: string }> } = {
      generation,
      at: new Date().toISOString(),
      clusters: {},
    };
    for (const e of eps) report.clusters[e.ep.cluster] = { ...e.ep.status, ...(e.lastError ? { readError: e.lastError } : {}) };
    const file = join(paths.endpoints, 'status.json');
    writeFileSync(file + '.tmp', JSON.stringify(report, null, 2) + '\n');
    renameSync(file + '.tmp', file);
    await sleep(POLL_MS);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
