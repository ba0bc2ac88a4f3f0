/**
 * The commands that talk to live clusters: discover, init, apply, diff, status, doctor. Each one
 * parses its flags, calls the library (src/live for the live checks and what they stop, src/apply
 * for the plan and its execution, src/discover, src/status, src/doctor) and prints the result;
 * progress goes to stderr. Every command takes its clients from `deps.connector`, so each runs
 * in-process on in-memory clients in tests.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { MeshformError, hasErrors } from '../errors.js';
import { exitCodeFor, worstExitCode } from '../exit.js';
import { readBoundedSync } from '../util/bounded-read.js';
import { describeRotation } from '../pki/rotation.js';
import { readRotationState, refusalFinding, resumeCommand, rotationInProgress, runRotation, startRotation, type RotationRefusal } from '../pki/rotate.js';
import { certificateNotes, clusterCertificates, formatCertificates, judgeOptionsOf } from '../pki/live.js';
import { describeWave } from '../apply/membership.js';
import { clearFailed, leavingTarget, leavingTargets, nothingToClear, planRollout, recordedClusters, statusGate } from '../apply/rollout.js';
import { applyInWaves, wavesReport, type WavesResult } from '../apply/waves.js';
import type { Prepared } from '../prepare.js';
import { preparedOrExit } from './spec.js';
import { connectSpec, kubeconfigConnector, type ConnectFlags, type Connector } from '../kube/connect.js';
import { discoverAll } from '../discover/discover.js';
import { appendClusters, initSpecFromFacts } from '../discover/init.js';
import type { InitCertificates } from '../defaults.js';
import { parseSpec } from '../spec/load.js';
import { validateSpec } from '../validate/rules.js';
import { RULES } from '../validate/catalogue.js';
import { OutputFolder } from '../write/atomic.js';
import { writeUserFile, writeUserFiles } from '../write/user.js';
import type { RenderedFile } from '../render/types.js';
import { applyMesh, diffMesh, formatApplySummary, HELM_CONTROLLER_WARNING } from '../apply/apply.js';
import { applyExitCode, applyReport, diffExitCode, diffReport, formatDiff } from '../apply/report.js';
import { spawnHelm, type HelmRunner } from '../apply/helm.js';
import { checkLive, type LiveCheck } from '../live/check.js';
import { admitApply } from '../live/scope.js';
import { applyTargets, meshTargets, preflightOf, renderAndCommit, renderForLive } from '../live/targets.js';
import { collectStatus, waitForMesh } from '../status/status.js';
import { formatStatusTable } from '../status/format.js';
import { formatDoctorReport } from '../doctor/doctor.js';
import { runDoctor } from '../doctor/run.js';
import { releaseRefOf } from '../defaults.js';
import { formatFindings, type Io, type OutputFormat } from './io.js';
import { errTerminalOf, progressMode, startApplyProgress } from './progress.js';

/** What the live commands take from outside besides flags: how to reach clusters, how to run helm. */
export interface LiveDeps {
  /** Makes each cluster's client (default: kubeconfig and context, as kubectl). */
  connector?: Connector;
  /** Runs helm for `apply --method helm` (default: the `--helm` binary). */
  helmRunner?: HelmRunner;
}

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

/** Connects to every spec cluster and runs the live checks. */
async function goLive(io: Io, p: Prepared, flags: LiveFlags, deps: LiveDeps, opts: { allowIdentityChange?: boolean } = {}): Promise<LiveCheck> {
  const connected = connectSpec(p.spec, connectFlags(flags), io.env, deps.connector);
  io.err(`discovering ${connected.length} cluster(s)…`);
  return checkLive(p, connected, { now: io.now(), ...opts });
}

