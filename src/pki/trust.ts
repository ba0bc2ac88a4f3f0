/**
 * CAs the mesh trusts besides the shared CA that signs (`ca.trust`): the CA bundle every cluster
 * gets as the chart's `tls.caBundle` (Cilium 1.15–1.20), so that certificates of either CA are
 * accepted — what a CA rotation needs before its leaves move to the new CA, and what adopting a
 * cluster with its own CA needs before it is re-issued. Only certificates: meshform signs with the
 * shared CA alone. Each file holds one or more PEM certificates, each a CA.
 */
import { X509Certificate } from 'node:crypto';
import type { Finding } from '../errors.js';
import { describeFailure, readBoundedSync } from '../util/bounded-read.js';
import { RULES } from '../validate/catalogue.js';
import { pemBlocks } from './der.js';
import type { TrustedCa } from './types.js';

/** A trust file is a few kB; the same bound as the CA files. */
const MAX_FILE_BYTES = 1 << 20;

function finding(code: Finding['code'], path: string, value: string, message: string, fix: string): Finding {
  return { code, severity: RULES[code].severity, path, value, message, rule: RULES[code].rule, fix };
}

/**
 * Checks the certificates of the `ca.trust` files (texts given, in spec order) against the shared
 * CA: every certificate parses and is a CA; a repeat (of the shared CA or of another entry) is
 * left out with a warning, and so is one that has expired (it verifies nothing). `trusted` holds
 * the rest, in file order; it is only meaningful when `findings` has no error.
 */
export function inspectTrust(
  files: readonly { path: string; text: string }[],
  shared: { fingerprint256: string },
  now: Date,
): { trusted: TrustedCa[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const trusted: TrustedCa[] = [];
  const seen = new Set<string>([shared.fingerprint256]);
  files.forEach((f, i) => {
    const at = `ca.trust[${i}]`;
    const blocks = pemBlocks(f.text).filter((b) => b.label === 'CERTIFICATE');
    if (blocks.length === 0) {
      findings.push(finding('CA_TRUST_NOT_PEM', at, f.path, `${f.path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, 'point it at the CA certificate to trust (ca.crt of that cluster\'s cilium-ca Secret, base64-decoded)'));
      return;
    }
    blocks.forEach((b, k) => {
      const where = blocks.length > 1 ? `${f.path} (certificate ${k + 1})` : f.path;
      let x: X509Certificate;
      try {
        x = new X509Certificate(b.der);
      } catch {
        findings.push(finding('CA_TRUST_NOT_PEM', at, where, `${where} is not a readable certificate`, 'replace it with the PEM CA certificate to trust'));
        return;
      }
      const id = `${x.subject.split('\n').join(', ')} (sha256 ${x.fingerprint256})`;
      if (!x.ca) {
        findings.push(finding('CA_TRUST_NOT_CA', at, id, `${where} is not a CA certificate: its basicConstraints do not say cA=TRUE`, 'list CA certificates only (the CA that signed the peer\'s certificates, not a leaf)'));
        return;
      }
      if (seen.has(x.fingerprint256)) {
        findings.push(finding('CA_TRUST_DUPLICATE', at, id, `${where} is ${x.fingerprint256 === shared.fingerprint256 ? 'the shared CA (ca.cert) itself' : 'already in ca.trust'}; it is trusted once`, 'remove the repeat from ca.trust'));
        return;
      }
      const notAfter = new Date(Date.parse(x.validTo));
      if (notAfter.getTime() <= now.getTime()) {
        findings.push(finding('CA_TRUST_EXPIRED', at, id, `the trusted CA in ${where} expired on ${notAfter.toISOString()}; it verifies nothing and is left out of the bundle`, 'remove it from ca.trust'));
        return;
      }
      seen.add(x.fingerprint256);
      trusted.push({
        path: f.path,
        certPem: `${b.text}\n`,
        subject: x.subject,
        fingerprint256: x.fingerprint256,
        notBefore: new Date(Date.parse(x.validFrom)),
        notAfter,
      });
    });
  });
  return { trusted, findings };
}

/** Reads the `ca.trust` files (as the CA files are read) and checks them with {@link inspectTrust}. */
export function inspectTrustFiles(paths: readonly string[], shared: { fingerprint256: string }, now: Date): { trusted: TrustedCa[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const files: { path: string; text: string }[] = [];
  paths.forEach((path, i) => {
    const r = readBoundedSync(path, MAX_FILE_BYTES);
    if (r.ok) {
      files.push({ path, text: r.bytes.toString('utf8') });
      return;
    }
    const code = r.failure.kind === 'missing' ? 'CA_FILE_MISSING' : 'CA_FILE_UNREADABLE';
    findings.push(finding(code, `ca.trust[${i}]`, path, `the trusted CA certificate ${path} ${describeFailure(r.failure, MAX_FILE_BYTES)}`, 'correct the path in ca.trust, or remove the entry'));
    // Keep the index of the later files right: an unreadable one stands in as empty.
    files.push({ path, text: '' });
  });
  const r = inspectTrust(files, shared, now);
  // An unreadable file already has its finding; do not add "holds no PEM certificate".
  const unreadable = new Set(findings.map((f) => f.path));
  return { trusted: r.trusted, findings: [...findings, ...r.findings.filter((f) => !(unreadable.has(f.path) && f.code === 'CA_TRUST_NOT_PEM'))] };
}

/**
 * The CA bundle every cluster trusts: the shared CA first, then the trusted CAs in spec order, as
 * PEM text. The chart mounts it (`tls.caBundle`) in place of `ca.crt` wherever clustermesh
 * checks a peer: the clustermesh-apiserver's etcd (client certificates), KVStoreMesh and the
 * agents (server certificates).
 */
export function caBundlePem(shared: { certPem: string }, trusted: readonly TrustedCa[]): string {
  return [shared.certPem, ...trusted.map((t) => t.certPem)].map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}
