/**
 * Known Cluster Mesh failures (DESIGN.md §8.4): the text an agent or a probe shows → cause and fix.
 * Table-driven: the first row whose pattern matches wins, so more specific rows come first.
 */
import type { CodeOfArea } from '../validate/catalogue.js';

/** The doctor codes of the catalogue (area `doctor`): the text classifications and the topology ones (refine.ts). */
export type DiagnosisCode = CodeOfArea<'doctor'>;

export interface Diagnosis {
  code: DiagnosisCode;
  /** The text that was classified. */
  seen: string;
  cause: string;
  fix: string;
}

interface Rule {
  code: DiagnosisCode;
  pattern: RegExp;
  cause: (m: RegExpExecArray, ctx: DiagnoseContext) => string;
  fix: (m: RegExpExecArray, ctx: DiagnoseContext) => string;
}

/** Who saw the failure, to name both sides in cause and fix. */
export interface DiagnoseContext {
  /** The cluster whose agent (or the operator on whose behalf a probe) connects. */
  cluster?: string;
  /** The peer being connected to. */
  peer?: string;
}

const peer = (c: DiagnoseContext) => c.peer ?? 'the peer';
const local = (c: DiagnoseContext) => c.cluster ?? 'this cluster';

export const RULES: readonly Rule[] = [
  {
    code: 'CLUSTER_ID_CLASH',
    pattern: /cluster ?ID \(?(\d+)\)? is already (?:used|assigned)|already assigned to the local cluster|same cluster ?ID/i,
    cause: (m) => `duplicate cluster IDs${m[1] ? ` (ID ${m[1]})` : ''}: two clusters of the mesh use the same cluster.id`,
    fix: () => 'give every cluster a unique id in the spec (1..255, or 1..511 with maxConnectedClusters 511), render and apply',
  },
  {
    code: 'CONFIG_NOT_FOUND',
    pattern: /remote cluster configuration required but not found|cluster configuration (?:is )?not found/i,
    cause: (_m, c) => `the peer name configured on ${local(c)} (${peer(c)}) is not the remote cluster's cluster.name, so its configuration key does not exist`,
    fix: (_m, c) => `make the peer entry's name equal the remote cluster's cluster.name (cilium-config cluster-name) for ${peer(c)}`,
  },
  {
    code: 'PERMISSION_DENIED',
    pattern: /etcdserver: permission denied|permission denied.*etcd|PermissionDenied/i,
    cause: (_m, c) =>
      `${peer(c)} does not admit user remote-${local(c)}: the peering is declared on one side only (authMode cluster: ${peer(c)} must list ${local(c)} too), or the peer IPs of ${peer(c)} are control-plane nodes (RKE2's own etcd answers there)`,
    fix: (_m, c) => `render the full mesh so ${peer(c)} lists ${local(c)} and apply both clusters; use worker node IPs as the endpoint of ${peer(c)}`,
  },
  {
    code: 'SAN_MISSING',
    pattern: /certificate is valid for (.+?), not ([^\s"',)]+)|doesn't contain any IP SANs|certificate is not valid for any names|Hostname\/IP does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i,
    cause: (m, c) => `the clustermesh-apiserver server certificate of ${peer(c)} does not cover the name or address it is dialled as${m[2] ? ` (${m[2]})` : ''}`,
    fix: (m, c) => `add ${m[2] ?? 'that name/address'} to tls.extraDnsNames/extraIpAddresses of ${peer(c)} in the spec (clustermesh.apiserver.tls.server.extraDnsNames), render and apply ${peer(c)}`,
  },
  {
    code: 'CA_MISMATCH',
    pattern: /certificate signed by unknown authority|unknown certificate authority|unable to verify the first certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|self[- ]signed certificate|SELF_SIGNED_CERT|tls: bad certificate|certificate verify failed/i,
    cause: (_m, c) => `${local(c)} and ${peer(c)} do not share one CA: one side's certificates are not signed by the CA the other trusts`,
    fix: () => 'use one shared tls.ca (meshform ca init/import) for every cluster, render and apply all clusters',
  },
  {
    code: 'DNS',
    pattern: /no such host|ENOTFOUND|EAI_AGAIN|server misbehaving/i,
    cause: (_m, c) => `the name ${peer(c)} is dialled as does not resolve (missing hostAliases for <name>.<domain>, or a wrong address)`,
    fix: (_m, c) => `give ${peer(c)} an endpoint with ips (the chart adds hostAliases) or a resolvable address`,
  },
  {
    // Cilium 1.16–1.20 (pkg/clustermesh/common/remote_cluster.go) shows this, and only this, for up to
    // 15 minutes whatever fails first (TLS, CA, user, address, port): it names no cause.
    code: 'NOT_CONNECTED',
    pattern: /^Waiting for initial connection to be established$/,
    cause: (_m, c) =>
      `${local(c)} has not connected to the clustermesh-apiserver of ${peer(c)}: Cilium reports only "Waiting for initial connection" whatever failed (CA, certificate name, remote user, address or port)`,
    fix: (_m, c) =>
      `see doctor's probe of ${peer(c)}, or on ${local(c)}: kubectl -n kube-system exec ds/cilium -c cilium-agent -- cilium-dbg troubleshoot clustermesh ${peer(c)}`,
  },
  {
    code: 'UNREACHABLE',
    pattern: /context deadline exceeded|connection refused|ECONNREFUSED|i\/o timeout|ETIMEDOUT|timed out|no route to host|EHOSTUNREACH|network is unreachable|ENETUNREACH|connection reset|ECONNRESET|UNAVAILABLE/i,
    cause: (_m, c) =>
      `${local(c)} cannot reach the clustermesh-apiserver of ${peer(c)}: wrong IP or port, a firewall (2379/NodePort, 4240, 8472/UDP), a LoadBalancer not ready, or the same NodePort on both clusters with kube-proxy replacement (Cilium ≤ 1.18)`,
    fix: (_m, c) => `run meshform doctor's probe of ${peer(c)} to see which step fails; give every cluster its own NodePort; open the ports`,
  },
];

/** Classifies one failure text; `UNKNOWN` when no row matches. */
export function classifyFailure(text: string, ctx: DiagnoseContext = {}): Diagnosis {
  for (const r of RULES) {
    const m = r.pattern.exec(text);
    if (m) return { code: r.code, seen: text, cause: r.cause(m, ctx), fix: r.fix(m, ctx) };
  }
  return { code: 'UNKNOWN', seen: text, cause: 'not a known Cluster Mesh failure', fix: 'read the agent log: kubectl -n kube-system logs ds/cilium -c cilium-agent | grep -i clustermesh' };
}