function reportFailures(io: Io, failed: Map<string, MeshformError>): void {
  for (const [name, err] of failed) {
    io.err(err.findings.length ? formatFindings(err.findings) : `meshform: cluster ${name}: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
export async function discoverCommand(io: Io, specPath: string, opts: LiveFlags & { output: 'yaml' | 'json'; save?: string }, deps: LiveDeps = {}): Promise<number> {
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const live = await goLive(io, p, opts, deps);
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
  opts: { kubeconfig?: string; context: string[]; name: string; out: string; force: boolean; requestTimeout?: string; domain?: string; add?: string; certificates?: InitCertificates },
  deps: LiveDeps = {},
): Promise<number> {
  if (opts.add !== undefined && opts.certificates !== undefined) {
    throw new MeshformError('--certificates with --add', [
      {
        code: 'USAGE_INIT_CERTIFICATES',
        severity: 'error',
        path: '--certificates',
        value: opts.certificates,
        message: 'init --add takes the certificates method of the spec it adds to',
        rule: RULES.USAGE_INIT_CERTIFICATES.rule,
        fix: `leave out --certificates (change certificates.method in ${opts.add} by hand if needed)`,
      },
    ]);
  }
  if (opts.add !== undefined && opts.context.length > 0) return initAddCommand(io, opts.add, opts, deps);
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
  const connector = deps.connector ?? kubeconfigConnector;
  const targets = opts.context.map((context) => ({ name: context, client: connector({ name: context, kubeconfig, context, timeoutMs }, io.env) }));
  io.err(`discovering ${targets.length} cluster(s)…`);
  const { facts, failures } = await discoverAll(targets);
  if (failures.length) {
    reportFailures(io, new Map(failures.map((f) => [f.cluster, f.error])));
    io.err('meshform: init needs every cluster: nothing was written');
    return exitCodeFor('cluster');
  }
  const r = initSpecFromFacts(
    opts.context.map((context) => ({ fallbackName: context, context, kubeconfig: kubeconfig ? relative(outDir, kubeconfig) : undefined, facts: facts.clusters[context] ?? {} })),
    { meshName: opts.name, domain: opts.domain, certificates: opts.certificates },
  );
  if (r.findings.length) io.err(formatFindings(r.findings));
  const files: RenderedFile[] = [{ path: 'mesh.yaml', content: r.meshYaml, secret: false }, ...r.files];
  writeUserFiles(outDir, files, { replace: opts.force });
  io.out(`Wrote ${files.map((f) => join(opts.out, f.path)).join(', ')}`);
  const spec = join(opts.out, 'mesh.yaml');
  if (r.method === 'keep') {
    // Adoption: the clusters keep their CAs and certificates first; the rotation converges later.
    io.out(`Next: meshform ca init --spec ${spec}   (the shared CA the mesh converges onto)`);
    io.out(`      meshform render ${spec} --out ${join(opts.out, 'out')} && meshform apply ${spec} --out ${join(opts.out, 'out')}   (each cluster keeps its CA and trusts the others')`);
    io.out(`      meshform ca rotate ${spec} --out ${join(opts.out, 'out')}   (every cluster onto the shared CA, gated phase by phase)`);
  } else {
    io.out(`Next: meshform ca init --spec ${spec}   (or ca import the cluster's existing cilium-ca)`);
    io.out(`      meshform validate ${spec} && meshform render ${spec} --out ${join(opts.out, 'out')}`);
  }
  return exitCodeFor(hasErrors(r.findings) ? 'findings' : 'ok');
}

/**
 * `init --add mesh.yaml --context NEW`: discovers NEW, and appends its entry to the existing spec
 * (comments kept) with the next free ID and NodePort, its values file beside it; the spec with the
 * new cluster is validated first, and nothing is written when it breaks a rule.
 */
async function initAddCommand(
  io: Io,
  specPath: string,
  opts: { kubeconfig?: string; context: string[]; requestTimeout?: string; force: boolean },
  deps: LiveDeps,
): Promise<number> {
  const p = await prepareOrExit(io, specPath, {});
  if (typeof p === 'number') return p;
  const { spec } = p;
  const kubeconfig = opts.kubeconfig ? resolve(io.cwd, opts.kubeconfig) : undefined;
  const timeoutMs = opts.requestTimeout ? parseDuration(opts.requestTimeout, '--request-timeout') : undefined;
  const dup = opts.context.filter((ctx) => spec.clusters.some((c) => c.context === ctx));
  if (dup.length) {
    io.err(formatFindings([{ code: 'INIT_ALREADY_IN_SPEC', severity: 'error', path: '--context', value: dup.join(', '),
      message: `context ${dup.join(', ')} is already used by ${spec.clusters.filter((c) => c.context !== undefined && dup.includes(c.context)).map((c) => c.name).join(', ')} in ${specPath}`,
      rule: RULES.INIT_ALREADY_IN_SPEC.rule, fix: 'give the context of a cluster that is not in the mesh yet' }]));
    return exitCodeFor('findings');
  }
  const connector = deps.connector ?? kubeconfigConnector;
  const targets = opts.context.map((context) => ({ name: context, client: connector({ name: context, kubeconfig, context, timeoutMs }, io.env) }));
  io.err(`discovering ${targets.length} cluster(s)…`);
  const { facts, failures } = await discoverAll(targets, { ref: releaseRefOf(spec) });
  if (failures.length) {
    reportFailures(io, new Map(failures.map((f) => [f.cluster, f.error])));
    io.err(`meshform: init --add needs every new cluster: nothing was written`);
    return exitCodeFor('cluster');
  }
  const known = opts.context.filter((ctx) => spec.clusters.some((c) => c.name === facts.clusters[ctx]?.clusterName));
  if (known.length) {
    io.err(formatFindings([{ code: 'INIT_ALREADY_IN_SPEC', severity: 'error', path: '--context', value: known.join(', '),
      message: `the cluster behind context ${known.join(', ')} already runs Cilium as ${known.map((k) => facts.clusters[k]?.clusterName).join(', ')}, a cluster of ${specPath}`,
      rule: RULES.INIT_ALREADY_IN_SPEC.rule, fix: 'give the context of a cluster that is not in the mesh yet (or fix the context of the spec cluster)' }]));
    return exitCodeFor('findings');
  }
  const specDir = dirname(spec.path);
  const r = initSpecFromFacts(
    opts.context.map((context) => ({ fallbackName: context, context, kubeconfig: kubeconfig ? relative(specDir, kubeconfig) : undefined, facts: facts.clusters[context] ?? {} })),
    {
      meshName: spec.name, domain: spec.domain, ciliumVersion: spec.cilium.version, release: spec.cilium.release, namespace: spec.cilium.namespace,
      taken: {
        names: spec.clusters.map((c) => c.name),
        ids: spec.clusters.map((c) => c.id),
        nodePorts: spec.clusters.flatMap((c) => (c.endpoint.type === 'NodePort' ? [c.endpoint.nodePort] : [])),
      },
    },
  );
  const text = readBoundedSync(spec.path, 16 * 1024 * 1024);
  if (!text.ok) throw new MeshformError(`cannot read ${specPath}`, []);
  const specText = text.bytes.toString('utf8');
  // Checked before anything is written: the spec with the new clusters (their values files not written yet, so left out here).
  const check = parseSpec(appendClusters(specText, r.clusters.map(({ values: _v, ...e }) => e)), spec.path);
  const findings = [...r.findings, ...validateSpec(check, { ca: p.ca, caFindings: [], now: io.now() }).filter((f) => !p.findings.some((o) => o.code === f.code && o.path === f.path))];
  if (findings.length) io.err(formatFindings(findings));
  if (hasErrors(findings)) {
    io.err(formatFindings([{ code: 'INIT_ADD_INVALID', severity: 'error', path: 'clusters', value: r.clusters.map((c) => String(c['name'])).join(', '),
      message: `${specPath} with ${r.clusters.map((c) => String(c['name'])).join(', ')} added breaks the rules above: nothing was written`,
      rule: RULES.INIT_ADD_INVALID.rule, fix: 'fix what the errors above name (or add the cluster by hand), then run init --add again' }]));
    return exitCodeFor('findings');
  }
  writeUserFiles(specDir, r.files, { replace: opts.force });
  writeUserFile(spec.path, appendClusters(specText, r.clusters), { mode: 0o644, replace: true });
  io.out(`Added ${r.clusters.map((c) => `${String(c['name'])} (id ${String(c['id'])})`).join(', ')} to ${specPath}${r.files.length ? `; wrote ${r.files.map((f) => join(relative(io.cwd, specDir) || '.', f.path)).join(', ')}` : ''}`);
  io.out(`Next: meshform apply ${specPath} --out <out> --dry-run   (the new cluster joins first, then the others add it)`);
  return exitCodeFor('ok');
}

// ---------------------------------------------------------------------------------------------
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
    /** `--waves a,b;c`. */
    waves?: string;
    /** `--wave-size N`. */
    waveSize?: string;
    /** `--prune`: clear the clusters taken out of the spec. */
    prune?: boolean;
    /** `--gate-timeout`: how long each gate between waves waits. */
    gateTimeout?: string;
  },
  deps: LiveDeps = {},
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const gateTimeoutMs = parseDuration(opts.gateTimeout ?? '5m', '--gate-timeout');
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
  const live = await goLive(io, p, opts, deps, { allowIdentityChange: opts.allowIdentityChange });
  const chosen = p.spec.clusters.filter((c) => !only || only.includes(c.name)).map((c) => c.name);
  const admission = admitApply(p.spec, live.findings, chosen);
  if (admission.refused) {
    io.err(formatFindings(admission.findings));
    const who = admission.meshWide ? 'the mesh as a whole fails' : `${admission.clusters.join(', ')} ${admission.clusters.length === 1 ? 'fails' : 'fail'}`;
    io.err(`meshform: ${who} the live checks: no cluster was touched`);
    return exitCodeFor('findings');
  }
  if (admission.warnings.length) io.err(formatFindings(admission.warnings));
  const outDir = resolve(io.cwd, opts.out);
  // The previous render's record (read before this render replaces it): who was in the mesh, and how to reach them.
  const previous = readBoundedSync(join(outDir, 'plan.json'), 64 * 1024 * 1024);
  const rollout = planRollout(p.spec, live, recordedClusters(previous.ok ? previous.bytes.toString('utf8') : undefined), {
    ...(opts.waves !== undefined ? { waves: opts.waves } : {}),
    ...(opts.waveSize !== undefined ? { waveSize: Number(opts.waveSize) } : {}),
    prune: opts.prune === true,
    ...(only ? { only } : {}),
  }, specPath);
  if (rollout.findings.length) io.err(formatFindings(rollout.findings));
  const rendered = await renderAndCommit(p, live.facts, outDir, io.now(), { takeOver: opts.takeOver ?? false, readOnly: opts.dryRun, display: opts.out });
  if (rendered.plan.warnings.length) io.err(formatFindings(rendered.plan.warnings));
  if (opts.method === 'helm') io.err(`warning: ${HELM_CONTROLLER_WARNING}`);

  const targets = applyTargets(p.spec, live.connected, rendered, opts.method, opts.chart).filter((t) => !only || only.includes(t.name));
  const byName = new Map(targets.map((t) => [t.name, t]));
  const leaving = await leavingTargets(rollout.prune, (r) => {
    const conn = r.connection ?? {};
    return (deps.connector ?? kubeconfigConnector)({ name: r.name, kubeconfig: conn.kubeconfig !== undefined ? resolve(p.spec.dir, conn.kubeconfig) : opts.kubeconfig, context: conn.context, timeoutMs: connectFlags(opts).timeoutMs }, io.env);
  }, releaseRefOf(p.spec));
  for (const t of leaving.targets) byName.set(t.name, t);
  if (leaving.nothing.length) io.err(formatFindings(leaving.nothing));
  const clearErrors = leaving.failed;
  for (const e of clearErrors) io.err(formatFindings(e.findings));
  const waves = rollout.waves.map((w) => (w.kind === 'leave' ? { ...w, clusters: w.clusters.filter((n) => byName.has(n)) } : w)).filter((w) => w.clusters.length > 0);
  if (waves.length > 1 || opts.dryRun) for (const w of waves) io.err(describeWave(w));
  const terminal = errTerminalOf(io);
  const mode = progressMode({ terminal: terminal !== undefined, progress: opts.progress, env: io.env });
  let gating = 0;
  const progress = startApplyProgress({
    clusters: waves.flatMap((w) => w.clusters),
    mode,
    now: Date.now,
    writeLine: (line) => io.err(line),
    terminal,
    heldStream: terminal === process.stderr ? process.stdout : undefined,
    waves: new Map(waves.flatMap((w) => w.clusters.map((c) => [c, w.index] as const))),
  });
  let applied: WavesResult | undefined;
  // A cluster that could not be read fails in its own wave; the gates wait for the links of the others.
  const clients = new Map(live.connected.filter((c) => !live.failed.has(c.name)).map((c) => [c.name, c.client]));
  const gate = statusGate(rollout.input, clients, {
    namespace: p.spec.cilium.namespace,
    timeoutMs: gateTimeoutMs,
    // The live view shows the gate on the rows that wait for it; lines go to stderr otherwise.
    onPoll: (ready, total, ms) => (mode === 'live' && terminal ? progress.onGate(gating, ready, total) : io.err(`[${(ms / 1000).toFixed(0).padStart(4)}s] gate: ${ready}/${total} links both ends configure are ready`)),
  });
  try {
    applied = await applyInWaves(waves, byName, {
      onWave: (w, phase, g) => {
        if (waves.length < 2) return;
        if (phase === 'gate') gating = w.index;
        if (phase === 'gate') io.err(`wave ${w.index} applied: waiting until every link both ends configure is ready (--gate-timeout ${opts.gateTimeout ?? '5m'})`);
        if (phase === 'done' && g) io.err(`wave ${w.index}: ${g.ready ? `gate passed after ${(g.elapsedMs / 1000).toFixed(1)} s (${g.links} links ready)` : `gate NOT passed after ${(g.elapsedMs / 1000).toFixed(1)} s: ${g.notReady.map((m) => `${m.cluster}→${m.peer} ${m.ready}/${m.total}`).join(', ')}`}`);
      },
      method: opts.method,
      dryRun: opts.dryRun,
      ...releaseRefOf(p.spec),
      timeoutMs: opts.wait ? timeoutMs : 0,
      force: opts.force,
      preflight: preflightOf(live, p.spec),
      helmRunner: opts.method === 'helm' ? (deps.helmRunner ?? spawnHelm(opts.helm ?? 'helm')) : undefined,
      onEvent: (e) => progress.onEvent(e),
    }, gate);
  } finally {
    // Rows end before the summary reaches stdout, also when the apply threw.
    await progress.close(applied?.apply);
  }
  const result = applied.apply;
  if (opts.output === 'json') io.out(JSON.stringify({ ...(applyReport(result) as object), ...wavesReport(applied) }, null, 2));
  else {
    io.out(formatApplySummary(result, { diffs: opts.dryRun, steps: opts.dryRun }).trimEnd());
    for (const c of result.clusters) if (c.error?.findings.length) io.err(formatFindings(c.error.findings));
    // A rollout stopped before later waves (with a single wave, a failed cluster is just that).
    if (applied.stopped && applied.untouched.length) {
      const why = applied.stopped.reason === 'gate-not-ready' ? 'its links did not all become ready' : 'a cluster of it failed';
      io.out(`Stopped after wave ${applied.stopped.wave}: ${why}. Not touched: ${applied.untouched.join(', ') || '(none)'}.`);
      io.out(`Fix it (meshform doctor ${specPath}), then re-run the same command: clusters already done stay unchanged.`);
    } else if (!opts.dryRun && result.failed.length === 0) io.out(`Next: meshform status ${specPath} --wait`);
    else if (result.failed.length) io.out(`Re-run the same command once ${result.failed.join(', ')} ${result.failed.length === 1 ? 'is' : 'are'} fixed: clusters already done stay unchanged.`);
  }
  return worstExitCode([applyExitCode(result), applied.stopped?.reason === 'gate-not-ready' ? exitCodeFor('not-ready') : exitCodeFor('ok'), clearErrors.length ? exitCodeFor('cluster') : exitCodeFor('ok')]);
}

