// Test certificates made on the fly with @peculiar/x509 and Node's WebCrypto (ECDSA P-256).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCert {
  certPem: string;
  keyPem: string;
}

export interface TestCa extends TestCert {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function keyPem(k: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

let serial = 1;
const notBefore = new Date(Date.now() - 3600_000);
const notAfter = new Date(Date.now() + 30 * 86400_000);

export async function makeCa(name = 'Cilium CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: String(serial++).padStart(2, '0'), name: `CN=${name}`, notBefore, notAfter, keys, signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { cert, keys, certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

export async function makeLeaf(ca: TestCa, cn: string, opts: { dns?: string[]; ips?: string[]; server?: boolean } = {}): Promise<TestCert> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [...(opts.dns ?? []).map((v) => ({ type: 'dns' as const, value: v })), ...(opts.ips ?? []).map((v) => ({ type: 'ip' as const, value: v }))];
  const eku = opts.server ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: String(serial++).padStart(2, '0'), subject: `CN=${cn}`, issuer: ca.cert.subject, notBefore, notAfter,
    publicKey: keys.publicKey, signingKey: ca.keys.privateKey, signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}
