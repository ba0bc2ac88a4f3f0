/**
 * The commands that talk to live clusters: discover, init, apply, diff, status, doctor. Each one
 * wires flags to the library (src/discover, src/apply, src/status, src/doctor) and prints the
 * result; progress goes to stderr.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { MeshformError, hasErrors, type Finding } from '../errors.js';
import { exitCodeFor, worstExitCode } from '../exit.js';
import type { Prepared } from '../prepare.js';
import { preparedOrExit } from './spec.js';
import { connectSpec, type ConnectFlags, type ConnectedCluster } from '../kube/connect.js';
import { NodeClusterClient } from '../kube/node-client.js';
import { discoverAll, duplicateClusterFindings, identityFindings } from '../discover/discover.js';
import { initSpecFromFacts } from '../discover/init.js';
import { validateSpec } from '../validate/rules.js';
import { renderFromSpec } from '../pipeline.js';
import { readCertStore } from '../pki/store.js';
import { OutputFolder } from '../write/atomic.js';
import { writeUserFile, writeUserFiles } from '../write/user.js';
import { ALL_TARGETS, type Artefact, type RenderedFile } from '../render/types.js';
import { applyMesh, diffMesh, formatApplySummary, HELM_CONTROLLER_WARNING, type ApplyTarget } from '../apply/apply.js';
import { spawnHelm } from '../apply/helm.js';
import { clusterArtefacts, helmChartConfigObjects, helmExtraObjects, helmValues } from '../apply/from-render.js';
import { collectStatus, waitForMesh, type StatusTarget } from '../status/status.js';
import { formatStatusJson, formatStatusTable } from '../status/format.js';
import { formatDoctorReport } from '../doctor/doctor.js';
import { runDoctor } from '../doctor/run.js';
import type { Facts } from '../kube/facts.js';
import type { MeshPlan } from '../plan/types.js';
import { formatFindings, type Io, type OutputFormat } from './io.js';
import { errTerminalOf, progressMode, startApplyProgress } from './progress.js';

export interface LiveFlags {
  /** `--allow-outside-paths`: values files outside the spec's folder are read. */
  allowOutsidePaths?: boolean;
  kubeconfig?: string;
  context?: string;
  requestTimeout?: string;
}

/** `30s`, `5m`, `1h` or plain seconds → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new MeshformError(`bad ${flag}`, [
      {
        code: 'USAGE_DURATION',
        severity: 'error',
        path: flag,
        value: text,
        message: `${flag} must be a duration like 30s, 5m or 1h`,
        rule: 'durations are a number with an optional unit ms, s, m or h (default s)',
        fix: `e.g. ${flag} 5m`,
      },
    ]);
  }
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

function connectFlags(flags: LiveFlags): ConnectFlags {
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    timeoutMs: flags.requestTimeout ? parseDuration(flags.requestTimeout, '--request-timeout') : undefined,
  };
}

/** Loads and validates the spec offline; a spec that cannot be used ends the command before any cluster is touched. */
function prepareOrExit(io: Io, specPath: string, flags: LiveFlags): Promise<Prepared | number> {
  return preparedOrExit(io, specPath, { refusal: 'no cluster was touched', allowOutsidePaths: flags.allowOutsidePaths === true });
}

interface Live {
  prepared: Prepared;
  connected: ConnectedCluster[];
  facts: Facts;
  /** Clusters that could not be read, with why. */
  failed: Map<string, MeshformError>;
  /** Findings from the live rules and the identity check, per cluster name ('' for mesh-wide). */
  findings: Finding[];
}

/** Connects to every cluster, discovers them, and runs the live rules and the identity check. */
async function goLive(
  io: Io,
  prepared: Prepared,
  flags: LiveFlags,
  opts: { allowIdentityChange?: boolean; connect?: typeof connectSpec } = {},
): Promise<Live> {
  const connected = (opts.connect ?? connectSpec)(prepared.spec, connectFlags(flags), io.env);
  io.err(`discovering ${connected.length} cluster(s)…`);
  const { facts, failures } = await discoverAll(connected.map((c) => ({ name: c.name, client: c.client, index: c.index })));
  const failed = new Map(failures.map((f) => [f.cluster, f.error]));
  const findings = validateSpec(prepared.spec, { facts, ca: prepared.ca, caFindings: [], now: io.now() }).filter(
    (f) => !prepared.findings.some((p) => p.code === f.code && p.path === f.path),
  );
  for (const c of prepared.spec.clusters) {
    const f = facts.clusters[c.name];
    if (f) findings.push(...identityFindings({ name: c.name, id: c.id, index: c.index }, f, opts));
  }
  findings.push(...duplicateClusterFindings(facts, prepared.spec.clusters.map((c) => c.name)));
  return { prepared, connected, facts, failed, findings };
}

