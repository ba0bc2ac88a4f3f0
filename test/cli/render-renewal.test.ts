/**
 * `render` says when a re-render will renew the certificates, and which; a render inside the
 * renewal window (certificates.renewBeforeDays, default 30) re-issues them. Through the built CLI,
 * with the clock pinned by MESHFORM_NOW.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exampleCopy, meshform, NOW } from './helpers.js';

const DAY = 86_400_000;
const at = (days: number) => new Date(Date.parse(NOW) + days * DAY).toISOString();
const day = (days: number) => at(days).slice(0, 10);

test('render names the next renewal, keeps certificates until then, and renews them inside the window', async () => {
  const dir = await exampleCopy('seed');
  assert.equal(meshform(['ca', 'init', '--spec', 'mesh.yaml'], { cwd: dir }).code, 0);

  const first = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  // Cilium 1.15: 1095-day certificates (the chart's default), renewed 30 days before they expire.
  assert.match(first.stdout, /^Certificates: 6 \(0 reused, 6 new, 0 renewed, 0 replaced\)$/m);
  assert.match(
    first.stdout,
    new RegExp(`^  next renewal: a render on or after ${day(1065)} re-issues 6 certificates \\(mesh01: server, admin, remote; mesh02: server, admin, remote\\), 30 days before they expire on ${day(1095)}$`, 'm'),
  );

  // The day before the window opens: nothing renewed, nothing written.
  const before = meshform(['render', 'mesh.yaml', '--out', 'out', '-o', 'json'], { cwd: dir, env: { MESHFORM_NOW: at(1064) } });
  assert.equal(before.code, 0, before.stderr);
  const b = JSON.parse(before.stdout) as { files: { written: string[] }; certificates: { reused: number; renewed: unknown[]; next: { renewFrom: string } } };
  assert.deepEqual([b.certificates.reused, b.certificates.renewed.length, b.files.written], [6, 0, []]);
  assert.equal(b.certificates.next.renewFrom.slice(0, 10), day(1065));

  // Inside the window: every certificate is re-issued, and the next renewal moves on.
  const inside = meshform(['render', 'mesh.yaml', '--out', 'out'], { cwd: dir, env: { MESHFORM_NOW: at(1070) } });
  assert.equal(inside.code, 0, inside.stderr);
  assert.match(inside.stdout, /^Certificates: 6 \(0 reused, 0 new, 6 renewed, 0 replaced\)$/m);
  assert.match(inside.stdout, new RegExp(`^  renewed now \\(within 30 days of expiry, the first on ${day(1095)}\\): mesh01: server, admin, remote; mesh02: server, admin, remote$`, 'm'));
  assert.match(inside.stdout, new RegExp(`next renewal: a render on or after ${day(1070 + 1065)} `));
  const json = meshform(['render', 'mesh.yaml', '--out', 'out', '-o', 'json'], { cwd: dir, env: { MESHFORM_NOW: at(1071) } });
  const j = JSON.parse(json.stdout) as { files: { written: string[] }; certificates: { reused: number } };
  assert.deepEqual([j.certificates.reused, j.files.written], [6, []], 'the renewed certificates are kept by the next render');
});
