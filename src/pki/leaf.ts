/**
 * The clustermesh-apiserver leaf certificates of each cluster (DESIGN.md §4), issued from the shared
 * CA for certificate method `provided`, and kept across renders until they are due for renewal.
 *
 * Names and usages follow Cilium's chart (install/kubernetes/cilium/templates/clustermesh-apiserver,
 * the cronJob/certgen config and `_helpers.tpl`): the server names come from names.ts; admin `admin-<cluster>`; remote `remote-<cluster>` in authMode
 * cluster, `remote` otherwise; local `local-<cluster>`.
 */
import { X509Certificate } from 'node:crypto';
import { inputError } from '../errors.js';
import type { AuthMode, KeyAlgorithm } from '../spec/types.js';
import { leafProfile } from './ca.js';
import type { ServerCertNames } from './names.js';
import { RULES } from '../validate/catalogue.js';
import type { IssuerSetup, Job, JobResult } from './issuer.js';
import { generateKeyAsync, type LeafKey } from './keys.js';
import { defaultConcurrency, runJobs } from './pool.js';
import { indexMacKey, makeRecord, reuseByRecord, type LeafRecord, type RecordContext } from './record.js';
import { SecretPem } from './secret.js';
import type { CaMaterial, IssuedCert, LeafKind, LeafRequest } from './types.js';

const DAY_MS = 86_400_000;

/**
 * The leaf requests of one cluster: server, admin, remote, and local when the Cilium version has
 * the local certificate (1.16+). The server names come from `serverCertNames` (names.ts), the one
 * place they are decided; a name that cannot go into a certificate is an input error here.
 */
export function clusterLeafRequests(a: {
  cluster: string;
  server: ServerCertNames;
  authMode: AuthMode;
  localCert: boolean;
}): LeafRequest[] {
  const bad = a.server.invalid[0];
  if (bad) {
    throw inputError({
      code: 'SAN_INVALID',
      path: bad.field,
      value: bad.value,
      message: `${JSON.stringify(bad.value)} in the server certificate names of cluster ${a.cluster} is not ${bad.expected === 'ip' ? 'an IP address' : 'a DNS name'}`,
      rule: RULES.SAN_INVALID.rule,
      fix: bad.expected === 'ip'
        ? 'write an address such as 192.0.2.10 or 2001:db8::10, or move a name to extraDnsNames'
        : 'correct the name, e.g. clustermesh.example.net',
    });
  }
  const client = (kind: LeafKind, commonName: string): LeafRequest => ({
    cluster: a.cluster,
    kind,
    commonName,
    dnsNames: [],
    ipAddresses: [],
    usage: 'client',
  });
  const out: LeafRequest[] = [
    {
      cluster: a.cluster,
      kind: 'server',
      commonName: a.server.commonName,
      dnsNames: [...a.server.dnsNames],
      ipAddresses: [...a.server.ipAddresses],
      usage: 'server',
    },
    client('admin', `admin-${a.cluster}`),
    client('remote', a.authMode === 'cluster' ? `remote-${a.cluster}` : 'remote'),
  ];
  if (a.localCert) out.push(client('local', `local-${a.cluster}`));
  return out;
}

/** Key of the `existing` map: `<cluster>/<kind>`. */
export function storeKey(r: { cluster: string; kind: LeafKind }): string {
  return `${r.cluster}/${r.kind}`;
}

/** An earlier render's certificate: its files and, when the index had one, its record. */
export interface StoredLeaf {
  certPem: string;
  keyPem: string;
  /** The index entry (record.ts); checked, never trusted blindly. */
  record?: LeafRecord;
}

/**
 * Issues the requested leaf certificates from `ca`, reusing an existing one (from `existing`,
 * keyed `<cluster>/<kind>`) when it parses, is signed by this CA, says exactly what the request
 * says, holds a key of `keyAlgorithm` that matches its key file, has started, and does not expire
 * within `renewBeforeDays`. New ones get a random serial and are valid from five minutes before
 * `now` (clock skew) for `validityDays`.
 *
 * A certificate whose index record (record.ts) vouches for its exact files under this CA, request
 * and key algorithm is kept on the record's word, in the main thread (microseconds); the others
 * take the full X.509 check, spread with the issuing over `concurrency` threads (default: one per
 * core). RSA keys are generated asynchronously in the main thread (keys.ts). Every result carries
 * its `record` for the next render. The result is in request order.
 */
