/**
 * The shared CA every cluster of the mesh trusts (DESIGN.md §4, Secret `cilium-ca`): checking,
 * loading, creating, importing and writing it. The key stays inside a SecretPem throughout; no
 * finding, error or description ever carries key bytes.
 */
import { X509Certificate, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { writeUserFile } from '../write/user.js';
import { basename, dirname, extname, join } from 'node:path';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { parseAllDocuments } from 'yaml';
import { ExitCode, MeshformError, type Finding } from '../errors.js';
import type { KeyAlgorithm } from '../spec/types.js';
import { describeFailure, readBoundedSync } from '../util/bounded-read.js';
import { RULES } from '../validate/catalogue.js';
import { OID, buildCertificate, commonNameDer, extension, pemBlocks, pemEncode, serialFrom, toBytes, type PemBlock } from './der.js';
import { generateKeyAsync, loadPrivateKey, signatureScheme, type SignatureScheme } from './keys.js';
import { SecretPem } from './secret.js';
import { inspectTrustFiles } from './trust.js';
import type { CaMaterial } from './types.js';

const DAY_MS = 86_400_000;
/** DESIGN.md §5: the CA must stay valid at least this long, or leaves issued now outlive it. */
export const CA_MIN_VALID_DAYS = 30;
/** CA files are a few kB; anything this large is not one, and is not read into memory. */
const MAX_FILE_BYTES = 1 << 20;

/** The CA files; `trust` are the extra CA certificates of `ca.trust` (trust.ts). */
type CaPaths = { cert: string; key: string; trust?: readonly string[] };

function finding(f: Omit<Finding, 'severity'> & { severity?: Finding['severity'] }): Finding {
  return { severity: 'error', ...f };
}

const day = (d: Date): string => d.toISOString();

interface StaticResult {
  findings: Finding[];
  cert?: { x: X509Certificate; block: PemBlock };
  key?: { object: KeyObject; block: PemBlock };
}

/** The checks that do not depend on the clock: both parse, the certificate is a CA, the key is its key. */
function staticChecks(certPem: string, keyPem: string, paths: CaPaths): StaticResult {
  const findings: Finding[] = [];
  const out: StaticResult = { findings };

  const certBlocks = pemBlocks(certPem).filter((b) => b.label === 'CERTIFICATE');
  const certBlock = certBlocks[0];
  if (certBlocks.length > 1) {
    // Only the first would be used, as CA and as the trust every cluster gets: the others would be
    // dropped silently. CAs to trust beside the shared one belong in ca.trust (trust.ts).
    findings.push(
      finding({
        code: 'CA_CERT_BUNDLE',
        path: 'ca.cert',
        value: `${paths.cert} (${certBlocks.length} certificates)`,
        message: `${paths.cert} holds ${certBlocks.length} certificates; the shared CA is exactly one`,
        rule: RULES.CA_CERT_BUNDLE.rule,
        fix: `keep only the CA certificate that belongs to ca.key in ${paths.cert} (openssl x509 -in ${paths.cert} prints the first one); list CAs to trust beside it in ca.trust`,
      }),
    );
  }
  if (certBlock) {
    try {
      out.cert = { x: new X509Certificate(certBlock.der), block: certBlock };
    } catch {
      /* reported below */
    }
  }
  if (!out.cert) {
    findings.push(
      finding({
        code: 'CA_NOT_PEM',
        path: 'ca.cert',
        value: paths.cert,
        message: `${paths.cert} holds no readable PEM certificate (-----BEGIN CERTIFICATE-----)`,
        rule: 'ca.cert is the shared CA certificate in PEM form',
        fix: 'point ca.cert at the CA certificate (ca.crt of the cilium-ca Secret, base64-decoded), or create one with meshform ca init',
      }),
    );
  }

  const keyBlocks = pemBlocks(keyPem).filter((b) => b.label.endsWith('PRIVATE KEY'));
  const encrypted = keyBlocks.some((b) => b.label === 'ENCRYPTED PRIVATE KEY' || b.headers.some((h) => /ENCRYPTED/i.test(h)));
  if (encrypted) {
    findings.push(
      finding({
        code: 'CA_KEY_ENCRYPTED',
        path: 'ca.key',
        value: paths.key,
        message: `${paths.key} is a passphrase-protected key; Cilium (tls.ca.key) and meshform need it unencrypted`,
        rule: 'ca.key is an unencrypted PEM private key',
        fix: `decrypt it into a 0600 file, e.g. openssl pkey -in ${paths.key} -out ca.key, and point ca.key there`,
      }),
    );
    return out;
  }
  const keyBlock = keyBlocks[0];
  if (keyBlock) {
    try {
      out.key = { object: loadPrivateKey(keyBlock), block: keyBlock };
    } catch {
      /* reported below */
    }
  }
  if (!out.key) {
    findings.push(
      finding({
        code: 'CA_KEY_NOT_PEM',
        path: 'ca.key',
        value: paths.key,
        message: `${paths.key} holds no readable PEM private key`,
        rule: 'ca.key is the CA private key in PEM form (EC, RSA or PKCS#8)',
        fix: 'point ca.key at the key that belongs to ca.cert (ca.key of the cilium-ca Secret, base64-decoded)',
      }),
    );
  }
  if (!out.cert) return out;
  const x = out.cert.x;
  const fp = x.fingerprint256;

  if (!x.ca) {
    findings.push(
      finding({
        code: 'CA_NOT_CA',
        path: 'ca.cert',
        value: `${x.subject} (sha256 ${fp})`,
        message: `${paths.cert} is not a CA certificate: its basicConstraints do not say cA=TRUE`,
        rule: 'the shared CA must be a CA certificate, or no peer accepts the certificates it signs',
        fix: 'use the CA certificate itself, not a leaf; or create one with meshform ca init',
      }),
    );
  }
  const ext = caExtensions(out.cert.block.der);
  if (ext.keyUsage !== undefined && (ext.keyUsage & KeyUsageFlags.keyCertSign) === 0) {
    findings.push(
      finding({
        code: 'CA_NO_CERT_SIGN',
        path: 'ca.cert',
        value: `${x.subject} (sha256 ${fp})`,
        message: `${paths.cert} has a keyUsage without keyCertSign, so certificates it signs are rejected`,
        rule: 'a CA certificate that states a keyUsage must include keyCertSign',
        fix: 'use a CA certificate with keyUsage keyCertSign, or create one with meshform ca init',
      }),
    );
  }
  if (out.key) {
    if (!x.checkPrivateKey(out.key.object)) {
      findings.push(
        finding({
          code: 'CA_KEY_MISMATCH',
          path: 'ca.key',
          value: `${paths.key} does not belong to ${x.subject} (sha256 ${fp})`,
          message: `the key in ${paths.key} is not the key of the certificate in ${paths.cert}`,
          rule: 'ca.key must be the private key of ca.cert',
          fix: 'point ca.key at the matching key (both come from the same cilium-ca Secret), or create a new pair with meshform ca init',
        }),
      );
    }
    const scheme = signatureScheme(out.key.object);
    if (!scheme) {
      findings.push(
        finding({
          code: 'CA_KEY_UNSUPPORTED',
          path: 'ca.key',
          value: out.key.object.asymmetricKeyType ?? 'unknown',
          message: `the CA key type ${out.key.object.asymmetricKeyType ?? 'unknown'} cannot sign certificates meshform issues`,
          rule: 'the CA key is ECDSA (P-256, P-384, P-521), RSA or Ed25519',
          fix: 'create a CA with meshform ca init (ECDSA P-256) or --algorithm rsa-2048',
        }),
      );
    } else if (out.key.object.asymmetricKeyType === 'rsa' && (out.key.object.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      // An error, here and so also in ca import: every certificate of the mesh hangs off this key.
      findings.push(
        finding({
          code: 'CA_KEY_WEAK',
          path: 'ca.key',
          value: scheme.keyAlgorithm,
          message: `the CA key is ${scheme.keyAlgorithm}, shorter than 2048 bits`,
          rule: RULES.CA_KEY_WEAK.rule,
          fix: 'create a new CA with meshform ca init (ECDSA P-256, or --algorithm rsa-2048) and roll it out to every cluster',
        }),
      );
    }
  }
  return out;
}

/**
 * Checks a CA certificate and key (DESIGN.md §5 "TLS"): both parse, the certificate is a CA, the
 * key is its key, and it is valid now and for at least 30 more days. `ca` is set only when there
 * are no errors. Finding values carry subjects, fingerprints and dates, never key material.
 */
export function inspectCa(certPem: string, keyPem: string, now: Date, paths: CaPaths): { ca?: CaMaterial; findings: Finding[] } {
  const r = staticChecks(certPem, keyPem, paths);
  const findings = r.findings;
  if (r.cert) {
    const x = r.cert.x;
    const notBefore = new Date(Date.parse(x.validFrom));
    const notAfter = new Date(Date.parse(x.validTo));
    const left = notAfter.getTime() - now.getTime();
    if (notBefore.getTime() > now.getTime()) {
      findings.push(
        finding({
          code: 'CA_NOT_YET_VALID',
          path: 'ca.cert',
          value: `not before ${day(notBefore)}`,
          message: `the CA in ${paths.cert} is not valid before ${day(notBefore)}; peers reject what it signs until then`,
          rule: 'the shared CA must be valid now',
          fix: 'check this machine\'s clock, or use a CA that is already valid',
        }),
      );
    }
    if (left <= 0) {
      findings.push(
        finding({
          code: 'CA_EXPIRED',
          path: 'ca.cert',
          value: `expired ${day(notAfter)}`,
          message: `the CA in ${paths.cert} expired on ${day(notAfter)}`,
          rule: `the shared CA must be valid for at least ${CA_MIN_VALID_DAYS} more days`,
          fix: 'create a new CA with meshform ca init --force and render again; every cluster then gets the new CA',
        }),
      );
    } else if (left < CA_MIN_VALID_DAYS * DAY_MS) {
      const days = Math.floor(left / DAY_MS);
      findings.push(
        finding({
          code: 'CA_EXPIRES_SOON',
          path: 'ca.cert',
          value: `expires ${day(notAfter)} (${days} days left)`,
          message: `the CA in ${paths.cert} expires in ${days} days, on ${day(notAfter)}`,
          rule: `the shared CA must be valid for at least ${CA_MIN_VALID_DAYS} more days`,
          fix: 'create a new CA with meshform ca init --force (or import a renewed one) and render again',
        }),
      );
    }
  }
  if (findings.some((f) => f.severity === 'error') || !r.cert || !r.key) return { findings };
  const x = r.cert.x;
  return {
    findings,
    ca: {
      certPem: `${r.cert.block.text}\n`,
      key: new SecretPem(`${r.key.block.text}\n`),
      subject: x.subject,
      fingerprint256: x.fingerprint256,
      notBefore: new Date(Date.parse(x.validFrom)),
      notAfter: new Date(Date.parse(x.validTo)),
    },
  };
}

async function readSmall(path: string, findingPath: string, what: string, fix: string): Promise<string> {
  const r = readBoundedSync(path, MAX_FILE_BYTES);
  if (r.ok) return r.bytes.toString('utf8');
  const why = r.failure.kind === 'too-large' ? `is larger than ${MAX_FILE_BYTES} bytes, too large for a ${what}` : describeFailure(r.failure, MAX_FILE_BYTES);
  throw new MeshformError(
    `${what} ${path} ${why}`,
    [
      finding({
        code: r.failure.kind === 'missing' ? 'CA_FILE_MISSING' : 'CA_FILE_UNREADABLE',
        path: findingPath,
        value: path,
        message: `the ${what} ${path} ${why}`,
        rule: `the ${what} must be a readable regular file`,
        fix,
      }),
    ],
    ExitCode.input,
  );
}

/** The CA certificate file's text, for describing a CA the checks refused; undefined when unreadable. */
export function readCaCertText(path: string): string | undefined {
  const r = readBoundedSync(path, MAX_FILE_BYTES);
  return r.ok ? r.bytes.toString('utf8') : undefined;
}

/**
 * Reads and checks the CA files, as findings: a missing or unreadable file (each of the two named)
 * or any problem {@link inspectCa} finds. `ca` is set only when there is no error.
 */
export async function inspectCaFiles(paths: CaPaths, now: Date): Promise<{ ca?: CaMaterial; findings: Finding[] }> {
  const fix = 'create a CA with meshform ca init, import one with meshform ca import, or correct ca.cert/ca.key in the spec';
  const [cert, key] = await Promise.allSettled([
    readSmall(paths.cert, 'ca.cert', 'CA certificate', fix),
    readSmall(paths.key, 'ca.key', 'CA key', fix),
  ]);
  const unreadable = [cert, key].flatMap((r) => {
    if (r.status === 'fulfilled') return [];
    if (r.reason instanceof MeshformError) return r.reason.findings;
    throw r.reason;
  });
  if (cert.status === 'rejected' || key.status === 'rejected') return { findings: unreadable };
  const r = inspectCa(cert.value, key.value, now, paths);
  r.findings.push(...(await permissionFindings(paths)));
  if (r.ca && paths.trust?.length) {
    const t = inspectTrustFiles(paths.trust, r.ca, now);
    r.findings.push(...t.findings);
    if (t.findings.some((f) => f.severity === 'error')) return { findings: r.findings };
    if (t.trusted.length > 0) r.ca.trust = t.trusted;
  }
  return r;
}

/**
 * Warnings for a CA key file others may read, and a CA folder others may write (they could swap
 * the CA meshform trusts), each with the exact chmod that fixes it.
 */
export async function permissionFindings(paths: CaPaths): Promise<Finding[]> {
  const out: Finding[] = [];
  const mode = async (p: string): Promise<number | undefined> => stat(p).then((st) => st.mode & 0o7777, () => undefined);
  const octal = (m: number) => `0${(m & 0o777).toString(8).padStart(3, '0')}`;
  const keyMode = await mode(paths.key);
  if (keyMode !== undefined && (keyMode & 0o077) !== 0) {
    out.push(
      finding({
        code: 'CA_KEY_PERMISSIONS',
        severity: 'warning',
        path: 'ca.key',
        value: `${paths.key} (mode ${octal(keyMode)})`,
        message: `the CA key ${paths.key} can be read by ${keyMode & 0o070 ? (keyMode & 0o007 ? 'its group and others' : 'its group') : 'others'} (mode ${octal(keyMode)})`,
        rule: RULES.CA_KEY_PERMISSIONS.rule,
        fix: `chmod 600 ${paths.key}`,
      }),
    );
  }
  for (const dir of new Set([dirname(paths.key), dirname(paths.cert)])) {
    const m = await mode(dir);
    if (m === undefined || (m & 0o022) === 0) continue;
    out.push(
      finding({
        code: 'CA_DIR_PERMISSIONS',
        severity: 'warning',
        path: dir === dirname(paths.key) ? 'ca.key' : 'ca.cert',
        value: `${dir} (mode ${octal(m)})`,
        message: `the CA folder ${dir} can be written by ${m & 0o020 ? (m & 0o002 ? 'its group and others' : 'its group') : 'others'} (mode ${octal(m)}): they could replace the CA`,
        rule: RULES.CA_DIR_PERMISSIONS.rule,
        fix: `chmod go-w ${dir}`,
      }),
    );
  }
  return out;
}

/**
 * Reads and checks the CA files. Missing or unreadable files and every error finding of
 * {@link inspectCa} become a MeshformError (exit 2).
 */
export async function loadCa(paths: CaPaths, now: Date): Promise<CaMaterial> {
  const r = await inspectCaFiles(paths, now);
  if (!r.ca) throw unusableCa(paths.cert, r.findings);
  return r.ca;
}

/** The exit-2 error for a CA the checks refused, carrying all their findings. */
export function unusableCa(where: string, findings: Finding[]): MeshformError {
  const errors = findings.filter((f) => f.severity === 'error');
  return new MeshformError(`the CA in ${where} cannot be used: ${errors.map((f) => f.code).join(', ')}`, findings, ExitCode.input);
}

/** The DER AlgorithmIdentifier for a signature scheme. */
export function signatureAlgorithmDer(scheme: SignatureScheme): Buffer {
  return Buffer.from(
    AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: scheme.algorithmOid, ...(scheme.nullParams ? { parameters: null } : {}) })),
  );
}

