/**
 * DER and PEM plumbing for the certificate builder. This module is loaded by the issuing workers,
 * so it depends on asn1js and node:crypto only (the typed @peculiar/asn1-x509 model is used once
 * per run, in the main thread, for the parts that never change between certificates).
 *
 * Why not build every certificate through a typed X.509 model: measured here, @peculiar/x509 and
 * @peculiar/asn1-schema spend 0.7–2 ms in their reflective serialisers per certificate, more than
 * key generation and signing together. asn1js encodes the few per-certificate fields (serial,
 * validity, subject, key, SANs) directly, and the fixed fields are spliced in as ready DER.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';

/**
 * asn1js's RawData only returns its bytes when it is the outermost block; nested inside a SEQUENCE
 * it writes nothing, because constructed blocks hand their children a writer. This subclass writes
 * through, so DER encoded once can sit inside blocks built per certificate.
 */
class PreEncoded extends asn1js.RawData {
  override toBER(sizeOnly?: boolean, writer?: { write(buf: ArrayBuffer | Uint8Array): void }): ArrayBuffer {
    const buf = this.dataView.slice().buffer;
    if (writer) writer.write(buf);
    void sizeOnly;
    return buf;
  }
}

/** Ready DER as a child of an asn1js constructed block. */
export function pre(der: Uint8Array): asn1js.BaseBlock {
  return new PreEncoded({ data: der }) as unknown as asn1js.BaseBlock;
}

export function toBytes(block: asn1js.BaseBlock): Buffer {
  return Buffer.from(block.toBER(false));
}

export function seq(...value: asn1js.BaseBlock[]): asn1js.Sequence {
  return new asn1js.Sequence({ value });
}

/** `[n] EXPLICIT` wrapper (version, extensions). */
export function explicit(tagNumber: number, inner: asn1js.BaseBlock): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value: [inner] });
}

/** A `[n] IMPLICIT` primitive, as GeneralName's dNSName (2) and iPAddress (7). */
export function implicitPrimitive(tagNumber: number, bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: bytes });
}

export function oid(value: string): asn1js.ObjectIdentifier {
  return new asn1js.ObjectIdentifier({ value });
}

/** One X.509 Extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`. */
export function extension(extnId: string, critical: boolean, valueDer: Uint8Array): asn1js.Sequence {
  const parts: asn1js.BaseBlock[] = [oid(extnId)];
  if (critical) parts.push(new asn1js.Boolean({ value: true }));
  parts.push(new asn1js.OctetString({ valueHex: valueDer }));
  return seq(...parts);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): asn1js.BaseBlock {
  return d.getUTCFullYear() < 2050 ? new asn1js.UTCTime({ valueDate: d }) : new asn1js.GeneralizedTime({ valueDate: d });
}

/** A Name holding one common name (UTF8String), as Cilium's own certificates have. */
export function commonNameDer(cn: string): Buffer {
  return toBytes(seq(new asn1js.Set({ value: [seq(oid('2.5.4.3'), new asn1js.Utf8String({ value: cn }))] })));
}

export interface CertificateParts {
  /** Positive DER INTEGER content (no leading zero byte). */
  serial: Uint8Array;
  signatureAlgorithm: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  /** Each a DER Extension, or an asn1js block built for this certificate. */
  extensions: Array<Uint8Array | asn1js.BaseBlock>;
}

/** DER of an X.509 v3 certificate; `sign` gets the TBSCertificate bytes and returns the signature. */
export function buildCertificate(p: CertificateParts, signTbs: (tbs: Buffer) => Uint8Array): Buffer {
  const tbs = toBytes(
    seq(
      explicit(0, new asn1js.Integer({ value: 2 })),
      new asn1js.Integer({ valueHex: p.serial }),
      pre(p.signatureAlgorithm),
      pre(p.issuer),
      seq(time(p.notBefore), time(p.notAfter)),
      pre(p.subject),
      pre(p.spki),
      explicit(3, seq(...p.extensions.map((e) => (e instanceof Uint8Array ? pre(e) : e)))),
    ),
  );
  return toBytes(seq(pre(tbs), pre(p.signatureAlgorithm), new asn1js.BitString({ valueHex: signTbs(tbs) })));
}

/** 16 random bytes as a positive serial without a leading zero byte (always 16 bytes of DER). */
export function serialFrom(random: Buffer): Buffer {
  random[0] = (random[0]! & 0x3f) | 0x40;
  return random;
}

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  rsaEncryption: '1.2.840.113549.1.1.1',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** SubjectPublicKeyInfo of an uncompressed P-256 point (04 || x || y). */
export function ecP256Spki(point: Uint8Array): Buffer {
  return toBytes(seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), new asn1js.BitString({ valueHex: point })));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Uint8Array): Buffer {
  return createHash('sha1').update(publicKeyBits).digest();
}

/** `AB:CD:…`, the form of Node's `X509Certificate.fingerprint256`. */
export function fingerprint256(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
  return hex.replace(/(..)(?!$)/g, '$1:');
}

/** Wraps DER in PEM with 64-column lines, as OpenSSL and Go write it. */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  /** Has RFC 1421 headers (`Proc-Type: 4,ENCRYPTED` marks an encrypted legacy key). */
  headers: string[];
  der: Buffer;
  /** The block's text, from BEGIN through END. */
  text: string;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block of a text, in order; text outside the blocks is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const label = m[1]!;
    const lines = m[2]!.split(/\r?\n/);
    const headers = lines.filter((l) => l.includes(':'));
    const body = lines.filter((l) => !l.includes(':')).join('');
    if (!/^[A-Za-z0-9+/=\s]*$/.test(body)) continue;
    const der = Buffer.from(body, 'base64');
    if (der.length === 0) continue;
    out.push({ label, headers, der, text: m[0] });
  }
  return out;
}
