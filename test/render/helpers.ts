/** Test helpers: in-memory specs, and CA/leaf material built from PEM files without the pki module. */
import { X509Certificate } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { SecretPem } from '../../src/pki/secret.js';
import type { CaMaterial, ClusterCerts, IssuedCert, LeafKind } from '../../src/pki/types.js';
import type { CertMethod, ClusterSpec, MeshSpec, ValuesFile } from '../../src/spec/types.js';
import { rke2ChartVersion, parseCiliumVersion } from '../../src/util/version.js';

export function caFromPem(certPem: string, keyPem: string): CaMaterial {
  const x = new X509Certificate(certPem);
  return {
    certPem,
    key: new SecretPem(keyPem),
    subject: x.subject,
    fingerprint256: x.fingerprint256,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
  };
}

export function issuedFromPem(cluster: string, kind: LeafKind, certPem: string, keyPem: string): IssuedCert {
  const x = new X509Certificate(certPem);
  const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    request: {
      cluster,
      kind,
      commonName: x.subject.replace(/^CN=/, ''),
      dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
      ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11)),
      usage: kind === 'server' ? 'server' : 'client',
    },
    certPem,
    key: new SecretPem(keyPem),
    fingerprint256: x.fingerprint256,
    serialNumber: x.serialNumber,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    reused: true,
  };
}

/** Reads `<dir>/<cluster>/<kind>.{crt,key}` for every cluster that has a folder. */
export function certsFromDir(dir: string, clusters: string[]): Map<string, ClusterCerts> {
  const out = new Map<string, ClusterCerts>();
  for (const c of clusters) {
    const one = (kind: LeafKind): IssuedCert | undefined => {
      const crt = join(dir, c, `${kind}.crt`);
      if (!existsSync(crt)) return undefined;
      return issuedFromPem(c, kind, readFileSync(crt, 'utf8'), readFileSync(join(dir, c, `${kind}.key`), 'utf8'));
    };
    const server = one('server');
    const admin = one('admin');
    const remote = one('remote');
    const local = one('local');
    if (server && admin && remote) out.set(c, { server, admin, remote, ...(local ? { local } : {}) });
  }
  return out;
}

/** Fake but well-formed PEM-looking text; enough for render tests that never parse certs. */
export function fakeCerts(cluster: string, withLocal: boolean): ClusterCerts {
  const one = (kind: LeafKind): IssuedCert => ({
    request: { cluster, kind, commonName: `${kind}-${cluster}`, dnsNames: [], ipAddresses: [], usage: kind === 'server' ? 'server' : 'client' },
    certPem: `-----BEGIN CERTIFICATE-----\nCERT-${kind}-${cluster}\n-----END CERTIFICATE-----\n`,
    key: new SecretPem(`-----BEGIN PRIVATE KEY-----\nSECRETKEY-${kind}-${cluster}\n-----END PRIVATE KEY-----\n`),
    fingerprint256: `FP:${kind}:${cluster}`,
    serialNumber: '01',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2029-01-01T00:00:00Z'),
    reused: false,
  });
  return { server: one('server'), admin: one('admin'), remote: one('remote'), ...(withLocal ? { local: one('local') } : {}) };
}

export const FAKE_CA: CaMaterial = {
  certPem: '-----BEGIN CERTIFICATE-----\nFAKE-CA-CERT\n-----END CERTIFICATE-----\n',
  key: new SecretPem('-----BEGIN PRIVATE KEY-----\nSECRETKEY-CA\n-----END PRIVATE KEY-----\n'),
  subject: 'CN=fake',
  fingerprint256: 'FP:CA',
  notBefore: new Date('2026-01-01T00:00:00Z'),
  notAfter: new Date('2036-01-01T00:00:00Z'),
};

export function valuesFile(text: string): ValuesFile {
  const doc = parseDocument(text);
  return { path: '/in-memory/values.yaml', text, doc, data: (doc.toJS() ?? {}) as Record<string, unknown> };
}

export interface SpecOptions {
  version?: string;
  method?: CertMethod;
  maxConnectedClusters?: 255 | 511;
  rke2Version?: string;
  values?: (i: number) => ValuesFile | undefined;
  loadBalancerEvery?: number;
}

/** A generated, valid N-cluster spec: names c000…, IDs 1…N, distinct CIDRs and NodePorts. */
export function makeSpec(n: number, o: SpecOptions = {}): MeshSpec {
  const version = o.version ?? '1.17.6';
  const names = Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, '0')}`);
  const clusters: ClusterSpec[] = names.map((name, i) => {
    const lb = o.loadBalancerEvery !== undefined && i % o.loadBalancerEvery === 1;
    const values = o.values?.(i);
    return {
      index: i,
      name,
      id: i + 1,
      podCIDRs: [`10.${100 + (i >> 8)}.${i & 255}.0/24`],
      serviceCIDRs: [`172.${16 + (i >> 8)}.${i & 255}.0/24`],
      nodeCIDRs: [],
      endpoint: lb
        ? { type: 'LoadBalancer', address: `${name}.lb.example.net`, port: 2379 }
        : { type: 'NodePort', nodePort: 30000 + i, ips: [`100.${64 + (i >> 8)}.${i & 255}.1`, `100.${64 + (i >> 8)}.${i & 255}.2`] },
      ...(values ? { values } : {}),
      ciliumVersion: version,
      chartVersion: rke2ChartVersion(parseCiliumVersion(version)!),
      rke2Version: o.rke2Version ?? 'v1.32.4+rke2r1',
      tls: { extraDnsNames: [], extraIpAddresses: [] },
      peers: names.filter((x) => x !== name),
      peersExplicit: false,
      disableKubeProxy: true,
    };
  });
  return {
    path: '/in-memory/mesh.yaml',
    dir: '/in-memory',
    name: 'generated',
    cilium: { version, release: 'rke2-cilium', namespace: 'kube-system' },
    domain: 'mesh.cilium.io',
    maxConnectedClusters: o.maxConnectedClusters ?? (n > 255 ? 511 : 255),
    authMode: 'cluster',
    certificates: { method: o.method ?? 'provided', validityDays: 1095, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' },
    ca: { cert: '/in-memory/ca.crt', key: '/in-memory/ca.key' },
    apiserver: { replicas: 2 },
    nodePortRange: { min: 30000, max: 32767 },
    clusters,
  };
}

/** Fake certs for every cluster of a spec (method provided). */
export function fakeCertsFor(spec: MeshSpec): Map<string, ClusterCerts> {
  return new Map(
    spec.clusters.map((c) => {
      const minor = parseCiliumVersion(c.ciliumVersion)!.minor;
      return [c.name, fakeCerts(c.name, minor >= 16)];
    }),
  );
}
