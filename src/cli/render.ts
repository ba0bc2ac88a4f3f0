import { relative, resolve } from 'node:path';
import { MeshformError, type Finding } from '../errors.js';
import { exitCodeFor } from '../exit.js';
import { preparedOrExit } from './spec.js';
import { renderFromSpec } from '../pipeline.js';
import { readCertStore } from '../pki/store.js';
import { OutputFolder, type WriteResult } from '../write/atomic.js';
import { ALL_TARGETS, type ArtefactRole, type Target } from '../render/types.js';
import type { MeshPlan, PlannedCluster } from '../plan/types.js';
import { clusterArtefacts } from '../render/artefacts.js';
import type { CertRef, RenewalReport } from '../pki/renewal.js';
import { formatFindings, table, type Io, type OutputFormat } from './io.js';

export function parseTargets(list: string): Target[] {
  const wanted = list.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = wanted.filter((t) => !(ALL_TARGETS as readonly string[]).includes(t));
  if (bad.length > 0 || wanted.length === 0) {
    throw new MeshformError('bad --targets', [
      {
        code: 'USAGE_TARGETS',
        severity: 'error',
        path: '--targets',
        value: list,
        message: bad.length ? `unknown target(s): ${bad.join(', ')}` : 'no target given',
        rule: `targets are a comma-separated subset of ${ALL_TARGETS.join(',')}`,
        fix: `e.g. --targets ${ALL_TARGETS.join(',')}`,
      },
    ]);
  }
  return ALL_TARGETS.filter((t) => wanted.includes(t));
}

function endpointText(c: PlannedCluster): string {
  const where = c.dial.address ?? (c.dial.ips ?? []).join(',');
  return c.service.type === 'NodePort' ? `NodePort ${c.service.nodePort} on ${where}` : `LoadBalancer ${where}:${c.dial.port}`;
}

function summaryJson(plan: MeshPlan, outDir: string, w: WriteResult, warnings: Finding[], renewal: RenewalReport | undefined) {
  return {
    mesh: plan.name,
    out: outDir,
    clusters: plan.clusters.map((c) => ({
      name: c.name,
      id: c.id,
      cilium: c.version.raw,
      chartVersion: c.chartVersion,
      podCIDRs: c.podCIDRs,
      serviceCIDRs: c.serviceCIDRs,
      endpoint: { service: c.service, ...c.dial },
      peers: c.peers,
    })),
    peerEntries: plan.clusters.reduce((n, c) => n + c.peers.length, 0),
    certificates: renewal ?? null,
    files: w,
    warnings,
  };
}

/** `north: server, admin; south: server` — certificates grouped by cluster, at most `max` clusters. */
function certList(refs: readonly CertRef[], max = 3): string {
  const by = new Map<string, string[]>();
  for (const r of refs) by.set(r.cluster, [...(by.get(r.cluster) ?? []), r.kind]);
  const parts = [...by].map(([c, kinds]) => `${c}: ${kinds.join(', ')}`);
  return parts.length <= max ? parts.join('; ') : `${parts.slice(0, max).join('; ')}; … (${parts.length} clusters)`;
}

const day = (iso: string): string => iso.slice(0, 10);

/** The lines saying what this render did with the certificates and when a re-render renews them. */
function renewalLines(r: RenewalReport, renewBeforeDays: number): string[] {
  const lines: string[] = [];
  const total = r.reused + r.issued.length + r.renewed.length + r.replaced.length;
  lines.push(`Certificates: ${total} (${r.reused} reused, ${r.issued.length} new, ${r.renewed.length} renewed, ${r.replaced.length} replaced)`);
  if (r.renewed.length > 0) {
    const soonest = r.renewed.map((x) => x.previousNotAfter).sort()[0]!;
    lines.push(`  renewed now (within ${renewBeforeDays} days of expiry, the first on ${day(soonest)}): ${certList(r.renewed)}`);
  }
  if (r.replaced.length > 0) lines.push(`  replaced (names, CA or key algorithm changed): ${certList(r.replaced)}`);
  if (r.next) {
    const n = r.next.certificates;
    lines.push(
      `  next renewal: a render on or after ${day(r.next.renewFrom)} re-issues ${n.length} certificate${n.length === 1 ? '' : 's'} (${certList(n)}), ${renewBeforeDays} days before they expire on ${day(n[0]!.notAfter)}`,
    );
  }
  return lines;
}

function shortList(items: string[], max = 3): string {
  return items.length <= max ? items.join(',') : `${items.slice(0, max).join(',')},… (${items.length})`;
}

