import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../../src/errors.js';
import { findingsReport, formatFindingsTable } from '../../src/validate/report.js';

const findings: Finding[] = [
  { code: 'POD_CIDR_OVERLAP', severity: 'error', path: 'clusters[1].podCIDR', value: '10.244.0.0/17', message: "pod CIDR 10.244.0.0/17 of mesh02 overlaps mesh01's pod CIDR 10.244.0.0/16 (clusters[0].podCIDR)", rule: 'r', fix: 'give mesh02 a pod CIDR that no other cluster uses' },
  { code: 'ENDPOINT_SINGLE_IP', severity: 'warning', path: 'clusters[0].endpoint.ips', value: '192.0.2.1', message: 'one IP', rule: 'r', fix: 'list two' },
];

test('table: every line fits 100 columns, shows severity, code, path, message and fix', () => {
  const t = formatFindingsTable(findings);
  for (const line of t.split('\n')) assert.ok(line.length <= 100, line);
  assert.match(t, /^SEVERITY +CODE +PATH +MESSAGE/);
  assert.match(t, /^error +POD_CIDR_OVERLAP +clusters\[1\]\.podCIDR +pod CIDR/m);
  assert.match(t, /^warning +ENDPOINT_SINGLE_IP/m);
  assert.match(t, /fix: give mesh02/);
  assert.match(t, /1 error, 1 warning\n$/);
  assert.equal(formatFindingsTable([]), 'no problems found\n');
});

test('JSON report counts errors and warnings', () => {
  assert.deepEqual(findingsReport(findings), { ok: false, errors: 1, warnings: 1, findings });
  assert.deepEqual(findingsReport([findings[1]!]).ok, true);
});