/** Extension DER of a typed asn1-x509 value. */
export function extensionDer(extnId: string, critical: boolean, value: unknown): Buffer {
  return toBytes(extension(extnId, critical, new Uint8Array(AsnConvert.serialize(value))));
}

/** What the leaf builder needs from a CA certificate: its exact subject bytes, SKI and key usage. */
export function caExtensions(der: Uint8Array): { subject: Uint8Array; ski?: Buffer; keyUsage?: number } {
  const parsed = asn1js.fromBER(der);
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  const fields = tbs.valueBlock.value;
  // version is an optional [0] EXPLICIT field; the subject is the fifth field after it.
  const first = fields[0]!.idBlock.tagClass === 3 ? 1 : 0;
  const subject = new Uint8Array(fields[first + 4]!.valueBeforeDecodeView);
  const out: { subject: Uint8Array; ski?: Buffer; keyUsage?: number } = { subject };
  const cert = AsnConvert.parse(der, Certificate);
  for (const e of cert.tbsCertificate.extensions ?? []) {
    if (e.extnID === OID.subjectKeyIdentifier) {
      out.ski = Buffer.from(AsnConvert.parse(e.extnValue, SubjectKeyIdentifier).buffer);
    } else if (e.extnID === OID.keyUsage) {
      out.keyUsage = AsnConvert.parse(e.extnValue, KeyUsage).toNumber();
    }
  }
  return out;
}

