/**
 * The runtime schema of `mesh.yaml` (DESIGN.md §3) and of facts files. Strict objects: unknown keys
 * are findings with a did-you-mean. Syntax of CIDRs, IPs and versions is checked here so that a
 * loaded spec only holds parseable values; cross-field rules live in `src/validate`.
 */
import * as z from 'zod';
import type { FindingCode } from '../validate/catalogue.js';
import { parseCidr, parseIp } from '../util/cidr.js';
import { parseCiliumVersion } from '../util/version.js';
import { SPEC_DEFAULTS as D } from '../defaults.js';

/** Extra data a custom issue carries so it becomes a complete finding. */
export interface IssueParams {
  code: FindingCode;
  rule: string;
  fix: string;
}

function custom(ctx: z.core.$RefinementCtx<unknown>, message: string, params: IssueParams): void {
  ctx.addIssue({ code: 'custom', message, params: params as unknown as Record<string, unknown> });
}

export const cidrString = z.string().superRefine((v, ctx) => {
  const r = parseCidr(v);
  if (r.ok) return;
  if (r.canonical) {
    custom(ctx, `${v} is not a canonical CIDR: host bits are set (the block is ${r.canonical})`, {
      code: 'CIDR_NOT_CANONICAL',
      rule: 'a CIDR names its block by the first address: no host bits may be set',
      fix: `write ${r.canonical}`,
    });
  } else {
    custom(ctx, `${JSON.stringify(v)} is not a CIDR: ${r.reason}`, {
      code: 'CIDR_INVALID',
      rule: 'a CIDR is <IPv4 or IPv6 address>/<prefix length>',
      fix: 'write the block as e.g. 10.244.0.0/16 or fd00:10:244::/56',
    });
  }
});

export const ipString = z.string().superRefine((v, ctx) => {
  if (parseIp(v)) return;
  custom(ctx, `${JSON.stringify(v)} is not an IPv4 or IPv6 address`, {
    code: 'IP_INVALID',
    rule: 'an IP address is a dotted IPv4 quad without leading zeros or an IPv6 address without zone',
    fix: 'write a plain address, e.g. 192.0.2.21',
  });
});

export const versionString = z.string().superRefine((v, ctx) => {
  if (parseCiliumVersion(v)) return;
  custom(ctx, `${JSON.stringify(v)} is not a version (expected MAJOR.MINOR.PATCH, e.g. 1.15.5)`, {
    code: 'VERSION_INVALID',
    rule: 'Cilium and chart versions are MAJOR.MINOR.PATCH',
    fix: 'write the full version in quotes-free form, e.g. 1.15.5',
  });
});

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const meshName = z.string().superRefine((v, ctx) => {
  if (v.length <= 63 && NAME_RE.test(v)) return;
  custom(ctx, `mesh name ${JSON.stringify(v)} must be a DNS label`, {
    code: 'MESH_NAME_INVALID',
    rule: 'the mesh name is a DNS label: lower-case letters, digits and "-", at most 63 characters',
    fix: 'rename the mesh, e.g. "onprem"',
  });
});

const nodePortRange = z.string().superRefine((v, ctx) => {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v.trim());
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= Number(m[2]) && Number(m[2]) <= 65535) return;
  custom(ctx, `${JSON.stringify(v)} is not a port range`, {
    code: 'NODEPORT_RANGE_INVALID',
    rule: 'nodePortRange is "MIN-MAX" with 1 ≤ MIN ≤ MAX ≤ 65535, as kube-apiserver --service-node-port-range',
    fix: 'write e.g. "30000-32767" (the RKE2 default)',
  });
});

const port = z.number().int().min(1).max(65535);
const stringOrList = <T extends z.ZodType<string>>(s: T) => z.union([s, z.array(s)]);

export const endpointSchema = z.strictObject({
  type: z.enum(['NodePort', 'LoadBalancer']).optional(),
  nodePort: port.optional(),
  ips: z.array(ipString).optional(),
  loadBalancerIP: ipString.optional(),
  address: z.string().min(1).optional(),
  port: port.optional(),
});

export const clusterSchema = z.strictObject({
  name: z.string(),
  id: z.number().int(),
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  podCIDR: stringOrList(cidrString).optional(),
  serviceCIDR: stringOrList(cidrString).optional(),
  nodeCIDRs: z.array(cidrString).optional(),
  endpoint: endpointSchema.optional(),
  values: z.string().min(1).optional(),
  ciliumVersion: versionString.optional(),
  chartVersion: versionString.optional(),
  rke2Version: z.string().min(1).optional(),
  tls: z
    .strictObject({
      extraDnsNames: z.array(z.string().min(1)).optional(),
      extraIpAddresses: z.array(ipString).optional(),
    })
    .optional(),
  kvstoremesh: z.boolean().optional(),
  hubble: z.strictObject({ ui: z.strictObject({ nodePort: port.optional() }).optional() }).optional(),
  disableKubeProxy: z.boolean().optional(),
  peers: z.array(z.string()).optional(),
});
export type ClusterInput = z.infer<typeof clusterSchema>;

