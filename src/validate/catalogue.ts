/**
 * Every finding code meshform emits (loader, validator, CA, plan, CLI usage, init, cluster access,
 * doctor), with its default severity and the rule it enforces: the single source of codes and of
 * rule text for the docs. `Finding.code` is typed by it (FindingCode), so a code used anywhere in
 * src must be listed here; docs/rules.md is generated from it.
 */
import type { Severity } from '../errors.js';
import { MIN_MINOR, NEWEST_KNOWN_MINOR } from '../util/version.js';

export interface RuleInfo {
  severity: Severity;
  /** DESIGN.md §5 area (or `input` for loading problems). */
  area:
    | 'input' | 'names' | 'ids' | 'maxConnectedClusters' | 'cidrs' | 'values' | 'endpoints' | 'facts' | 'tls' | 'versions' | 'datapath' | 'auth' | 'certificates'
    | 'ca' | 'plan' | 'usage' | 'init' | 'cluster' | 'doctor' | 'output';
  rule: string;
}

// Generic in the area, so that CodeOfArea can pick the codes of one area.
const e = <A extends RuleInfo['area']>(area: A, rule: string) => ({ severity: 'error' as Severity, area, rule });
const w = <A extends RuleInfo['area']>(area: A, rule: string) => ({ severity: 'warning' as Severity, area, rule });