export async function diffCommand(io: Io, specPath: string, opts: LiveFlags & { out: string; output: OutputFormat }, deps: LiveDeps = {}): Promise<number> {
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const live = await goLive(io, p, opts, deps);
  const outDir = resolve(io.cwd, opts.out);
  // Read only, but through the same checks: the earlier certificates are read from a folder of this mesh with no links.
  OutputFolder.open(outDir, { mesh: p.spec.name, readOnly: true, display: opts.out }).close();
  const rendered = await renderForLive(p, live.facts, outDir, io.now());
  if (rendered.plan.warnings.length) io.err(formatFindings(rendered.plan.warnings));
  const result = await diffMesh(applyTargets(p.spec, live.connected, rendered, 'helmchartconfig'));
  io.out(opts.output === 'json' ? JSON.stringify(diffReport(result), null, 2) : formatDiff(result));
  return diffExitCode(result);
}

// ---------------------------------------------------------------------------------------------
export async function statusCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & { wait: boolean; timeout: string; detail: boolean; execTimeout?: string; output: OutputFormat },
  deps: LiveDeps = {},
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const execTimeoutMs = opts.execTimeout ? parseDuration(opts.execTimeout, '--exec-timeout') : undefined;
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const targets = meshTargets(p.spec, connectSpec(p.spec, connectFlags(opts), io.env, deps.connector));
  const collect = () => collectStatus(targets, { namespace: p.spec.cilium.namespace, execTimeoutMs });
  const readCertificates = () => clusterCertificates(targets, p.spec.cilium.namespace, judgeOptionsOf(p.ca, p.spec.certificates.renewBeforeDays, io.now()));
  let status;
  let certificates;
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
    certificates = await readCertificates();
  } else [status, certificates] = await Promise.all([collect(), readCertificates()]);
  const rotation = readRotationState(p.spec);
  if (rotation) io.err(formatFindings([rotationInProgress(rotation, specPath)]));
  if (opts.output === 'json') io.out(JSON.stringify({ ...status, certificates }, null, 2));
  else io.out(`${formatStatusTable(status, { detail: opts.detail }).trimEnd()}\n\ncertificates in use:\n${formatCertificates(certificates).trimEnd()}${certificateNotes(certificates)}`);
  if (status.clusters.some((c) => c.error)) return exitCodeFor('cluster');
  return exitCodeFor(status.ready ? 'ok' : 'not-ready');
}

