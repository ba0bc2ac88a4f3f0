import type { MeshStatus } from '../status/status.js';
import { mapBounded } from '../kube/pool.js';
import { probeEndpoint, type ProbeCredentials, type ProbeOptions, type ProbeResult, type ProbeTarget } from './probe.js';
import { classifyFailure, type DiagnosisCode } from './rules.js';
import { refineFindings } from './refine.js';
import type { MeshTopology } from './topology.js';
import { RULES } from '../validate/catalogue.js';

/** One classified failure, folded over the nodes that show it. */
export interface DoctorFinding {
  cluster: string;
  peer?: string;
  code: DiagnosisCode;
  /** Where it was seen: `agent`, `kvstoremesh`, `probe`, `cluster`. */
  source: 'agent' | 'kvstoremesh' | 'probe' | 'cluster';
  seen: string;
  cause: string;
  fix: string;
  /** Nodes/pods/endpoints showing it. */
  where: string[];
  /** For a probe: the endpoint probed. */
  endpoint?: { host: string; port: number };
  /** When the live topology named the cause (refine.ts): the code the failure text alone gave. */
  textCode?: DiagnosisCode;
}

export interface DoctorReport {
  findings: DoctorFinding[];
  probes: ProbeResult[];
  /** No failure anywhere. */
  healthy: boolean;
}

/** Classifies every failure in a status reading (agents, kvstoremesh, unreadable clusters). Pure. */
export function diagnoseStatus(status: MeshStatus): DoctorFinding[] {
  const byKey = new Map<string, DoctorFinding>();
  const add = (f: Omit<DoctorFinding, 'where'>, where: string) => {
    const key = `${f.cluster}\u0000${f.peer ?? ''}\u0000${f.source}\u0000${f.code}\u0000${f.seen}`;
    const had = byKey.get(key);
    if (had) had.where.push(where);
    else byKey.set(key, { ...f, where: [where] });
  };
  for (const c of status.clusters) {
    if (c.error) {
      add({ cluster: c.name, code: 'CLUSTER_ACCESS', source: 'cluster', seen: `${c.errorCode ? `${c.errorCode}: ` : ''}${c.error.replace(`cluster ${c.name}: `, '')}`,
        cause: `meshform cannot read cluster ${c.name} through its Kubernetes API`, fix: 'check the kubeconfig/context of this cluster, the network path to its API server and the RBAC of the user' }, c.name);
      continue;
    }
    for (const n of c.nodes) {
      const where = n.node || n.pod;
      if (n.error) {
        // An exec that never returns is a hung or overloaded agent, not a missing one.
        const hung = /did not finish within|did not answer within/.test(n.error);
        add(
          hung
            ? { cluster: c.name, code: 'AGENT_NO_ANSWER', source: 'agent', seen: n.error,
                cause: `the Cilium agent of ${c.name} did not answer its status command in time: the agent is hung, overloaded or restarting`,
                fix: `read its log (kubectl -n kube-system logs ${n.pod} -c cilium-agent), restart it if it stays stuck (kubectl -n kube-system delete pod ${n.pod}), or raise --exec-timeout on a slow node` }
            : { cluster: c.name, code: 'UNKNOWN', source: 'agent', seen: n.error, cause: 'the Cilium agent could not be asked for its status', fix: `check pod ${n.pod} (kubectl -n kube-system describe pod ${n.pod})` },
          where,
        );
        continue;
      }
      for (const p of n.peers) {
        if (p.ready) continue;
        const seen = p.status || p.reasons.join('; ');
        if (p.reasons[0] === 'peer not configured on this node') {
          add({ cluster: c.name, peer: p.peer, code: 'PEER_NOT_CONFIGURED', source: 'agent', seen, cause: `${c.name}'s agents have no configuration for ${p.peer}`, fix: `render and apply ${c.name} with ${p.peer} as a peer, then wait for the agents to restart` }, where);
          continue;
        }
        const d = classifyFailure(seen, { cluster: c.name, peer: p.peer });
        add({ cluster: c.name, peer: p.peer, code: d.code, source: 'agent', seen, cause: d.cause, fix: d.fix }, where);
      }
    }
    for (const n of c.nodes) {
      for (const h of n.health?.unreachable ?? []) {
        add({
          cluster: c.name, ...(h.cluster && h.cluster !== c.name ? { peer: h.cluster } : {}), code: 'NODE_UNREACHABLE', source: 'agent',
          seen: `cilium-health: ${h.name} unreachable: ${h.errors[0] ?? ''}`,
          cause: `node-to-node traffic from ${c.name} to ${h.name} is blocked or misrouted`,
          fix: 'open 4240/TCP (health), 8472/UDP (VXLAN) or 6081/UDP (Geneve) between the clusters\' nodes; check that pod CIDRs do not overlap',
        }, n.node || n.pod);
      }
    }
    for (const k of c.kvstoremesh ?? []) {
      for (const p of k.peers) {
        if (p.ready) continue;
        const seen = p.status || p.reasons.join('; ');
        const d = classifyFailure(seen, { cluster: c.name, peer: p.peer });
        add({ cluster: c.name, peer: p.peer, code: d.code, source: 'kvstoremesh', seen, cause: d.cause, fix: d.fix }, k.pod);
      }
    }
  }
  return [...byKey.values()];
}

