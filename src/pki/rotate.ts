/**
 * Running a CA rotation against the live clusters (the phases are data in rotation.ts): check that
 * it may start, then per phase render into the output folder, apply to every cluster and wait until
 * every link is ready, recording the progress after each phase so the same command resumes; at the
 * end the spec's CA files become the new CA and the old one is kept aside. I/O: the output folder,
 * the clusters, the CA folder. Printing is the caller's (`hooks`).
 */
import { dirname, join } from 'node:path';
import type { Finding } from '../errors.js';
import { applyMesh } from '../apply/apply.js';
import type { ApplyResult } from '../apply/types.js';
import { releaseRefOf } from '../defaults.js';
import type { LiveCheck } from '../live/check.js';
import { applyTargets, meshTargets, preflightOf, renderAndCommit } from '../live/targets.js';
import type { Prepared } from '../prepare.js';
import type { MeshSpec } from '../spec/types.js';
import { collectStatus, waitForMesh, type MeshStatus } from '../status/status.js';
import { readBoundedSync } from '../util/bounded-read.js';
import { RULES } from '../validate/catalogue.js';
import { removeUserFile, writeUserFile } from '../write/user.js';
import { inspectCaFiles } from './ca.js';
import { adoptionPhaseCa, adoptionProblems, afterPhase, phaseMethod, phasesOf, remainingPhases, rotationProblems, phaseCa, ROTATION_STATE_FILE, type PhaseSpec, type RotationState } from './rotation.js';
import type { CaMaterial, TrustedCa } from './types.js';
import { parseDocument } from 'yaml';

/** Where the record of a rotation in progress lives for `spec` (beside its CA), if it has a CA. */
export function rotationStatePath(spec: MeshSpec): string | undefined {
  return spec.ca ? join(dirname(spec.ca.cert), ROTATION_STATE_FILE) : undefined;
}

/** The record of a rotation in progress beside the spec's CA, if any. */
export function readRotationState(spec: MeshSpec): RotationState | undefined {
  const path = rotationStatePath(spec);
  if (!path) return undefined;
  const r = readBoundedSync(path, 1024 * 1024);
  if (!r.ok) return undefined;
  try {
    return JSON.parse(r.bytes.toString('utf8')) as RotationState;
  } catch {
    return undefined;
  }
}

/** The command that resumes (or runs) a rotation; an adoption (no `newCaDir`) converges onto the spec's own CA. */
export function resumeCommand(specPath: string, newCaDir: string | undefined, out: string): string {
  return `meshform ca rotate ${specPath}${newCaDir === undefined ? '' : ` --new-ca ${newCaDir}`} --out ${out}`;
}

/** One finding naming the phase a stopped rotation reached and the command that resumes it. */
export function rotationInProgress(state: RotationState, specPath: string): Finding {
  const next = remainingPhases(state)[0];
  return { code: 'CA_ROTATION_IN_PROGRESS', severity: 'warning', path: 'ca', value: state.to,
    message: `a CA rotation is in progress: ${state.done.length} of 3 phases done (${state.done.join(', ') || 'none'})${next ? `, next: ${next.phase} (${next.what})` : ''}`,
    rule: RULES.CA_ROTATION_IN_PROGRESS.rule,
    fix: `resume it: ${resumeCommand(specPath, state.adopt ? undefined : dirname(state.newCa.cert), state.out ?? '<out>')}` };
}

/** A rotation that may not start (or go on): nothing was changed. */
export interface RotationRefusal {
  refused: true;
  message: string;
  fix: string;
  /** Findings behind the refusal (e.g. why the new CA cannot be used). */
  findings: Finding[];
  /** The exit-code outcome: bad input, or a cluster that cannot be reached. */
  outcome: 'findings' | 'cluster';
}

/** A rotation ready to run: both CAs, the recorded progress, the phases still to run. */
export interface RotationStart {
  refused: false;
  /** An adoption: from the clusters' own CAs (`own`, the spec's ca.trust) onto the spec's CA (`newCa`; `oldCa` is the same). */
  adopt: boolean;
  own: TrustedCa[];
  oldCa: CaMaterial;
  newCa: CaMaterial;
  newPaths: { cert: string; key: string };
  state?: RotationState;
  phases: PhaseSpec[];
}

/** The refusal finding (CA_ROTATION_REFUSED) of `r`. */
export function refusalFinding(r: Pick<RotationRefusal, 'message' | 'fix'>): Finding {
  return { code: 'CA_ROTATION_REFUSED', severity: 'error', path: 'ca', message: r.message, rule: RULES.CA_ROTATION_REFUSED.rule, fix: r.fix };
}

const refusal = (message: string, fix: string, findings: Finding[] = [], outcome: 'findings' | 'cluster' = 'findings'): RotationRefusal => ({ refused: true, message, fix, findings, outcome });

/**
 * Whether a rotation from the spec's CA to the CA in `newCaDir` may start or resume (offline:
 * the CA files and the recorded progress). `newCaDisplay` is how the user gave the folder.
 */
