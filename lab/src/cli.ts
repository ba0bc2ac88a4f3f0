/**
 * `npm run lab -- up [N] [--workers W] | down | status | sync | stop <cluster> | start <cluster> |
 * agent <cluster> hang|ok | exec-bench <cluster> [N] [C]`: the lab of DESIGN.md §9.
 * Progress goes to stderr; `up` and `status` print the kubeconfig path and contexts on stdout.
 */
import { execBench } from './bench.js';
import { agentHangs, down, endpointPids, readEndpoints, readState, setAgentHang, startCluster, stopCluster, syncEndpoints, up, viewerContext } from './lab.js';
import { labPaths } from './paths.js';
import { isAlive, portOpen, sleep } from './proc.js';

const log = (s: string) => process.stderr.write(`[lab] ${s}\n`);

async function status(): Promise<number> {
  const paths = labPaths();
  const state = readState(paths);
  if (!state) {
    process.stdout.write('lab: down\n');
    return 1;
  }
  let healthy = true;
  const lines: string[] = [`kubeconfig: ${state.kubeconfig}`];
  for (const c of state.clusters) {
    const alive = c.pids.filter(isAlive).length;
    const api = new URL(c.apiserver || 'https://127.0.0.1:0');
    const open = c.apiserver ? await portOpen(api.hostname, Number(api.port)) : false;
    healthy &&= alive === c.pids.length && open;
    const hc = c.helmControllerPid !== undefined && isAlive(c.helmControllerPid);
    healthy &&= hc;
    lines.push(`${c.name}: contexts ${c.name} ${viewerContext(c.name)}, apiserver ${c.apiserver} ${open ? 'up' : 'DOWN'}, ${alive}/${c.pids.length} processes, helm-controller ${hc ? `pid ${c.helmControllerPid}` : 'NOT RUNNING'}${agentHangs(c.name) ? ', agents HANG' : ''}`);
  }
  const runner = state.jobRunnerPid !== undefined && isAlive(state.jobRunnerPid);
  healthy &&= runner;
  lines.push(`helm job runner: ${runner ? `pid ${state.jobRunnerPid}` : 'NOT RUNNING'}`);
  const daemon = state.daemonPid !== undefined && isAlive(state.daemonPid);
  healthy &&= daemon;
  lines.push(`endpoints daemon: ${daemon ? `pid ${state.daemonPid}` : 'NOT RUNNING'}`);
  for (const [name, e] of Object.entries(readEndpoints()?.clusters ?? {})) {
    lines.push(`  ${name} clustermesh endpoint (Cilium ${e.version ?? '?'}): ${e.state}${e.listen.length ? ' on ' + e.listen.join(', ') : ''}${e.error ? ` (${e.error})` : ''}${e.readError ? ` [read error: ${e.readError}]` : ''}`);
    for (const [what, c] of Object.entries(e.components ?? {})) {
      const role = what === 'kvstoremesh' && e.kvstoremeshFor === 'agents' ? ' (for the agents)' : '';
      lines.push(`    ${what}${role}: ${c.state}${c.pid ? ` pid ${c.pid}` : ''}${c.error ? ` (${c.error})` : ''}`);
    }
  }
  lines.push(`clustermesh chain processes: ${endpointPids(paths).filter(isAlive).length} running`);
  process.stdout.write(lines.join('\n') + '\n');
  return healthy ? 0 : 1;
}

const USAGE = 'usage: npm run lab -- up [N] [--workers W] | down | status | sync | stop <cluster> | start <cluster> | agent <cluster> hang|ok | exec-bench <cluster> [N] [C]\n';

async function main(argv: string[]): Promise<number> {
  const [cmd, arg, arg2] = argv;
  switch (cmd) {
    case 'up': {
      const rest = argv.slice(1);
      const w = rest.indexOf('--workers');
      const workers = w >= 0 ? Number(rest[w + 1]) : undefined;
      if (w >= 0) rest.splice(w, 2);
      const n = rest[0] === undefined ? 2 : Number(rest[0]);
      const state = await up(n, log, { workers });
      process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n# contexts: ${state.clusters.map((c) => c.name).join(' ')}\n`);
      return 0;
    }
    case 'down': {
      const { leftover } = await down(log);
      if (leftover.length) {
        for (const l of leftover) log(`left behind: ${l}`);
        return 1;
      }
      log('lab down: no process or port left');
      return 0;
    }
    case 'status':
      return status();
    case 'sync': {
      const r = await syncEndpoints();
      for (const [name, e] of Object.entries(r.clusters)) log(`${name}: ${e.state}${e.error ? ` (${e.error})` : ''}`);
      return 0;
    }
    case 'stop':
    case 'start':
      if (!arg) break;
      await (cmd === 'stop' ? stopCluster : startCluster)(arg, log);
      return 0;
    case 'agent':
      if (!arg || (arg2 !== 'hang' && arg2 !== 'ok')) break;
      setAgentHang(arg, arg2 === 'hang');
      log(`${arg}: agents ${arg2 === 'hang' ? 'do not answer (exec hangs)' : 'answer'}`);
      return 0;
    case 'exec-bench': {
      if (!arg) break;
      const r = await execBench(arg, Number(arg2 ?? 100), Number(argv[3] ?? 16));
      process.stdout.write(JSON.stringify(r) + '\n');
      return r.failures ? 1 : 0;
    }
    default:
      break;
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2))
  .then(async (code) => {
    await sleep(0);
    process.exit(code);
  })
  .catch((err) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