/**
 * Creates a self-signed CA: ECDSA P-256 by default (RSA 2048/4096 on request), CN `Cilium CA` like
 * the chart's own, basicConstraints cA (critical), keyUsage keyCertSign+cRLSign+digitalSignature
 * (critical) and a subject key identifier. Valid from five minutes before `now` for `validityDays`.
 */
export async function createCa(opts: {
  commonName?: string;
  algorithm: KeyAlgorithm;
  validityDays: number;
  now: Date;
}): Promise<{ certPem: string; key: SecretPem }> {
  const key = await generateKeyAsync(opts.algorithm);
  const scheme = signatureScheme(key.privateKey);
  if (!scheme) throw new Error(`internal: no signature scheme for ${opts.algorithm}`);
  const subject = commonNameDer(opts.commonName ?? 'Cilium CA');
  const whole = Math.floor(opts.now.getTime() / 1000) * 1000;
  const sigAlg = signatureAlgorithmDer(scheme);
  const der = buildCertificate(
    {
      serial: serialFrom(randomBytes(16)),
      signatureAlgorithm: sigAlg,
      issuer: subject,
      subject,
      notBefore: new Date(whole - 5 * 60_000),
      notAfter: new Date(whole + opts.validityDays * DAY_MS),
      spki: key.spki,
      extensions: [
        extensionDer(OID.basicConstraints, true, new BasicConstraints({ cA: true })),
        extensionDer(OID.keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature)),
        extensionDer(OID.subjectKeyIdentifier, false, new SubjectKeyIdentifier(key.keyId)),
      ],
    },
    (tbs) => sign(scheme.hash, tbs, key.privateKey),
  );
  return { certPem: pemEncode('CERTIFICATE', der), key: new SecretPem(key.pem) };
}

