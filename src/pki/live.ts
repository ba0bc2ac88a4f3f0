/**
 * The certificates a live cluster uses for Cluster Mesh, read from its Secrets, and what they
 * mean: the CA (Secret cilium-ca) and each clustermesh certificate (server, admin, remote, local:
 * Secrets clustermesh-apiserver-<kind>-cert, `tls.crt`) with fingerprint, not-after, days left and
 * issuer, judged against the shared CA and the renewal window: `ok`, `due` (expires within
 * `renewBeforeDays`), `expired`, or `foreign` (not issued by the shared CA). Reading is the only
 * I/O (`readLiveCertificates`); judging is pure.
 */
import { X509Certificate } from 'node:crypto';
import { field, str, type ClusterClient, type KubeObject } from '../kube/client.js';
import { CILIUM_CA_SECRET } from '../defaults.js';

export type LiveCertRole = 'ca' | 'server' | 'admin' | 'remote' | 'local';

/** Which Secret holds which certificate (the chart's names, Cilium 1.15–1.20). */
export const LIVE_CERT_SECRETS: readonly { role: LiveCertRole; secret: string; key: string }[] = [
  { role: 'ca', secret: CILIUM_CA_SECRET, key: 'ca.crt' },
  { role: 'server', secret: 'clustermesh-apiserver-server-cert', key: 'tls.crt' },
  { role: 'admin', secret: 'clustermesh-apiserver-admin-cert', key: 'tls.crt' },
  { role: 'remote', secret: 'clustermesh-apiserver-remote-cert', key: 'tls.crt' },
  { role: 'local', secret: 'clustermesh-apiserver-local-cert', key: 'tls.crt' },
];

export type LiveCertState = 'ok' | 'due' | 'expired' | 'foreign' | 'unreadable';

export interface LiveCert {
  role: LiveCertRole;
  secret: string;
  subject: string;
  issuer: string;
  fingerprint256: string;
  notAfter: string;
  daysLeft: number;
  state: LiveCertState;
  /** Why the state (empty for ok). */
  detail?: string;
}

export interface ClusterCertificates {
  cluster: string;
  certs: LiveCert[];
  /** The Secrets could not be read (e.g. RBAC). */
  error?: string;
}

export interface JudgeOptions {
  now: Date;
  renewBeforeDays: number;
  /** The shared CA (PEM) and any CAs every cluster also trusts while a CA rotates (`ca.trust`). */
  sharedCa?: string;
  trusted?: readonly string[];
}

const DAY_MS = 86_400_000;