function reportFailures(io: Io, failed: Map<string, MeshformError>): void {
  for (const [name, err] of failed) {
    io.err(err.findings.length ? formatFindings(err.findings) : `meshform: cluster ${name}: ${err.message}`);
  }
}

function clusterOfPath(spec: Prepared['spec'], path: string): string | undefined {
  const m = /^clusters\[(\d+)\]/.exec(path);
  return m ? spec.clusters[Number(m[1])]?.name : undefined;
}

/**
 * The clusters a finding at `path` stops: the cluster it is about and, when it is about what peers
 * dial (its name, ID, endpoint or TLS names), every cluster that lists it as a peer, because their
 * rendered values carry that endpoint too.
 */
function clustersBlockedBy(spec: Prepared['spec'], path: string): string[] {
  const m = /^clusters\[(\d+)\](?:\.(\w+))?/.exec(path);
  const c = m ? spec.clusters[Number(m[1])] : undefined;
  if (!c) return [];
  const dialled = ['endpoint', 'name', 'id', 'tls'].includes(m?.[2] ?? '');
  return [c.name, ...(dialled ? spec.clusters.filter((o) => o.name !== c.name && o.peers.includes(c.name)).map((o) => o.name) : [])];
}

// ---------------------------------------------------------------------------------------------
export async function discoverCommand(io: Io, specPath: string, opts: LiveFlags & { output: 'yaml' | 'json'; save?: string }): Promise<number> {
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const live = await goLive(io, p, opts);
  reportFailures(io, live.failed);
  if (live.findings.length) io.err(formatFindings(live.findings));
  const text = opts.output === 'json' ? JSON.stringify(live.facts, null, 2) : stringify(live.facts, { lineWidth: 0 });
  if (opts.save) {
    const file = resolve(io.cwd, opts.save);
    writeUserFile(file, text, { mode: 0o644, replace: true });
    io.err(`facts written to ${opts.save} (use: meshform validate ${specPath} --facts ${opts.save})`);
  } else io.out(text);
  if (live.failed.size) return exitCodeFor('cluster');
  return exitCodeFor(hasErrors(live.findings) ? 'findings' : 'ok');
}

// ---------------------------------------------------------------------------------------------
export async function initCommand(
  io: Io,
  opts: { kubeconfig?: string; context: string[]; name: string; out: string; force: boolean; requestTimeout?: string; domain?: string },
): Promise<number> {
  if (opts.context.length === 0) {
    throw new MeshformError('no --context', [
      {
        code: 'USAGE_CONTEXTS',
        severity: 'error',
        path: '--context',
        message: 'init needs the kubeconfig context of every cluster to mesh',
        rule: 'one --context per cluster (kubectl config get-contexts lists them)',
        fix: 'e.g. meshform init --kubeconfig ~/.kube/config --context mesh01 --context mesh02',
      },
    ]);
  }
  const outDir = resolve(io.cwd, opts.out);
  if (existsSync(join(outDir, 'mesh.yaml')) && !opts.force) {
    throw new MeshformError('mesh.yaml exists', [
      {
        code: 'INIT_EXISTS',
        severity: 'error',
        path: '--out',
        value: join(opts.out, 'mesh.yaml'),
        message: `${join(opts.out, 'mesh.yaml')} already exists`,
        rule: 'init never overwrites a spec without --force',
        fix: 'choose another --out folder, or pass --force',
      },
    ]);
  }
  const timeoutMs = opts.requestTimeout ? parseDuration(opts.requestTimeout, '--request-timeout') : undefined;
  const kubeconfig = opts.kubeconfig ? resolve(io.cwd, opts.kubeconfig) : undefined;
  const targets = opts.context.map((context) => ({
    name: context,
    client: NodeClusterClient.connect(context, { kubeconfig, context, timeoutMs }, io.env),
  }));
  io.err(`discovering ${targets.length} cluster(s)…`);
  const { facts, failures } = await discoverAll(targets);
  if (failures.length) {
    reportFailures(io, new Map(failures.map((f) => [f.cluster, f.error])));
    io.err('meshform: init needs every cluster: nothing was written');
    return exitCodeFor('cluster');
  }
  const r = initSpecFromFacts(
    opts.context.map((context) => ({ fallbackName: context, context, kubeconfig: kubeconfig ? relative(outDir, kubeconfig) : undefined, facts: facts.clusters[context] ?? {} })),
    { meshName: opts.name, domain: opts.domain },
  );
  if (r.findings.length) io.err(formatFindings(r.findings));
  const files: RenderedFile[] = [{ path: 'mesh.yaml', content: r.meshYaml, secret: false }, ...r.files];
  writeUserFiles(outDir, files, { replace: opts.force });
  io.out(`Wrote ${files.map((f) => join(opts.out, f.path)).join(', ')}`);
  io.out(`Next: meshform ca init --spec ${join(opts.out, 'mesh.yaml')}   (or ca import the cluster's existing cilium-ca)`);
  io.out(`      meshform validate ${join(opts.out, 'mesh.yaml')} && meshform render ${join(opts.out, 'mesh.yaml')} --out ${join(opts.out, 'out')}`);
  return exitCodeFor(hasErrors(r.findings) ? 'findings' : 'ok');
}