/** The fixed parts every leaf signed by this CA shares; see issuer.ts. */
export function leafProfile(ca: CaMaterial, keyAlgorithm: KeyAlgorithm) {
  const keyBlock = pemBlocks(ca.key.reveal()).find((b) => b.label.endsWith('PRIVATE KEY'));
  const certBlock = pemBlocks(ca.certPem).find((b) => b.label === 'CERTIFICATE');
  if (!keyBlock || !certBlock) throw new Error('internal: CaMaterial without PEM blocks');
  const scheme = signatureScheme(loadPrivateKey(keyBlock));
  if (!scheme) throw new Error('internal: CaMaterial with an unsupported key');
  const info = caExtensions(certBlock.der);
  // Key encipherment only means something for RSA key transport; ECDSA leaves sign only.
  const ku = keyAlgorithm === 'ecdsa-p256' ? KeyUsageFlags.digitalSignature : KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment;
  const common = [
    extensionDer(OID.basicConstraints, true, new BasicConstraints({ cA: false })),
    extensionDer(OID.keyUsage, true, new KeyUsage(ku)),
  ];
  // Without a CA SKI there is nothing for an AKI to point at; verifiers then match by name.
  const aki = info.ski ? [extensionDer(OID.authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(info.ski) }))] : [];
  return {
    signatureAlgorithm: signatureAlgorithmDer(scheme),
    hash: scheme.hash,
    issuer: info.subject,
    fixedExtensions: {
      server: [...common, extensionDer(OID.extKeyUsage, false, new ExtendedKeyUsage([OID.serverAuth, OID.clientAuth])), ...aki],
      client: [...common, extensionDer(OID.extKeyUsage, false, new ExtendedKeyUsage([OID.clientAuth])), ...aki],
    },
  };
}

