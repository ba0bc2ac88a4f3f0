/**
 * The certificate index (`secrets/<cluster>/certs/index.json`): what meshform knows about each leaf
 * it issued or fully verified, so a re-render can keep it without parsing X.509, loading the key
 * or checking the signature (together ~0.8 ms a certificate, 2 s for a 511-cluster mesh).
 *
 * A record says: this exact certificate file and this exact key file (SHA-256 of their bytes) were
 * issued or fully checked by meshform against this CA (certificate fingerprint) for this request
 * (canonical digest) with this key algorithm, and are valid from notBefore to notAfter. A record
 * is only trusted with a valid MAC keyed from the CA private key, so whoever could forge one could
 * sign a certificate anyway: the index is no easier to fool than the full check it stands in for.
 * A record that does not match in every field sends the certificate through the full check.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { KeyAlgorithm } from '../spec/types.js';
import { pemBlocks } from './der.js';
import { loadPrivateKey } from './keys.js';
import type { CaMaterial, LeafKind, LeafRequest } from './types.js';

export const INDEX_VERSION = 1;

/** One certificate's entry in the index. Field order is the file's order. */
export interface LeafRecord {
  /** SHA-256 (hex) of the canonical request: cluster, kind, CN, SANs, usage. */
  request: string;
  keyAlgorithm: KeyAlgorithm;
  /** The CA certificate's SHA-256 fingerprint, `AB:CD:…`. */
  ca: string;
  /** SHA-256 (hex) of the certificate file's bytes. */
  cert: string;
  /** SHA-256 (hex) of the key file's bytes (a digest, not key material). */
  key: string;
  /** The certificate's own SHA-256 fingerprint (of its DER), `AB:CD:…`. */
  fingerprint256: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** HMAC-SHA256 (hex) over the fields above, the cluster and the kind, keyed from the CA key. */
  mac: string;
}

// One-shot `crypto.hash` (Node 20.12+) is twice as fast as a Hash object for a 1 kB text.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha256 = oneShot ? (text: string): string => oneShot('sha256', text, 'hex') : (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The request's digest: every field, in a fixed order, as JSON. */
export function requestDigest(r: LeafRequest): string {
  return sha256(JSON.stringify([r.cluster, r.kind, r.commonName, r.dnsNames, r.ipAddresses, r.usage]));
}

/**
 * The index MAC key for a CA: HKDF-SHA256 of the CA private key's PKCS#8 DER (re-encoded, so the
 * same key in another PEM form gives the same MAC key). Never leaves memory.
 */
export function indexMacKey(ca: CaMaterial): Buffer {
  const block = pemBlocks(ca.key.reveal()).find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!block) throw new Error('internal: CA key is not PEM');
  const der = loadPrivateKey(block).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'meshform leaf certificate index v1', 32));
}

function macOf(macKey: Buffer, cluster: string, kind: LeafKind, r: Omit<LeafRecord, 'mac'>): string {
  const text = JSON.stringify([INDEX_VERSION, cluster, kind, r.request, r.keyAlgorithm, r.ca, r.cert, r.key, r.fingerprint256, r.serialNumber, r.notBefore, r.notAfter]);
  return createHmac('sha256', macKey).update(text, 'utf8').digest('hex');
}

/** Context of one run: the CA, its MAC key, the clock and the policy. */
export interface RecordContext {
  macKey: Buffer;
  caFingerprint: string;
  keyAlgorithm: KeyAlgorithm;
  now: number;
  renewBeforeMs: number;
}

/** The record of a certificate meshform has just issued or fully verified for `request`. */
export function makeRecord(
  ctx: RecordContext,
  request: LeafRequest,
  c: { certPem: string; keyPem: string; fingerprint256: string; serialNumber: string; notBefore: number; notAfter: number },
): LeafRecord {
  const body: Omit<LeafRecord, 'mac'> = {
    request: requestDigest(request),
    keyAlgorithm: ctx.keyAlgorithm,
    ca: ctx.caFingerprint,
    cert: sha256(c.certPem),
    key: sha256(c.keyPem),
    fingerprint256: c.fingerprint256,
    serialNumber: c.serialNumber,
    notBefore: new Date(c.notBefore).toISOString(),
    notAfter: new Date(c.notAfter).toISOString(),
  };
  return { ...body, mac: macOf(ctx.macKey, request.cluster, request.kind, body) };
}