function decode(secret: KubeObject | undefined, key: string): string | undefined {
  const b64 = str(field(secret, 'data', key));
  if (b64 === undefined) return undefined;
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** The live Secrets' certificates as PEM text by role (absent Secrets left out). Throws what the client throws. */
export async function readLiveCertificates(client: ClusterClient, namespace: string): Promise<{ role: LiveCertRole; secret: string; pem: string }[]> {
  // One request per Secret, all at once (a round trip each; their order is the list's).
  const objs = await Promise.all(LIVE_CERT_SECRETS.map((s) => client.get('Secret', s.secret, namespace)));
  return LIVE_CERT_SECRETS.flatMap((s, i) => {
    const pem = decode(objs[i], s.key);
    return pem?.includes('BEGIN CERTIFICATE') ? [{ role: s.role, secret: s.secret, pem }] : [];
  });
}

function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The CA PEMs parsed once; one that does not parse trusts nothing. */
function parseCas(pems: readonly string[]): X509Certificate[] {
  return pems.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
}

/** Judges each certificate (first PEM block of each) against the shared CA and the window. Pure. */
export function judgeCertificates(found: readonly { role: LiveCertRole; secret: string; pem: string }[], opts: JudgeOptions): LiveCert[] {
  const now = opts.now.getTime();
  const pems = [opts.sharedCa, ...(opts.trusted ?? [])].filter((x): x is string => !!x);
  const cas = parseCas(pems);
  return found.map((f): LiveCert => {
    let x: X509Certificate;
    try {
      x = new X509Certificate(f.pem);
    } catch (err) {
      return { role: f.role, secret: f.secret, subject: '', issuer: '', fingerprint256: '', notAfter: '', daysLeft: 0, state: 'unreadable', detail: `not a certificate: ${err instanceof Error ? err.message : String(err)}` };
    }
    const notAfter = new Date(x.validTo);
    const daysLeft = Math.floor((notAfter.getTime() - now) / DAY_MS);
    const base = { role: f.role, secret: f.secret, subject: x.subject.replace(/\n/g, ', '), issuer: x.issuer.replace(/\n/g, ', '), fingerprint256: x.fingerprint256, notAfter: notAfter.toISOString(), daysLeft };
    if (notAfter.getTime() <= now) return { ...base, state: 'expired', detail: `expired on ${notAfter.toISOString().slice(0, 10)}` };
    if (pems.length) {
      const ok = f.role === 'ca' ? cas.some((c) => c.fingerprint256 === x.fingerprint256) : cas.some((c) => issuedBy(x, c));
      if (!ok) return { ...base, state: 'foreign', detail: f.role === 'ca' ? 'this cluster\'s CA is not the shared CA of the spec' : 'not issued by the shared CA of the spec' };
    }
    if (notAfter.getTime() - now <= opts.renewBeforeDays * DAY_MS) return { ...base, state: 'due', detail: `expires in ${daysLeft} day(s), inside the renewal window of ${opts.renewBeforeDays} days` };
    return { ...base, state: 'ok' };
  });
}

/** Reads and judges every cluster's certificates; a cluster whose Secrets cannot be read says why. */
export async function clusterCertificates(targets: readonly { name: string; client: ClusterClient }[], namespace: string, opts: JudgeOptions): Promise<ClusterCertificates[]> {
  return Promise.all(
    targets.map(async (t) => {
      try {
        return { cluster: t.name, certs: judgeCertificates(await readLiveCertificates(t.client, namespace), opts) };
      } catch (err) {
        return { cluster: t.name, certs: [], error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** The certificates as a table section for `status` and `doctor`. */
export function formatCertificates(cs: readonly ClusterCertificates[]): string {
  const rows: string[][] = [['CLUSTER', 'CERTIFICATE', 'NOT AFTER', 'DAYS', 'STATE', 'FINGERPRINT (SHA-256)', 'ISSUER']];
  for (const c of cs) {
    if (c.error) {
      rows.push([c.cluster, '-', '-', '-', 'unreadable', c.error.slice(0, 80), '']);
      continue;
    }
    for (const x of c.certs) rows.push([c.cluster, x.role, x.notAfter.slice(0, 10), String(x.daysLeft), x.state, x.fingerprint256.slice(0, 23) + (x.fingerprint256 ? '…' : ''), x.issuer]);
  }
  const widths: number[] = [];
  for (const r of rows) r.forEach((v, i) => (widths[i] = Math.max(widths[i] ?? 0, v.length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** What `status` and `doctor` judge the live certificates against, from the spec's CA. */
export function judgeOptionsOf(ca: { certPem: string; trust?: readonly { certPem: string }[] } | undefined, renewBeforeDays: number, now: Date): JudgeOptions {
  return { now, renewBeforeDays, ...(ca ? { sharedCa: ca.certPem, trusted: (ca.trust ?? []).map((t) => t.certPem) } : {}) };
}

/** One line per certificate that needs action, for `status` (doctor gives cause and fix). */
export function certificateNotes(cs: readonly ClusterCertificates[]): string {
  const lines = cs.flatMap((c) => c.certs.filter((x) => x.state !== 'ok').map((x) => `  ${c.cluster}: ${x.role} certificate ${x.state}: ${x.detail ?? ''}`));
  return lines.length ? `\n\ncertificates needing action (meshform doctor for the fix):\n${lines.join('\n')}` : '';
}