// ---------------------------------------------------------------------------------------------
async function renderForLive(io: Io, live: Live, outDir: string): Promise<{ plan: MeshPlan; files: Artefact[] }> {
  const { spec, ca } = live.prepared;
  const existing = await readCertStore(outDir, spec.clusters.map((c) => c.name));
  const r = await renderFromSpec(spec, { ca, facts: live.facts, existing, now: io.now(), targets: [...ALL_TARGETS] });
  if (r.plan.warnings.length) io.err(formatFindings(r.plan.warnings));
  return r;
}

function applyTargets(live: Live, files: Artefact[], method: 'helmchartconfig' | 'helm', chart: string, plan: MeshPlan): ApplyTarget[] {
  return live.connected.map((c) => {
    const ca = clusterArtefacts(c.name, files);
    const spec = live.prepared.spec.clusters[c.index];
    const planned = plan.byName.get(c.name);
    if (method === 'helm') {
      return {
        name: c.name,
        client: c.client,
        objects: helmExtraObjects(ca),
        helm: { values: helmValues(ca), chart, version: planned?.chartVersion ?? '', connection: { kubeconfig: spec?.kubeconfig, context: spec?.context } },
      };
    }
    return { name: c.name, client: c.client, objects: helmChartConfigObjects(ca) };
  });
}