/**
 * The certificate as the record describes it, when the record vouches for these exact files under
 * this CA, request and key algorithm, and the certificate has started and is not due for renewal;
 * undefined otherwise (then the full check decides).
 */
export function reuseByRecord(
  ctx: RecordContext,
  request: LeafRequest,
  existing: { certPem: string; keyPem: string; record?: unknown },
): { fingerprint256: string; serialNumber: string; notBefore: number; notAfter: number } | undefined {
  const r = asRecord(existing.record);
  if (!r) return undefined;
  if (r.ca !== ctx.caFingerprint || r.keyAlgorithm !== ctx.keyAlgorithm || r.request !== requestDigest(request)) return undefined;
  const notBefore = Date.parse(r.notBefore);
  const notAfter = Date.parse(r.notAfter);
  if (!(notBefore <= ctx.now) || !(notAfter - ctx.now > ctx.renewBeforeMs)) return undefined;
  if (sha256(existing.certPem) !== r.cert || sha256(existing.keyPem) !== r.key) return undefined;
  const { mac, ...body } = r;
  const want = Buffer.from(macOf(ctx.macKey, request.cluster, request.kind, body), 'hex');
  const got = Buffer.from(mac, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  return { fingerprint256: r.fingerprint256, serialNumber: r.serialNumber, notBefore, notAfter };
}

const HEX64 = /^[0-9a-f]{64}$/;
const KEY_ALGORITHMS: readonly string[] = ['ecdsa-p256', 'rsa-2048', 'rsa-4096'];

/** The value as a well-formed record, or undefined (a garbled or foreign entry is just ignored). */
export function asRecord(v: unknown): LeafRecord | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const str = (k: string): boolean => typeof o[k] === 'string';
  if (!['request', 'keyAlgorithm', 'ca', 'cert', 'key', 'fingerprint256', 'serialNumber', 'notBefore', 'notAfter', 'mac'].every(str)) return undefined;
  if (![o.request, o.cert, o.key, o.mac].every((x) => HEX64.test(x as string))) return undefined;
  if (!KEY_ALGORITHMS.includes(o.keyAlgorithm as string)) return undefined;
  return {
    request: o.request as string,
    keyAlgorithm: o.keyAlgorithm as KeyAlgorithm,
    ca: o.ca as string,
    cert: o.cert as string,
    key: o.key as string,
    fingerprint256: o.fingerprint256 as string,
    serialNumber: o.serialNumber as string,
    notBefore: o.notBefore as string,
    notAfter: o.notAfter as string,
    mac: o.mac as string,
  };
}

const KIND_ORDER: readonly LeafKind[] = ['server', 'admin', 'remote', 'local'];

/** The index file of one cluster: fixed key order, so the same records give the same bytes. */
export function indexFileContent(records: Partial<Record<LeafKind, LeafRecord>>): string {
  const certs: Record<string, LeafRecord> = {};
  for (const kind of KIND_ORDER) {
    const r = records[kind];
    if (r) certs[kind] = { ...r };
  }
  return `${JSON.stringify({ meshformCertIndex: INDEX_VERSION, certs }, null, 2)}\n`;
}

/** The records of an index file; anything unreadable gives none (the full check then runs). */
export function parseIndexFile(text: string): Partial<Record<LeafKind, LeafRecord>> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof doc !== 'object' || doc === null) return {};
  const d = doc as { meshformCertIndex?: unknown; certs?: unknown };
  if (d.meshformCertIndex !== INDEX_VERSION || typeof d.certs !== 'object' || d.certs === null) return {};
  const out: Partial<Record<LeafKind, LeafRecord>> = {};
  for (const kind of KIND_ORDER) {
    const r = asRecord((d.certs as Record<string, unknown>)[kind]);
    if (r) out[kind] = r;
  }
  return out;
}