/** `ca show`: what identifies the CA and when it runs out. Never the key. */
export function describeCa(
  ca: CaMaterial,
  now: Date = new Date(),
): { subject: string; fingerprint256: string; notBefore: Date; notAfter: Date; keyAlgorithm: string; daysLeft: number } {
  return describeCaCert(ca.certPem, now);
}

/**
 * Like {@link describeCa} from the certificate alone, so that `ca show` can still say when an
 * expired or unusable CA ran out. Throws on a PEM that does not parse.
 */
export function describeCaCert(
  certPem: string,
  now: Date = new Date(),
): { subject: string; fingerprint256: string; notBefore: Date; notAfter: Date; keyAlgorithm: string; daysLeft: number } {
  const x = new X509Certificate(certPem);
  const pub = x.publicKey;
  const scheme = signatureScheme(pub);
  const notAfter = new Date(Date.parse(x.validTo));
  return {
    subject: x.subject.split('\n').join(', '),
    fingerprint256: x.fingerprint256,
    notBefore: new Date(Date.parse(x.validFrom)),
    notAfter,
    keyAlgorithm: scheme?.keyAlgorithm ?? pub.asymmetricKeyType ?? 'unknown',
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
  };
}

function importError(code: Finding['code'], source: string, message: string, fix: string): MeshformError {
  return new MeshformError(
    message,
    [finding({ code, path: 'source', value: source, message, rule: 'ca import reads a folder or file holding the CA certificate and key (PEM), a Kubernetes Secret manifest (ca.crt/ca.key or tls.crt/tls.key), or a values file with tls.ca.cert/key', fix })],
    ExitCode.input,
  );
}

