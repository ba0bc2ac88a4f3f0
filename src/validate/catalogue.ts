/**
 * Every finding code meshform's loader and validator emit, with its default severity and the rule
 * it enforces: the single source of rule text for findings and for the docs.
 */
import type { Severity } from '../errors.js';

export interface RuleInfo {
  severity: Severity;
  /** DESIGN.md §5 area (or `input` for loading problems). */
  area: 'input' | 'names' | 'ids' | 'maxConnectedClusters' | 'cidrs' | 'values' | 'endpoints' | 'facts' | 'tls' | 'versions' | 'datapath' | 'auth' | 'certificates';
  rule: string;
}

const e = (area: RuleInfo['area'], rule: string): RuleInfo => ({ severity: 'error', area, rule });
const w = (area: RuleInfo['area'], rule: string): RuleInfo => ({ severity: 'warning', area, rule });

/** Rule catalogue keyed by finding code. */
export const RULES = {
  // Loading (exit 2).
  FILE_NOT_FOUND: e('input', "every file the spec names must exist; relative paths resolve from the spec file's folder"),
  FILE_UNREADABLE: e('input', 'every file the spec names must be a readable regular file'),
  FILE_TOO_LARGE: e('input', 'input files are at most 16 MiB'),
  YAML_SYNTAX: e('input', 'the mesh spec is one well-formed YAML document without duplicate keys'),
  VALUES_SYNTAX: e('input', 'a values file is one well-formed YAML document without duplicate keys'),
  FACTS_SYNTAX: e('input', 'a facts file is one well-formed YAML or JSON document without duplicate keys'),
  SPEC_NOT_A_MAP: e('input', 'a mesh spec is a YAML map with apiVersion, kind, name, cilium and clusters'),
  VALUES_NOT_A_MAP: e('input', 'a values file is a YAML map, as `helm get values -o yaml` prints'),
  SPEC_UNKNOWN_KEY: e('input', 'only the documented keys are accepted (a misspelt key would otherwise be ignored silently)'),
  SPEC_REQUIRED: e('input', 'required fields must be present'),
  SPEC_TYPE: e('input', 'every field has one type (string, integer, boolean, list or map)'),
  SPEC_INVALID_VALUE: e('input', 'enumerated fields take one of their listed values'),
  SPEC_OUT_OF_RANGE: e('input', 'numbers and lists stay within their documented bounds'),
  MESH_NAME_INVALID: e('input', 'the mesh name is a DNS label: lower-case letters, digits and "-", at most 63 characters'),
  NODEPORT_RANGE_INVALID: e('input', 'nodePortRange is "MIN-MAX" with 1 ≤ MIN ≤ MAX ≤ 65535'),
  CIDR_INVALID: e('cidrs', 'a CIDR is <IPv4 or IPv6 address>/<prefix length>'),
  CIDR_NOT_CANONICAL: e('cidrs', 'a CIDR names its block by the first address: no host bits may be set'),
  IP_INVALID: e('cidrs', 'an IP address is a dotted IPv4 quad without leading zeros or an IPv6 address without zone'),
  VERSION_INVALID: e('versions', 'Cilium and chart versions are MAJOR.MINOR.PATCH'),
  ENDPOINT_TYPE_AMBIGUOUS: e('endpoints', 'an endpoint is either NodePort (nodePort, ips) or LoadBalancer (loadBalancerIP/address, port)'),
  ENDPOINT_TYPE_MISMATCH: e('endpoints', 'the keys of an endpoint must agree with its explicit type'),

  // Names and IDs.
  NAME_INVALID: e('names', 'a cluster name matches ^([a-z0-9][-a-z0-9]*)?[a-z0-9]$ (as Cilium requires)'),
  NAME_TOO_LONG: e('names', 'a cluster name has at most 32 characters (as Cilium requires)'),
  NAME_RESERVED: e('names', 'a cluster name is not "default" (the name of a cluster outside any mesh)'),
  NAME_DUPLICATE: e('names', 'cluster names are unique across the mesh'),
  ID_RESERVED: e('ids', 'cluster ID 0 is reserved (a cluster outside any mesh)'),
  ID_OUT_OF_RANGE: e('ids', 'cluster IDs are 1..255, or 1..511 with maxConnectedClusters 511'),
  ID_DUPLICATE: e('ids', 'cluster IDs are unique across the mesh'),
  MAX_CONNECTED_INVALID: e('maxConnectedClusters', 'maxConnectedClusters is 255 or 511'),
  MAX_CONNECTED_VALUES_MISMATCH: e('maxConnectedClusters', 'maxConnectedClusters is the same on every cluster and cannot change on a running cluster'),
  MAX_CONNECTED_FACTS_MISMATCH: e('maxConnectedClusters', 'maxConnectedClusters cannot change on a running cluster'),
  TOO_MANY_CLUSTERS: e('maxConnectedClusters', 'a mesh has at most maxConnectedClusters clusters'),

  // Address space.
  POD_CIDR_MISSING: e('cidrs', 'every cluster has a pod CIDR (podCIDR, the values\' global.clusterCIDR, or discover)'),
  SERVICE_CIDR_MISSING: e('cidrs', 'every cluster has a service CIDR (serviceCIDR, the values\' global.serviceCIDR, or discover)'),
  POD_CIDR_OVERLAP: e('cidrs', 'pod CIDRs of different clusters do not overlap (IPv4 and IPv6)'),
  POD_CIDR_RKE2_DEFAULT_SHARED: e('cidrs', "at most one cluster uses RKE2's default pod CIDR 10.42.0.0/16; it cannot change after install"),
  SERVICE_CIDR_OVERLAP: e('cidrs', 'service CIDRs do not overlap each other'),
  SERVICE_POD_CIDR_OVERLAP: e('cidrs', 'no service CIDR overlaps any pod CIDR of the mesh'),
  NODE_CIDR_OVERLAP: e('cidrs', 'node CIDRs of different clusters do not overlap'),
  NODE_CIDR_IN_CLUSTER_CIDR: e('cidrs', 'no node CIDR overlaps a pod or service CIDR of the mesh'),
  ENDPOINT_IP_IN_CLUSTER_CIDR: e('cidrs', 'no endpoint IP lies inside a pod or service CIDR of the mesh'),
  IP_IN_TWO_CLUSTERS: e('cidrs', "an endpoint IP belongs to one cluster only (not another cluster's endpoint or node CIDR)"),
  ENDPOINT_IP_DUPLICATE: e('endpoints', 'an endpoint lists each IP once'),

  // Values files.
  VALUES_POD_CIDR_MISMATCH: e('values', "the values' global.clusterCIDR (set by RKE2) equals the spec's podCIDR"),
  VALUES_SERVICE_CIDR_MISMATCH: e('values', "the values' global.serviceCIDR (set by RKE2) equals the spec's serviceCIDR"),

  // Endpoints.
  NODEPORT_OUT_OF_RANGE: e('endpoints', "a NodePort lies in the clusters' NodePort range (nodePortRange, default 30000-32767)"),
  NODEPORT_DUPLICATE: e('endpoints', 'with Cilium ≤ 1.18 and kube-proxy replacement, every cluster uses its own clustermesh NodePort'),
  ENDPOINT_NO_IPS: e('endpoints', 'a NodePort endpoint lists the worker node IPs peers dial'),
  ENDPOINT_SINGLE_IP: w('endpoints', 'a NodePort endpoint lists at least two worker IPs, so one node loss does not cut the peer'),
  ENDPOINT_IP_OUTSIDE_NODE_CIDRS: e('endpoints', "endpoint IPs lie in the cluster's nodeCIDRs when those are given"),
  LB_NO_ADDRESS: e('endpoints', 'a LoadBalancer endpoint has a known loadBalancerIP or address'),
  HUBBLE_NODEPORT_OUT_OF_RANGE: e('endpoints', "the Hubble UI NodePort lies in the clusters' NodePort range"),
  HUBBLE_NODEPORT_CONFLICT: e('endpoints', "the Hubble UI NodePort differs from the cluster's clustermesh NodePort"),

  // Facts.
  ENDPOINT_IP_CONTROL_PLANE: e('facts', 'endpoint IPs are worker nodes, never control-plane/etcd nodes (RKE2: etcdserver: permission denied)'),
  ENDPOINT_IP_OTHER_CLUSTER: e('facts', 'endpoint IPs are nodes of the cluster itself'),
  ENDPOINT_IP_UNKNOWN_NODE: e('facts', 'endpoint IPs are InternalIP/ExternalIP addresses of worker nodes of the cluster'),
  POD_CIDR_FACTS_MISMATCH: e('facts', "the spec's pod CIDRs contain every node's spec.podCIDRs"),
  FACTS_POD_CIDR_MISMATCH: e('facts', "the spec's podCIDR equals the cluster-cidr RKE2 runs with (HelmChart global.clusterCIDR)"),
  FACTS_SERVICE_CIDR_MISMATCH: e('facts', "the spec's serviceCIDR equals the service-cidr RKE2 runs with (HelmChart global.serviceCIDR)"),

  // TLS.
  CA_MISSING: e('tls', 'certificate methods provided and helm need the shared CA (ca.cert, ca.key)'),
  DOMAIN_INVALID: e('tls', 'domain is a DNS name: labels of a-z, 0-9 and "-", each ≤ 63 characters, ≤ 253 in all'),
  SAN_NOT_COVERED: e('tls', "a peer's dialled address is covered by its server certificate's SANs"),
  SAN_INVALID: e('tls', 'server certificate names are DNS names (labels of a-z, 0-9 and -, optionally starting with *.) or IP addresses'),
  CERT_RENEW_WINDOW: e('certificates', 'renewBeforeDays is shorter than validityDays'),

  // Versions.
  VERSION_TOO_OLD: e('versions', 'every cluster runs Cilium ≥ 1.14'),
  VERSION_SKEW: e('versions', 'Cilium versions across the mesh are at most one minor apart'),
  VERSION_UNKNOWN_NEWER: w('versions', 'Cilium minors newer than meshform knows (> 1.19) are rendered in the newest known form'),
  CHART_VERSION_MISMATCH: e('versions', 'the chart version matches the Cilium version (1.15.5 ↔ 1.15.5xx, or 1.15.5 upstream)'),

  // Datapath.
  ROUTING_MODE_MISMATCH: e('datapath', 'every cluster uses the same routing mode (tunnel or native)'),
  TUNNEL_PROTOCOL_MISMATCH: e('datapath', 'every tunnelling cluster uses the same tunnel protocol (vxlan or geneve)'),
  NATIVE_ROUTING_CIDR_NOT_COVERING: e('datapath', 'with native routing, ipv4/ipv6NativeRoutingCIDR covers every pod CIDR of the mesh'),
  NATIVE_ROUTING_CIDR_MISSING: w('datapath', 'native routing names the native routing CIDR that spans the mesh'),

  // Auth.
  PEER_UNKNOWN: e('auth', 'peers name clusters of the mesh'),
  PEER_SELF: e('auth', 'a cluster does not list itself as a peer'),
  PEER_DUPLICATE: e('auth', 'a cluster lists each peer once'),
  PEER_NOT_SYMMETRIC: e('auth', 'with authMode cluster, peering is declared on both sides'),
} as const satisfies Record<string, RuleInfo>;

export type RuleCode = keyof typeof RULES;