export async function applyCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & {
    out: string;
    method: 'helmchartconfig' | 'helm';
    dryRun: boolean;
    timeout: string;
    chart: string;
    helm?: string;
    allowIdentityChange: boolean;
    force: boolean;
    takeOver?: boolean;
    wait: boolean;
    output: OutputFormat;
    only?: string;
    /** false (`--no-progress`): plain progress lines even on a terminal. */
    progress?: boolean;
  },
  connect: typeof connectSpec = connectSpec,
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const only = opts.only ? opts.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const unknown = only?.filter((n) => !p.spec.clusters.some((c) => c.name === n)) ?? [];
  if (unknown.length) {
    throw new MeshformError('bad --only', [
      {
        code: 'USAGE_ONLY',
        severity: 'error',
        path: '--only',
        value: opts.only,
        message: `--only names cluster(s) not in the spec: ${unknown.join(', ')}`,
        rule: '--only takes a comma-separated list of cluster names from the spec',
        fix: `use some of: ${p.spec.clusters.map((c) => c.name).join(', ')}`,
      },
    ]);
  }
  const live = await goLive(io, p, opts, { allowIdentityChange: opts.allowIdentityChange, connect });
  const meshWide = live.findings.filter((f) => f.severity === 'error' && !clusterOfPath(p.spec, f.path));
  if (meshWide.length) {
    io.err(formatFindings(meshWide));
    io.err('meshform: the mesh as a whole fails the live checks: no cluster was touched');
    return exitCodeFor('findings');
  }
  const chosen = p.spec.clusters.filter((c) => !only || only.includes(c.name)).map((c) => c.name);
  const blocking = live.findings.filter((f) => f.severity === 'error' && clustersBlockedBy(p.spec, f.path).some((c) => chosen.includes(c)));
  if (blocking.length && chosen.every((c) => blocking.some((f) => clustersBlockedBy(p.spec, f.path).includes(c)))) {
    io.err(formatFindings(blocking));
    io.err(`meshform: ${chosen.join(', ')} ${chosen.length === 1 ? 'fails' : 'fail'} the live checks: no cluster was touched`);
    return exitCodeFor('findings');
  }
  const warnings = live.findings.filter((f) => f.severity === 'warning');
  if (warnings.length) io.err(formatFindings(warnings));
  const outDir = resolve(io.cwd, opts.out);
  const folder = OutputFolder.open(outDir, { mesh: p.spec.name, takeOver: opts.takeOver ?? false, readOnly: opts.dryRun, display: opts.out });
  let plan: MeshPlan;
  let files: Artefact[];
  try {
    ({ plan, files } = await renderForLive(io, live, outDir));
    if (!opts.dryRun) folder.commit(files);
  } finally {
    folder.close();
  }
  if (opts.method === 'helm') io.err(`warning: ${HELM_CONTROLLER_WARNING}`);

  const preflight = (cluster: string): Finding[] => {
    const failed = live.failed.get(cluster);
    if (failed) throw failed;
    return live.findings.filter((f) => clustersBlockedBy(p.spec, f.path).includes(cluster));
  };
  const targets = applyTargets(live, files, opts.method, opts.chart, plan).filter((t) => !only || only.includes(t.name));
  const terminal = errTerminalOf(io);
  const progress = startApplyProgress({
    clusters: targets.map((t) => t.name),
    mode: progressMode({ terminal: terminal !== undefined, progress: opts.progress, env: io.env }),
    now: Date.now,
    writeLine: (line) => io.err(line),
    terminal,
    heldStream: terminal === process.stderr ? process.stdout : undefined,
  });
  let applied: Awaited<ReturnType<typeof applyMesh>> | undefined;
  try {
    applied = await applyMesh(targets, {
      method: opts.method,
      dryRun: opts.dryRun,
      release: p.spec.cilium.release,
      namespace: p.spec.cilium.namespace,
      timeoutMs: opts.wait ? timeoutMs : 0,
      force: opts.force,
      preflight,
      helmRunner: opts.method === 'helm' ? spawnHelm(opts.helm ?? 'helm') : undefined,
      onEvent: (e) => progress.onEvent(e),
    });
  } finally {
    // Rows end before the summary reaches stdout, also when the apply threw.
    await progress.close(applied);
  }
  const result = applied;
  if (opts.output === 'json') {
    io.out(
      JSON.stringify(
        {
          clusters: result.clusters.map((c) => ({
            cluster: c.cluster,
            outcome: c.outcome,
            changed: c.objects.filter((d) => d.state !== 'same').map((d) => `${d.kind}/${d.name}`),
            revision: c.revision,
            warnings: c.warnings,
            error: c.error ? { message: c.error.message, findings: c.error.findings } : undefined,
            findings: c.findings,
          })),
          changed: result.changed,
          unchanged: result.unchanged,
          failed: result.failed,
        },
        null,
        2,
      ),
    );
  } else {
    io.out(formatApplySummary(result, { diffs: opts.dryRun }).trimEnd());
    for (const c of result.clusters) if (c.error?.findings.length) io.err(formatFindings(c.error.findings));
    if (!opts.dryRun && result.failed.length === 0) io.out(`Next: meshform status ${specPath} --wait`);
    if (result.failed.length) io.out(`Re-run the same command once ${result.failed.join(', ')} ${result.failed.length === 1 ? 'is' : 'are'} fixed: clusters already done stay unchanged.`);
  }
  // A cluster held back by its findings is 1, one that failed to apply 3; the worst decides.
  return worstExitCode(result.clusters.map((c) => (c.outcome !== 'failed' ? exitCodeFor('ok') : c.error ? c.error.exitCode : exitCodeFor('cluster'))));
}

