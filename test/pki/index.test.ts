import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueLeaves, type StoredLeaf } from '../../src/pki/leaf.js';
import { Issuer, type IssuerSetup, type Job } from '../../src/pki/issuer.js';
import { leafProfile } from '../../src/pki/ca.js';
import { generateKeyAsync } from '../../src/pki/keys.js';
import { runJobs } from '../../src/pki/pool.js';
import { indexMacKey, parseIndexFile, reuseByRecord, type RecordContext } from '../../src/pki/record.js';
import { certIndexPath, certStoreFiles, certStoreFromFiles, readCertStore } from '../../src/pki/store.js';
import type { CaMaterial, IssuedCert, LeafRequest } from '../../src/pki/types.js';
import type { RenderedFile } from '../../src/render/types.js';
import { DAY, T0, assertNoKey, makeCa, leafRequestsFor } from './helpers.js';

const opts = { now: T0, validityDays: 365, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' as const };

function requests(names: string[], extraDnsNames: string[] = []): LeafRequest[] {
  return names.flatMap((cluster) =>
    leafRequestsFor({ cluster, domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: true, extraDnsNames, extraIpAddresses: [] }),
  );
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const reusedFlags = (xs: IssuedCert[]): boolean[] => xs.map((c) => c.reused);
const contentOf = (files: RenderedFile[]): string[] => files.map((f) => `${f.path}\n${f.content}`);

/** Issues for `names`, then returns the store as the next render would read it (files in memory). */
async function firstRender(ca: CaMaterial, names: string[]): Promise<{ issued: IssuedCert[]; files: RenderedFile[]; store: Map<string, StoredLeaf> }> {
  const issued = await issueLeaves(requests(names), ca, opts);
  const files = certStoreFiles(issued);
  return { issued, files, store: certStoreFromFiles(files) };
}

test('index: a re-render keeps every certificate on its record and writes the same bytes; no key material in it', async () => {
  const ca = await makeCa();
  const { issued, files, store } = await firstRender(ca, ['a', 'b']);
  assert.ok([...store.values()].every((e) => e.record !== undefined), 'every certificate has a record');
  const later = new Date(T0.getTime() + 200 * DAY);
  const again = await issueLeaves(requests(['a', 'b']), ca, { ...opts, now: later, existing: store });
  assert.ok(again.every((c) => c.reused));
  assert.deepEqual(contentOf(certStoreFiles(again)), contentOf(files));
  for (let i = 0; i < issued.length; i++) {
    assert.equal(again[i]!.fingerprint256, issued[i]!.fingerprint256);
    assert.equal(again[i]!.serialNumber, issued[i]!.serialNumber);
    assert.equal(again[i]!.notBefore.getTime(), issued[i]!.notBefore.getTime());
    assert.equal(again[i]!.notAfter.getTime(), issued[i]!.notAfter.getTime());
  }
  const index = files.find((f) => f.path === certIndexPath('a'))!;
  assert.ok(index.secret);
  assertNoKey([ca.key.reveal(), ...issued.map((c) => c.key.reveal())], index.content);
  const parsed = parseIndexFile(index.content);
  assert.deepEqual(Object.keys(parsed), ['server', 'admin', 'remote', 'local']);
  assert.equal(parsed.server!.cert, sha256(issued[0]!.certPem));
  assert.equal(parsed.server!.ca, ca.fingerprint256);
});

test('index: the record path takes no worker (a pool with a 1 ms batch timeout would fail)', async () => {
  const ca = await makeCa();
  const names = Array.from({ length: 16 }, (_, i) => `c${i}`);
  const { store } = await firstRender(ca, names);
  const strict = { ...opts, concurrency: 2, batchTimeoutMs: 1 };
  const again = await issueLeaves(requests(names), ca, { ...strict, existing: store });
  assert.equal(again.length, 64);
  assert.ok(again.every((c) => c.reused));
  // The same certificates without their records need the full check in the pool, which times out.
  const bare = new Map([...store].map(([k, v]) => [k, { certPem: v.certPem, keyPem: v.keyPem }]));
  await assert.rejects(issueLeaves(requests(names), ca, { ...strict, existing: bare }), /certificate worker failed: no answer for \d+ certificates within 0.001 s/);
});

test('index: tampered files, forged record, other CA, changed request and the renewal window are not taken on the record', async () => {
  const ca = await makeCa();
  const { store } = await firstRender(ca, ['a', 'b']);
  const reqs = requests(['a', 'b']);
  const get = (k: string): StoredLeaf => store.get(k)!;

  const bad = new Map(store);
  // Another valid certificate of this CA in a/admin's place (the record still names a/admin's hash).
  bad.set('a/admin', { ...get('a/admin'), certPem: get('b/admin').certPem });
  // a/remote's key file replaced by another key.
  bad.set('a/remote', { ...get('a/remote'), keyPem: get('a/local').keyPem });
  // b/server: only a trailing newline added, still a valid certificate: the full check keeps it.
  bad.set('b/server', { ...get('b/server'), certPem: `${get('b/server').certPem}\n` });
  const out = await issueLeaves(reqs, ca, { ...opts, existing: bad });
  assert.deepEqual(reusedFlags(out), [true, false, false, true, true, true, true, true]);
  assert.notEqual(out[1]!.certPem, get('a/admin').certPem);
  assert.equal(new X509Certificate(out[1]!.certPem).subject, 'CN=admin-a');
  // The kept b/server is recorded anew, for its new bytes.
  assert.equal(out[4]!.record!.cert, sha256(`${get('b/server').certPem}\n`));
  assert.notEqual(out[4]!.record!.mac, get('b/server').record!.mac);

  // A certificate of another CA for the same request, with a record whose hashes were rewritten to
  // match it: the MAC does not verify, the full check rejects the signature, so it is re-issued.
  const other = await makeCa();
  const foreign = await issueLeaves(reqs.slice(0, 1), other, opts);
  const forged = new Map(store);
  const rec = get('a/server').record!;
  forged.set('a/server', {
    certPem: foreign[0]!.certPem,
    keyPem: foreign[0]!.key.reveal(),
    record: { ...rec, cert: sha256(foreign[0]!.certPem), key: sha256(foreign[0]!.key.reveal()), serialNumber: foreign[0]!.serialNumber },
  });
  const afterForge = await issueLeaves(reqs, ca, { ...opts, existing: forged });
  assert.equal(afterForge[0]!.reused, false);
  assert.ok(new X509Certificate(afterForge[0]!.certPem).verify(new X509Certificate(ca.certPem).publicKey));
  assert.ok(afterForge.slice(1).every((c) => c.reused));

  // Another CA: nothing reused, records or not.
  const byOther = await issueLeaves(reqs, other, { ...opts, existing: store });
  assert.ok(byOther.every((c) => !c.reused));

  // A changed request (a new SAN for a's server): only that certificate is issued anew.
  const changed = requests(['a'], ['a.example.org']).concat(requests(['b']));
  assert.deepEqual(reusedFlags(await issueLeaves(changed, ca, { ...opts, existing: store })), [false, true, true, true, true, true, true, true]);

  // Renewal window (29 of 30 days left), and a clock before notBefore.
  assert.ok((await issueLeaves(reqs, ca, { ...opts, now: new Date(T0.getTime() + 336 * DAY), existing: store })).every((c) => !c.reused));
  assert.ok((await issueLeaves(reqs, ca, { ...opts, now: new Date(T0.getTime() - DAY), existing: store })).every((c) => !c.reused));
  // Another key algorithm.
  const ctx: RecordContext = { macKey: indexMacKey(ca), caFingerprint: ca.fingerprint256, keyAlgorithm: 'rsa-2048', now: T0.getTime(), renewBeforeMs: 30 * DAY };
  assert.equal(reuseByRecord(ctx, reqs[0]!, get('a/server')), undefined);
  assert.ok(reuseByRecord({ ...ctx, keyAlgorithm: 'ecdsa-p256' }, reqs[0]!, get('a/server')));
  // A record moved to another certificate of the same cluster (its request differs).
  assert.equal(reuseByRecord({ ...ctx, keyAlgorithm: 'ecdsa-p256' }, reqs[1]!, { ...get('a/admin'), record: rec }), undefined);
});

test('index: a missing or garbled index falls back to the full check, which keeps valid certificates and writes the same index', async (t) => {
  const ca = await makeCa();
  const { files } = await firstRender(ca, ['a', 'b']);
  const dir = await mkdtemp(join(tmpdir(), 'meshform-index-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of files) {
    await mkdir(join(dir, f.path, '..'), { recursive: true });
    await writeFile(join(dir, f.path), f.content, { mode: 0o600 });
  }
  const fromDisk = await readCertStore(dir, ['a', 'b']);
  assert.equal(fromDisk.size, 8);
  assert.ok([...fromDisk.values()].every((e) => e.record !== undefined));

  await rm(join(dir, certIndexPath('a')));
  await writeFile(join(dir, certIndexPath('b')), '{"meshformCertIndex": 1, "certs": {"server": {"cert": 12}}');
  const store = await readCertStore(dir, ['a', 'b']);
  assert.equal(store.size, 8);
  assert.ok([...store.values()].every((e) => e.record === undefined));
  const again = await issueLeaves(requests(['a', 'b']), ca, { ...opts, existing: store });
  assert.ok(again.every((c) => c.reused));
  assert.deepEqual(contentOf(certStoreFiles(again)), contentOf(files), 'the rebuilt index is byte-identical');

  // A readable index whose entries are malformed: those entries are ignored, the others kept.
  const original = JSON.parse(files.find((f) => f.path === certIndexPath('a'))!.content) as { certs: Record<string, Record<string, string>> };
  original.certs.admin!.mac = 'zz';
  delete original.certs.remote!.notAfter;
  const partial = parseIndexFile(JSON.stringify(original));
  assert.deepEqual(Object.keys(partial), ['server', 'local']);
  assert.deepEqual(parseIndexFile('not json'), {});
  assert.deepEqual(parseIndexFile('{"meshformCertIndex": 2, "certs": {}}'), {});
});

test('RSA: keys come from the main thread; the issuer never generates one itself; index reuse works', async () => {
  const ca = await makeCa();
  const rsa = { ...opts, keyAlgorithm: 'rsa-2048' as const };
  const reqs = requests(['r']).slice(0, 2);
  const issued = await issueLeaves(reqs, ca, rsa);
  for (const c of issued) assert.equal(new X509Certificate(c.certPem).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const store = certStoreFromFiles(certStoreFiles(issued));
  const again = await issueLeaves(reqs, ca, { ...rsa, existing: store });
  assert.ok(again.every((c, i) => c.reused && c.certPem === issued[i]!.certPem));

  // The pool with RSA: a job without a key gives null; jobs that bring one are issued in workers.
  const setup: IssuerSetup = {
    caCertPem: ca.certPem,
    caKeyPem: ca.key.reveal(),
    ...leafProfile(ca, 'rsa-2048'),
    now: T0.getTime(),
    validityDays: 30,
    renewBeforeDays: 7,
    keyAlgorithm: 'rsa-2048',
  };
  assert.equal(new Issuer(setup).run({ request: reqs[0]! }), null);
  const k = await generateKeyAsync('rsa-2048');
  const key = { spki: k.spki, keyId: k.keyId, pem: k.pem };
  const jobs: Job[] = Array.from({ length: 40 }, (_, i) => ({ request: { ...reqs[1]!, cluster: `r${i}`, commonName: `admin-r${i}` }, key }));
  const pooled = await runJobs(setup, jobs, 2, { inlineBelow: 0 });
  const caPub = new X509Certificate(ca.certPem).publicKey;
  pooled.forEach((r, i) => {
    assert.ok(r);
    const x = new X509Certificate(r.certPem);
    assert.equal(x.subject, `CN=admin-r${i}`);
    assert.ok(x.verify(caPub));
    assert.equal(r.keyPem, k.pem);
  });
  const nulls = await runJobs(setup, jobs.map((j) => ({ request: j.request })), 2, { inlineBelow: 0 });
  assert.ok(nulls.every((r) => r === null));
});

test('pool: a batch without an answer fails the run instead of hanging', async () => {
  const ca = await makeCa();
  const setup: IssuerSetup = {
    caCertPem: ca.certPem,
    caKeyPem: ca.key.reveal(),
    ...leafProfile(ca, 'ecdsa-p256'),
    now: T0.getTime(),
    validityDays: 30,
    renewBeforeDays: 7,
    keyAlgorithm: 'ecdsa-p256',
  };
  const jobs: Job[] = requests(Array.from({ length: 16 }, (_, i) => `c${i}`)).map((request) => ({ request }));
  // A hang would show as the test runner's own timeout; no wall-clock assertion here.
  await assert.rejects(runJobs(setup, jobs, 2, { batchTimeoutMs: 1 }), /no answer/);
  // And with time to answer, the same jobs all complete.
  const ok = await runJobs(setup, jobs, 2);
  assert.ok(ok.every((r) => r !== null && !r.reused));
});