export async function doctorCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & { output: OutputFormat; probe: boolean; execTimeout?: string },
  deps: LiveDeps = {},
): Promise<number> {
  const execTimeoutMs = opts.execTimeout ? parseDuration(opts.execTimeout, '--exec-timeout') : undefined;
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const { report, certificates } = await runDoctor(meshTargets(p.spec, connectSpec(p.spec, connectFlags(opts), io.env, deps.connector)), {
    ref: releaseRefOf(p.spec),
    probe: opts.probe,
    certificates: { ...judgeOptionsOf(p.ca, p.spec.certificates.renewBeforeDays, io.now()), specPath },
    ...(execTimeoutMs !== undefined ? { execTimeoutMs } : {}),
    onProgress: (m) => io.err(m),
  });
  const rotation = readRotationState(p.spec);
  if (rotation) io.err(formatFindings([rotationInProgress(rotation, specPath)]));
  if (opts.output === 'json') io.out(JSON.stringify({ ...report, certificates }, (k, v) => (k === 'key' ? undefined : v), 2));
  else io.out(`${formatDoctorReport(report).trimEnd()}${certificates ? `\n\ncertificates in use:\n${formatCertificates(certificates).trimEnd()}` : ''}`);
  // A cluster doctor cannot read is a cluster failure, as in status and discover.
  if (report.findings.some((f) => f.code === 'CLUSTER_ACCESS')) return exitCodeFor('cluster');
  return exitCodeFor(report.healthy ? 'ok' : 'unhealthy');
}

