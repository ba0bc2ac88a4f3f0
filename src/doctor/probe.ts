import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, Socket, connect as netConnect } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { Etcd3 as Etcd3Client } from 'etcd3';
import { SecretPem } from '../pki/secret.js';
import { classifyFailure, type Diagnosis } from './rules.js';

export type ProbeStepName = 'dns' | 'tcp' | 'tls' | 'login' | 'read';

export interface ProbeStep {
  step: ProbeStepName;
  ok: boolean;
  detail: string;
}

/** Client credentials the probe logs in with: a `remote-<cluster>` certificate from the shared CA. */
export interface ProbeCredentials {
  caPem: string;
  certPem: string;
  key: SecretPem;
}

export interface ProbeTarget {
  /** The cluster whose agents dial the peer (names the user `remote-<cluster>`). */
  cluster: string;
  /** The peer cluster being probed. */
  peer: string;
  /** Where to connect: an IP, or a DNS name resolved first. */
  host: string;
  port: number;
  /** The name the certificate must carry (`<peer>.<domain>` for ips endpoints; the address otherwise). */
  serverName: string;
  /** When known, the peer's cluster ID, checked against its published cluster config. */
  expectedClusterId?: number;
}

export interface ProbeResult {
  target: ProbeTarget;
  ok: boolean;
  steps: ProbeStep[];
  /** The first step that failed. */
  failedStep?: ProbeStepName;
  diagnosis?: Diagnosis;
  /** The peer's cluster config (`cilium/cluster-config/<peer>`), when read. */
  clusterConfig?: Record<string, unknown>;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** DNS lookup, replaceable in tests. */
  lookup?: (host: string) => Promise<string[]>;
}

