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
 *
 * Adoption (issue 12 item 4) runs the same three phases from clusters that each kept their own CA
 * (`certificates.method keep`, their CAs in `ca.trust`) onto the spec's CA: phase 1 is what
 * method keep renders (each cluster keeps its CA and certificates, and trusts the shared CA and
 * every CA of ca.trust), phase 2 re-issues every certificate from the shared CA (method provided,
 * still trusting all), phase 3 drops the clusters' own CAs. At the end the spec itself changes
 * (method provided, no ca.trust) instead of the CA files.
 */
import type { CaMaterial, TrustedCa } from './types.js';

export type RotationPhase = 'trust-new' | 'reissue' | 'drop-old';

export interface PhaseSpec {
  phase: RotationPhase;
  /** Which CA issues the leaves in this phase; `own`: nobody new, each cluster keeps its own (method keep). */
  signer: 'old' | 'new' | 'own';
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

/** Adoption: from each cluster's own CA (ca.trust, method keep) onto the spec's CA. */
export const ADOPTION_PHASES: readonly PhaseSpec[] = [
  { phase: 'trust-new', signer: 'own', trusts: ['new', 'old'], what: "every cluster keeps its own CA and certificates and trusts the shared CA and every cluster's CA (certificates.method keep)" },
  { phase: 'reissue', signer: 'new', trusts: ['new', 'old'], what: "every clustermesh certificate (and each cluster's cilium-ca) is replaced from the shared CA; the clusters' own CAs stay trusted" },
  { phase: 'drop-old', signer: 'new', trusts: ['new'], what: "the clusters' own CAs are no longer trusted" },
];

/** The phases of a rotation (`adopt`: from the clusters' own CAs). */
export function phasesOf(adopt: boolean): readonly PhaseSpec[] {
  return adopt ? ADOPTION_PHASES : ROTATION_PHASES;
}

/** The certificate method a phase renders with (adoption's first phase keeps what the clusters have). */
export function phaseMethod(p: PhaseSpec): 'keep' | 'provided' {
  return p.signer === 'own' ? 'keep' : 'provided';
}

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
  /** An adoption (from the clusters' own CAs, `from` their fingerprints joined by `,`). */
  adopt?: boolean;
  updatedAt: string;
}

export const ROTATION_STATE_FILE = 'rotation.json';

/** The phases still to run for `state` (all three for a new rotation). */
export function remainingPhases(state: RotationState | undefined, adopt = state?.adopt ?? false): PhaseSpec[] {
  const done = new Set(state?.done ?? []);
  return phasesOf(adopt).filter((p) => !done.has(p.phase));
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

/**
 * The CA material an adoption phase renders with: the spec's CA (which signs from phase 2 on, and
 * under method keep only stands in the bundle), trusting the clusters' own CAs (`ca.trust`, as
 * loaded) while the phase keeps them.
 */
export function adoptionPhaseCa(p: PhaseSpec, shared: CaMaterial, own: readonly TrustedCa[]): CaMaterial {
  const { trust: _ignored, ...rest } = shared;
  return p.trusts.includes('old') && own.length ? { ...rest, trust: [...own] } : rest;
}

/** Why an adoption onto `shared` from the clusters' own CAs cannot start or resume (empty when it can). */
export function adoptionProblems(shared: CaMaterial, own: readonly TrustedCa[], state: RotationState | undefined, opts: { now: Date; validityDays: number }): string[] {
  const out: string[] = [];
  if (!own.length && !(state?.adopt && state.done.includes('reissue'))) out.push("ca.trust lists no CA of the clusters: there is nothing to converge from (a spec written by meshform init lists each cluster's own CA)");
  const leavesEnd = opts.now.getTime() + opts.validityDays * 86_400_000;
  if (shared.notAfter.getTime() < leavesEnd) {
    out.push(`the shared CA expires on ${shared.notAfter.toISOString().slice(0, 10)}, before certificates issued now (${opts.validityDays} days, certificates.validityDays) would: make one valid for longer (meshform ca init --days N)`);
  }
  if (state && (!state.adopt || state.to !== shared.fingerprint256)) {
    out.push(`a rotation to another CA (${state.to.slice(0, 23)}…) is in progress; finish it first, with the CA it was started with (${state.newCa.cert})`);
  }
  return out;
}

/** One line per phase with its state, for `ca rotate --dry-run` and `status`. */
export function describeRotation(state: RotationState | undefined, adopt = state?.adopt ?? false): string[] {
  const done = new Set(state?.done ?? []);
  return phasesOf(adopt).map((p, i) => `phase ${i + 1}/3 ${p.phase}: ${p.what}${done.has(p.phase) ? '  [done]' : ''}`);
}
