/**
 * Test certificates for the lab suite: a CA and the clustermesh-apiserver leaf certificates
 * (server, admin, remote) shaped as DESIGN.md §4 describes. ECDSA P-256 keeps generation fast.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Pem {
  cert: string;
  key: string;
}

export interface TestCa extends Pem {
  issue(cn: string, opts?: { dns?: string[]; ips?: string[]; server?: boolean }): Promise<Pem>;
}

let serial = 1;

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A new self-signed CA, valid from an hour ago for a year. */
export async function newCa(cn = 'Cilium CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + 365 * 86400_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name: `CN=${cn}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: caCert.toString('pem'),
    key: await keyPem(keys.privateKey),
    async issue(leafCn, opts = {}) {
      const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
      const names = [...(opts.dns ?? []).map((value) => ({ type: 'dns' as const, value })), ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: `CN=${leafCn}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingKey: keys.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: alg,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension(opts.server ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth]),
          ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return { cert: leaf.toString('pem'), key: await keyPem(leafKeys.privateKey) };
    },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The server, admin and remote certificates of one cluster (authMode cluster), base64 for values. */
export async function clusterCerts(ca: TestCa, name: string, domain = 'mesh.cilium.io') {
  const server = await ca.issue('clustermesh-apiserver.cilium.io', {
    server: true,
    dns: ['clustermesh-apiserver.cilium.io', `*.${domain}`, 'clustermesh-apiserver.kube-system.svc', `${name}.${domain}`],
    ips: ['127.0.0.1', '::1'],
  });
  const admin = await ca.issue(`admin-${name}`);
  const remote = await ca.issue(`remote-${name}`);
  return {
    server: { cert: b64(server.cert), key: b64(server.key) },
    admin: { cert: b64(admin.cert), key: b64(admin.key) },
    remote: { cert: b64(remote.cert), key: b64(remote.key) },
    ca: { cert: b64(ca.cert), key: b64(ca.key) },
  };
}