const PAIRS: Array<[string, string]> = [
  ['ca.crt', 'ca.key'],
  ['tls.crt', 'tls.key'],
];

function decodeB64Pem(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('utf8');
  return text.includes('-----BEGIN ') ? text : undefined;
}

/** CA cert and key out of a parsed YAML/JSON object, or a message naming what is missing. */
function fromObject(obj: unknown, source: string): { certPem: string; keyPem: string } | { missing: string } | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (o.kind === 'List' && Array.isArray(o.items)) {
    let firstMissing: { missing: string } | undefined;
    for (const item of o.items) {
      const r = fromObject(item, source);
      if (r && 'certPem' in r) return r;
      firstMissing ??= r && 'missing' in r ? r : undefined;
    }
    return firstMissing;
  }
  if (o.kind === 'Secret') {
    const name = (o.metadata as { name?: unknown } | undefined)?.name;
    const label = `Secret ${typeof name === 'string' ? name : '(unnamed)'}`;
    const data = (o.data ?? {}) as Record<string, unknown>;
    const stringData = (o.stringData ?? {}) as Record<string, unknown>;
    const get = (k: string): string | undefined =>
      typeof stringData[k] === 'string' ? (stringData[k] as string) : decodeB64Pem(data[k]);
    for (const [c, k] of PAIRS) {
      if (!(c in data) && !(c in stringData)) continue;
      const certPem = get(c);
      if (!certPem) return { missing: `${label} has data["${c}"], but it is not base64 of a PEM certificate` };
      const keyPem = get(k);
      if (!keyPem) return { missing: `${label} has data["${c}"] but no usable data["${k}"] (the CA key)` };
      return { certPem, keyPem };
    }
    return { missing: `${label} has neither data["ca.crt"]/data["ca.key"] nor data["tls.crt"]/data["tls.key"]` };
  }
  // A Helm values file of a cluster that already has the shared CA (the seed's tls.ca.cert/key).
  const tls = o.tls as { ca?: { cert?: unknown; key?: unknown } } | undefined;
  if (tls?.ca && (tls.ca.cert !== undefined || tls.ca.key !== undefined)) {
    const certPem = decodeB64Pem(tls.ca.cert);
    const keyPem = decodeB64Pem(tls.ca.key);
    if (!certPem) return { missing: 'the values file has no usable tls.ca.cert (base64 of a PEM certificate)' };
    if (!keyPem) return { missing: 'the values file has tls.ca.cert but no usable tls.ca.key (base64 of a PEM key)' };
    return { certPem, keyPem };
  }
  return undefined;
}