/** Rule catalogue keyed by finding code. */
export const RULES = {
  // Loading (exit 2).
  FILE_NOT_FOUND: e('input', "every file the spec names must exist; relative paths resolve from the spec file's folder"),
  FILE_UNREADABLE: e('input', 'every file the spec names must be a readable regular file'),
  FILE_TOO_LARGE: e('input', 'input files are at most 16 MiB'),
  YAML_EXPANSION_TOO_LARGE: e('input', 'a YAML input file expands to at most 64 MiB with its aliases expanded (an alias counts the size of its anchor)'),
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
  USAGE_CN: e('input', 'ca init --cn is one line of printable text, 1 to 64 characters'),
  MESHFORM_NOW_INVALID: e('input', 'MESHFORM_NOW, when set, is an ISO 8601 time with a time zone (YYYY-MM-DDTHH:MM:SSZ)'),
  NODEPORT_RANGE_INVALID: e('input', 'nodePortRange is "MIN-MAX" with 1 ≤ MIN ≤ MAX ≤ 65535'),
  CIDR_INVALID: e('cidrs', 'a CIDR is <IPv4 or IPv6 address>/<prefix length>'),
  CIDR_NOT_CANONICAL: e('cidrs', 'a CIDR names its block by the first address: no host bits may be set'),
  IP_INVALID: e('cidrs', 'an IP address is a dotted IPv4 quad without leading zeros or an IPv6 address without zone'),
  VERSION_INVALID: e('versions', 'Cilium and chart versions are MAJOR.MINOR.PATCH'),
  ENDPOINT_TYPE_AMBIGUOUS: e('endpoints', 'an endpoint is either NodePort (nodePort, ips) or LoadBalancer (loadBalancerIP/address, port)'),
  ENDPOINT_TYPE_MISMATCH: e('endpoints', 'the keys of an endpoint must agree with its explicit type'),

  // The output folder and files written (exit 2 for a refusal, 3 for an I/O failure).
  OUT_NOT_MESHFORM: e('output', 'meshform writes only into an empty folder or one it wrote before (it holds .meshform-record.json); --take-over adopts one knowingly'),
  OUT_OTHER_MESH: e('output', "an output folder belongs to one mesh: another mesh's files (keys included) are never replaced or deleted without --take-over"),
  OUT_SYMLINK: e('output', 'the output folder is a real folder holding only plain files and folders: meshform never follows a link in it'),
  OUT_NOT_A_FOLDER: e('output', '--out names a folder'),
  OUT_SPECIAL_FILE: e('output', 'the output folder holds no FIFO, socket or device'),
  OUT_FILE_FOREIGN: e('output', 'a file meshform did not write is never replaced without --take-over'),
  OUT_FILE_CHANGED: e('output', 'a file changed since meshform wrote it is never replaced without --take-over (and never deleted)'),
  OUT_FILES_KEPT: w('output', 'files in the output folder that meshform did not write, or that were changed since, are left as they are'),
  OUT_LOCKED: e('output', 'one meshform at a time writes an output folder'),
  OUT_WRITE_FAILED: e('output', 'the output folder and the folder it sits in are writable, with room for the new set; on failure the folder is unchanged'),
  FILE_EXISTS: e('output', 'meshform never replaces a file of yours (mesh.yaml, values files, CA files) without --force'),
  WRITE_FAILED: e('output', 'a file meshform writes outside its output folder goes into a writable folder with room for it'),

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
  VALUES_OUTSIDE_SPEC_FOLDER: e('values', "a values file lies inside the spec file's folder tree, symlinks resolved (meshform --allow-outside-paths lifts this)"),
  VALUES_PRIVATE_KEY: e('values', 'a values file holds no private key, PEM or base64 of PEM (tls.ca.key: use meshform ca import); values are copied into files meant for Git'),
  VALUES_KUBECONFIG_CREDENTIALS: e('values', 'a values file holds no kubeconfig credentials (client-key-data; token, password, client-key of a kind: Config users entry)'),
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
  CA_MISSING: e('tls', 'certificate methods provided, helm and keep need the shared CA (ca.cert, ca.key)'),
  KEEP_WITHOUT_TRUST: w('tls', "with certificate method keep every cluster trusts the CAs that issued its peers' certificates (ca.trust)"),
  DOMAIN_INVALID: e('tls', 'domain is a DNS name: labels of a-z, 0-9 and "-", each ≤ 63 characters, ≤ 253 in all'),
  SAN_NOT_COVERED: e('tls', "a peer's dialled address is covered by its server certificate's SANs"),
  SAN_INVALID: e('tls', 'server certificate names are DNS names (labels of a-z, 0-9 and -, optionally starting with *.) or IP addresses'),
  CERT_RENEW_WINDOW: e('certificates', 'renewBeforeDays is shorter than validityDays'),
  CA_EXPIRES_BEFORE_LEAVES: e('certificates', 'the CA stays valid for the whole life of the certificates issued now (certificates.validityDays), whatever the method (Cilium 1.20 certgen: enforceCAValidityThroughoutLeavesDuration)'),
  CA_BUNDLE_UNREACHABLE: e('certificates', 'a CA bundle (ca.trust) reaches every component that checks a peer: on Cilium 1.15 KVStoreMesh trusts only the chart-made remote certificate Secret'),
  CERT_METHOD_HELM_DRIFT: w('certificates', 'stable output needs certificates that do not change between renders'),
  CERT_METHOD_HELM_RKE2: w('certificates', "on RKE2, the clustermesh certificates must not change at every run of RKE2's helm-controller"),

  // Versions.
  VERSION_TOO_OLD: e('versions', `every cluster runs Cilium ≥ 1.${MIN_MINOR}: meshform renders 1.${MIN_MINOR}–1.${NEWEST_KNOWN_MINOR} (older charts lack clustermesh.maxConnectedClusters and apiserver.tls.authMode)`),
  RKE2_VERSION_INVALID: e('versions', 'rke2Version is the version RKE2 reports, vMAJOR.MINOR.PATCH+rke2rN (e.g. v1.32.5+rke2r1)'),
  VERSION_SKEW: e('versions', 'Cilium versions across the mesh are at most one minor apart'),
  VERSION_UNKNOWN_NEWER: w('versions', `Cilium minors newer than meshform knows (> 1.${NEWEST_KNOWN_MINOR}) are rendered in the newest known form`),
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

  // The shared CA (src/pki/ca.ts): its files, its certificate and key, import.
  CA_FILE_MISSING: e('ca', 'the CA certificate and key must be readable files'),
  CA_FILE_UNREADABLE: e('ca', 'the CA certificate and key must be readable regular files of at most 16 MiB'),
  CA_FILE_EXISTS: e('ca', 'an existing CA is only replaced on request (--force)'),
  CA_ROTATION_REFUSED: e('ca', 'a CA rotation starts (or resumes) only with every cluster reachable and every link ready, to a new CA that outlives the certificates issued now'),
  CA_ROTATION_IN_PROGRESS: w('ca', 'a CA rotation that stopped between phases is resumed with the same command before anything else changes the mesh'),
  CA_WRITE_FAILED: e('ca', 'the CA folder must be writable'),
  CA_NOT_PEM: e('ca', 'ca.cert is the shared CA certificate in PEM form'),
  CA_KEY_NOT_PEM: e('ca', 'ca.key is the CA private key in PEM form (EC, RSA or PKCS#8)'),
  CA_KEY_ENCRYPTED: e('ca', 'ca.key is an unencrypted PEM private key'),
  CA_NOT_CA: e('ca', 'the shared CA must be a CA certificate, or no peer accepts the certificates it signs'),
  CA_NO_CERT_SIGN: e('ca', 'a CA certificate that states a keyUsage must include keyCertSign'),
  CA_KEY_MISMATCH: e('ca', 'ca.key must be the private key of ca.cert'),
  CA_KEY_UNSUPPORTED: e('ca', 'the CA key is ECDSA (P-256, P-384, P-521), RSA or Ed25519'),
  CA_KEY_WEAK: e('ca', 'an RSA CA key has at least 2048 bits (render, validate and ca import alike)'),
  CA_CERT_BUNDLE: e('ca', 'ca.cert holds exactly one certificate, the shared CA (a bundle would be cut to its first)'),
  CA_KEY_PERMISSIONS: w('ca', 'the CA key file is readable by its owner only (0600)'),
  CA_DIR_PERMISSIONS: w('ca', 'the folders of the CA files are not writable by group or others'),
  CA_NOT_YET_VALID: e('ca', 'the shared CA must be valid now'),
  CA_EXPIRED: e('ca', 'the shared CA must be valid for at least 30 more days'),
  CA_EXPIRES_SOON: w('ca', 'the shared CA should be valid for well over 30 more days; plan its rotation'),
  CA_IMPORT_MISSING: e('ca', 'ca import reads a folder with ca.crt/ca.key, a PEM certificate with its key beside it, or a Secret manifest'),
  CA_IMPORT_FORMAT: e('ca', 'an imported CA is PEM files or a cilium-ca Secret with ca.crt and ca.key'),
  CA_IMPORT_KEY_MISSING: e('ca', 'an imported CA comes with its private key'),
  CA_TRUST_NOT_PEM: e('ca', 'every ca.trust file holds PEM certificates (-----BEGIN CERTIFICATE-----)'),
  CA_TRUST_NOT_CA: e('ca', 'every certificate in ca.trust is a CA certificate'),
  CA_TRUST_DUPLICATE: w('ca', 'each CA is trusted once: ca.trust repeats neither ca.cert nor itself'),
  CA_TRUST_EXPIRED: w('ca', 'a trusted CA that has expired verifies nothing and is left out of the bundle'),
  SPEC_NO_CA: e('ca', 'the spec says where the shared CA lives: ca: {cert: ca/ca.crt, key: ca/ca.key}'),

  // The plan.
  CERTS_MISSING: e('plan', 'method provided renders certificates issued from the shared CA for every cluster'),
  VALUES_SECRETS_UNSUPPORTED: w('plan', 'HelmChartConfig spec.valuesSecrets needs RKE2 ≥ 1.30.12, 1.31.8, 1.32.4 or 1.33.0'),
  CERT_MANAGER_ISSUER: w('plan', 'cert-manager must sign with the shared CA in every cluster'),
  MEMBER_LEAVING: w('plan', 'a cluster taken out of the spec is dropped by the others (peers and remote users) and has its own mesh configuration cleared (apply --prune, or meshform disconnect)'),
  MEMBER_LEAVING_UNRECORDED: w('plan', 'a cluster taken out of the spec can be cleared by apply --prune only when the previous render (plan.json) recorded its context; else meshform disconnect NAME --context CTX'),
  MEMBER_NOTHING_TO_CLEAR: w('plan', 'a leaving cluster whose live values list no peer has nothing to clear'),

  // Command-line usage (exit 2).
  USAGE_TARGETS: e('usage', 'render targets are a comma-separated subset of values,rke2,rancher,fleet,plan'),
  USAGE_DURATION: e('usage', 'durations are a number with an optional unit ms, s, m or h (default s)'),
  USAGE_ONLY: e('usage', '--only takes a comma-separated list of cluster names from the spec'),
  USAGE_CONTEXTS: e('usage', 'init takes one --context per cluster'),
  USAGE_INIT_CERTIFICATES: e('usage', 'init --add takes the certificates method of the spec it adds to (one certificates.method per mesh)'),
  USAGE_WAVES: e('usage', '--waves takes groups of spec cluster names, clusters comma-separated, groups semicolon-separated ("a,b;c"), each cluster in at most one group; --wave-size is a positive integer'),
  USAGE_CA_PATHS: e('usage', 'the CA files are taken from one place: a folder or --spec'),
  USAGE_DAYS: e('usage', 'a CA must stay valid at least 30 days (meshform refuses a CA that expires sooner)'),

  // init.
  INIT_KEYS_LEFT_OUT: w('init', 'private keys in a cluster\'s live values never go into the values files init writes (they are meant for Git)'),
  INIT_EXISTS: e('init', 'init never overwrites a spec without --force'),
  INIT_ALREADY_IN_SPEC: e('init', 'init --add adds a cluster the spec does not have yet (by context and by its live cluster name)'),
  INIT_ADD_INVALID: e('init', 'init --add writes nothing when the spec with the new cluster breaks a rule (IDs, names, CIDR overlaps, ports)'),
  INIT_VERSIONS_DIFFER: w('init', 'one Cilium version per mesh is simplest'),
  INIT_CAS_DIFFER: w('init', "clusters with different CAs are adopted as they are (each keeps its CA and certificates and trusts the others'), never by replacing a cluster's CA under running workloads: the default when their CAs differ and one of them is in a mesh already, or with init --certificates keep"),
  INIT_CAS_REPLACED: w('init', "clusters that are not in a mesh yet get the shared CA in place of their own (nothing relies on their CAs across clusters); init --certificates keep adopts them instead"),
  INIT_FEW_WORKERS: w('init', 'peers should reach a cluster through at least two worker nodes'),
  INIT_NO_POD_CIDR: w('init', 'pod CIDRs must be known to check overlaps'),

  // Cluster access and live identity (exit 3 when a cluster cannot be used).
  KUBE_CONFIG: e('cluster', 'each cluster needs a usable kubeconfig and context'),
  KUBE_UNREACHABLE: e('cluster', "the cluster's API server must be reachable"),
  KUBE_TIMEOUT: e('cluster', 'cluster calls must answer within --request-timeout'),
  KUBE_TLS: e('cluster', "the API server's certificate must verify against the kubeconfig's CA"),
  KUBE_UNAUTHORIZED: e('cluster', "the kubeconfig's credentials must be accepted"),
  KUBE_FORBIDDEN: e('cluster', "the kubeconfig's user needs the RBAC meshform uses (read nodes, secrets, configmaps, services; apply HelmChartConfig and Secrets; exec in cilium pods)"),
  KUBE_NOT_FOUND: e('cluster', 'the objects meshform reads must exist'),
  KUBE_CONFLICT: e('cluster', 'fields another field manager owns are only taken over with --force'),
  KUBE_API: e('cluster', 'cluster calls must succeed'),
  MEMBER_CLEAR_FAILED: e('cluster', 'a cluster taken out of the spec has its own mesh configuration cleared once it is reachable (meshform disconnect)'),
  KUBE_EXEC: e('cluster', 'the status commands must run in the Cilium pods'),
  RELEASE_NOT_FOUND: e('cluster', 'the HelmChartConfig is named after the HelmChart (or release) that installs Cilium (RKE2: kube-system/rke2-cilium)'),
  CLUSTER_IDENTITY_MISMATCH: e('cluster', "each spec cluster is reached through its own context, and a running cluster's name is never changed silently"),
  CLUSTER_ID_CHANGE: e('cluster', "a running cluster's ID is never changed silently (--allow-identity-change)"),
  CLUSTER_RENAME_MESHED: e('cluster', 'a meshed cluster (its live values list peers) is never renamed in place, not even with --allow-identity-change: disconnect it, change name and ID together, reconnect'),
  CLUSTER_ID_CHANGE_MESHED: e('cluster', "a meshed cluster's ID is never changed in place, not even with --allow-identity-change: disconnect it, change name and ID together, reconnect"),

  // doctor: a live failure, classified into cause and fix (src/doctor).
  PERMISSION_DENIED: e('doctor', 'peers log in to a clustermesh-apiserver (never to an etcd of the control plane) as remote-<cluster>'),
  CA_MISMATCH: e('doctor', 'every cluster of the mesh trusts one shared CA'),
  SAN_MISSING: e('doctor', "a peer's server certificate covers the name or address it is dialled as"),
  CONFIG_NOT_FOUND: e('doctor', "the peer name configured on a cluster is the remote cluster's cluster.name"),
  CLUSTER_ID_CLASH: e('doctor', 'cluster IDs are unique across the live mesh'),
  UNREACHABLE: e('doctor', "a peer's clustermesh-apiserver endpoint answers from every node"),
  NOT_CONNECTED: e('doctor', 'agents connect to every peer; Cilium 1.16+ shows a peer it cannot connect to only as "Waiting for initial connection to be established", its cause only in `cilium-dbg troubleshoot clustermesh` and doctor\'s probe'),
  DNS: e('doctor', 'the name a peer is dialled as resolves (hostAliases for <name>.<domain>, or a DNS address)'),
  PEER_NOT_CONFIGURED: e('doctor', "a cluster's agents carry the configuration of every peer of the spec"),
  NODE_UNREACHABLE: e('doctor', 'cilium-health reaches every node of the mesh'),
  CLUSTER_ACCESS: e('doctor', 'meshform reads every cluster through its Kubernetes API'),
  AGENT_NO_ANSWER: e('doctor', 'every Cilium agent answers its status command within --exec-timeout'),
  ENDPOINT_CONTROL_PLANE: e('doctor', 'peer endpoint IPs are worker nodes, never control-plane/etcd nodes'),
  PEER_ONE_SIDED: e('doctor', 'with authMode cluster, both clusters list each other as peers'),
  SAME_NODEPORT: e('doctor', 'with kube-proxy replacement on Cilium ≤ 1.18, clusters use different clustermesh NodePorts'),
  WRONG_ENDPOINT_IP: e('doctor', "a peer endpoint IP is a node of that peer cluster"),
  WRONG_PORT: e('doctor', "a peer endpoint port is the peer's clustermesh-apiserver Service port"),
  UNKNOWN: e('doctor', 'a failure doctor has no rule for: read the agent log'),
  CERT_EXPIRED: e('doctor', 'no clustermesh certificate (or CA) in use has expired: peers refuse an expired certificate'),
  CERT_FOREIGN: e('doctor', "every clustermesh certificate in use is issued by the mesh's shared CA (or a CA of ca.trust), and every cluster's CA is the shared one"),
  CERT_DUE: w('doctor', 'a clustermesh certificate in use that expires within the renewal window (certificates.renewBeforeDays) is renewed by the next render and apply'),
} as const satisfies Record<string, RuleInfo>;

/** Every finding code, from the catalogue. */
export type FindingCode = keyof typeof RULES;

/** The codes of one area, e.g. `CodeOfArea<'doctor'>`. */
export type CodeOfArea<A extends RuleInfo['area']> = { [K in FindingCode]: (typeof RULES)[K]['area'] extends A ? K : never }[FindingCode];

/** Whether `code` is a catalogued finding code (for codes that arrive as plain strings). */
export function isFindingCode(code: string): code is FindingCode {
  return Object.prototype.hasOwnProperty.call(RULES, code);
}

/** The same as FindingCode (the validator's name for it). */
export type RuleCode = FindingCode;
