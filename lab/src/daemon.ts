/**
 * The lab's endpoints daemon (started detached by `lab up`): plays RKE2's helm-controller for the
 * rke2-cilium HelmChart/HelmChartConfig, keeps every cluster's clustermesh endpoint in line with the
 * cluster's Secrets, ConfigMaps, Service and nodes, polling once a second, reports in
 * `.lab/endpoints/status.json`, and answers every exec into a lab agent pod (agentserver.ts) on
 * `.lab/endpoints/agent.sock`. SIGTERM stops every etcd it started.
 */
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { AgentServer } from './agentserver.js';
import { kubeClient, readClusterInputs } from './clusterstate.js';
import { Endpoint, type EndpointStatus } from './endpoints.js';
import { HelmController } from './helmcontroller.js';
import { readState } from './lab.js';
import { labPaths } from './paths.js';
import { sleep } from './proc.js';

const POLL_MS = 1000;

async function main(): Promise<void> {
  const paths = labPaths();
  const state = readState(paths);
  if (!state) throw new Error(`no ${paths.stateFile}: the daemon is started by \`lab up\``);
  const apis = new Map(state.clusters.map((c) => [c.name, kubeClient(paths.kubeconfig, c.name)]));
  const agents = new AgentServer(paths.state, apis);
  await agents.listen();
  const release = setInterval(() => agents.releaseHeld(), 250);
  const eps = state.clusters.map((c, i) => ({
    ep: new Endpoint(c.name, i + 1, join(paths.endpoints, c.name), paths.binary('etcd')),
    cp: new Endpoint(c.name, i + 1, join(paths.endpoints, `${c.name}.control-plane`), paths.binary('etcd'), 'control-plane'),
    core: apis.get(c.name)!.core,
    lastError: '' as string,
    hc: new HelmController({
      kubeconfig: paths.kubeconfig,
      context: c.name,
      helm: paths.binary('helm'),
      kubectl: paths.binary('kubectl'),
      chartDir: paths.chart,
      workDir: join(paths.state, 'helm-controller', c.name),
    }),
  }));
  await Promise.all(eps.map((e) => e.hc.baseline()));
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(release);
    await agents.close().catch(() => undefined);
    await Promise.all(eps.flatMap((e) => [e.ep.stop(), e.cp.stop()]));
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
          const done = await e.hc.reconcile();
          if (done) console.error(`${new Date().toISOString()} ${e.ep.cluster}: ${done}`);
          const inputs = await readClusterInputs(e.core);
          if (stopping) return;
          const seen = () => [e.ep, e.cp].map((x) => `${x.status.fingerprint}/${x.status.state}`).join();
          const before = seen();
          await Promise.all([e.ep.sync(inputs), e.cp.sync(inputs)]);
          // A rebuilt endpoint changes what every other cluster's agents see.
          if (seen() !== before) agents.agents.invalidate();
          e.lastError = '';
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          if (msg !== e.lastError) console.error(`${new Date().toISOString()} ${e.ep.cluster}: ${msg}`);
          e.lastError = msg;
        }
      }),
    );
    const report: { generation: number; at: string; clusters: Record<string, EndpointStatus & { readError?: string; controlPlane: EndpointStatus }> } = {
      generation,
      at: new Date().toISOString(),
      clusters: {},
    };
    for (const e of eps) report.clusters[e.ep.cluster] = { ...e.ep.status, ...(e.lastError ? { readError: e.lastError } : {}), controlPlane: e.cp.status };
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
