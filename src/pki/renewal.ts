/**
 * What a render did with meshform's certificates, and when a re-render will renew them (the
 * renewal window, `certificates.renewBeforeDays`). Pure: the certificates in, data out; the
 * CLI prints it, `-o json` carries it.
 */
import type { IssuedCert, LeafKind } from './types.js';

const DAY_MS = 86_400_000;

export interface CertRef {
  cluster: string;
  kind: LeafKind;
}

export interface RenewalReport {
  /** Kept from the earlier render. */
  reused: number;
  /** Issued for the first time (no earlier certificate). */
  issued: CertRef[];
  /** Issued because the earlier one was within the renewal window or had expired. */
  renewed: (CertRef & { previousNotAfter: string })[];
  /** Issued because the earlier one no longer fit (names, CA, key algorithm, or unreadable). */
  replaced: CertRef[];
  /**
   * The first moment a re-render renews certificates (`renewFrom`: notAfter minus the window), and
   * every certificate whose window opens on that same UTC day; absent without certificates.
   */
  next?: { renewFrom: string; certificates: (CertRef & { notAfter: string })[] };
}

const ref = (c: IssuedCert): CertRef => ({ cluster: c.request.cluster, kind: c.request.kind });

/** The report for the certificates of one render, in their order (cluster, then kind, as issued). */
export function renewalReport(certs: readonly IssuedCert[], renewBeforeDays: number): RenewalReport {
  const out: RenewalReport = { reused: 0, issued: [], renewed: [], replaced: [] };
  let first: number | undefined;
  for (const c of certs) {
    if (c.reused) out.reused++;
    else if (c.issuedBecause === 'renewal') out.renewed.push({ ...ref(c), previousNotAfter: c.previousNotAfter!.toISOString() });
    else if (c.issuedBecause === 'changed') out.replaced.push(ref(c));
    else out.issued.push(ref(c));
    const from = c.notAfter.getTime() - renewBeforeDays * DAY_MS;
    if (first === undefined || from < first) first = from;
  }
  if (first === undefined) return out;
  const dayOf = (ms: number) => Math.floor(ms / DAY_MS);
  const due = certs.filter((c) => dayOf(c.notAfter.getTime() - renewBeforeDays * DAY_MS) === dayOf(first!));
  out.next = {
    renewFrom: new Date(first).toISOString(),
    certificates: due.map((c) => ({ ...ref(c), notAfter: c.notAfter.toISOString() })),
  };
  return out;
}
