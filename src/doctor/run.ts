import type { ClusterClient } from '../kube/client.js';
import { DEFAULT_RELEASE, type ReleaseRef } from '../discover/discover.js';
import { collectStatus } from '../status/status.js';
import { doctorReport, isHealthy, runProbes, type DoctorReport } from './doctor.js';
import { certificateFindings } from './certs.js';
import { clusterCertificates, type ClusterCertificates, type JudgeOptions } from '../pki/live.js';
import { liveCredentials } from './live.js';
import type { ProbeCredentials, ProbeOptions, ProbeResult, ProbeTarget } from './probe.js';
import { readTopology, type MeshTopology, type TopologyResult } from './topology.js';

/** One cluster doctor examines. */
export interface DoctorTarget {
  name: string;
  client: ClusterClient;
  /** Peers from the spec; when absent, the peers the agents report. */
  peers?: string[];
  /** Position in the spec's `clusters[]`, to name spec paths in fixes. */
  index?: number;
}

export interface DoctorOptions {
  /** Where the rke2-cilium release and the clustermesh objects live. */
  ref?: ReleaseRef;
  /** Probe every peer endpoint from here (default true). */
  probe?: boolean;
  execTimeoutMs?: number;
  probeOptions?: ProbeOptions & { concurrency?: number };
  /** Clusters read at once (default 8). */
  concurrency?: number;
  /** Progress and notes for stderr. */
  onProgress?: (message: string) => void;
  /** Judge the certificates in use against the shared CA and the renewal window (pki/live.ts). */
  certificates?: JudgeOptions & { specPath?: string };
}

export interface DoctorRun {
  report: DoctorReport;
  /** The certificates in use, per cluster (with `opts.certificates`). */
  certificates?: ClusterCertificates[];
  topology: MeshTopology;
  /** Clusters whose topology could not be read: their findings keep the text classification. */
  unreadable: TopologyResult['unreadable'];
}

/**
 * Runs doctor over live clusters: agent status and live topology read concurrently, then (unless
 * `probe: false`) every peer endpoint probed with the dialling cluster's own client certificate,
 * and every failure classified and refined with the topology.
 */
export async function runDoctor(targets: readonly DoctorTarget[], opts: DoctorOptions = {}): Promise<DoctorRun> {
  const ref = opts.ref ?? DEFAULT_RELEASE;
  const note = opts.onProgress ?? (() => {});
  note(`reading agent status and clustermesh topology of ${targets.length} cluster(s)…`);
  const [status, { topology, unreadable }] = await Promise.all([
    collectStatus(targets.map((t) => ({ name: t.name, client: t.client, ...(t.peers ? { peers: t.peers } : {}) })), {
      namespace: ref.namespace,
      ...(opts.execTimeoutMs !== undefined ? { execTimeoutMs: opts.execTimeoutMs } : {}),
      ...(opts.concurrency !== undefined ? { clusterConcurrency: opts.concurrency } : {}),
    }),
    readTopology(targets, { ref, ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}) }),
  ]);
  for (const u of unreadable) note(`${u.cluster}: its topology cannot be read (${u.error}): its findings are classified from the failure text only`);

  let probes: ProbeResult[] = [];
  if (opts.probe ?? true) {
    note('probing every peer endpoint from here (DNS, TCP, TLS, login, read)…');
    const creds = new Map<string, ProbeCredentials>();
    const probeTargets: ProbeTarget[] = [];
    await Promise.all(
      targets.map(async (t) => {
        const topo = topology.clusters[t.name];
        if (!topo) return;
        if (!topo.dials) {
          note(`${t.name}: cannot read its clustermesh configuration: its endpoints are not probed`);
          return;
        }
        let cred: ProbeCredentials | undefined;
        try {
          cred = await liveCredentials(t.client, ref.namespace);
        } catch (err) {
          note(`${t.name}: cannot read Secret clustermesh-apiserver-remote-cert: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        if (!cred) {
          note(`${t.name}: no Secret clustermesh-apiserver-remote-cert: its endpoints cannot be probed as remote-${t.name}`);
          return;
        }
        creds.set(t.name, cred);
        probeTargets.push(...topo.dials);
      }),
    );
    // One bounded pool over every cluster's endpoints, in a stable order.
    const order = new Map(targets.map((t, i) => [t.name, i]));
    probeTargets.sort((x, y) => (order.get(x.cluster) ?? 0) - (order.get(y.cluster) ?? 0));
    probes = await runProbes(probeTargets, (t) => creds.get(t.cluster) as ProbeCredentials, opts.probeOptions);
  }
  const report = doctorReport(status, probes, topology);
  if (!opts.certificates) return { report, topology, unreadable };
  const certificates = await clusterCertificates(targets, ref.namespace, opts.certificates);
  report.findings.push(...certificateFindings(certificates, opts.certificates.specPath));
  report.healthy = isHealthy(report.findings, status);
  return { report, certificates, topology, unreadable };
}
