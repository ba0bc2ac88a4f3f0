/**
 * The clustermesh-apiserver leaf certificates of each cluster (DESIGN.md §4), issued from the shared
 * CA for certificate method `provided`, and kept across renders until they are due for renewal.
 *
 * Names and usages follow Cilium's chart (install/kubernetes/cilium/templates/clustermesh-apiserver,
 * the cronJob/certgen config and `_helpers.tpl`): server CN `clustermesh-apiserver.cilium.io` with
 * SANs `clustermesh-apiserver.cilium.io`, `*.mesh.cilium.io`, `clustermesh-apiserver.<ns>.svc`,
 * 127.0.0.1, ::1 and the extras; admin `admin-<cluster>`; remote `remote-<cluster>` in authMode
 * cluster, `remote` otherwise; local `local-<cluster>`.
 */
import { inputError } from '../errors.js';
import type { AuthMode, KeyAlgorithm } from '../spec/types.js';
import { formatIp, parseIp } from '../util/cidr.js';
import { leafProfile } from './ca.js';
import type { IssuerSetup, Job } from './issuer.js';
import { defaultConcurrency, runJobs } from './pool.js';
import { SecretPem } from './secret.js';
import type { CaMaterial, IssuedCert, LeafKind, LeafRequest } from './types.js';

/** The domain Cilium's server certificate covers with `*.mesh.cilium.io` out of the box. */
export const DEFAULT_DOMAIN = 'mesh.cilium.io';
export const SERVER_CN = 'clustermesh-apiserver.cilium.io';

const DNS_RE = /^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function byIp(a: string, b: string): number {
  const x = parseIp(a)!;
  const y = parseIp(b)!;
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/**
 * The leaf requests of one cluster: server, admin, remote, and local when the Cilium version has
 * the local certificate (1.16+). SANs are lower-cased, de-duplicated and sorted (DNS names by
 * text, IPs by family then value, IPs in canonical form); an "extra DNS name" that is an IP
 * (a LoadBalancer address given as an IP) goes to the IP SANs.
 */
export function clusterLeafRequests(a: {
  cluster: string;
  domain: string;
  namespace: string;
  authMode: AuthMode;
  localCert: boolean;
  extraDnsNames: string[];
  extraIpAddresses: string[];
}): LeafRequest[] {
  const domain = a.domain.toLowerCase().replace(/\.$/, '');
  const dns = new Set<string>([SERVER_CN, '*.mesh.cilium.io', `clustermesh-apiserver.${a.namespace}.svc`, `${a.cluster}.${domain}`]);
  if (domain !== DEFAULT_DOMAIN) dns.add(`*.${domain}`);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const addIp = (text: string, field: string): void => {
    const ip = parseIp(text.trim());
    if (!ip) {
      throw inputError({
        code: 'SAN_INVALID',
        path: `tls.${field}`,
        value: text,
        message: `${JSON.stringify(text)} in the server certificate names of cluster ${a.cluster} is not an IP address`,
        rule: 'extraIpAddresses holds IPv4 or IPv6 addresses',
        fix: 'write an address such as 192.0.2.10 or 2001:db8::10, or move a name to extraDnsNames',
      });
    }
    ips.add(formatIp(ip.family, ip.value));
  };
  for (const raw of a.extraDnsNames) {
    const name = raw.trim().toLowerCase().replace(/\.$/, '');
    if (name === '') continue;
    if (parseIp(name)) {
      addIp(name, 'extraDnsNames');
      continue;
    }
    if (!DNS_RE.test(name) || name.length > 253) {
      throw inputError({
        code: 'SAN_INVALID',
        path: 'tls.extraDnsNames',
        value: raw,
        message: `${JSON.stringify(raw)} in the server certificate names of cluster ${a.cluster} is not a DNS name`,
        rule: 'a certificate DNS name is dot-separated labels of a-z, 0-9 and -, optionally starting with *.',
        fix: 'correct the name, e.g. clustermesh.example.net',
      });
    }
    dns.add(name);
  }
  for (const ip of a.extraIpAddresses) addIp(ip, 'extraIpAddresses');

  const client = (kind: LeafKind, commonName: string): LeafRequest => ({
    cluster: a.cluster,
    kind,
    commonName,
    dnsNames: [],
    ipAddresses: [],
    usage: 'client',
  });
  const out: LeafRequest[] = [
    {
      cluster: a.cluster,
      kind: 'server',
      commonName: SERVER_CN,
      dnsNames: [...dns].sort(),
      ipAddresses: [...ips].sort(byIp),
      usage: 'server',
    },
    client('admin', `admin-${a.cluster}`),
    client('remote', a.authMode === 'cluster' ? `remote-${a.cluster}` : 'remote'),
  ];
  if (a.localCert) out.push(client('local', `local-${a.cluster}`));
  return out;
}

/** Key of the `existing` map: `<cluster>/<kind>`. */
export function storeKey(r: { cluster: string; kind: LeafKind }): string {
  return `${r.cluster}/${r.kind}`;
}

/**
 * Issues the requested leaf certificates from `ca`, reusing an existing one (from `existing`,
 * keyed `<cluster>/<kind>`) when it parses, is signed by this CA, says exactly what the request
 * says, holds a key of `keyAlgorithm` that matches its key file, has started, and does not expire
 * within `renewBeforeDays`. New ones get a random serial and are valid from five minutes before
 * `now` (clock skew) for `validityDays`. Work is spread over `concurrency` threads (default: one
 * per core). The result is in request order.
 */
export async function issueLeaves(
  requests: LeafRequest[],
  ca: CaMaterial,
  opts: {
    now: Date;
    validityDays: number;
    renewBeforeDays: number;
    keyAlgorithm: KeyAlgorithm;
    existing?: Map<string, { certPem: string; keyPem: string }>;
    concurrency?: number;
  },
): Promise<IssuedCert[]> {
  if (requests.length === 0) return [];
  const setup: IssuerSetup = {
    caCertPem: ca.certPem,
    caKeyPem: ca.key.reveal(),
    ...leafProfile(ca, opts.keyAlgorithm),
    now: opts.now.getTime(),
    validityDays: opts.validityDays,
    renewBeforeDays: opts.renewBeforeDays,
    keyAlgorithm: opts.keyAlgorithm,
  };
  const jobs: Job[] = requests.map((request) => {
    const existing = opts.existing?.get(storeKey(request));
    return existing ? { request, existing } : { request };
  });
  const results = await runJobs(setup, jobs, opts.concurrency ?? defaultConcurrency());
  return results.map((r, i) => ({
    request: requests[i]!,
    certPem: r.certPem,
    key: new SecretPem(r.keyPem),
    fingerprint256: r.fingerprint256,
    serialNumber: r.serialNumber,
    notBefore: new Date(r.notBefore),
    notAfter: new Date(r.notAfter),
    reused: r.reused,
  }));
}