const defaultLookup = async (host: string): Promise<string[]> => (await dnsLookup(host, { all: true })).map((a) => a.address);

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new Error(`${what}: i/o timeout after ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function tcpConnect(ip: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: ip, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`dial tcp ${ip}:${port}: i/o timeout`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`dial tcp ${ip}:${port}: ${err.code === 'ECONNREFUSED' ? 'connect: connection refused' : errText(err)}`));
    });
  });
}

/**
 * TLS handshake over an open socket, verifying the server against the shared CA and the SAN
 * against `serverName`; presents the client certificate as the agents do.
 */
function tlsHandshake(socket: Socket, t: ProbeTarget, cred: ProbeCredentials, timeoutMs: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      socket,
      ca: cred.caPem,
      cert: cred.certPem,
      key: cred.key.reveal(),
      ...(isIP(t.serverName) ? {} : { servername: t.serverName }),
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => checkServerIdentity(t.serverName, cert),
      ALPNProtocols: ['h2'],
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`TLS handshake with ${t.host}:${t.port}: i/o timeout`));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = s.getPeerCertificate();
      s.end();
      s.destroy();
      resolve(cert);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    });
  });
}

/** Normalises Node's TLS errors to the texts Cilium (Go) shows, so one rule table serves both. */
function tlsErrorText(err: unknown, t: ProbeTarget): string {
  const code = (err as { code?: string }).code ?? '';
  const msg = errText(err);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = /altnames: (.*)$/.exec(msg)?.[1] ?? '';
    return `x509: certificate is valid for ${names.replace(/(DNS|IP Address):/g, '').trim() || 'other names'}, not ${t.serverName}`;
  }
  if (/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE/.test(code)) {
    return `x509: certificate signed by unknown authority (${msg})`;
  }
  return msg;
}

/**
 * Probes one peer endpoint from where meshform runs: DNS (when not an IP), TCP, TLS against the
 * shared CA with the SAN check, an etcd request as `remote-<cluster>` (mTLS, CN-based auth), and a
 * read of `cilium/cluster-config/<peer>`. Stops at the first failing step and classifies it.
 */
export async function probeEndpoint(t: ProbeTarget, cred: ProbeCredentials, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const steps: ProbeStep[] = [];
  const fail = (step: ProbeStepName, detail: string): ProbeResult => {
    steps.push({ step, ok: false, detail });
    return { target: t, ok: false, steps, failedStep: step, diagnosis: classifyFailure(detail, { cluster: t.cluster, peer: t.peer }) };
  };
  let ip = t.host;
  if (!isIP(t.host)) {
    try {
      const ips = await withTimeout((opts.lookup ?? defaultLookup)(t.host), timeoutMs, `lookup ${t.host}`);
      if (ips.length === 0) return fail('dns', `lookup ${t.host}: no such host`);
      ip = ips[0] as string;
      steps.push({ step: 'dns', ok: true, detail: `${t.host} → ${ips.join(', ')}` });
    } catch (err) {
      return fail('dns', `lookup ${t.host}: no such host (${errText(err)})`);
    }
  }
  let socket: Socket;
  try {
    socket = await tcpConnect(ip, t.port, timeoutMs);
    steps.push({ step: 'tcp', ok: true, detail: `connected to ${ip}:${t.port}` });
  } catch (err) {
    return fail('tcp', errText(err));
  }
  try {
    const cert = await tlsHandshake(socket, t, cred, timeoutMs);
    steps.push({ step: 'tls', ok: true, detail: `server certificate ${cert.subject?.CN ?? ''} verified for ${t.serverName}` });
  } catch (err) {
    socket.destroy();
    return fail('tls', tlsErrorText(err, t));
  }
  const target = isIP(ip) === 6 ? `[${ip}]` : ip;
  // The etcd/gRPC client is heavy to load (~0.3 s); only a probe that got this far needs it.
  const { Etcd3 } = await loadEtcd3();
  const etcd: Etcd3Client = new Etcd3({
    hosts: `https://${target}:${t.port}`,
    credentials: { rootCertificate: Buffer.from(cred.caPem), certChain: Buffer.from(cred.certPem), privateKey: Buffer.from(cred.key.reveal()) },
    grpcOptions: { 'grpc.ssl_target_name_override': t.serverName, 'grpc.default_authority': t.serverName },
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
  try {
    try {
      // Any read needs an authenticated user; etcd maps the client certificate's CN to the user.
      await withTimeout(etcd.get('cilium/.heartbeat').string(), timeoutMs * 2, 'etcd request', () => etcd.close());
      steps.push({ step: 'login', ok: true, detail: `logged in as the client certificate's user (remote-${t.cluster})` });
    } catch (err) {
      return fail('login', etcdErrorText(err));
    }
    const key = `cilium/cluster-config/${t.peer}`;
    let value: string | null;
    try {
      value = await withTimeout(etcd.get(key).string(), timeoutMs * 2, `read ${key}`, () => etcd.close());
    } catch (err) {
      return fail('read', etcdErrorText(err));
    }
    if (value === null) return fail('read', `remote cluster configuration required but not found (no key ${key}: is ${t.peer} the remote cluster.name?)`);
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(value) as Record<string, unknown>;
    } catch {
      return fail('read', `${key} is not JSON`);
    }
    const id = typeof config['id'] === 'number' ? config['id'] : undefined;
    if (t.expectedClusterId !== undefined && id !== undefined && id !== t.expectedClusterId) {
      return fail('read', `${t.peer} publishes cluster ID ${id}, the spec says ${t.expectedClusterId}`);
    }
    steps.push({ step: 'read', ok: true, detail: `read ${key}${id !== undefined ? ` (cluster ID ${id})` : ''}` });
    return { target: t, ok: true, steps, clusterConfig: config };
  } finally {
    etcd.close();
  }
}

function etcdErrorText(err: unknown): string {
  const msg = errText(err);
  // etcd3 names the class (EtcdPermissionDeniedError) and keeps etcd's own text in the message.
  if (/permission denied/i.test(msg) || (err as Error)?.name === 'EtcdPermissionDeniedError') return `etcdserver: permission denied (${msg})`;
  return msg;
}

/** How a peer is dialled (the plan's `Dial`, with the mesh domain). */
export interface PeerDial {
  peer: string;
  port: number;
  ips?: string[];
  address?: string;
  expectedClusterId?: number;
}

/** Probe targets for one peer: every IP (dialled as `<peer>.<domain>`) or the address. */
export function probeTargets(cluster: string, dial: PeerDial, domain: string): ProbeTarget[] {
  const common = { cluster, peer: dial.peer, port: dial.port, ...(dial.expectedClusterId !== undefined ? { expectedClusterId: dial.expectedClusterId } : {}) };
  if (dial.address) return [{ ...common, host: dial.address, serverName: dial.address }];
  return (dial.ips ?? []).map((ip) => ({ ...common, host: ip, serverName: `${dial.peer}.${domain}` }));
}

let etcd3Module: Promise<typeof import('etcd3')> | undefined;
function loadEtcd3(): Promise<typeof import('etcd3')> {
  return (etcd3Module ??= import('etcd3'));
}
