import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { inspect } from 'node:util';
import assert from 'node:assert/strict';
import { createCa, inspectCa } from '../../src/pki/ca.js';
import { clusterLeafRequests } from '../../src/pki/leaf.js';
import { serverCertNames } from '../../src/pki/names.js';
import type { CaMaterial, LeafRequest } from '../../src/pki/types.js';
import type { AuthMode, KeyAlgorithm } from '../../src/spec/types.js';

export const T0 = new Date('2026-03-01T12:00:00.000Z');
export const DAY = 86_400_000;

export async function makeCa(opts: { now?: Date; days?: number; algorithm?: KeyAlgorithm; cn?: string } = {}): Promise<CaMaterial> {
  const now = opts.now ?? T0;
  const c = await createCa({ algorithm: opts.algorithm ?? 'ecdsa-p256', validityDays: opts.days ?? 3650, now, ...(opts.cn ? { commonName: opts.cn } : {}) });
  const r = inspectCa(c.certPem, c.key.reveal(), now, { cert: 'ca.crt', key: 'ca.key' });
  assert.ok(r.ca, JSON.stringify(r.findings));
  return r.ca;
}

export const hasOpenssl = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Forms the private part of a key takes in text: the private scalar/exponent `d` in hex, base64url
 * and base64 at each of the three byte alignments it can have inside a PEM body (the public half
 * of a key is also in its certificate, so it is no sign of a leak).
 */
export function keyFragments(keyPem: string): string[] {
  const d = Buffer.from(createPrivateKey(keyPem).export({ format: 'jwk' }).d!, 'base64url');
  const out = [d.toString('hex').slice(0, 40), d.toString('base64url').slice(4, 36)];
  for (let k = 0; k < 3; k++) out.push(Buffer.concat([Buffer.alloc(k), d]).toString('base64').slice(4, 36));
  return out;
}

/** Asserts that none of the texts (strings, or values rendered by JSON and util.inspect) leaks a key. */
export function assertNoKey(keyPems: string[], ...things: unknown[]): void {
  const frags = keyPems.flatMap(keyFragments);
  for (const t of things) {
    const texts = typeof t === 'string' ? [t] : [JSON.stringify(t) ?? '', inspect(t, { depth: 10, showHidden: true })];
    for (const raw of texts) {
      const text = raw.replace(/\\n|\n/g, '');
      assert.ok(!text.includes('PRIVATE KEY'), `a PEM key header leaked: ${text.slice(0, 200)}`);
      for (const f of frags) assert.ok(!text.includes(f), 'key material leaked');
    }
  }
}

/** `clusterLeafRequests` for a cluster given by its SAN inputs alone (a NodePort endpoint: no address). */
export function leafRequestsFor(a: {
  cluster: string;
  domain: string;
  namespace: string;
  authMode: AuthMode;
  localCert: boolean;
  extraDnsNames: string[];
  extraIpAddresses: string[];
}): LeafRequest[] {
  const server = serverCertNames(
    { name: a.cluster, endpoint: { type: 'NodePort', nodePort: 30000, ips: [] }, tls: { extraDnsNames: a.extraDnsNames, extraIpAddresses: a.extraIpAddresses } },
    { domain: a.domain, cilium: { namespace: a.namespace } },
  );
  return clusterLeafRequests({ cluster: a.cluster, server, authMode: a.authMode, localCert: a.localCert });
}
