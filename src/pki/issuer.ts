/**
 * Issues or fully re-checks one leaf certificate. Runs in the main thread for small batches and in
 * the worker pool (worker.ts) for large ones; everything it receives is structured-clonable.
 */
import { X509Certificate, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { KeyAlgorithm } from '../spec/types.js';
import { formatIp, parseIp } from '../util/cidr.js';
import {
  OID,
  buildCertificate,
  commonNameDer,
  extension,
  implicitPrimitive,
  pemBlocks,
  pemEncode,
  seq,
  serialFrom,
  toBytes,
  fingerprint256 as fingerprintOf,
} from './der.js';
import { generateEcKey, leafKeyAlgorithm, loadPrivateKey, type LeafKey } from './keys.js';
import type { LeafRequest } from './types.js';

const DAY_MS = 86_400_000;
/** Leaves start five minutes in the past so a peer whose clock runs a little behind accepts them. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Everything a thread needs to issue for one CA; built once per run in the main thread. */
export interface IssuerSetup {
  caCertPem: string;
  /** Only ever passed to worker threads of this process, never serialised anywhere else. */
  caKeyPem: string;
  /** DER AlgorithmIdentifier of the CA's signature scheme. */
  signatureAlgorithm: Uint8Array;
  /** `null` for EdDSA. */
  hash: string | null;
  /** The CA certificate's subject Name, byte for byte: a leaf's issuer must equal it. */
  issuer: Uint8Array;
  /** Ready DER Extensions every leaf of a usage carries (basic constraints, key usage, EKU, AKI). */
  fixedExtensions: { server: Uint8Array[]; client: Uint8Array[] };
  now: number;
  validityDays: number;
  renewBeforeDays: number;
  keyAlgorithm: KeyAlgorithm;
}

export interface Job {
  request: LeafRequest;
  existing?: { certPem: string; keyPem: string };
  /**
   * The key to issue with. RSA keys are generated beforehand in the main thread (keys.ts,
   * generateKeyAsync); without one, an RSA job that cannot reuse its certificate yields null.
   */
  key?: LeafKey;
}

export interface JobResult {
  certPem: string;
  keyPem: string;
  fingerprint256: string;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
  reused: boolean;
}

export const EKU: Record<LeafRequest['usage'], string[]> = {
  server: [OID.serverAuth, OID.clientAuth],
  client: [OID.clientAuth],
};

export class Issuer {
  readonly #setup: IssuerSetup;
  readonly #caKey: KeyObject;
  readonly #caPublic: KeyObject;
  readonly #caSubject: string;

  constructor(setup: IssuerSetup) {
    this.#setup = setup;
    const keyBlock = pemBlocks(setup.caKeyPem).find((b) => b.label.endsWith('PRIVATE KEY'));
    if (!keyBlock) throw new Error('internal: CA key is not PEM');
    this.#caKey = loadPrivateKey(keyBlock);
    this.#caPublic = createPublicKey(this.#caKey);
    this.#caSubject = new X509Certificate(setup.caCertPem).subject;
  }

  /** The reused or newly issued certificate; null when it needs an RSA key the job did not bring. */
  run(job: Job): JobResult | null {
    const reused = job.existing && this.reuse(job.request, job.existing);
    if (reused) return reused;
    if (job.key) return this.issue(job.request, job.key);
    // generateKeyPairSync can hang a worker thread on Node 20 (keys.ts): RSA keys come from the main thread.
    return this.#setup.keyAlgorithm === 'ecdsa-p256' ? this.issue(job.request, generateEcKey()) : null;
  }

  issue(req: LeafRequest, key: LeafKey): JobResult {
    const s = this.#setup;
    const serial = serialFrom(randomBytes(16));
    const whole = Math.floor(s.now / 1000) * 1000;
    const notBefore = whole - CLOCK_SKEW_MS;
    const notAfter = whole + s.validityDays * DAY_MS;

    const exts: Array<Uint8Array | asn1js.BaseBlock> = [...s.fixedExtensions[req.usage]];
    exts.push(extension(OID.subjectKeyIdentifier, false, toBytes(new asn1js.OctetString({ valueHex: key.keyId }))));
    if (req.dnsNames.length + req.ipAddresses.length > 0) {
      const names = [
        ...req.dnsNames.map((d) => implicitPrimitive(2, Buffer.from(d, 'ascii'))),
        ...req.ipAddresses.map((ip) => implicitPrimitive(7, ipBytes(ip))),
      ];
      exts.push(extension(OID.subjectAltName, false, toBytes(seq(...names))));
    }
    const der = buildCertificate(
      {
        serial,
        signatureAlgorithm: s.signatureAlgorithm,
        issuer: s.issuer,
        subject: commonNameDer(req.commonName),
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        spki: key.spki,
        extensions: exts,
      },
      (tbs) => sign(s.hash, tbs, this.#caKey),
    );
    return {
      certPem: pemEncode('CERTIFICATE', der),
      keyPem: key.pem,
      fingerprint256: fingerprintOf(der),
      serialNumber: serial.toString('hex').toUpperCase(),
      notBefore,
      notAfter,
      reused: false,
    };
  }

  /**
   * The existing certificate, if it can stay: it parses, is signed by this CA, says exactly what the
   * request says, carries a key of the wanted algorithm that matches the key file, has started and
   * is not due for renewal. Anything else (including a garbled file) means issue a new one.
   */
  reuse(req: LeafRequest, existing: { certPem: string; keyPem: string }): JobResult | undefined {
    const s = this.#setup;
    try {
      const certBlocks = pemBlocks(existing.certPem).filter((b) => b.label === 'CERTIFICATE');
      const keyBlocks = pemBlocks(existing.keyPem).filter((b) => b.label.endsWith('PRIVATE KEY'));
      if (certBlocks.length !== 1 || keyBlocks.length !== 1) return undefined;
      const x = new X509Certificate(certBlocks[0]!.der);
      if (x.ca || x.issuer !== this.#caSubject || x.subject !== `CN=${req.commonName}`) return undefined;
      if (!sameList(x.keyUsage ?? [], EKU[req.usage])) return undefined;
      const sans = parseSubjectAltName(x.subjectAltName);
      if (!sans || !sameList(sans.dns, req.dnsNames) || !sameList(sans.ips, req.ipAddresses.map(canonicalIp))) return undefined;
      const notBefore = Date.parse(x.validFrom);
      const notAfter = Date.parse(x.validTo);
      if (!(notBefore <= s.now) || !(notAfter - s.now > s.renewBeforeDays * DAY_MS)) return undefined;
      if (leafKeyAlgorithm(x.publicKey) !== s.keyAlgorithm) return undefined;
      if (!x.verify(this.#caPublic)) return undefined;
      if (!x.checkPrivateKey(loadPrivateKey(keyBlocks[0]!))) return undefined;
      return {
        certPem: existing.certPem,
        keyPem: existing.keyPem,
        fingerprint256: x.fingerprint256,
        serialNumber: x.serialNumber.toUpperCase(),
        notBefore,
        notAfter,
        reused: true,
      };
    } catch {
      return undefined;
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip ? formatIp(ip.family, ip.value) : text;
}

/**
 * Node's `subjectAltName` text (`DNS:a, IP Address:0:0:0:0:0:0:0:1`) as DNS names and canonical
 * IPs; undefined when it holds anything else (other name types, quoted values), which never
 * matches a request and so leads to a new certificate.
 */
export function parseSubjectAltName(text: string | undefined): { dns: string[]; ips: string[] } | undefined {
  const out = { dns: [] as string[], ips: [] as string[] };
  if (text === undefined || text === '') return out;
  for (const part of text.split(', ')) {
    if (part.startsWith('DNS:')) {
      const name = part.slice(4);
      if (!/^[A-Za-z0-9*._-]+$/.test(name)) return undefined;
      out.dns.push(name);
    } else if (part.startsWith('IP Address:')) {
      const ip = parseIp(part.slice(11));
      if (!ip) return undefined;
      out.ips.push(formatIp(ip.family, ip.value));
    } else {
      return undefined;
    }
  }
  return out;
}

function ipBytes(text: string): Buffer {
  const ip = parseIp(text);
  if (!ip) throw new Error(`internal: ${JSON.stringify(text)} is not an IP address`);
  const len = ip.family === 4 ? 4 : 16;
  const out = Buffer.alloc(len);
  let v = ip.value;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
