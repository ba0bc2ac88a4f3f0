/**
 * The names of a cluster's clustermesh-apiserver server certificate, and the address its peers
 * dial: one pure function each, the single source for pki (the issued certificate), plan/render
 * (the chart's `tls.server.extraDnsNames/extraIpAddresses`) and validate (SAN coverage).
 *
 * Built-in names follow the chart of the cluster's Cilium version (clustermesh-apiserver
 * `_helpers.tpl`, tls-helm and certgen templates): up to 1.19 CN `clustermesh-apiserver.cilium.io`
 * with DNS SANs that CN, `*.mesh.cilium.io` and `clustermesh-apiserver.<ns>.svc`; from 1.20 CN
 * `clustermesh-apiserver.<ns>.svc` with DNS SANs that CN and `*.mesh.cilium.io`; IP SANs 127.0.0.1
 * and ::1 in both. meshform adds `<cluster>.<domain>` (what peers dial), `*.<domain>` for a custom
 * domain, a LoadBalancer `address` (as an IP SAN when it is an IP) and the spec's extras.
 */
import type { Endpoint } from '../spec/types.js';
import { formatIp, parseIp } from '../util/cidr.js';
import { featuresOf, parseCiliumVersion } from '../util/version.js';

import { DEFAULT_DOMAIN } from '../defaults.js';

/** The server certificate's CN up to Cilium 1.19 (from 1.20 it is `clustermesh-apiserver.<ns>.svc`). */
export const SERVER_CN = 'clustermesh-apiserver.cilium.io';

/** The server certificate's CN the chart of `ciliumVersion` gives (unparseable: the pre-1.20 form). */
export function serverCommonName(ciliumVersion: string | undefined, namespace: string): string {
  const v = ciliumVersion === undefined ? undefined : parseCiliumVersion(ciliumVersion);
  return v && featuresOf(v).serverCnNamespaced ? `clustermesh-apiserver.${namespace}.svc` : SERVER_CN;
}

/** The cluster fields the names depend on (a `ClusterSpec` fits). */
export interface CertNamesCluster {
  name: string;
  /** Decides the chart's built-in names (1.20 changed them); absent or unparseable: the pre-1.20 form. */
  ciliumVersion?: string;
  endpoint: Endpoint;
  tls: { extraDnsNames: readonly string[]; extraIpAddresses: readonly string[] };
}

/** The mesh fields the names depend on (a `MeshSpec` fits). */
export interface CertNamesMesh {
  domain: string;
  cilium: { namespace: string };
}

/** A name that cannot go into a certificate, with where it came from (relative to the cluster). */
export interface InvalidCertName {
  /** `endpoint.address`, `tls.extraDnsNames[2]`, `tls.extraIpAddresses[0]`. */
  field: string;
  value: string;
  expected: 'dns' | 'ip';
}

export interface ServerCertNames {
  commonName: string;
  /** Every DNS SAN: lower case, no trailing dot, de-duplicated, sorted. */
  dnsNames: string[];
  /** Every IP SAN, canonical, de-duplicated, sorted by family then value. */
  ipAddresses: string[];
  /** The SANs beyond the chart's built-ins, as the chart's `tls.server.extra*` values carry them. */
  extra: { dnsNames: string[]; ipAddresses: string[] };
  /** Names left out because they are neither a DNS name nor an IP. */
  invalid: InvalidCertName[];
}

/** How a peer reaches a cluster's clustermesh-apiserver: the `clustermesh.config.clusters` entry body. */
export interface Dial {
  /** Peer dials https://<name>.<domain>:<port>, the chart maps these IPs with hostAliases. */
  ips?: string[];
  /** Peer dials this address as is. */
  address?: string;
  port: number;
}

const DNS_RE = /^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS name as certificate SANs hold it: dot-separated labels, optionally starting with `*.`. */
export function isCertDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS_RE.test(name);
}

function normDns(s: string): string {
  return s.trim().toLowerCase().replace(/\.$/, '');
}

function normDomain(domain: string): string {
  return normDns(domain);
}

