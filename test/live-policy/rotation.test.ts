// Rotating the shared CA (issue 12 item 3): the phases as data, refusals before any change, and a
// full rotation through the CLI in-process on fake RKE2 clusters — interrupted in phase 2,
// named by status with the command that resumes it, resumed to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterPhase, phaseCa, remainingPhases, rotationProblems, ROTATION_PHASES } from '../../src/pki/rotation.js';
import { T0, makeCa } from '../pki/helpers.js';
import { world, type Rke2FakeCluster } from './world.js';

test('the phases as data: who signs, who is trusted, what is left after each; resumption and refusals', async () => {
  assert.deepEqual(ROTATION_PHASES.map((p) => [p.phase, p.signer, p.trusts.join('+')]), [['trust-new', 'old', 'old+new'], ['reissue', 'new', 'new+old'], ['drop-old', 'new', 'new']]);
  const old = await makeCa({ cn: 'Old' });
  const neu = await makeCa({ cn: 'New' });
  const cas = { old, new: neu, oldPath: '/ca/ca.crt', newPath: '/new/ca.crt' };
  const p1 = phaseCa(ROTATION_PHASES[0]!, cas);
  assert.deepEqual([p1.fingerprint256, p1.trust?.map((t) => t.fingerprint256)], [old.fingerprint256, [neu.fingerprint256]]);
  const p2 = phaseCa(ROTATION_PHASES[1]!, cas);
  assert.deepEqual([p2.fingerprint256, p2.trust?.map((t) => t.fingerprint256)], [neu.fingerprint256, [old.fingerprint256]]);
  const p3 = phaseCa(ROTATION_PHASES[2]!, cas);
  assert.deepEqual([p3.fingerprint256, p3.trust], [neu.fingerprint256, undefined]);
  let state = { from: old.fingerprint256, to: neu.fingerprint256, newCa: { cert: '/new/ca.crt', key: '/new/ca.key' }, done: [] as ('trust-new' | 'reissue' | 'drop-old')[], updatedAt: '' };
  assert.deepEqual(remainingPhases(undefined).map((p) => p.phase), ['trust-new', 'reissue', 'drop-old']);
  state = afterPhase(state, 'trust-new', T0);
  assert.deepEqual(remainingPhases(state).map((p) => p.phase), ['reissue', 'drop-old']);
  assert.deepEqual(rotationProblems(old, neu, state, { now: T0, validityDays: 365 }), []);
  assert.match(rotationProblems(old, old, undefined, { now: T0, validityDays: 365 })[0]!, /the new CA is the CA the spec already uses/);
  const short = await makeCa({ cn: 'Short', days: 100 });
  assert.match(rotationProblems(old, short, undefined, { now: T0, validityDays: 365 })[0]!, /the new CA expires on \d{4}-\d\d-\d\d, before certificates issued now \(365 days/);
  const other = await makeCa({ cn: 'Other' });
  assert.match(rotationProblems(old, other, state, { now: T0, validityDays: 365 }).join(), /a rotation to another CA .* is in progress/);
});

/** Every certificate PEM in what meshform wrote to a fake cluster (HelmChartConfig values and its values Secret). */
function caOfValues(c: Rke2FakeCluster): { ca: string[]; serverIssuer: string } {
  const hcc = c.peek('HelmChartConfig', 'rke2-cilium', 'kube-system');
  const texts = [(hcc?.['spec'] as { valuesContent?: string })?.valuesContent ?? ''];
  for (const o of c.objects.values()) if (o.kind === 'Secret' && o.metadata.name.startsWith('meshform-')) for (const v of Object.values((o['data'] as Record<string, string>) ?? {})) texts.push(Buffer.from(v, 'base64').toString('utf8'));
  const merged: Record<string, unknown> = {};
  for (const t of texts) Object.assign(merged, parse(t) ?? {});
  const all = texts.map((t) => (parse(t) ?? {}) as { tls?: { ca?: { cert?: string }; caBundle?: { content?: string } }; clustermesh?: { apiserver?: { tls?: { server?: { cert?: string } } } } });
  const bundle = all.map((v) => v.tls?.caBundle?.content).find(Boolean);
  const caCert = all.map((v) => v.tls?.ca?.cert).find(Boolean);
  const server = all.map((v) => v.clustermesh?.apiserver?.tls?.server?.cert).find(Boolean);
  const pems = (b64?: string) => (b64 ? (Buffer.from(b64, 'base64').toString('utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).subject) : []);
  const bundleSubjects = bundle ? (bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).subject) : [];
  return { ca: [...pems(caCert), ...bundleSubjects.map((s) => `bundle:${s}`)], serverIssuer: server ? new X509Certificate(Buffer.from(server, 'base64').toString('utf8')).issuer : '' };
}

test('ca rotate through the CLI: refused while a cluster is unreachable; interrupted in phase 2, named by status, resumed to the end', async () => {
  const w = await world();
  const apply = () => w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  assert.equal((await apply()).code, 0);
  assert.equal((await w.run('ca', 'init', 'newca', '--cn', 'New CA')).code, 0);
  const before = caOfValues(w.clusters.get('mesh01')!);
  assert.deepEqual(before, { ca: ['CN=Cilium CA'], serverIssuer: 'CN=Cilium CA' });

  const m2 = w.clusters.get('mesh02')!;
  m2.fail = (call) => (call.op === 'get' ? new Error('connect ECONNREFUSED 127.2.0.11:6443') : undefined);
  const down = await w.run('ca', 'rotate', w.specFile, '--new-ca', 'newca', '--out', 'out');
  assert.equal(down.code, 3, down.stdout + down.stderr);
  assert.match(down.stderr, /error CA_ROTATION_REFUSED at ca: cluster\(s\) mesh02 cannot be reached: a rotation needs every cluster/);
  assert.match(down.stderr, /nothing was changed/);
  m2.fail = () => undefined;
  assert.deepEqual(caOfValues(w.clusters.get('mesh01')!), before);

  const dry = await w.run('ca', 'rotate', w.specFile, '--new-ca', 'newca', '--out', 'out', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /phase 1\/3 trust-new: every cluster trusts the old and the new CA/);
  assert.match(dry.stdout, /would run: trust-new, reissue, drop-old/);

  // mesh02 refuses its third HelmChartConfig write (phase 2).
  const seen: { ca: string[]; serverIssuer: string }[] = [];
  let hccWrites = 0;
  const origApply = m2.apply.bind(m2);
  m2.apply = async (obj, o = {}) => {
    if (!o.dryRun && obj.kind === 'HelmChartConfig' && ++hccWrites === 2) throw new Error('the server is currently unable to handle the request');
    const r = await origApply(obj, o);
    if (!o.dryRun && obj.kind === 'HelmChartConfig') seen.push(caOfValues(m2));
    return r;
  };
  const stopped = await w.run('ca', 'rotate', w.specFile, '--new-ca', 'newca', '--out', 'out');
  assert.equal(stopped.code, 3, stopped.stdout + stopped.stderr);
  assert.match(stopped.stdout, /Rotation stopped in phase 2\/3 \(reissue\): mesh02 failed\. Fix it, then resume: meshform ca rotate .*mesh\.yaml --new-ca newca --out out/);
  assert.deepEqual(seen[0], { ca: ['CN=Cilium CA', 'bundle:CN=Cilium CA', 'bundle:CN=New CA'], serverIssuer: 'CN=Cilium CA' }, 'phase 1: both trusted, old leaves');
  const st = await w.run('status', w.specFile);
  assert.match(st.stderr, /warning CA_ROTATION_IN_PROGRESS at ca: a CA rotation is in progress: 1 of 3 phases done \(trust-new\), next: reissue/);
  assert.match(st.stderr, /fix: +resume it: meshform ca rotate .*mesh\.yaml --new-ca .*newca --out out/);

  const resumed = await w.run('ca', 'rotate', w.specFile, '--new-ca', 'newca', '--out', 'out');
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /phase 1\/3 trust-new: every cluster trusts the old and the new CA\n/, 'phase 1 is not run again');
  assert.deepEqual(seen[1], { ca: ['CN=New CA', 'bundle:CN=New CA', 'bundle:CN=Cilium CA'], serverIssuer: 'CN=New CA' }, 'phase 2: new leaves, both trusted');
  assert.deepEqual(seen[2], { ca: ['CN=New CA'], serverIssuer: 'CN=New CA' }, 'phase 3: only the new CA');
  assert.deepEqual(caOfValues(w.clusters.get('mesh01')!), seen[2]);
  assert.match(resumed.stdout, /CA rotated: every cluster trusts and uses only/);
  // The spec's CA files hold the new CA; the old one is kept aside; no record left.
  assert.equal(new X509Certificate(readFileSync(join(w.dir, 'ca/ca.crt'))).subject, 'CN=New CA');
  const retired = readdirSync(join(w.dir, 'ca')).filter((n) => n.startsWith('retired-'));
  assert.equal(retired.length, 1);
  assert.equal(new X509Certificate(readFileSync(join(w.dir, 'ca', retired[0]!, 'ca.crt'))).subject, 'CN=Cilium CA');
  assert.equal(existsSync(join(w.dir, 'ca/rotation.json')), false);
  // A plain render afterwards changes nothing; the mesh is ready.
  const again = await apply();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /mesh01: unchanged/);
  assert.match(again.stdout, /mesh02: unchanged/);
  assert.equal((await w.run('status', w.specFile)).code, 0);
});

test('adoption as data: keep first, then the shared CA signs while the clusters\' CAs stay trusted, then only the shared CA; refusals', async () => {
  const { ADOPTION_PHASES, adoptionPhaseCa, adoptionProblems, phaseMethod } = await import('../../src/pki/rotation.js');
  assert.deepEqual(ADOPTION_PHASES.map((p) => [p.phase, phaseMethod(p), p.trusts.join('+')]), [['trust-new', 'keep', 'new+old'], ['reissue', 'provided', 'new+old'], ['drop-old', 'provided', 'new']]);
  const shared = await makeCa({ cn: 'Shared' });
  const own = await Promise.all(['A', 'B'].map(async (n) => {
    const c = await makeCa({ cn: `Own ${n}` });
    return { path: `/t/${n}.crt`, certPem: c.certPem, subject: c.subject, fingerprint256: c.fingerprint256, notBefore: c.notBefore, notAfter: c.notAfter };
  }));
  assert.deepEqual(ADOPTION_PHASES.map((p) => [adoptionPhaseCa(p, shared, own).fingerprint256, adoptionPhaseCa(p, shared, own).trust?.length ?? 0]), [[shared.fingerprint256, 2], [shared.fingerprint256, 2], [shared.fingerprint256, 0]]);
  assert.deepEqual(adoptionProblems(shared, own, undefined, { now: T0, validityDays: 365 }), []);
  assert.match(adoptionProblems(shared, [], undefined, { now: T0, validityDays: 365 })[0]!, /ca\.trust lists no CA of the clusters/);
  const short = await makeCa({ cn: 'Short', days: 100 });
  assert.match(adoptionProblems(short, own, undefined, { now: T0, validityDays: 365 })[0]!, /the shared CA expires on/);
  const other = { from: 'x', to: 'AA:BB', newCa: { cert: '/n/ca.crt', key: '/n/ca.key' }, done: [], updatedAt: '' };
  assert.match(adoptionProblems(shared, own, other, { now: T0, validityDays: 365 }).join(), /a rotation to another CA .* is in progress/);
});

test('adopting two clusters with their own CAs through the CLI: apply keeps their certificates and trusts all CAs; ca rotate converges onto the shared CA and rewrites the spec (comments kept)', async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const { parseDocument } = await import('yaml');
  const w = await world();
  const [a, b] = await Promise.all(['A', 'B'].map((n) => makeCa({ cn: `Own CA ${n}` })));
  mkdirSync(join(w.dir, 'ca-trust'));
  writeFileSync(join(w.dir, 'ca-trust/mesh01.crt'), a!.certPem);
  writeFileSync(join(w.dir, 'ca-trust/mesh02.crt'), b!.certPem);
  const doc = parseDocument(readFileSync(w.specFile, 'utf8'));
  doc.setIn(['certificates'], doc.createNode({ method: 'keep' }));
  doc.setIn(['ca', 'trust'], doc.createNode(['ca-trust/mesh01.crt', 'ca-trust/mesh02.crt']));
  doc.commentBefore = ' adopted from clusters with their own CAs';
  writeFileSync(w.specFile, doc.toString());

  const apply = () => w.run('apply', w.specFile, '--out', 'out', '--no-progress');
  const first = await apply();
  assert.equal(first.code, 0, first.stdout + first.stderr);
  // Method keep: no CA and no certificate in the values (the clusters keep theirs); all three CAs trusted.
  assert.deepEqual(caOfValues(w.clusters.get('mesh01')!), { ca: ['bundle:CN=Cilium CA', 'bundle:CN=Own CA A', 'bundle:CN=Own CA B'], serverIssuer: '' });
  assert.equal(existsSync(join(w.dir, 'out/secrets')), false, 'nothing secret is rendered under keep');

  const wrong = await w.run('ca', 'rotate', w.specFile, '--new-ca', 'ca-trust', '--out', 'out');
  assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stderr, /converges onto its ca:/);
  const dry = await w.run('ca', 'rotate', w.specFile, '--out', 'out', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /Adoption: 2 cluster CA\(s\)/);
  assert.match(dry.stderr, /phase 1\/3 trust-new: every cluster keeps its own CA and certificates/);

  const seen: { ca: string[]; serverIssuer: string }[] = [];
  const m2 = w.clusters.get('mesh02')!;
  const origApply = m2.apply.bind(m2);
  m2.apply = async (obj, o = {}) => {
    const r = await origApply(obj, o);
    if (!o.dryRun && obj.kind === 'HelmChartConfig') seen.push(caOfValues(m2));
    return r;
  };
  const done = await w.run('ca', 'rotate', w.specFile, '--out', 'out');
  assert.equal(done.code, 0, done.stdout + done.stderr);
  assert.match(done.stdout, /Mesh converged: every cluster trusts and uses only the shared CA/);
  // Phase 1 is what apply already wrote (method keep), then phases 2 and 3.
  assert.deepEqual(seen, [
    { ca: ['bundle:CN=Cilium CA', 'bundle:CN=Own CA A', 'bundle:CN=Own CA B'], serverIssuer: '' },
    { ca: ['CN=Cilium CA', 'bundle:CN=Cilium CA', 'bundle:CN=Own CA A', 'bundle:CN=Own CA B'], serverIssuer: 'CN=Cilium CA' },
    { ca: ['CN=Cilium CA'], serverIssuer: 'CN=Cilium CA' },
  ]);
  const after = readFileSync(w.specFile, 'utf8');
  assert.match(after, /^# adopted from clusters with their own CAs/);
  const spec = parse(after) as { certificates: { method: string }; ca: Record<string, unknown> };
  assert.equal(spec.certificates.method, 'provided');
  assert.equal(spec.ca['trust'], undefined);
  assert.equal(existsSync(join(w.dir, 'ca/rotation.json')), false);
  const again = await apply();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /mesh01: unchanged/);
  assert.match(again.stdout, /mesh02: unchanged/);
});
