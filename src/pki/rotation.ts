/**
 * Rotating the shared CA without downtime, as data (issue 12 item 3). Three phases, each rendered
 * and applied to every cluster, then gated on every link being ready before the next:
 *
 * 1. `trust-new`: every cluster trusts the old and the new CA (`tls.caBundle`: old first); the
 *    leaves stay the old CA's. No peer changes what it presents, every peer learns the new CA.
 * 2. `reissue`: every leaf certificate is re-issued from the new CA; the bundle still holds both,
 *    so a peer that has its new certificate and one that still has its old one accept each other.
 * 3. `drop-old`: the old CA leaves the bundle; everything is the new CA's.
 *
 * Then the spec's CA files become the new CA (the old one is kept aside), so a plain render goes
 * on from there. The progress is recorded after each phase (`RotationState`, a JSON file beside the
 * spec's CA), so an interrupted rotation resumes where it stopped and `status` can name the phase.
 * Pure: the executor (cli) does the I/O.
 */
import type { CaMaterial, TrustedCa } from './types.js';

export type RotationPhase = 'trust-new' | 'reissue' | 'drop-old';

export interface PhaseSpec {
  phase: RotationPhase;
  /** Which CA issues the leaves in this phase. */
  signer: 'old' | 'new';
  /** The CAs every cluster trusts, in bundle order (the signer first, as the renderer puts it). */
  trusts: ('old' | 'new')[];
  /** What this phase does, for the plan and the progress. */
  what: string;
}

export const ROTATION_PHASES: readonly PhaseSpec[] = [
  { phase: 'trust-new', signer: 'old', trusts: ['old', 'new'], what: 'every cluster trusts the old and the new CA; certificates stay the old CA\'s' },
  { phase: 'reissue', signer: 'new', trusts: ['new', 'old'], what: 'every clustermesh certificate is re-issued from the new CA; both CAs stay trusted' },
  { phase: 'drop-old', signer: 'new', trusts: ['new'], what: 'the old CA is no longer trusted' },
];

/** The record of a rotation in progress (the file `rotation.json` beside the spec's CA). */
export interface RotationState {
  /** SHA-256 fingerprints of the old and the new CA. */
  from: string;
  to: string;
  /** Where the new CA's files are (as given to `ca rotate`). */
  newCa: { cert: string; key: string };
  /** The output folder given to `ca rotate` (for the resume command). */
  out?: string;
  /** Phases applied and gated, in order. */
  done: RotationPhase[];
  updatedAt: string;
}

export const ROTATION_STATE_FILE = 'rotation.json';

/** The phases still to run for `state` (all three for a new rotation). */
export function remainingPhases(state: RotationState | undefined): PhaseSpec[] {
  const done = new Set(state?.done ?? []);
  return ROTATION_PHASES.filter((p) => !done.has(p.phase));
}

/** The state after `phase` was applied and gated. */
export function afterPhase(state: RotationState, phase: RotationPhase, now: Date): RotationState {
  return { ...state, done: [...state.done.filter((d) => d !== phase), phase], updatedAt: now.toISOString() };
}

/** Why a rotation from `oldCa` to `newCa` cannot start or resume (empty when it can). */
export function rotationProblems(oldCa: CaMaterial, newCa: CaMaterial, state: RotationState | undefined, opts: { now: Date; validityDays: number }): string[] {
  const out: string[] = [];
  if (oldCa.fingerprint256 === newCa.fingerprint256 && !(state && state.done.includes('reissue'))) out.push('the new CA is the CA the spec already uses');
  const leavesEnd = opts.now.getTime() + opts.validityDays * 86_400_000;
  if (newCa.notAfter.getTime() < leavesEnd) {
    out.push(`the new CA expires on ${newCa.notAfter.toISOString().slice(0, 10)}, before certificates issued now (${opts.validityDays} days, certificates.validityDays) would: make one valid for longer (meshform ca init --days N)`);
  }
  if (state && (state.to !== newCa.fingerprint256 || (state.from !== oldCa.fingerprint256 && state.to !== oldCa.fingerprint256))) {
    out.push(`a rotation to another CA (${state.to.slice(0, 23)}…) is in progress; finish it first, with the CA it was started with (${state.newCa.cert})`);
  }
  return out;
}

function asTrusted(ca: CaMaterial, path: string): TrustedCa {
  return { path, certPem: ca.certPem, subject: ca.subject, fingerprint256: ca.fingerprint256, notBefore: ca.notBefore, notAfter: ca.notAfter };
}

/**
 * The CA material a phase renders with: the signer, trusting the other CAs of the phase (the
 * renderer writes the signer then `trust` as `tls.caBundle`).
 */
export function phaseCa(p: PhaseSpec, cas: { old: CaMaterial; new: CaMaterial; oldPath: string; newPath: string }): CaMaterial {
  const signer = p.signer === 'old' ? cas.old : cas.new;
  const trust = p.trusts.filter((t) => t !== p.signer).map((t) => (t === 'old' ? asTrusted(cas.old, cas.oldPath) : asTrusted(cas.new, cas.newPath)));
  const { trust: _ignored, ...rest } = signer;
  return trust.length ? { ...rest, trust } : rest;
}

/** One line per phase with its state, for `ca rotate --dry-run` and `status`. */
export function describeRotation(state: RotationState | undefined): string[] {
  const done = new Set(state?.done ?? []);
  return ROTATION_PHASES.map((p, i) => `phase ${i + 1}/3 ${p.phase}: ${p.what}${done.has(p.phase) ? '  [done]' : ''}`);
}