/**
 * Reads an existing CA from `source`: a folder with `ca.crt`/`ca.key` (or `tls.crt`/`tls.key`);
 * a PEM file holding both; a certificate file whose key sits beside it with the same name and
 * `.key`; a Kubernetes Secret manifest (YAML or JSON, e.g. `kubectl get secret cilium-ca -n
 * kube-system -o yaml`, also inside a List); or a Helm values file with `tls.ca.cert/key`.
 * The pair must parse, be a CA and belong together; validity dates are checked by {@link loadCa}.
 */
export async function importCa(source: string): Promise<{ certPem: string; key: SecretPem }> {
  const fixMissing = 'give the folder or file that holds the CA, e.g. the output of kubectl get secret cilium-ca -n kube-system -o yaml';
  let st;
  try {
    st = await stat(source);
  } catch {
    throw importError('CA_IMPORT_MISSING', source, `${source} does not exist or cannot be read`, fixMissing);
  }
  let pair: { certPem: string; keyPem: string; paths: CaPaths } | undefined;
  if (st.isDirectory()) {
    for (const [c, k] of PAIRS) {
      const cp = join(source, c);
      const exists = await stat(cp).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!exists) continue;
      const kp = join(source, k);
      const fix = `put the CA key next to it as ${kp}`;
      const certPem = await readSmall(cp, 'source', 'CA certificate', fix);
      const keyPem = await readSmall(kp, 'source', 'CA key', fix);
      pair = { certPem, keyPem, paths: { cert: cp, key: kp } };
      break;
    }
    if (!pair) {
      throw importError('CA_IMPORT_MISSING', source, `folder ${source} has neither ca.crt/ca.key nor tls.crt/tls.key`, fixMissing);
    }
  } else {
    const text = await readSmall(source, 'source', 'CA file', fixMissing);
    const blocks = pemBlocks(text);
    const hasCert = blocks.some((b) => b.label === 'CERTIFICATE');
    const hasKey = blocks.some((b) => b.label.endsWith('PRIVATE KEY'));
    if (hasCert && hasKey) {
      pair = { certPem: text, keyPem: text, paths: { cert: source, key: source } };
    } else if (hasCert) {
      const kp = join(dirname(source), `${basename(source, extname(source))}.key`);
      const keyPem = await readSmall(kp, 'source', 'CA key', `put the CA key next to the certificate as ${kp}, or import the cilium-ca Secret manifest instead`);
      pair = { certPem: text, keyPem, paths: { cert: source, key: kp } };
    } else {
      let found: ReturnType<typeof fromObject>;
      try {
        for (const doc of parseAllDocuments(text)) {
          if (!('errors' in doc) || doc.errors.length > 0) continue;
          const r = fromObject(doc.toJS({ maxAliasCount: 100 }), source);
          if (r && 'certPem' in r) {
            found = r;
            break;
          }
          found ??= r;
        }
      } catch {
        found = undefined;
      }
      if (found && 'missing' in found) throw importError('CA_IMPORT_KEY_MISSING', source, `${source}: ${found.missing}`, 'export the whole cilium-ca Secret (kubectl get secret cilium-ca -n kube-system -o yaml), which holds both ca.crt and ca.key');
      if (!found) throw importError('CA_IMPORT_FORMAT', source, `${source} holds neither PEM blocks nor a Secret manifest or values file with a CA`, fixMissing);
      pair = { ...found, paths: { cert: `${source} (certificate)`, key: `${source} (key)` } };
    }
  }
  const r = staticChecks(pair.certPem, pair.keyPem, pair.paths);
  const errors = r.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0 || !r.cert || !r.key) {
    throw new MeshformError(
      `${source} does not hold a usable CA: ${errors.map((f) => f.code).join(', ')}`,
      r.findings.map((f) => ({ ...f, path: 'source' })),
      ExitCode.input,
    );
  }
  return { certPem: `${r.cert.block.text}\n`, key: new SecretPem(`${r.key.block.text}\n`) };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The .gitignore of a CA folder meshform creates: the key never goes into Git, the certificate may. */