export async function startRotation(p: Prepared, specPath: string, newCaDir: string | undefined, newCaDisplay: string | undefined, now: Date): Promise<RotationRefusal | RotationStart> {
  if (!p.spec.ca || !p.ca) return refusal(`${specPath} has no shared CA (ca:) to rotate`, 'give the spec its CA (ca.cert, ca.key) first');
  const recorded = readRotationState(p.spec);
  if (p.spec.certificates.method === 'keep' || recorded?.adopt) {
    // Adoption: onto the spec's own CA, from the clusters' CAs the spec trusts (ca.trust).
    if (newCaDir !== undefined) {
      const given = await inspectCaFiles({ cert: join(newCaDir, 'ca.crt'), key: join(newCaDir, 'ca.key') }, now);
      if (given.ca?.fingerprint256 !== p.ca.fingerprint256) {
        return refusal(`${specPath} adopts clusters with their own CAs (certificates.method keep): the mesh converges onto its ca: (${p.spec.ca.cert}), not onto ${newCaDisplay}`, `run it without --new-ca: ${resumeCommand(specPath, undefined, '<out>')}`);
      }
    }
    const own = p.ca.trust ?? [];
    const problems = adoptionProblems(p.ca, own, recorded, { now, validityDays: p.spec.certificates.validityDays });
    if (problems.length) return refusal(problems.join('; '), 'see above');
    return { refused: false, adopt: true, own: [...own], oldCa: p.ca, newCa: p.ca, newPaths: { cert: p.spec.ca.cert, key: p.spec.ca.key }, ...(recorded ? { state: recorded } : {}), phases: remainingPhases(recorded, true) };
  }
  if (newCaDir === undefined || newCaDisplay === undefined) {
    return refusal(`a CA rotation needs the new CA: ${specPath} uses certificates.method ${p.spec.certificates.method}`, `make one and name it: meshform ca init ca-new && ${resumeCommand(specPath, 'ca-new', '<out>')}`);
  }
  const newPaths = { cert: join(newCaDir, 'ca.crt'), key: join(newCaDir, 'ca.key') };
  const inspected = await inspectCaFiles(newPaths, now);
  if (!inspected.ca) return refusal(`the new CA in ${newCaDisplay} cannot be used`, `make one: meshform ca init ${newCaDisplay}`, inspected.findings);
  const state = readRotationState(p.spec);
  const problems = rotationProblems(p.ca, inspected.ca, state, { now, validityDays: p.spec.certificates.validityDays });
  if (problems.length) return refusal(problems.join('; '), 'see above');
  if (state && state.from !== p.ca.fingerprint256) return refusal('the spec\'s CA is neither end of the recorded rotation', `check ${p.spec.ca.cert} and ${rotationStatePath(p.spec)}`);
  return { refused: false, adopt: false, own: [], oldCa: p.ca, newCa: inspected.ca, newPaths, ...(state ? { state } : {}), phases: remainingPhases(state, false) };
}

/** Progress callbacks of runRotation (the CLI prints them). */
export interface RotationHooks {
  onPhase?: (index: number, phase: PhaseSpec) => void;
  onApplied?: (index: number, result: ApplyResult) => void;
  onPoll?: (index: number, ready: number, total: number, ms: number) => void;
  onPhaseDone?: (index: number, phase: PhaseSpec, elapsedMs: number) => void;
}

export interface RotationOptions {
  /** The output folder (absolute) and how the user gave it. */
  outDir: string;
  out: string;
  takeOver: boolean;
  /** Per cluster apply timeout, and how long each phase waits for every link to be ready. */
  timeoutMs: number;
  gateTimeoutMs: number;
  now: () => Date;
  dryRun: boolean;
}

export type RotationOutcome =
  | RotationRefusal
  | { refused: false; result: 'dry-run'; phases: PhaseSpec[] }
  | { refused: false; result: 'apply-failed'; index: number; phase: PhaseSpec; applied: ApplyResult }
  | { refused: false; result: 'not-ready'; index: number; phase: PhaseSpec }
  | { refused: false; result: 'done'; retired: string }
  | { refused: false; result: 'adopted'; spec: string };

/** The links of `s` that are not ready, for a refusal. */
function notReadyText(s: MeshStatus): string {
  const bad = s.matrix.filter((m) => m.ready < m.total || m.total === 0).map((m) => `${m.cluster}→${m.peer} ${m.ready}/${m.total}`);
  return bad.join(', ') || s.clusters.filter((c) => c.error).map((c) => `${c.name}: ${c.error}`).join('; ');
}

/**
 * Runs the phases of `start` on the live clusters. Refused, before any change, while a cluster is
 * unreachable or a link is not ready. Stops (with the progress recorded) when a phase's apply fails
 * or its links do not all become ready within `gateTimeoutMs`.
 */