// ---------------------------------------------------------------------------------------------
/**
 * `disconnect NAME --context CTX`: clears one cluster's mesh configuration (its HelmChartConfig's
 * `clustermesh.config.clusters` emptied: it dials no peer and admits none), for a cluster taken
 * out of the spec that `apply --prune` could not reach.
 */
export async function disconnectCommand(
  io: Io,
  name: string,
  opts: LiveFlags & { release: string; namespace: string; dryRun: boolean; timeout: string; wait: boolean; output: OutputFormat },
  deps: LiveDeps = {},
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const ref = { release: opts.release, namespace: opts.namespace };
  const client = (deps.connector ?? kubeconfigConnector)({ name, kubeconfig: opts.kubeconfig, context: opts.context, timeoutMs: connectFlags(opts).timeoutMs }, io.env);
  let target;
  try {
    target = await leavingTarget(name, client, ref);
  } catch (err) {
    const e = clearFailed(name, err, opts.context);
    io.err(formatFindings(e.findings));
    return exitCodeFor('cluster');
  }
  if (!target) {
    io.err(formatFindings([nothingToClear(name)]));
    return exitCodeFor('ok');
  }
  const result = await applyMesh([target], { dryRun: opts.dryRun, ...ref, timeoutMs: opts.wait ? timeoutMs : 0 });
  if (opts.output === 'json') io.out(JSON.stringify(applyReport(result), null, 2));
  else {
    io.out(formatApplySummary(result, { diffs: opts.dryRun, steps: opts.dryRun }).trimEnd());
    for (const c of result.clusters) if (c.error?.findings.length) io.err(formatFindings(c.error.findings));
    if (!opts.dryRun && result.failed.length === 0) io.out(`${name} dials no peer and admits none now. Its clustermesh-apiserver and certificates stay; uninstalling them is up to you.`);
  }
  return applyExitCode(result);
}