const CA_GITIGNORE = '# Generated by meshform: the CA key stays out of Git.\n*.key\n.meshform-tmp-*\n';

/**
 * Writes `ca.crt` (0644) and `ca.key` (0600) into `dir` (created 0700 when missing), or to the
 * given paths. Refuses to replace an existing file unless `force`. Each file is written atomically.
 */
export async function writeCaFiles(
  dir: string,
  ca: { certPem: string; key: SecretPem },
  opts: { force: boolean; certPath?: string; keyPath?: string },
): Promise<{ certPath: string; keyPath: string }> {
  const certPath = opts.certPath ?? join(dir, 'ca.crt');
  const keyPath = opts.keyPath ?? join(dir, 'ca.key');
  if (!opts.force) {
    for (const p of [certPath, keyPath]) {
      if (await exists(p)) {
        throw new MeshformError(
          `${p} exists`,
          [
            finding({
              code: 'CA_FILE_EXISTS',
              path: p === certPath ? 'ca.cert' : 'ca.key',
              value: p,
              message: `${p} already exists; replacing a CA breaks trust with every cluster that has the old one`,
              rule: 'an existing CA is only replaced on request',
              fix: 'keep it (meshform ca show), choose another folder, or pass --force to replace it',
            }),
          ],
          ExitCode.input,
        );
      }
    }
  }
  try {
    for (const d of new Set([dir, dirname(certPath), dirname(keyPath)])) {
      if (!(await exists(d))) {
        await mkdir(d, { recursive: true, mode: 0o700 });
        // A folder meshform creates for a CA keeps its key out of Git from the start.
        writeUserFile(join(d, '.gitignore'), CA_GITIGNORE, { mode: 0o644, replace: false });
      }
    }
    writeUserFile(keyPath, ca.key.reveal(), { mode: 0o600, replace: true });
    writeUserFile(certPath, ca.certPem, { mode: 0o644, replace: true });
  } catch (e) {
    if (e instanceof MeshformError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? 'I/O error';
    throw new MeshformError(
      `cannot write the CA files`,
      [
        finding({
          code: 'CA_WRITE_FAILED',
          path: 'ca.key',
          value: dirname(keyPath),
          message: `writing ${certPath} and ${keyPath} failed (${code})`,
          rule: 'the CA folder must be writable',
          fix: 'choose a writable folder or fix its permissions',
        }),
      ],
      ExitCode.cluster,
    );
  }
  return { certPath, keyPath };
}
