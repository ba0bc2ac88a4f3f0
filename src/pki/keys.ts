/**
 * Keys: generation with OpenSSL through node:crypto, PEM loading, and which signature algorithm a
 * CA key signs with. Loaded by the issuing workers, so no heavy imports.
 */
import { createECDH, createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '../spec/types.js';
import { ecP256Spki, keyIdentifier, pemEncode, type PemBlock } from './der.js';

export interface GeneratedKey {
  privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** The subjectPublicKey bits, for the key identifier. */
  keyId: Buffer;
  /** `EC PRIVATE KEY` (SEC1) or `RSA PRIVATE KEY` (PKCS#1): the forms Cilium's own tooling writes. */
  pem: string;
}

/** A leaf key as the certificate builder needs it: structured-clonable, so it can go to a worker. */
export interface LeafKey {
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** The subjectPublicKey bits, for the key identifier. */
  keyId: Buffer;
  /** `EC PRIVATE KEY` (SEC1) or `RSA PRIVATE KEY` (PKCS#1). */
  pem: string;
}

/**
 * Generates a P-256 key pair from `crypto.createECDH` rather than `generateKeyPairSync`: on Node 20
 * the latter's job object can deadlock in its destructor when the garbage collector runs it (seen
 * here as a hung worker thread, one run in ten at 2000 keys), and ECDH key generation has no such
 * job. The SPKI is wrapped here from the public point, which also skips OpenSSL 3's SPKI encoder
 * (~0.15 ms a call, twice the key generation itself). Safe in worker threads.
 */
export function generateEcKey(): GeneratedKey {
  const ecdh = createECDH('prime256v1');
  const point = ecdh.generateKeys();
  const d = ecdh.getPrivateKey();
  const scalar = d.length === 32 ? d : Buffer.concat([Buffer.alloc(32 - d.length), d]);
  const privateKey = createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', d: scalar.toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
  });
  const der = privateKey.export({ type: 'sec1', format: 'der' });
  return { privateKey, spki: ecP256Spki(point), keyId: keyIdentifier(point), pem: pemEncode('EC PRIVATE KEY', der) };
}

/** How long one RSA key generation may take before the run fails (4096-bit keys take ~1 s). */
export const RSA_KEYGEN_TIMEOUT_MS = 120_000;

/**
 * Generates a key pair without blocking and without `generateKeyPairSync` (see generateEcKey):
 * RSA keys come from the asynchronous `crypto.generateKeyPair`, which runs on libuv's thread pool
 * of the calling (main) thread, so every core is used without any worker thread holding an
 * OpenSSL key-generation job. A generation that does not finish within `timeoutMs` rejects
 * rather than hanging the run.
 */
export async function generateKeyAsync(alg: KeyAlgorithm, timeoutMs = RSA_KEYGEN_TIMEOUT_MS): Promise<GeneratedKey> {
  if (alg === 'ecdsa-p256') return generateEcKey();
  const modulusLength = alg === 'rsa-4096' ? 4096 : 2048;
  let timer: NodeJS.Timeout | undefined;
  const pair = new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey }))),
  );
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`RSA ${modulusLength}-bit key generation did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    timer.unref();
  });
  try {
    const { privateKey, publicKey } = await Promise.race([pair, timeout]);
    return {
      privateKey,
      spki: publicKey.export({ type: 'spki', format: 'der' }),
      keyId: keyIdentifier(publicKey.export({ type: 'pkcs1', format: 'der' })),
      pem: pemEncode('RSA PRIVATE KEY', privateKey.export({ type: 'pkcs1', format: 'der' })),
    };
  } finally {
    clearTimeout(timer);
  }
}

const DER_TYPE: Record<string, 'sec1' | 'pkcs1' | 'pkcs8'> = {
  'EC PRIVATE KEY': 'sec1',
  'RSA PRIVATE KEY': 'pkcs1',
  'PRIVATE KEY': 'pkcs8',
};

/**
 * Loads an unencrypted private key from its PEM block. Decoding the DER with its type named is
 * ~3x cheaper than handing OpenSSL the PEM, which tries every decoder in turn; that matters when a
 * re-render checks two thousand leaf keys. Throws (without echoing the key) when it does not parse.
 */
export function loadPrivateKey(block: PemBlock): KeyObject {
  const type = DER_TYPE[block.label];
  if (!type || block.headers.length > 0) throw new Error(`not an unencrypted private key (${block.label})`);
  return createPrivateKey({ key: block.der, format: 'der', type });
}

/** How a CA key signs: digest name for `crypto.sign` and the AlgorithmIdentifier. */
export interface SignatureScheme {
  /** `null` for EdDSA, which hashes internally. */
  hash: string | null;
  algorithmOid: string;
  /** RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter (RFC 4055). */
  nullParams: boolean;
  /** Human form for findings and `ca show`, e.g. `ecdsa-p256`, `rsa-2048`. */
  keyAlgorithm: string;
}

/** The scheme for a CA key, or undefined for a key type meshform cannot sign with. */
export function signatureScheme(key: KeyObject): SignatureScheme | undefined {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (d.namedCurve === 'prime256v1') return { hash: 'sha256', algorithmOid: '1.2.840.10045.4.3.2', nullParams: false, keyAlgorithm: 'ecdsa-p256' };
      if (d.namedCurve === 'secp384r1') return { hash: 'sha384', algorithmOid: '1.2.840.10045.4.3.3', nullParams: false, keyAlgorithm: 'ecdsa-p384' };
      if (d.namedCurve === 'secp521r1') return { hash: 'sha512', algorithmOid: '1.2.840.10045.4.3.4', nullParams: false, keyAlgorithm: 'ecdsa-p521' };
      return undefined;
    case 'rsa':
      return { hash: 'sha256', algorithmOid: '1.2.840.113549.1.1.11', nullParams: true, keyAlgorithm: `rsa-${d.modulusLength ?? '?'}` };
    case 'ed25519':
      return { hash: null, algorithmOid: '1.3.101.112', nullParams: false, keyAlgorithm: 'ed25519' };
    default:
      return undefined;
  }
}

/** The leaf key a certificate carries, in meshform's terms (undefined for anything else). */
export function leafKeyAlgorithm(publicKey: KeyObject): KeyAlgorithm | undefined {
  const d = publicKey.asymmetricKeyDetails ?? {};
  if (publicKey.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (publicKey.asymmetricKeyType === 'rsa' && d.modulusLength === 2048) return 'rsa-2048';
  if (publicKey.asymmetricKeyType === 'rsa' && d.modulusLength === 4096) return 'rsa-4096';
  return undefined;
}