export function byIp(a: string, b: string): number {
  const x = parseIp(a)!;
  const y = parseIp(b)!;
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** The address peers dial for `c` (an `address` as is, else `<name>.<domain>` mapped to `ips`). */
export function dialOf(c: Pick<CertNamesCluster, 'endpoint'>): Dial {
  const e = c.endpoint;
  if (e.type === 'NodePort') return { ips: [...e.ips], port: e.nodePort };
  if (e.address) return { address: e.address, port: e.port };
  return { ips: e.loadBalancerIP ? [e.loadBalancerIP] : [], port: e.port };
}

/** The host name or IP a peer's TLS client checks the server certificate against. */
export function dialledHost(c: CertNamesCluster, mesh: Pick<CertNamesMesh, 'domain'>): string {
  return dialOf(c).address ?? `${c.name}.${normDomain(mesh.domain)}`;
}

/**
 * The server certificate names of cluster `c` in `mesh`. Pure: the same input gives the same
 * names wherever they are needed. An "extra DNS name" or address that is an IP goes to the IPs.
 */
export function serverCertNames(c: CertNamesCluster, mesh: CertNamesMesh): ServerCertNames {
  const domain = normDomain(mesh.domain);
  const invalid: InvalidCertName[] = [];
  const extraDns: string[] = [];
  const extraIps: string[] = [];
  const addIp = (text: string, field: string): void => {
    const ip = parseIp(text.trim());
    if (!ip) {
      invalid.push({ field, value: text, expected: 'ip' });
      return;
    }
    const canon = formatIp(ip.family, ip.value);
    if (!extraIps.includes(canon)) extraIps.push(canon);
  };
  const addName = (raw: string, field: string): void => {
    const name = normDns(raw);
    if (name === '') return;
    if (parseIp(name)) return addIp(name, field);
    if (!isCertDnsName(name)) {
      invalid.push({ field, value: raw, expected: 'dns' });
      return;
    }
    if (!extraDns.includes(name)) extraDns.push(name);
  };
  addName(`${c.name}.${domain}`, 'name');
  const dial = dialOf(c);
  if (dial.address !== undefined) addName(dial.address, 'endpoint.address');
  c.tls.extraDnsNames.forEach((n, i) => addName(n, `tls.extraDnsNames[${i}]`));
  c.tls.extraIpAddresses.forEach((n, i) => addIp(n, `tls.extraIpAddresses[${i}]`));

  const commonName = serverCommonName(c.ciliumVersion, mesh.cilium.namespace);
  const svc = `clustermesh-apiserver.${mesh.cilium.namespace}.svc`;
  const dns = new Set<string>([commonName, `*.${DEFAULT_DOMAIN}`, svc]);
  if (domain !== DEFAULT_DOMAIN) dns.add(`*.${domain}`);
  for (const n of extraDns) dns.add(n);
  const ips = new Set<string>(['127.0.0.1', '::1', ...extraIps]);
  return {
    commonName,
    dnsNames: [...dns].sort(),
    ipAddresses: [...ips].sort(byIp),
    extra: { dnsNames: extraDns, ipAddresses: extraIps },
    invalid,
  };
}

/** RFC 6125 matching: exact, or a leading `*.` standing for exactly one label. */
export function dnsCovered(name: string, sans: readonly string[]): boolean {
  const n = normDns(name);
  return sans.some((san) => {
    const s = normDns(san);
    if (s === n) return true;
    if (!s.startsWith('*.')) return false;
    const dot = n.indexOf('.');
    return dot > 0 && n.slice(dot + 1) === s.slice(2);
  });
}

/** Whether `host` (a DNS name or an IP, as a peer dials it) is covered by the certificate names. */
export function hostCovered(host: string, names: Pick<ServerCertNames, 'dnsNames' | 'ipAddresses'>): boolean {
  const ip = parseIp(host.trim());
  if (ip) return names.ipAddresses.includes(formatIp(ip.family, ip.value));
  return dnsCovered(host, names.dnsNames);
}
