import type { LeafRecord } from './record.js';
import type { SecretPem } from './secret.js';

/** A CA as meshform holds it. The key never leaves a SecretPem. */
export interface CaMaterial {
  certPem: string;
  key: SecretPem;
  subject: string;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /**
   * CAs trusted beside this one (`ca.trust`, trust.ts), checked and without repeats: with any,
   * every cluster gets the bundle of this CA and these as `tls.caBundle`. Certificates only.
   */
  trust?: TrustedCa[];
}

/** A CA certificate the mesh trusts without signing with it (`ca.trust`). */
export interface TrustedCa {
  /** The file it came from (absolute). */
  path: string;
  certPem: string;
  subject: string;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
}

export type LeafKind = 'server' | 'admin' | 'remote' | 'local';

/** What a leaf certificate must say; two requests are equal when every field is. */
export interface LeafRequest {
  cluster: string;
  kind: LeafKind;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** server: serverAuth+clientAuth; the others: clientAuth. */
  usage: 'server' | 'client';
}

export interface IssuedCert {
  request: LeafRequest;
  certPem: string;
  key: SecretPem;
  fingerprint256: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** True when taken unchanged from an earlier render. */
  reused: boolean;
  /**
   * Why a certificate that was not reused was issued: `new` (no earlier one), `renewal` (the
   * earlier one was within the renewal window, or expired: its notAfter in `previousNotAfter`) or
   * `changed` (the earlier one no longer fits: other names, CA, key algorithm, or unreadable).
   */
  issuedBecause?: 'new' | 'renewal' | 'changed';
  /** With `issuedBecause: 'renewal'`: when the certificate it replaces expires (or expired). */
  previousNotAfter?: Date;
  /**
   * Its entry in the certificate index (record.ts), set by `issueLeaves` for every certificate it
   * issued or checked; `certStoreFiles` writes it so the next render can skip the full check.
   */
  record?: LeafRecord;
}

export interface ClusterCerts {
  server: IssuedCert;
  admin: IssuedCert;
  remote: IssuedCert;
  /** Cilium 1.16+ only. */
  local?: IssuedCert;
}
