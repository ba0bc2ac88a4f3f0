/**
 * meshform as a library: the same pipeline the CLI runs (DESIGN.md §2), one stage per export.
 *
 * ```ts
 * import { prepare, renderFromSpec, readCertStore, writeOutput, hasErrors, ALL_TARGETS } from 'meshform';
 * const { spec, ca, facts, findings } = await prepare('mesh.yaml', { now: new Date() });
 * if (hasErrors(findings)) throw new Error(findings.map((f) => f.code).join(', '));
 * const existing = await readCertStore('out', spec.clusters.map((c) => c.name));
 * const { files } = await renderFromSpec(spec, { ca, facts, existing, now: new Date(), targets: ALL_TARGETS });
 * writeOutput('out', files, { mesh: spec.name });
 * ```
 *
 * Offline stages (load, validate, plan, render) are pure apart from reading their input files; the
 * live stages take a {@link ClusterClient} per cluster (`connectSpec` builds real ones).
 */

// ---- Findings, errors and the exit-code policy ------------------------------------------------

/** A problem with code, path, value, rule and fix; {@link MeshformError} carries findings and an exit code; `hasErrors` tests for severity error. */
export { MeshformError, hasErrors, type Finding, type FindingCode, type FindingScope, type Severity } from './errors.js';
/** The exit-code policy of the CLI: outcome → exit code, and its text as `--help` prints it. */
export { ExitCode, exitCodeFor, exitCodeForError, worstExitCode, EXIT_CODES_HELP, type Outcome } from './exit.js';
/** The catalogue of every finding code with severity, area and rule (docs/rules.md is generated from it). */
export { RULES, isFindingCode, type RuleInfo, type CodeOfArea } from './validate/catalogue.js';

/** The defaults (release rke2-cilium in kube-system, ports, domain, timings) and the release a spec names. */
export * from './defaults.js';

// ---- Load and validate ------------------------------------------------------------------------

/** Reads and checks a mesh spec (`mesh.yaml`); throws MeshformError (exit 2) with every finding when it does not load. */
export { loadSpec, parseSpec } from './spec/load.js';
/** Reads and checks a facts file (what `discover --save` writes, for `validate --facts`). */
export { loadFacts, parseFacts } from './spec/facts.js';
/** The loaded spec's types. */
export type { MeshSpec, ClusterSpec, Endpoint, ValuesFile, AuthMode, CertMethod, KeyAlgorithm } from './spec/types.js';
/** Live facts about clusters, keyed by cluster name (types derived from the facts schema). */
export type { Facts, ClusterFacts, NodeFact, NodeRole } from './kube/facts.js';
/** Runs every validation rule over a loaded spec; returns the findings sorted by path. */
export { validateSpec, type ValidateContext } from './validate/rules.js';
/** Load + CA + facts + validate in one call: the front of every CLI command. */
export { prepare, type Prepared } from './prepare.js';
/** Findings as the JSON of `validate -o json`, and as the table the CLI prints. */
export { findingsReport, formatFindingsTable, type FindingsReport } from './validate/report.js';

// ---- Certificates -----------------------------------------------------------------------------

/** The shared CA: create, import, load and check, describe, write (key files 0600). */
export { createCa, importCa, inspectCa, inspectCaFiles, loadCa, describeCa, describeCaCert, writeCaFiles } from './pki/ca.js';
/** The clustermesh-apiserver server certificate names of a cluster, and the address peers dial. */
export { serverCertNames, dialOf, dialledHost, hostCovered, type ServerCertNames, type Dial } from './pki/names.js';
/** Leaf certificates: requests per cluster and issuing (reusing earlier ones while valid). */
export { clusterLeafRequests, issueLeaves, type StoredLeaf } from './pki/leaf.js';
/** The certificate store of an earlier render, read back so its certificates are reused. */
export { readCertStore, certStoreFromFiles } from './pki/store.js';
/** Key material that redacts itself in JSON, `toString` and `inspect`; `reveal()` gives the PEM. */
export { SecretPem } from './pki/secret.js';
/** CAs trusted beside the shared CA (`ca.trust`), and the bundle every cluster gets as `tls.caBundle`. */
export { inspectTrust, inspectTrustFiles, caBundlePem } from './pki/trust.js';
/** Which certificates a render issued or renewed, and when a re-render renews them. */
export { renewalReport, type RenewalReport, type CertRef } from './pki/renewal.js';
/** Every default of the mesh spec (the renewal window among them). */
/** CA and certificate types. */
export type { CaMaterial, TrustedCa, IssuedCert, ClusterCerts, LeafRequest, LeafKind } from './pki/types.js';