export async function diffCommand(io: Io, specPath: string, opts: LiveFlags & { out: string; output: OutputFormat }): Promise<number> {
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const live = await goLive(io, p, opts);
  const outDir = resolve(io.cwd, opts.out);
  // Read only, but through the same checks: the earlier certificates are read from a folder of this mesh with no links.
  OutputFolder.open(outDir, { mesh: p.spec.name, readOnly: true, display: opts.out }).close();
  const { plan, files } = await renderForLive(io, live, outDir);
  const result = await diffMesh(applyTargets(live, files, 'helmchartconfig', '', plan));
  if (opts.output === 'json') {
    io.out(
      JSON.stringify(
        {
          drift: result.drift,
          clusters: result.clusters.map((c) => ({
            cluster: c.cluster,
            differences: c.differences.map((d) => ({ kind: d.kind, name: d.name, state: d.state, diff: d.text })),
            error: c.error?.message,
          })),
        },
        null,
        2,
      ),
    );
  } else {
    for (const c of result.clusters) {
      if (c.error) io.out(`${c.cluster}: cannot be read: ${c.error.message}`);
      else if (c.differences.length === 0) io.out(`${c.cluster}: in sync`);
      else {
        io.out(`${c.cluster}: ${c.differences.map((d) => `${d.kind} ${d.name} ${d.state}`).join(', ')}`);
        for (const d of c.differences) if (d.text) io.out(d.text.trimEnd());
      }
    }
  }
  if (result.clusters.some((c) => c.error)) return exitCodeFor('cluster');
  return exitCodeFor(result.drift ? 'drift' : 'ok');
}

// ---------------------------------------------------------------------------------------------
function statusTargets(p: Prepared, connected: ConnectedCluster[]): StatusTarget[] {
  return connected.map((c) => ({ name: c.name, client: c.client, peers: p.spec.clusters[c.index]?.peers }));
}

export async function statusCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & { wait: boolean; timeout: string; detail: boolean; execTimeout?: string; output: OutputFormat },
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const execTimeoutMs = opts.execTimeout ? parseDuration(opts.execTimeout, '--exec-timeout') : undefined;
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const connected = connectSpec(p.spec, connectFlags(opts), io.env);
  const targets = statusTargets(p, connected);
  const collect = () => collectStatus(targets, { namespace: p.spec.cilium.namespace, execTimeoutMs });
  let status;
  if (opts.wait) {
    const r = await waitForMesh(collect, {
      timeoutMs,
      onPoll: (s, ms) => {
        const ready = s.matrix.filter((m) => m.ready === m.total && m.total > 0).length;
        io.err(`[${(ms / 1000).toFixed(0).padStart(4)}s] ${ready}/${s.matrix.length} cluster→peer links ready on every node`);
      },
    });
    status = r.status;
    if (r.timedOut) io.err(`meshform: not ready after ${opts.timeout}; run meshform doctor ${specPath} for causes and fixes`);
  } else status = await collect();
  io.out(opts.output === 'json' ? formatStatusJson(status) : formatStatusTable(status, { detail: opts.detail }).trimEnd());
  if (status.clusters.some((c) => c.error)) return exitCodeFor('cluster');
  return exitCodeFor(status.ready ? 'ok' : 'not-ready');
}

export async function doctorCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & { output: OutputFormat; probe: boolean; execTimeout?: string },
  connect: typeof connectSpec = connectSpec,
): Promise<number> {
  const execTimeoutMs = opts.execTimeout ? parseDuration(opts.execTimeout, '--exec-timeout') : undefined;
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const connected = connect(p.spec, connectFlags(opts), io.env);
  const { report } = await runDoctor(
    connected.map((c) => ({ name: c.name, client: c.client, index: c.index, peers: p.spec.clusters[c.index]?.peers })),
    {
      ref: { release: p.spec.cilium.release, namespace: p.spec.cilium.namespace },
      probe: opts.probe,
      ...(execTimeoutMs !== undefined ? { execTimeoutMs } : {}),
      onProgress: (m) => io.err(m),
    },
  );
  if (opts.output === 'json') io.out(JSON.stringify(report, (k, v) => (k === 'key' ? undefined : v), 2));
  else io.out(formatDoctorReport(report).trimEnd());
  // A cluster doctor cannot read is a cluster failure, as in status and discover.
  if (report.findings.some((f) => f.code === 'CLUSTER_ACCESS')) return exitCodeFor('cluster');
  return exitCodeFor(report.healthy ? 'ok' : 'unhealthy');
}
