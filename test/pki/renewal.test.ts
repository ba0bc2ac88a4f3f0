import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueLeaves, storeKey } from '../../src/pki/leaf.js';
import { renewalReport } from '../../src/pki/renewal.js';
import type { IssuedCert } from '../../src/pki/types.js';
import { SPEC_DEFAULTS } from '../../src/defaults.js';
import { DAY, T0, leafRequestsFor, makeCa } from './helpers.js';

const renewBeforeDays = SPEC_DEFAULTS.certificates.renewBeforeDays;
const opts = { validityDays: 365, renewBeforeDays, keyAlgorithm: 'ecdsa-p256' as const };
const reqs = (cluster: string, extraDnsNames: string[] = []) =>
  leafRequestsFor({ cluster, domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: true, extraDnsNames, extraIpAddresses: [] });
const existingOf = (issued: IssuedCert[]) => new Map(issued.map((c) => [storeKey(c.request), { certPem: c.certPem, keyPem: c.key.reveal() }]));
const at = (days: number) => new Date(T0.getTime() + days * DAY);

test('the renewal window is the documented default: 30 days', () => {
  assert.equal(renewBeforeDays, 30);
});

test('render renews what enters the window, says why each certificate was issued, and names the next renewal', async () => {
  const ca = await makeCa();
  const first = await issueLeaves([...reqs('a'), ...reqs('b')], ca, { ...opts, now: T0 });
  const r0 = renewalReport(first, renewBeforeDays);
  assert.equal(r0.reused, 0);
  assert.equal(r0.issued.length, 8);
  assert.deepEqual([r0.renewed, r0.replaced], [[], []]);
  // Every certificate expires 365 days on; the window opens 30 days before.
  const notAfter = first[0]!.notAfter.getTime();
  assert.equal(r0.next!.renewFrom, new Date(notAfter - 30 * DAY).toISOString());
  assert.equal(r0.next!.certificates.length, 8);
  assert.deepEqual(r0.next!.certificates[0], { cluster: 'a', kind: 'server', notAfter: new Date(notAfter).toISOString() });

  // Day 300: outside the window, everything kept.
  const kept = await issueLeaves([...reqs('a'), ...reqs('b')], ca, { ...opts, now: at(300), existing: existingOf(first) });
  assert.deepEqual(renewalReport(kept, renewBeforeDays), { ...r0, reused: 8, issued: [] });

  // Day 340 (25 days left): all renewed; b's server names changed on top, still a renewal (it was due).
  // a/admin was renewed on day 300 already: it is kept, and is not due with the others next time.
  const mixed = new Map(existingOf(first));
  const [aAdmin] = await issueLeaves([reqs('a')[1]!], ca, { ...opts, now: at(300) });
  mixed.set('a/admin', { certPem: aAdmin!.certPem, keyPem: aAdmin!.key.reveal() });
  const later = await issueLeaves([...reqs('a'), ...reqs('b', ['b.example.net'])], ca, { ...opts, now: at(340), existing: mixed });
  const r = renewalReport(later, renewBeforeDays);
  assert.equal(r.reused, 1);
  assert.equal(r.renewed.length, 7);
  assert.deepEqual(r.renewed[0], { cluster: 'a', kind: 'server', previousNotAfter: new Date(notAfter).toISOString() });
  assert.ok(later.filter((c) => !c.reused).every((c) => c.issuedBecause === 'renewal' && c.previousNotAfter!.getTime() === notAfter));
  // Next: a/admin (issued day 300) comes first, alone.
  assert.deepEqual(r.next!.certificates.map((c) => `${c.cluster}/${c.kind}`), ['a/admin']);
  assert.equal(r.next!.renewFrom, new Date(aAdmin!.notAfter.getTime() - 30 * DAY).toISOString());

  // Day 10 with other names for b: replaced (not due), the rest reused.
  const changed = await issueLeaves([...reqs('a'), ...reqs('b', ['b.example.net'])], ca, { ...opts, now: at(10), existing: existingOf(first) });
  const rc = renewalReport(changed, renewBeforeDays);
  assert.deepEqual(rc.replaced, [{ cluster: 'b', kind: 'server' }]);
  assert.deepEqual([rc.reused, rc.renewed.length, rc.issued.length], [7, 0, 0]);

  // Expired (day 400): renewed as well; a garbled earlier file is "replaced".
  const garbled = new Map(existingOf(first));
  garbled.set('a/server', { certPem: 'not a certificate', keyPem: 'x' });
  const expired = await issueLeaves([...reqs('a'), ...reqs('b')], ca, { ...opts, now: at(400), existing: garbled });
  const re = renewalReport(expired, renewBeforeDays);
  assert.deepEqual(re.replaced, [{ cluster: 'a', kind: 'server' }]);
  assert.equal(re.renewed.length, 7);
});

test('no certificates, no next renewal', () => {
  assert.deepEqual(renewalReport([], 30), { reused: 0, issued: [], renewed: [], replaced: [] });
});