export async function renderCommand(
  io: Io,
  specPath: string,
  opts: { out: string; targets: string; facts?: string; output: OutputFormat; takeOver?: boolean; allowOutsidePaths?: boolean },
): Promise<number> {
  const targets = parseTargets(opts.targets);
  const now = io.now();
  const prepared = await preparedOrExit(io, specPath, { factsPath: opts.facts, refusal: `nothing was written to ${opts.out}`, allowOutsidePaths: opts.allowOutsidePaths === true });
  if (typeof prepared === 'number') return prepared;
  const { spec, ca, facts, findings } = prepared;
  const outDir = resolve(io.cwd, opts.out);
  // Opened (locked, checked: this mesh's, no links) before anything is read from it.
  const folder = OutputFolder.open(outDir, { mesh: spec.name, takeOver: opts.takeOver ?? false, display: opts.out });
  let plan: MeshPlan;
  let files;
  let written: WriteResult;
  let renewal: RenewalReport | undefined;
  try {
    const existing = await readCertStore(outDir, spec.clusters.map((c) => c.name));
    ({ plan, files, renewal } = await renderFromSpec(spec, { ca, facts, existing, now, targets }));
    written = folder.commit(files);
  } finally {
    folder.close();
  }
  const warnings = [...findings, ...plan.warnings];
  if (written.kept.length > 0) {
    warnings.push({
      code: 'OUT_FILES_KEPT',
      severity: 'warning',
      path: '--out',
      value: shortList(written.kept),
      message: `${written.kept.length} file(s) in ${opts.out} were not written by meshform or were changed since, and were left as they are: ${shortList(written.kept, 5)}`,
      rule: 'meshform never deletes a file it did not write, or one changed since it wrote it',
      fix: `remove them yourself if they are no longer needed`,
    });
  }

  if (opts.output === 'json') {
    io.out(JSON.stringify(summaryJson(plan, opts.out, written, warnings, renewal), null, 2));
    return exitCodeFor('ok');
  }
  if (warnings.length > 0) io.err(formatFindings(warnings));
  const links = plan.clusters.reduce((n, c) => n + c.peers.length, 0);
  const lines: string[] = [];
  lines.push(`Rendered mesh "${plan.name}": ${plan.clusters.length} clusters, ${links} peer entries, certificates: ${plan.certMethod}, authMode: ${plan.authMode}`);
  lines.push('');
  lines.push(
    table(
      ['CLUSTER', 'ID', 'CILIUM', 'PODS', 'SERVICES', 'ENDPOINT', 'PEERS'],
      plan.clusters.map((c) => [
        c.name,
        String(c.id),
        c.version.raw,
        c.podCIDRs.join(','),
        c.serviceCIDRs.join(','),
        endpointText(c),
        shortList(c.peers),
      ]),
    ),
  );
  lines.push('');
  const rel = relative(io.cwd, outDir) || '.';
  lines.push(
    `Files in ${rel}/: ${written.written.length} written, ${written.unchanged.length} unchanged, ${written.removed.length} removed${written.kept.length ? `, ${written.kept.length} not meshform's (kept)` : ''}`,
  );
  // Grouped by what the files are for (their role), in the folders render puts them.
  const groups: Array<{ label: string; roles: ArtefactRole[]; what: string }> = [
    { label: 'fleet/', roles: ['fleet'], what: 'Fleet bundle shipping the HelmChartConfigs' },
    { label: 'plan.json', roles: ['plan'], what: 'the mesh plan: clusters, peers, endpoints, certificate fingerprints (no keys)' },
    { label: 'rancher/', roles: ['rancher'], what: 'Rancher/Terraform chart_values and machine_global_config fragments' },
    { label: 'rke2/', roles: ['helmChartConfig'], what: 'RKE2 HelmChartConfig per cluster (kubectl apply --server-side)' },
    {
      label: 'secrets/',
      roles: ['secretValues', 'helmChartConfigInline', 'valuesSecret', 'certSecret', 'certStore', 'gitignore'],
      what: 'keys and certificates (0600, git-ignored): never commit',
    },
    { label: 'values/', roles: ['values'], what: 'Helm values per cluster (helm upgrade -f values/<c>.yaml -f secrets/<c>.values.yaml)' },
  ];
  for (const g of groups) {
    const n = files.filter((f) => g.roles.includes(f.role)).length;
    if (n > 0) lines.push(`  ${g.label.padEnd(10)} ${String(n).padStart(4)}  ${g.what}`);
  }
  lines.push('');
  if (renewal) {
    lines.push(...renewalLines(renewal, spec.certificates.renewBeforeDays));
    lines.push('');
  }
  if (targets.includes('rke2')) {
    lines.push(`Next: review the files (git diff), then: meshform apply ${specPath} --out ${rel}   (--dry-run shows the diff first)`);
    lines.push('  or by hand, per cluster (Secrets first), e.g.');
    for (const c of spec.clusters.slice(0, 3)) {
      const ca = clusterArtefacts(c.name, files);
      const manifests = ca.secrets.map((f) => f.path);
      const hcc = ca.helmChartConfig;
      if (!hcc) continue;
      const target = c.context ? `--context ${c.context}` : c.kubeconfig ? `--kubeconfig ${relative(io.cwd, c.kubeconfig)}` : `--context ${c.name}`;
      const args = [...manifests, hcc.path].map((p) => `-f ${rel}/${p}`).join(' ');
      lines.push(`  kubectl ${target} apply --server-side --field-manager meshform ${args}`);
    }
    if (spec.clusters.length > 3) lines.push(`  … and likewise for the other ${spec.clusters.length - 3} clusters`);
  }
  lines.push(`Check again any time: meshform validate ${specPath}`);
  io.out(lines.join('\n'));
  return exitCodeFor('ok');
}