export async function issueLeaves(
  requests: LeafRequest[],
  ca: CaMaterial,
  opts: {
    now: Date;
    validityDays: number;
    renewBeforeDays: number;
    keyAlgorithm: KeyAlgorithm;
    existing?: Map<string, StoredLeaf>;
    concurrency?: number;
    /** Pool batch timeout (pool.ts); a stuck worker fails the run after this long. */
    batchTimeoutMs?: number;
  },
): Promise<IssuedCert[]> {
  if (requests.length === 0) return [];
  const ctx: RecordContext = {
    macKey: indexMacKey(ca),
    caFingerprint: ca.fingerprint256,
    keyAlgorithm: opts.keyAlgorithm,
    now: opts.now.getTime(),
    renewBeforeMs: opts.renewBeforeDays * DAY_MS,
  };
  const out = new Array<IssuedCert>(requests.length);
  const jobs: Job[] = [];
  const jobIndex: number[] = [];
  requests.forEach((request, i) => {
    const existing = opts.existing?.get(storeKey(request));
    const byRecord = existing?.record ? reuseByRecord(ctx, request, existing) : undefined;
    if (existing && byRecord) {
      out[i] = {
        request,
        certPem: existing.certPem,
        key: new SecretPem(existing.keyPem),
        fingerprint256: byRecord.fingerprint256,
        serialNumber: byRecord.serialNumber,
        notBefore: new Date(byRecord.notBefore),
        notAfter: new Date(byRecord.notAfter),
        reused: true,
        record: existing.record!,
      };
      return;
    }
    jobs.push(existing ? { request, existing: { certPem: existing.certPem, keyPem: existing.keyPem } } : { request });
    jobIndex.push(i);
  });
  if (jobs.length > 0) {
    const setup: IssuerSetup = {
      caCertPem: ca.certPem,
      caKeyPem: ca.key.reveal(),
      ...leafProfile(ca, opts.keyAlgorithm),
      now: ctx.now,
      validityDays: opts.validityDays,
      renewBeforeDays: opts.renewBeforeDays,
      keyAlgorithm: opts.keyAlgorithm,
    };
    const concurrency = opts.concurrency ?? defaultConcurrency();
    const poolOpts = opts.batchTimeoutMs === undefined ? {} : { batchTimeoutMs: opts.batchTimeoutMs };
    // Without a key to bring, an RSA job can only be a reuse check: skip the ones with nothing to check.
    const checkOnly = opts.keyAlgorithm !== 'ecdsa-p256';
    const first = checkOnly ? jobs.flatMap((j, k) => (j.existing ? [k] : [])) : jobs.map((_, k) => k);
    const results: Array<JobResult | null> = jobs.map(() => null);
    const firstResults = await runJobs(setup, first.map((k) => jobs[k]!), concurrency, poolOpts);
    first.forEach((k, n) => (results[k] = firstResults[n]!));
    // RSA: the jobs that could not be reused come back null; their keys are made here, then issued.
    const needKey = results.flatMap((r, k) => (r === null ? [k] : []));
    if (needKey.length > 0) {
      const keys = await generateLeafKeys(opts.keyAlgorithm, needKey.length, Math.max(2, concurrency * 2));
      const issued = await runJobs(setup, needKey.map((k, n) => ({ request: jobs[k]!.request, key: keys[n]! })), concurrency, poolOpts);
      needKey.forEach((k, n) => (results[k] = issued[n]!));
    }
    results.forEach((r, k) => {
      if (!r) throw new Error('internal: a certificate job gave no result');
      const request = jobs[k]!.request;
      const before = r.reused ? undefined : whyIssued(jobs[k]!.existing, ctx);
      out[jobIndex[k]!] = {
        request,
        certPem: r.certPem,
        key: new SecretPem(r.keyPem),
        fingerprint256: r.fingerprint256,
        serialNumber: r.serialNumber,
        notBefore: new Date(r.notBefore),
        notAfter: new Date(r.notAfter),
        reused: r.reused,
        ...before,
        record: makeRecord(ctx, request, r),
      };
    });
  }
  return out;
}

/**
 * Why a certificate was issued rather than reused: no earlier one, the earlier one due (it expires
 * within the renewal window, or has expired), or the earlier one no longer fits the request (its
 * file is read for its expiry: only certificates just issued get here, a few per render).
 */
function whyIssued(existing: { certPem: string } | undefined, ctx: RecordContext): Pick<IssuedCert, 'issuedBecause' | 'previousNotAfter'> {
  if (!existing) return { issuedBecause: 'new' };
  let notAfter: number;
  try {
    notAfter = Date.parse(new X509Certificate(existing.certPem).validTo);
  } catch {
    return { issuedBecause: 'changed' };
  }
  if (notAfter - ctx.now <= ctx.renewBeforeMs) return { issuedBecause: 'renewal', previousNotAfter: new Date(notAfter) };
  return { issuedBecause: 'changed' };
}

/** `count` leaf keys, at most `parallel` generations in flight on libuv's pool; plain data for the workers. */
async function generateLeafKeys(alg: KeyAlgorithm, count: number, parallel: number): Promise<LeafKey[]> {
  const keys = new Array<LeafKey>(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const k = await generateKeyAsync(alg);
      keys[i] = { spki: k.spki, keyId: k.keyId, pem: k.pem };
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return keys;
}