export async function runRotation(p: Prepared, live: LiveCheck, start: RotationStart, specPath: string, opts: RotationOptions, hooks: RotationHooks = {}): Promise<RotationOutcome> {
  const spec = p.spec;
  if (!spec.ca) return refusal(`${specPath} has no shared CA (ca:) to rotate`, 'give the spec its CA (ca.cert, ca.key) first');
  if (live.failed.size) {
    const names = [...live.failed.keys()].join(', ');
    return refusal(`cluster(s) ${names} cannot be reached: a rotation needs every cluster`, `bring ${names} back, then run the same command`, [], 'cluster');
  }
  const statusTargets = meshTargets(spec, live.connected);
  const collect = () => collectStatus(statusTargets, { namespace: spec.cilium.namespace });
  const first = await collect();
  if (!first.ready) return refusal(`the mesh is not ready (${notReadyText(first)}): a rotation starts from a ready mesh`, `meshform doctor ${specPath}, fix what it names, then run the same command`);
  if (opts.dryRun) return { refused: false, result: 'dry-run', phases: start.phases };

  const statePath = rotationStatePath(spec)!;
  const record = (s: RotationState) => writeUserFile(statePath, JSON.stringify(s, null, 2) + '\n', { mode: 0o644, replace: true });
  const { oldCa, newCa } = start;
  let state: RotationState = start.state ?? {
    from: start.adopt ? start.own.map((t) => t.fingerprint256).join(',') : oldCa.fingerprint256,
    to: newCa.fingerprint256,
    newCa: start.newPaths,
    out: opts.out,
    done: [],
    updatedAt: opts.now().toISOString(),
    ...(start.adopt ? { adopt: true } : {}),
  };
  const cas = { old: oldCa, new: newCa, oldPath: spec.ca.cert, newPath: start.newPaths.cert };
  for (const phase of start.phases) {
    const index = phasesOf(start.adopt).findIndex((x) => x.phase === phase.phase) + 1;
    hooks.onPhase?.(index, phase);
    // An adoption renders each phase with its own method: keep (phase 1), then provided.
    const phaseSpec = start.adopt ? { ...spec, certificates: { ...spec.certificates, method: phaseMethod(phase) } } : spec;
    const ca = start.adopt ? adoptionPhaseCa(phase, newCa, start.own) : phaseCa(phase, cas);
    const rendered = await renderAndCommit({ ...p, spec: phaseSpec, ca }, live.facts, opts.outDir, opts.now(), { takeOver: opts.takeOver, display: opts.out });
    const applied = await applyMesh(applyTargets(spec, live.connected, rendered, 'helmchartconfig'), { ...releaseRefOf(spec), timeoutMs: opts.timeoutMs, preflight: preflightOf(live, spec) });
    hooks.onApplied?.(index, applied);
    if (applied.failed.length) {
      record(state);
      return { refused: false, result: 'apply-failed', index, phase, applied };
    }
    const g = await waitForMesh(collect, {
      timeoutMs: opts.gateTimeoutMs,
      maxIntervalMs: 2000,
      readyReads: 2,
      onPoll: (s, ms) => hooks.onPoll?.(index, s.matrix.filter((m) => m.ready === m.total && m.total > 0).length, s.matrix.length, ms),
    });
    if (!g.status.ready) {
      record(state);
      return { refused: false, result: 'not-ready', index, phase };
    }
    state = afterPhase(state, phase.phase, opts.now());
    record(state);
    hooks.onPhaseDone?.(index, phase, g.elapsedMs);
  }
  if (start.adopt) {
    // The spec now says what the mesh is: every certificate the shared CA's (provided), nothing else trusted.
    writeUserFile(spec.path, convergedSpecText(readFileText(spec.path)), { mode: 0o644, replace: true });
    removeUserFile(statePath);
    return { refused: false, result: 'adopted', spec: spec.path };
  }
  // The spec's CA files become the new CA; the old one is kept aside (with its key: 0600).
  const today = opts.now().toISOString().slice(0, 10);
  const retired = join(dirname(spec.ca.cert), `retired-${today}-${oldCa.fingerprint256.replace(/:/g, '').slice(0, 8).toLowerCase()}`);
  if (oldCa.fingerprint256 !== newCa.fingerprint256) {
    writeUserFile(join(retired, 'ca.crt'), oldCa.certPem, { mode: 0o644, replace: true, dirMode: 0o700 });
    writeUserFile(join(retired, 'ca.key'), oldCa.key.reveal(), { mode: 0o600, replace: true, dirMode: 0o700 });
    writeUserFile(spec.ca.cert, newCa.certPem, { mode: 0o644, replace: true });
    writeUserFile(spec.ca.key, newCa.key.reveal(), { mode: 0o600, replace: true });
  }
  removeUserFile(statePath);
  return { refused: false, result: 'done', retired };
}

function readFileText(path: string): string {
  const r = readBoundedSync(path, 16 * 1024 * 1024);
  if (!r.ok) throw new Error(`${path} cannot be read`);
  return r.bytes.toString('utf8');
}

/**
 * The spec text after an adoption: `certificates.method: provided` and no `ca.trust`; every other
 * line and comment as it was. Pure.
 */
export function convergedSpecText(text: string): string {
  const doc = parseDocument(text);
  doc.setIn(['certificates', 'method'], 'provided');
  doc.deleteIn(['ca', 'trust']);
  return doc.toString({ lineWidth: 0 });
}