export const meshSchema = z.strictObject({
  apiVersion: z.literal('meshform/v1alpha1'),
  kind: z.literal('Mesh'),
  name: meshName,
  cilium: z.strictObject({
    version: versionString,
    release: z.string().min(1).default(D.release),
    namespace: z.string().min(1).default(D.namespace),
  }),
  domain: z.string().default(D.domain),
  maxConnectedClusters: z.union([z.literal(255), z.literal(511)]).default(D.maxConnectedClusters),
  authMode: z.enum(['legacy', 'migration', 'cluster']).default(D.authMode),
  certificates: z
    .strictObject({
      method: z.enum(['provided', 'helm', 'cronJob', 'certmanager', 'keep']).default(D.certificates.method),
      // Absent: the chart's default for the mesh's Cilium versions (defaults.ts), filled by the loader.
      validityDays: z.number().int().min(1).max(36500).optional(),
      renewBeforeDays: z.number().int().min(0).max(36500).default(D.certificates.renewBeforeDays),
      keyAlgorithm: z.enum(['ecdsa-p256', 'rsa-2048', 'rsa-4096']).default(D.certificates.keyAlgorithm),
    })
    .default({ ...D.certificates }),
  ca: z
    .strictObject({
      cert: z.string().min(1),
      key: z.string().min(1),
      trust: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
  apiserver: z.strictObject({ replicas: z.number().int().min(1).max(100).default(D.apiserverReplicas) }).default({ replicas: D.apiserverReplicas }),
  nodePortRange: nodePortRange.default(D.nodePortRange),
  // Clusters are checked one by one (clusterSchema) so that a bad cluster does not hide the
  // file-level problems of the good ones.
  clusters: z.array(z.unknown()).min(1),
});
export type MeshInput = z.infer<typeof meshSchema>;

// Facts (src/kube/facts.ts derives its types from these): what discover reads, or a facts file states.
// A node's roles come from labels node-role.kubernetes.io/*; one with none of control-plane/master/etcd is a worker.
const nodeFactSchema = z.strictObject({
  name: z.string().min(1),
  roles: z.array(z.enum(['control-plane', 'master', 'etcd', 'worker'])).default([]),
  internalIPs: z.array(ipString).default([]),
  externalIPs: z.array(ipString).default([]),
  podCIDRs: z.array(cidrString).default([]),
});

const clusterFactsSchema = z.strictObject({
  nodes: z.array(nodeFactSchema).optional(),
  // From the helm release or the HelmChart; clusterName/clusterId/maxConnectedClusters from ConfigMap
  // cilium-config; clusterCIDR/serviceCIDR from HelmChart spec.set globals; values: the release's user values.
  ciliumVersion: versionString.optional(),
  chartVersion: versionString.optional(),
  clusterName: z.string().optional(),
  clusterId: z.number().int().optional(),
  maxConnectedClusters: z.number().int().optional(),
  clusterCIDR: z.array(cidrString).optional(),
  serviceCIDR: z.array(cidrString).optional(),
  rke2Version: z.string().optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  service: z
    .strictObject({
      type: z.string(),
      nodePort: port.optional(),
      loadBalancerIngress: z.array(z.string()).optional(),
    })
    .optional(),
  // What `discover` adds beyond the rules' needs; accepted so its output can be fed back as a facts file.
  kubeSystemUID: z.string().optional(),
  routingMode: z.string().optional(),
  tunnelProtocol: z.string().optional(),
  kubeProxyReplacement: z.string().optional(),
  kvstoremesh: z.boolean().optional(),
  // The certificate (public part only: ca.crt, PEM) of the cluster's CA, Secret cilium-ca: init
  // notices clusters with differing CAs from it.
  caCert: z.string().max(64 * 1024).optional(),
  // The peers its deployed values connect it to (clustermesh.config.clusters with config.enabled): a meshed cluster.
  peers: z.array(z.string()).optional(),
  helmChart: z
    .strictObject({ version: z.string().optional(), set: z.record(z.string(), z.string()), valuesContent: z.string().optional() })
    .optional(),
  helmChartConfig: z.strictObject({ valuesContent: z.string(), failurePolicy: z.string().optional() }).optional(),
  helmRelease: z
    .strictObject({ revision: z.number().int(), status: z.string(), chartVersion: z.string().optional(), appVersion: z.string().optional() })
    .optional(),
  warnings: z.array(z.string()).optional(),
});

export const factsSchema = z.strictObject({
  clusters: z.record(z.string(), clusterFactsSchema),
});

/** Keys an object schema accepts at `segments` below `schema`, for did-you-mean. */
export function knownKeysAt(schema: z.ZodType, segments: readonly (string | number)[]): string[] {
  let s: unknown = schema;
  for (let i = 0; i <= segments.length; i++) {
    s = unwrap(s);
    if (i === segments.length) break;
    const seg = segments[i];
    const def = (s as { def?: { type?: string } }).def;
    if (def?.type === 'object') s = (s as z.ZodObject).shape[String(seg)];
    else if (def?.type === 'array') s = (s as z.ZodArray<z.ZodType>).element;
    else if (def?.type === 'record') s = (s as unknown as { def: { valueType: unknown } }).def.valueType;
    else return [];
    if (s === undefined) return [];
  }
  const def = (s as { def?: { type?: string } }).def;
  return def?.type === 'object' ? Object.keys((s as z.ZodObject).shape) : [];
}

function unwrap(s: unknown): unknown {
  for (;;) {
    const def = (s as { def?: { type?: string; innerType?: unknown } }).def;
    if (def && (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) s = def.innerType;
    else return s;
  }
}
