/**
 * The daemon side of every `kubectl exec` into a lab agent pod. The exec target is a shell shim
 * (see `agentShim`) that asks this server, over a unix socket, "cluster X, argv Y"; the answer comes
 * from the long-lived Agents (agentmodel.ts, the real kvstoremesh's state), so an exec costs a curl instead of a Node process
 * that loads gRPC and dials every peer. Changes in a cluster (watched) drop reused answers at once.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Agents, type ChainView, type ClusterApi, type ExecAnswer } from './agentmodel.js';

/** The file whose presence makes a cluster's agents stop answering (`lab agent <cluster> hang`). */
export function hangFile(stateDir: string, cluster: string): string {
  return join(stateDir, 'agent', 'hang', cluster);
}

/** Where the daemon listens for execs. */
export function agentSocket(stateDir: string): string {
  return join(stateDir, 'endpoints', 'agent.sock');
}

/**
 * The shell script a shim command runs: curl to the daemon's socket, then the daemon's answer as the
 * command's stdout (status 200, exit 0) or stderr (status 500 + exit code). POSIX sh (dash), one
 * fork for curl: measured cheaper than a Node client (lab/README.md).
 */
export function agentShim(command: string, socket: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# ${command} in a lab agent pod: asks the lab daemon (dist/lab/src/daemon.js) for this cluster's answer.
sock=${q(socket)}
set -- ${q(command)} "$@"
n=$#
while [ "$n" -gt 0 ]; do set -- "$@" --data-urlencode "a=$1"; shift; n=$((n - 1)); done
nl='
'
out=$(curl -s -G --max-time 86400 --unix-socket "$sock" --data-urlencode "cluster=$MESHFORM_LAB_CLUSTER" "$@" -w "$nl%{http_code}" http://lab/exec)
code=\${out##*"$nl"}
body=\${out%"$nl"*}
case $code in
200) printf '%s' "$body"; exit 0 ;;
5??) printf '%s' "$body" >&2; exit $((code - 500)) ;;
*) printf 'Error: the lab daemon does not answer on %s (is the lab up?)\\n' "$sock" >&2; exit 1 ;;
esac
`;
}

interface Held {
  cluster: string;
  argv: string[];
  res: http.ServerResponse;
}

/**
 * Watches what agent answers depend on in one cluster (kube-system Secrets, ConfigMaps, Services,
 * DaemonSets, Deployments; Nodes) and calls `changed` on every event. While a watch is down (API
 * server stopped) the cluster counts as unwatched and its answers are never reused.
 */
class ChangeWatch {
  private readonly aborts: AbortController[] = [];
  private readonly down = new Set<string>();
  private stopped = false;

  constructor(
    private readonly cluster: string,
    private readonly kc: k8s.KubeConfig,
    private readonly agents: Agents,
    private readonly changed: () => void,
  ) {}

  start(): void {
    const paths = [
      '/api/v1/namespaces/kube-system/secrets',
      '/api/v1/namespaces/kube-system/configmaps',
      '/api/v1/namespaces/kube-system/services',
      '/apis/apps/v1/namespaces/kube-system/daemonsets',
      '/apis/apps/v1/namespaces/kube-system/deployments',
      '/api/v1/nodes',
    ];
    for (const p of paths) void this.watch(p);
  }

  private mark(path: string, up: boolean): void {
    if (up) this.down.delete(path);
    else this.down.add(path);
    if (this.down.size) this.agents.unwatched.add(this.cluster);
    else this.agents.unwatched.delete(this.cluster);
  }

  private async watch(path: string): Promise<void> {
    const w = new k8s.Watch(this.kc);
    while (!this.stopped) {
      this.mark(path, false);
      this.changed();
      const ended = new Promise<void>((resolve) => {
        w.watch(path, {}, () => this.changed(), () => resolve())
          .then((abort) => {
            this.aborts.push(abort);
            this.mark(path, true);
            // Whatever happened before the watch started is covered by its initial ADDED events.
            this.changed();
          })
          .catch(() => resolve());
      });
      await ended;
      this.mark(path, false);
      this.changed();
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }
}

/** The exec server of the lab daemon. */
export class AgentServer {
  readonly agents: Agents;
  private readonly server: http.Server;
  private readonly held = new Set<Held>();
  private readonly watches: ChangeWatch[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly clusters: Map<string, { kc: k8s.KubeConfig } & ClusterApi>,
    chains: (cluster: string) => ChainView | undefined,
  ) {
    this.agents = new Agents((c) => this.clusters.get(c), chains);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 0;
    for (const [name, c] of clusters) this.watches.push(new ChangeWatch(name, c.kc, this.agents, () => this.agents.invalidate()));
  }

  async listen(): Promise<void> {
    const sock = agentSocket(this.stateDir);
    if (sock.length > 100) throw new Error(`the agent socket path is too long for a unix socket (${sock.length} > 100): ${sock}`);
    mkdirSync(dirname(sock), { recursive: true });
    rmSync(sock, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(sock, () => resolve());
    });
    for (const w of this.watches) w.start();
  }

  private hanging(cluster: string): boolean {
    return existsSync(hangFile(this.stateDir, cluster));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://lab');
    if (url.pathname === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ computations: this.agents.computations, held: this.held.size, unwatched: [...this.agents.unwatched] }));
      return;
    }
    if (url.pathname !== '/exec') {
      res.writeHead(404).end();
      return;
    }
    const cluster = url.searchParams.get('cluster') ?? '';
    const argv = url.searchParams.getAll('a');
    if (this.hanging(cluster)) {
      // An agent that does not answer: hold the request until the switch is turned back or the
      // exec goes away (kwok kills the shim when the exec's stream closes).
      const h: Held = { cluster, argv, res };
      this.held.add(h);
      res.on('close', () => this.held.delete(h));
      return;
    }
    this.reply(res, await this.agents.answer(cluster, argv));
  }

  private reply(res: http.ServerResponse, a: ExecAnswer): void {
    if (res.destroyed) return;
    const status = a.code === 0 ? 200 : 500 + Math.min(a.code, 99);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(a.code === 0 ? a.stdout : a.stderr);
  }

  /** Answers held requests of clusters that answer again (called by the daemon's loop). */
  releaseHeld(): void {
    for (const h of [...this.held]) {
      if (this.hanging(h.cluster)) continue;
      this.held.delete(h);
      void this.agents.answer(h.cluster, h.argv).then((a) => this.reply(h.res, a));
    }
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.stop();
    for (const h of this.held) h.res.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }
}
