import type { MeshSpec } from '../spec/types.js';
import { NodeClusterClient } from './node-client.js';
import type { ClusterClient } from './client.js';
import type { ConnectionOptions } from './config.js';
import { asClusterError } from './errors.js';
import type { MeshformError } from '../errors.js';

/**
 * Stands in for a cluster whose kubeconfig cannot be used: every call fails with that error, so
 * discover/status/apply report it for this cluster and carry on with the others.
 */
export class UnusableClusterClient implements ClusterClient {
  constructor(readonly cluster: string, readonly error: MeshformError) {}
  get(): never { throw this.error; }
  list(): never { throw this.error; }
  apply(): never { throw this.error; }
  exec(): never { throw this.error; }
}

/** CLI-level connection flags (kubectl's `--kubeconfig`, `--context`, `--request-timeout`). */
export interface ConnectFlags {
  kubeconfig?: string;
  context?: string;
  timeoutMs?: number;
}

/** What it takes to reach one cluster. */
export interface ConnectRequest extends ConnectionOptions {
  /** The cluster's name, as every message names it. */
  name: string;
}

/**
 * Makes the ClusterClient of one cluster. Every live command takes one: the real one reads the
 * kubeconfig ({@link kubeconfigConnector}); tests pass one that hands out in-memory clients. Throws a
 * MeshformError (KUBE_CONFIG) when the kubeconfig or context cannot be used.
 */
export type Connector = (req: ConnectRequest, env: NodeJS.ProcessEnv) => ClusterClient;

/** The real connector: kubeconfig and context as kubectl reads them, over `@kubernetes/client-node`. */
export const kubeconfigConnector: Connector = (req, env) => NodeClusterClient.connect(req.name, req, env);

/** One spec cluster with its client. */
export interface ConnectedCluster {
  name: string;
  index: number;
  client: ClusterClient;
}

/**
 * Clients for every spec cluster. Per cluster, the spec's `kubeconfig`/`context` win; the flags
 * fill what the spec leaves out; then `KUBECONFIG` and `~/.kube/config` as kubectl does. A cluster
 * whose kubeconfig/context cannot be used gets an UnusableClusterClient carrying the KUBE_CONFIG error.
 */
export function connectSpec(
  spec: MeshSpec,
  flags: ConnectFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  connector: Connector = kubeconfigConnector,
): ConnectedCluster[] {
  return spec.clusters.map((c) => {
    let client: ClusterClient;
    try {
      client = connector({
        name: c.name,
        kubeconfig: c.kubeconfig ?? flags.kubeconfig,
        context: c.context ?? flags.context,
        timeoutMs: flags.timeoutMs,
        path: `clusters[${c.index}]`,
      }, env);
    } catch (err) {
      client = new UnusableClusterClient(c.name, asClusterError(c.name, err));
    }
    return { name: c.name, index: c.index, client };
  });
}