// ---------------------------------------------------------------------------------------------
/**
 * `ca rotate <spec> --new-ca DIR --out OUT`: the shared CA replaced without downtime, in the three
 * phases of pki/rotation.ts, run by pki/rotate.ts; this prints its progress and outcome.
 */
export async function caRotateCommand(
  io: Io,
  specPath: string,
  opts: LiveFlags & { newCa?: string; out: string; timeout: string; gateTimeout: string; dryRun: boolean; takeOver?: boolean },
  deps: LiveDeps = {},
): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const gateTimeoutMs = parseDuration(opts.gateTimeout, '--gate-timeout');
  const p = await prepareOrExit(io, specPath, opts);
  if (typeof p === 'number') return p;
  const refused = (r: RotationRefusal) => {
    if (r.findings.length) io.err(formatFindings(r.findings));
    io.err(formatFindings([refusalFinding(r)]));
    io.err('meshform: nothing was changed');
    return exitCodeFor(r.outcome);
  };
  const start = await startRotation(p, specPath, opts.newCa === undefined ? undefined : resolve(io.cwd, opts.newCa), opts.newCa, io.now());
  if (start.refused) return refused(start);
  if (start.adopt) io.err(`Adoption: ${start.own.length} cluster CA(s) (${start.own.map((t) => `${t.fingerprint256.slice(0, 11)}…`).join(', ')}) → the shared CA ${start.newCa.fingerprint256.slice(0, 23)}…`);
  else io.err(`CA rotation ${start.oldCa.fingerprint256.slice(0, 23)}… → ${start.newCa.fingerprint256.slice(0, 23)}…`);
  for (const line of describeRotation(start.state, start.adopt)) io.err(`  ${line}`);
  const live = await goLive(io, p, opts, deps);
  if (live.failed.size) reportFailures(io, live.failed);
  const outcome = await runRotation(p, live, start, specPath, {
    outDir: resolve(io.cwd, opts.out), out: opts.out, takeOver: opts.takeOver ?? false, timeoutMs, gateTimeoutMs, now: () => io.now(), dryRun: opts.dryRun,
  }, {
    onPhase: (i, phase) => io.err(`phase ${i}/3 ${phase.phase}: ${phase.what}`),
    onApplied: (_i, applied) => io.err(formatApplySummary(applied).trimEnd()),
    onPoll: (i, ready, total, ms) => io.err(`[${(ms / 1000).toFixed(0).padStart(4)}s] phase ${i}/3: ${ready}/${total} links ready`),
    onPhaseDone: (i, phase, ms) => io.err(`phase ${i}/3 ${phase.phase} done: every link ready after ${(ms / 1000).toFixed(1)} s`),
  });
  if (outcome.refused) return refused(outcome);
  const resume = resumeCommand(specPath, start.adopt ? undefined : opts.newCa, opts.out);
  switch (outcome.result) {
    case 'dry-run':
      io.out(`would run: ${outcome.phases.map((x) => x.phase).join(', ') || 'nothing (all phases done): the CA files are swapped'}`);
      return exitCodeFor('ok');
    case 'apply-failed':
      for (const c of outcome.applied.clusters) if (c.error?.findings.length) io.err(formatFindings(c.error.findings));
      io.out(`Rotation stopped in phase ${outcome.index}/3 (${outcome.phase.phase}): ${outcome.applied.failed.join(', ')} failed. Fix it, then resume: ${resume}`);
      return applyExitCode(outcome.applied);
    case 'not-ready':
      io.out(`Rotation stopped in phase ${outcome.index}/3 (${outcome.phase.phase}): links not ready after ${opts.gateTimeout}. meshform doctor ${specPath}, then resume: ${resume}`);
      return exitCodeFor('not-ready');
    case 'done':
      io.out(`CA rotated: every cluster trusts and uses only ${start.newCa.fingerprint256.slice(0, 23)}…; ${p.spec.ca!.cert} and ${p.spec.ca!.key} hold it now (the old CA is in ${relative(io.cwd, outcome.retired) || outcome.retired}).`);
      io.out(`Next: commit ${opts.out}; meshform render ${specPath} --out ${opts.out} now changes nothing.`);
      return exitCodeFor('ok');
    case 'adopted':
      io.out(`Mesh converged: every cluster trusts and uses only the shared CA ${start.newCa.fingerprint256.slice(0, 23)}…; ${specPath} now says certificates.method provided, without ca.trust.`);
      io.out(`Next: commit ${specPath} and ${opts.out}; meshform render ${specPath} --out ${opts.out} now changes nothing.`);
      return exitCodeFor('ok');
  }
}