/** Probes every target (bounded concurrency) and folds failed probes into findings. */
export async function runProbes(
  targets: readonly ProbeTarget[],
  credentials: (t: ProbeTarget) => ProbeCredentials,
  opts: ProbeOptions & { concurrency?: number } = {},
): Promise<ProbeResult[]> {
  const res = await mapBounded(targets, opts.concurrency ?? 8, (t) => probeEndpoint(t, credentials(t), opts));
  return res.map((r, i) => {
    if (r.ok) return r.value;
    const t = targets[i] as ProbeTarget;
    const detail = r.error instanceof Error ? r.error.message : String(r.error);
    return { target: t, ok: false, steps: [{ step: 'tcp' as const, ok: false, detail }], failedStep: 'tcp' as const, diagnosis: classifyFailure(detail, { cluster: t.cluster, peer: t.peer }) };
  });
}

/**
 * The doctor's verdict: status failures and probe failures, classified; with the live topology,
 * link failures get the cause the facts prove (refine.ts) instead of the text's list of suspects.
 */
export function doctorReport(status: MeshStatus | undefined, probes: ProbeResult[], topology?: MeshTopology): DoctorReport {
  const findings = status ? diagnoseStatus(status) : [];
  for (const p of probes) {
    if (p.ok || !p.diagnosis) continue;
    findings.push({
      cluster: p.target.cluster, peer: p.target.peer, code: p.diagnosis.code, source: 'probe',
      seen: `${p.failedStep}: ${p.diagnosis.seen}`, cause: p.diagnosis.cause, fix: p.diagnosis.fix,
      where: [`${p.target.host}:${p.target.port}`], endpoint: { host: p.target.host, port: p.target.port },
    });
  }
  const refined = topology ? refineFindings(findings, topology) : findings;
  // A peer an agent only waits for carries no cause; a probe failure of the same link names it.
  const probed = new Set(refined.filter((f) => f.source === 'probe').map((f) => `${f.cluster}\u0000${f.peer ?? ''}`));
  const shown = refined.filter((f) => f.code !== 'NOT_CONNECTED' || !probed.has(`${f.cluster}\u0000${f.peer ?? ''}`));
  return { findings: shown, probes, healthy: isHealthy(refined, status) };
}

/** No failing finding (a warning such as CERT_DUE keeps doctor healthy) and, when read, a ready mesh. */
export function isHealthy(findings: readonly DoctorFinding[], status: MeshStatus | undefined): boolean {
  return !findings.some((f) => RULES[f.code].severity === 'error') && (status?.ready ?? true);
}

/** Human-readable report. */
export function formatDoctorReport(r: DoctorReport): string {
  const out: string[] = [];
  if (r.healthy) out.push('no problems found');
  for (const f of r.findings) {
    out.push(`✗ ${f.cluster}${f.peer ? ` → ${f.peer}` : ''} [${f.code}] (${f.source}, ${f.where.length > 3 ? `${f.where.slice(0, 3).join(', ')} +${f.where.length - 3}` : f.where.join(', ')})`);
    out.push(`    seen:  ${f.seen}`);
    out.push(`    cause: ${f.cause}`);
    out.push(`    fix:   ${f.fix}`);
  }
  if (r.probes.length) {
    out.push('', 'endpoint probes:');
    for (const p of r.probes) {
      const chain = p.steps.map((s) => `${s.step} ${s.ok ? 'ok' : 'FAILED'}`).join(' → ');
      out.push(`  ${p.target.cluster} → ${p.target.peer} ${p.target.host}:${p.target.port} (${p.target.serverName}): ${chain}`);
      const failed = p.steps.find((s) => !s.ok);
      if (failed) out.push(`      ${failed.detail}`);
    }
  }
  return out.join('\n') + '\n';
}
