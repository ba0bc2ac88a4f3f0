import http from 'node:http';
import https from 'node:https';
import { Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  KINDS,
  isKind,
  type ApplyOptions,
  type ClusterClient,
  type ExecOptions,
  type ExecResult,
  type Kind,
  type KubeObject,
  type ListOptions,
} from './client.js';
import { loadKubeConfig, type ConnectionOptions } from './config.js';
import { clusterError } from './errors.js';
import type { MeshformError } from '../errors.js';

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_EXEC_TIMEOUT_MS = 20_000;

interface Response {
  status: number;
  text: string;
}

/** What a request was for, to name it in an error ("get secrets in kube-system"). */
interface Purpose {
  verb: string;
  resource: string;
  namespace?: string;
}

function describe(p: Purpose): string {
  return `${p.verb} on ${p.resource}${p.namespace ? ` in ${p.namespace}` : ' (cluster-wide)'}`;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE']);

/**
 * The real ClusterClient: `@kubernetes/client-node` for kubeconfig handling, credentials and exec;
 * plain HTTPS for the REST calls, so that timeouts, status codes and the apply-patch content type
 * are under meshform's control.
 */
export class NodeClusterClient implements ClusterClient {
  readonly cluster: string;
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  readonly #timeoutMs: number;
  readonly #path: string | undefined;

  constructor(cluster: string, kubeConfig: KubeConfig, opts: { timeoutMs?: number; path?: string } = {}) {
    this.cluster = cluster;
    this.kubeConfig = kubeConfig;
    this.server = kubeConfig.getCurrentCluster()?.server ?? '';
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#path = opts.path;
  }

  /** Builds a client from kubectl-style options (see `loadKubeConfig`). */
  static connect(cluster: string, opts: ConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): NodeClusterClient {
    const kc = loadKubeConfig(cluster, opts, env);
    return new NodeClusterClient(cluster, kc, { timeoutMs: opts.timeoutMs, path: opts.path });
  }

  async get(kind: Kind, name: string, namespace?: string): Promise<KubeObject | undefined> {
    const purpose = { verb: 'get', resource: resourceName(kind), namespace };
    const res = await this.#request('GET', objectPath(kind, namespace, name), purpose);
    if (res.status === 404) return undefined;
    this.#check(res, purpose);
    return withKind(kind, parse(res.text));
  }

  async list(kind: Kind, opts: ListOptions = {}): Promise<KubeObject[]> {
    const purpose = { verb: 'list', resource: resourceName(kind), namespace: opts.namespace };
    const q = opts.labelSelector ? `?labelSelector=${encodeURIComponent(opts.labelSelector)}` : '';
    const res = await this.#request('GET', objectPath(kind, opts.namespace) + q, purpose);
    if (res.status === 404) {
      throw this.#error('KUBE_NOT_FOUND', `the API has no ${resourceName(kind)}${kind.startsWith('Helm') ? ' (is this an RKE2 cluster with the helm-controller?)' : ''}`,
        'the resource type must exist', kind.startsWith('Helm') ? 'point the context at an RKE2 cluster, or install the helm.cattle.io CRDs' : 'check the cluster version');
    }
    this.#check(res, purpose);
    const body = parse(res.text) as { items?: unknown[] };
    return (body.items ?? []).map((o) => withKind(kind, o));
  }

  async apply(obj: KubeObject, opts: ApplyOptions = {}): Promise<KubeObject> {
    if (!isKind(obj.kind)) throw new Error(`meshform cannot apply kind ${obj.kind}`);
    const kind = obj.kind;
    const purpose = { verb: 'patch', resource: resourceName(kind), namespace: obj.metadata.namespace };
    const q = new URLSearchParams({ fieldManager: FIELD_MANAGER });
    if (opts.force) q.set('force', 'true');
    if (opts.dryRun) q.set('dryRun', 'All');
    const body = JSON.stringify({ ...obj, metadata: { ...obj.metadata, managedFields: undefined, resourceVersion: undefined } });
    const res = await this.#request('PATCH', `${objectPath(kind, obj.metadata.namespace, obj.metadata.name)}?${q}`, purpose, body,
      'application/apply-patch+yaml');
    if (res.status === 409) {
      throw this.#error('KUBE_CONFLICT', `server-side apply of ${kind} ${obj.metadata.name} conflicts with another field manager: ${statusMessage(res.text)}`,
        'meshform does not take over fields that another tool owns unless told to',
        'if meshform should own them from now on (e.g. after a hand edit), run meshform apply --force; otherwise stop the other tool from managing this object');
    }
    this.#check(res, purpose);
    return withKind(kind, parse(res.text));
  }

  /** client-node's exec over WebSocket (its public entry), one per cluster. */
  #execClient: Exec | undefined;

  async exec(namespace: string, pod: string, container: string, command: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    let stdout = '';
    let stderr = '';
    let status: V1Status | undefined;
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          append(chunk.toString('utf8'));
          cb();
        },
      });
    const what = `exec ${command.join(' ')} in ${namespace}/${pod} (container ${container})`;
    let ws: Awaited<ReturnType<Exec['exec']>> | undefined;
    const run = new Promise<ExecResult>((resolve, reject) => {
      (this.#execClient ??= new Exec(this.kubeConfig))
        .exec(namespace, pod, container, command, sink((s) => (stdout += s)), sink((s) => (stderr += s)), null, false, (s) => {
          status = s;
        })
        .then((socket) => {
          ws = socket;
          socket.on('close', () => resolve(execResult(stdout, stderr, status)));
        })
        .catch((err: unknown) => reject(this.#execError(err, namespace, pod, what)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ws?.close();
        reject(this.#error('KUBE_TIMEOUT', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`,
          'an agent pod must answer within the timeout', 'check that the pod is Running and not overloaded (kubectl describe pod, and its container log); raise --exec-timeout'));
      }, timeoutMs);
    });
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #execError(err: unknown, namespace: string, pod: string, what: string): MeshformError {
    const text = err instanceof Error ? err.message : typeof err === 'object' && err && 'message' in err ? String((err as { message: unknown }).message) : String(err);
    const code = networkCode(err);
    if (code) return this.#unreachable(code, text);
    if (/\b403\b/.test(text)) {
      return this.#error('KUBE_FORBIDDEN', `missing RBAC: needs create on pods/exec in ${namespace} (${what})`,
        'status and doctor run commands in the agent pods', `grant create on pods/exec in ${namespace} to this user`);
    }
    if (/\b401\b/.test(text)) return this.#unauthorised();
    if (/\b404\b/.test(text)) {
      return this.#error('KUBE_NOT_FOUND', `pod ${namespace}/${pod} is gone (${what})`, 'the pod must exist', 'retry: the pod list was taken a moment ago');
    }
    return this.#error('KUBE_EXEC', `${what} failed: ${text}`, 'commands in agent pods must run', 'check that the pod is Running');
  }

  async #request(method: string, path: string, purpose: Purpose, body?: string, contentType?: string): Promise<Response> {
    const url = new URL(this.server.replace(/\/+$/, '') + path);
    const opts: https.RequestOptions = {
      method,
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': contentType ?? 'application/json' } : {}) },
    };
    try {
      await this.kubeConfig.applyToHTTPSOptions(opts);
    } catch (err) {
      throw this.#error('KUBE_CONFIG', `the kubeconfig cannot be used: ${err instanceof Error ? err.message : String(err)}`,
        'the kubeconfig must give a usable server and credentials', 'fix the kubeconfig entry for this cluster (an exec plugin that fails? a plain http:// server?)');
    }
    const secure = url.protocol === 'https:';
    if (!secure) delete opts.agent;
    const timeoutMs = this.#timeoutMs;
    return await new Promise<Response>((resolve, reject) => {
      const req = (secure ? https : http).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(this.#transportError(err)));
      });
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error('timeout'), { code: 'MESHFORM_TIMEOUT' }));
      }, timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(this.#transportError(err, describe(purpose)));
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  #transportError(err: unknown, what?: string): MeshformError {
    const code = (err as { code?: string }).code ?? '';
    const text = err instanceof Error ? err.message : String(err);
    if (code === 'MESHFORM_TIMEOUT' || code === 'ETIMEDOUT') {
      return this.#error('KUBE_TIMEOUT', `the Kubernetes API at ${this.server} did not answer within ${Math.round(this.#timeoutMs / 1000)} s${what ? ` (${what})` : ''}`,
        'the API server must answer within the request timeout', 'check network access to the API server (VPN, firewall) and that it is running');
    }
    if (NETWORK_CODES.has(code)) return this.#unreachable(code, text);
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|ERR_TLS/.test(code)) {
      return this.#error('KUBE_TLS', `TLS to the Kubernetes API at ${this.server} failed: ${text}`,
        'the API server certificate must verify against the kubeconfig CA', 'use the kubeconfig issued by this cluster (certificate-authority-data must match)');
    }
    return this.#error('KUBE_UNREACHABLE', `cannot talk to the Kubernetes API at ${this.server}: ${text}`, 'the API server must be reachable', 'check the kubeconfig server address and the network');
  }

  #unreachable(code: string, text: string): MeshformError {
    return this.#error('KUBE_UNREACHABLE', `cannot reach the Kubernetes API at ${this.server} (${code === 'ECONNREFUSED' ? 'connection refused' : text})`,
      'the API server must be reachable', 'check that the API server runs and that the kubeconfig/context points at it (server address, VPN, firewall)');
  }

  #unauthorised(): MeshformError {
    return this.#error('KUBE_UNAUTHORIZED', `the Kubernetes API at ${this.server} rejected the credentials (401 Unauthorized)`,
      'the kubeconfig credentials must be valid', 'refresh the kubeconfig (expired token or client certificate?)');
  }

  #check(res: Response, purpose: Purpose): void {
    if (res.status >= 200 && res.status < 300) return;
    if (res.status === 401) throw this.#unauthorised();
    if (res.status === 403) {
      throw this.#error('KUBE_FORBIDDEN', `missing RBAC: needs ${describe(purpose)}`, 'meshform needs read access to its objects and patch for apply',
        `grant ${purpose.verb} on ${purpose.resource}${purpose.namespace ? ` in ${purpose.namespace}` : ''} to this user (a Role/ClusterRole and binding)`);
    }
    throw this.#error('KUBE_API', `${describe(purpose)} failed with HTTP ${res.status}: ${statusMessage(res.text)}`, 'cluster calls must succeed',
      'read the message; retry if the API server was restarting');
  }

  #error(code: Parameters<typeof clusterError>[0]['code'], message: string, rule: string, fix: string): MeshformError {
    return clusterError({ cluster: this.cluster, code, message, rule, fix, path: this.#path });
  }
}

function networkCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  const inner = (err as { error?: unknown } | undefined)?.error;
  const c2 = (inner as { code?: unknown } | undefined)?.code;
  return typeof c2 === 'string' && NETWORK_CODES.has(c2) ? c2 : undefined;
}

function execResult(stdout: string, stderr: string, status: V1Status | undefined): ExecResult {
  if (!status || status.status === 'Success') return { stdout, stderr, exitCode: 0 };
  const exitCause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const exitCode = exitCause?.message !== undefined ? Number(exitCause.message) : undefined;
  return { stdout, stderr, ...(exitCode !== undefined && Number.isFinite(exitCode) ? { exitCode } : {}), ...(status.message ? { message: status.message } : {}) };
}

function resourceName(kind: Kind): string {
  const k = KINDS[kind];
  const group = k.apiVersion.includes('/') ? k.apiVersion.split('/')[0] : '';
  return group ? `${k.plural}.${group}` : k.plural;
}

function objectPath(kind: Kind, namespace?: string, name?: string): string {
  const k = KINDS[kind];
  const base = k.apiVersion.includes('/') ? `/apis/${k.apiVersion}` : `/api/${k.apiVersion}`;
  const ns = k.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${k.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** List items come without apiVersion/kind; fill them so callers can rely on them. */
function withKind(kind: Kind, o: unknown): KubeObject {
  const obj = (o && typeof o === 'object' ? o : {}) as KubeObject;
  return { ...obj, apiVersion: obj.apiVersion ?? KINDS[kind].apiVersion, kind: obj.kind ?? kind, metadata: obj.metadata ?? { name: '' } };
}

function statusMessage(text: string): string {
  const body = parse(text) as { message?: unknown };
  return typeof body.message === 'string' ? body.message : text.slice(0, 300);
}
