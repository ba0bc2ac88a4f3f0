import { existsSync } from 'node:fs';
import https from 'node:https';
import { homedir } from 'node:os';
import tls from 'node:tls';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { clusterError } from './errors.js';

/** How to reach one cluster, kubectl-style. */
export interface ConnectionOptions {
  /**
   * Kubeconfig file, or a `KUBECONFIG`-style list (`a.yaml:b.yaml`). Like kubectl's `--kubeconfig`
   * it wins over the `KUBECONFIG` variable, which wins over `~/.kube/config`.
   */
  kubeconfig?: string;
  /** Context name; default: the kubeconfig's current-context. */
  context?: string;
  /** Per-request timeout in milliseconds (default 15000). */
  timeoutMs?: number;
  /** Spec path for findings, e.g. `clusters[0]`. */
  path?: string;
}

type HttpsOptions = Parameters<KubeConfig['applyToHTTPSOptions']>[0];

/**
 * A KubeConfig whose requests to its cluster share one TLS context and one keep-alive agent.
 * client-node's `applyToHTTPSOptions` builds a new https.Agent for every request and every exec
 * WebSocket, so each one parsed the CA, certificate and key again and made a new TLS connection: the
 * client's largest cost in `status` and `doctor`. Credentials (tokens, exec plugins) are still
 * applied per request by client-node; only a plain https.Agent is shared (a proxy's agent is kept).
 */
class SharedTlsKubeConfig extends KubeConfig {
  #agent: { key: string; agent: https.Agent } | undefined;

  override async applyToHTTPSOptions(opts: HttpsOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const o = opts as https.RequestOptions & tls.ConnectionOptions;
    if (!(o.agent instanceof https.Agent) || o.agent.constructor !== https.Agent) return;
    const material = [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.servername, o.rejectUnauthorized].map((x) => (Buffer.isBuffer(x) ? x.toString('base64') : String(x))).join('|');
    if (this.#agent?.key !== material) {
      const { ca, cert, key, pfx, passphrase, servername, rejectUnauthorized } = o;
      const secureContext = tls.createSecureContext({ ca, cert, key, pfx, passphrase });
      this.#agent?.agent.destroy();
      this.#agent = {
        key: material,
        agent: new https.Agent({ keepAlive: true, secureContext, ...(servername ? { servername } : {}), ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}) }),
      };
    }
    o.agent = this.#agent.agent;
  }
}

/** The kubeconfig files to read, in kubectl's order of precedence. */
export function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const list = explicit ?? env['KUBECONFIG'];
  if (list !== undefined && list.length > 0) return list.split(delimiter).filter((f) => f.length > 0);
  const home = env['HOME'] ?? homedir();
  return [join(home, '.kube', 'config')];
}

/**
 * Loads and merges kubeconfig files like kubectl (the first file to define a name wins; the first
 * current-context wins), then selects the context. Throws KUBE_CONFIG naming the cluster.
 */
export function loadKubeConfig(cluster: string, opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const files = kubeconfigFiles(opts.kubeconfig, env);
  const fail = (message: string, fix: string) =>
    clusterError({ cluster, code: 'KUBE_CONFIG', path: opts.path, message, rule: 'each cluster needs a usable kubeconfig and context', fix });
  const kc = new SharedTlsKubeConfig();
  let loaded = 0;
  let current = '';
  for (const file of files) {
    if (!existsSync(file)) {
      // kubectl ignores missing files in a KUBECONFIG list, but an explicit single file must exist.
      if (opts.kubeconfig !== undefined && files.length === 1) {
        throw fail(`kubeconfig ${file} does not exist`, 'give the right path in the spec (`kubeconfig:`) or with --kubeconfig');
      }
      continue;
    }
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw fail(`kubeconfig ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`, 'fix or re-export the kubeconfig file');
    }
    for (const c of one.getClusters()) if (!kc.getCluster(c.name)) kc.addCluster(c);
    for (const u of one.getUsers()) if (!kc.getUser(u.name)) kc.addUser(u);
    for (const c of one.getContexts()) if (!kc.getContextObject(c.name)) kc.addContext(c);
    if (!current && one.getCurrentContext()) current = one.getCurrentContext();
    loaded++;
  }
  if (loaded === 0) {
    throw fail(`no kubeconfig found (looked at ${files.join(', ')})`, 'set `kubeconfig:` for the cluster in the spec, pass --kubeconfig, or set KUBECONFIG');
  }
  const context = opts.context ?? current;
  if (!context) {
    throw fail('the kubeconfig has no current-context and none was given', 'set `context:` for the cluster in the spec or pass --context');
  }
  if (!kc.getContextObject(context)) {
    const have = kc.getContexts().map((c) => c.name).join(', ') || 'none';
    throw fail(`context "${context}" is not in the kubeconfig (contexts: ${have})`, 'use one of the listed contexts, or point `kubeconfig:` at the file that has it');
  }
  kc.setCurrentContext(context);
  if (!kc.getCurrentCluster()) {
    throw fail(`context "${context}" names a cluster entry that the kubeconfig does not define`, 'fix the kubeconfig');
  }
  return kc;
}