// ---- Plan, render, write ----------------------------------------------------------------------

/** Spec (+ facts, CA, certificates) → MeshPlan: pure and synchronous. */
export { planMesh } from './plan/plan.js';
/** The plan's types. */
export type { MeshPlan, PlannedCluster } from './plan/types.js';
/** MeshPlan → files (values, RKE2 HelmChartConfigs, Rancher, Fleet, plan.json): pure. */
export { renderMesh, planJson } from './render/render.js';
/** A rendered artefact (file content with cluster, role and parsed objects) and the render targets. */
export { ALL_TARGETS, type Artefact, type ArtefactRole, type RenderedFile, type Target } from './render/types.js';
/** Spec → certificates → plan → files: the whole offline job of `render`. */
export { renderFromSpec, type RenderFromSpecOptions } from './pipeline.js';
/** Writes rendered files atomically into an output folder (secrets 0600 in 0700 folders). */
export { writeOutput, type WriteResult } from './write/atomic.js';

// ---- Live clusters ----------------------------------------------------------------------------

/** The one narrow Kubernetes interface every live stage takes (fake it in tests). */
export type { ClusterClient, KubeObject, ExecResult } from './kube/client.js';
/** The real ClusterClient over @kubernetes/client-node. */
export { NodeClusterClient } from './kube/node-client.js';
/** One ClusterClient per spec cluster from kubeconfig/context (a bad one fails only its cluster), through an injectable Connector. */
export { connectSpec, kubeconfigConnector, type Connector, type ConnectRequest, type ConnectFlags, type ConnectedCluster } from './kube/connect.js';
/** The waits: one polling helper, a rollout, the helm-controller's new release revision. */
export { pollUntil, type PollOptions } from './kube/poll.js';
export { waitForRollout, waitForHelmRevision } from './kube/rollout.js';
/** The live checks (discover + validate with facts + identity) and which clusters their findings stop. */
export { checkLive, type LiveCheck, type LiveCheckOptions } from './live/check.js';
export { admitApply, clustersStoppedBy, findingsFor, type Admission } from './live/scope.js';
/** From a checked spec to the live stages' inputs: the render, apply targets, preflights, status/doctor targets. */
export { renderForLive, applyTargets, preflightOf, meshTargets } from './live/targets.js';
/** Reads clusters' facts: nodes and roles, RKE2 HelmChart/HelmChartConfig, the release, cilium-config. */
export { discoverAll, discoverCluster, identityFindings } from './discover/discover.js';
/** Applies rendered objects to clusters in parallel (server-side apply or helm), and diffs them. */
export { applyMesh, diffMesh, formatApplySummary, type ApplyTarget, type ApplyResult, type ApplyOptions, type ApplyEvent, type HelmValues } from './apply/apply.js';
/** The apply plan as data (per cluster: ordered steps) and its executor; apply = planApply + executePlan. */
export { planApply, planCluster, observeCluster, describeStep, executePlan, type ApplyPlan, type ClusterPlan, type PlanStep } from './apply/apply.js';
/** apply's and diff's results as JSON data and text, and their exit codes. */
export { applyReport, applyExitCode, diffReport, formatDiff, diffExitCode } from './apply/report.js';
/** What `apply` sends for one cluster, picked from render's artefacts by role: objects, and helm's values as content. */
export { clusterArtefacts, helmChartConfigObjects, helmExtraObjects, helmValues, type ClusterArtefacts } from './apply/from-render.js';
/** Every agent of every cluster: which peers are ready on how many nodes; wait until ready. */
export { collectStatus, waitForMesh, type MeshStatus, type StatusTarget } from './status/status.js';
/** Status as a table or JSON. */
export { formatStatusTable, formatStatusJson } from './status/format.js';
/** Every failure status sees, classified into cause and fix, plus endpoint probes. */
export { runDoctor, type DoctorTarget, type DoctorOptions, type DoctorRun } from './doctor/run.js';
/** The doctor report as text. */
export { formatDoctorReport, type DoctorReport, type DoctorFinding } from './doctor/doctor.js';
