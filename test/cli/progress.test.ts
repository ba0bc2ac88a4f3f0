import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMesh, type ApplyEvent, type ApplyOptions, type ApplyResult } from '../../src/apply/apply.js';
import type { KubeObject } from '../../src/kube/client.js';
import { clusterError } from '../../src/kube/errors.js';
import {
  describeEvent,
  errTerminalOf,
  formatElapsed,
  formatEventLine,
  progressMode,
  scrub,
  startApplyProgress,
  type ApplyProgressOptions,
} from '../../src/cli/progress.js';
import type { Io } from '../../src/cli/io.js';
import { FakeClusterClient } from '../kube/fake-client.js';
import { NS, helmChart, hcc, releaseSecret, rendered } from '../apply/fixtures.js';

// ---- a fake terminal: records what listr2's default renderer writes, and reads it back as screens

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
// listr2 draws ASCII icons where the terminal has no Unicode; read both the same.
const ICONS: Record<string, string> = { '√': '✔', '×': '✖', '>': '❯', '■': '◼' };

interface FakeTerminal {
  stream: NodeJS.WriteStream;
  held: NodeJS.WriteStream;
  chunks: string[];
  heldChunks: string[];
  /** Every frame drawn from chunk `from` on, as its rows (a row wrapped by the renderer is joined back). */
  frames(from?: number): string[][];
}

function fakeTerminal(): FakeTerminal {
  const chunks: string[] = [];
  const heldChunks: string[] = [];
  const stream = { isTTY: true, columns: 200, rows: 50, write: (c: unknown) => (chunks.push(String(c)), true) };
  const held = { write: (c: unknown) => (heldChunks.push(String(c)), true) };
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    held: held as unknown as NodeJS.WriteStream,
    chunks,
    heldChunks,
    frames: (from = 0) =>
      chunks
        .slice(from)
        .map((c) => c.replace(ANSI, ''))
        .filter((c) => c.trim() !== '')
        .map((c) =>
          c.split('\n').reduce<string[]>((rows, line) => {
            if (line.trim() === '') return rows;
            if (line.startsWith('  ') && rows.length) rows[rows.length - 1] += ` ${line.trim()}`;
            else rows.push(line.replace(/^\S/, (i) => ICONS[i] ?? i));
            return rows;
          }, []),
        ),
  };
}

function liveOptions(term: FakeTerminal, clusters: string[], now: () => number): ApplyProgressOptions {
  return { clusters, mode: 'live', now, writeLine: () => assert.fail('live mode writes no lines'), terminal: term.stream, heldStream: term.held, refreshMs: 0, spinner: false };
}

// ---- the apply fixtures of test/apply
const ds = (gen: number, available: number): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'cilium', namespace: NS, generation: gen },
  status: { observedGeneration: gen, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: available },
});
const cluster = (name: string) => new FakeClusterClient(name, [helmChart, hcc('kubeProxyReplacement: true\n'), releaseSecret(1, {}), ds(1, 2)]);

/** A clock that moves only when the apply sleeps; the sleeps also play RKE2's helm-controller for `c`. */
function scriptedTime(c: FakeClusterClient): { now: () => number; sleep: NonNullable<ApplyOptions['sleep']> } {
  let t = 0;
  let step = 0;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
      if (!c.calls.some((x) => x.op === 'apply' && x.kind === 'HelmChartConfig')) return;
      step++;
      if (step === 1) {
        c.put(releaseSecret(2, { mesh: true }));
        c.put(ds(2, 1));
      } else if (step === 3) c.put(ds(2, 2));
    },
  };
}

// ---- mode selection

test('progressMode: live only on a terminal, without --no-progress, outside CI', () => {
  assert.equal(progressMode({ terminal: true, env: {} }), 'live');
  assert.equal(progressMode({ terminal: false, env: {} }), 'lines');
  assert.equal(progressMode({ terminal: true, progress: false, env: {} }), 'lines');
  assert.equal(progressMode({ terminal: true, progress: true, env: {} }), 'live');
  assert.equal(progressMode({ terminal: true, env: { CI: 'true' } }), 'lines');
  assert.equal(progressMode({ terminal: true, env: { CI: '1' } }), 'lines');
  assert.equal(progressMode({ terminal: true, env: { CI: 'false' } }), 'live');
  assert.equal(progressMode({ terminal: true, env: { CI: '' } }), 'live');
  assert.equal(progressMode({ terminal: true, env: { TERM: 'dumb' } }), 'lines');
});

test('errTerminalOf: a test Io has no terminal; an Io that names one gets it', () => {
  const io: Io = { out: () => {}, err: () => {}, now: () => new Date(0), cwd: '/', env: {} };
  assert.equal(errTerminalOf(io), undefined);
  const term = fakeTerminal().stream;
  assert.equal(errTerminalOf({ ...io, errTerminal: term }), term);
  assert.equal(errTerminalOf({ ...io, env: process.env, errTerminal: undefined }), undefined, 'an Io that says "no terminal" is believed');
});

// ---- what rows and lines say

test('describeEvent: each step of an apply as a row says it', () => {
  const e = (phase: ApplyEvent['phase'], message: string, step?: ApplyEvent['step'], object?: string): ApplyEvent => ({ cluster: 'mesh01', phase, message, step, object });
  assert.equal(describeEvent(e('preflight', 'checking', 'preflight')), 'preflight: live checks');
  assert.equal(describeEvent(e('diff', 'reading live objects', 'diff')), 'diff: reading live objects');
  assert.equal(describeEvent(e('apply', 'server-side apply Secret a', 'write-secret', 'Secret a')), 'writing Secret a');
  assert.equal(describeEvent(e('apply', 'server-side apply HelmChartConfig rke2-cilium', 'apply-object', 'HelmChartConfig rke2-cilium')), 'applying HelmChartConfig rke2-cilium (server-side apply)');
  assert.equal(describeEvent(e('apply', 'helm upgrade rke2-cilium', 'helm-upgrade', 'release rke2-cilium')), 'helm upgrade rke2-cilium');
  assert.equal(describeEvent(e('wait', 'waiting…', 'helm-controller', 'release rke2-cilium')), "waiting for RKE2's helm-controller to install a new revision");
  assert.equal(describeEvent(e('wait', 'DaemonSet cilium', 'rollout', 'DaemonSet cilium')), 'DaemonSet cilium rollout');
  assert.equal(describeEvent(e('wait', '1 of 3 updated pods are available', 'rollout', 'DaemonSet cilium')), 'DaemonSet cilium rollout 1/3 updated pods are available');
  assert.equal(describeEvent(e('wait', 'progress deadline exceeded', 'rollout', 'Deployment clustermesh-apiserver')), 'Deployment clustermesh-apiserver rollout progress deadline exceeded');
  assert.equal(describeEvent(e('done', 'no change', 'unchanged')), 'unchanged');
  assert.equal(describeEvent(e('done', 'changed HelmChartConfig rke2-cilium', 'changed')), 'changed HelmChartConfig rke2-cilium');
  assert.equal(describeEvent(e('failed', 'cluster mesh01: cannot reach the API\nmore', 'failed')), 'failed: cannot reach the API');
  assert.equal(describeEvent(e('wait', 'something new')), 'wait: something new', 'an event without a step shows phase and message');
});

test('formatElapsed and formatEventLine', () => {
  assert.equal(formatElapsed(0), '0s');
  assert.equal(formatElapsed(59_999), '59s');
  assert.equal(formatElapsed(65_000), '1m05s');
  assert.equal(formatEventLine({ cluster: 'mesh01', phase: 'wait', message: 'DaemonSet cilium' }, 1234), '[  1.2s] mesh01: wait: DaemonSet cilium');
});

test('scrub removes private keys, also cut-off ones, and leaves certificates', () => {
  const key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----';
  const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  assert.equal(scrub(`bad: ${key} and ${cert}`), `bad: [redacted private key] and ${cert}`);
  assert.equal(scrub('echo: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN'), 'echo: [redacted private key]');
});

// ---- mode lines: today's plain, timestamped lines

test('lines mode: one timestamped line per event, from the injected clock', async () => {
  let t = 0;
  const lines: string[] = [];
  const p = startApplyProgress({ clusters: ['mesh01', 'mesh02'], mode: 'lines', now: () => t, writeLine: (l) => lines.push(l) });
  await p.drawn;
  p.onEvent({ cluster: 'mesh01', phase: 'preflight', message: 'checking', step: 'preflight' });
  t = 1_250;
  p.onEvent({ cluster: 'mesh02', phase: 'failed', message: 'cluster mesh02: apply failed: -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', step: 'failed' });
  t = 61_000;
  p.onEvent({ cluster: 'mesh01', phase: 'done', message: 'no change', step: 'unchanged' });
  await p.close();
  assert.deepEqual(lines, [
    '[  0.0s] mesh01: preflight: checking',
    '[  1.3s] mesh02: failed: cluster mesh02: apply failed: [redacted private key]',
    '[ 61.0s] mesh01: done: no change',
  ]);
});

test('lines mode renders a real apply: every line, no secret', async () => {
  const a = cluster('mesh01');
  const time = scriptedTime(a);
  const lines: string[] = [];
  const p = startApplyProgress({ clusters: ['mesh01'], mode: 'lines', now: time.now, writeLine: (l) => lines.push(l) });
  const r = await applyMesh([{ name: 'mesh01', client: a, objects: rendered('mesh01') }], { ...time, pollMs: 2000, timeoutMs: 60_000, onEvent: (e) => p.onEvent(e) });
  await p.close(r);
  assert.deepEqual(lines, [
    '[  0.0s] mesh01: preflight: checking',
    '[  0.0s] mesh01: diff: reading live objects',
    '[  0.0s] mesh01: apply: server-side dry run',
    '[  0.0s] mesh01: apply: server-side apply Secret clustermesh-apiserver-local-cert',
    '[  0.0s] mesh01: apply: server-side apply HelmChartConfig rke2-cilium',
    "[  0.0s] mesh01: wait: waiting for RKE2's helm-controller to upgrade the release",
    '[  2.0s] mesh01: wait: DaemonSet cilium',
    '[  2.0s] mesh01: wait: 1 of 2 updated pods are available',
    '[  6.0s] mesh01: wait: 2 of 2 pods available',
    '[  6.0s] mesh01: wait: Deployment clustermesh-apiserver',
    '[  6.0s] mesh01: wait: Deployment clustermesh-apiserver does not exist',
    '[  6.0s] mesh01: done: changed Secret clustermesh-apiserver-local-cert, HelmChartConfig rke2-cilium',
  ]);
});

// ---- mode live: listr2's default renderer on a fake terminal

test('live mode: a row per cluster, updated in place while the clusters run in parallel; failure isolated; no secret', async () => {
  const a = cluster('mesh01');
  const b = cluster('mesh02');
  b.fail = (call) =>
    call.op === 'apply'
      ? clusterError({ cluster: 'mesh02', code: 'KUBE_API', message: 'Secret "x" is invalid: -----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL', rule: 'r', fix: 'f' })
      : undefined;
  const time = scriptedTime(a);
  const term = fakeTerminal();
  const p = startApplyProgress(liveOptions(term, ['mesh01', 'mesh02'], time.now));
  await p.drawn;
  // While listr2 starts, rows appear one by one; from here on every frame has all of them.
  const drawnAt = term.chunks.length;
  const targets = [{ name: 'mesh01', client: a, objects: rendered('mesh01') }, { name: 'mesh02', client: b, objects: rendered('mesh02') }];
  let result: ApplyResult | undefined;
  try {
    result = await applyMesh(targets, { ...time, pollMs: 2000, timeoutMs: 60_000, onEvent: (e) => p.onEvent(e) });
  } finally {
    await p.close(result);
  }
  // The view changes nothing about the apply: mesh02 fails alone.
  assert.deepEqual(result.changed, ['mesh01']);
  assert.deepEqual(result.failed, ['mesh02']);

  const frames = term.frames(drawnAt);
  assert.ok(frames.length > 5, `frames are redrawn in place: ${frames.length}`);
  for (const f of frames) {
    assert.equal(f.length, 2, `one row per cluster in every frame:\n${f.join('\n')}`);
    assert.match(f[0] ?? '', /^. mesh01 /);
    assert.match(f[1] ?? '', /^. mesh02 /);
  }
  const seen = (re: RegExp) => assert.ok(frames.some((f) => re.test(f[0] ?? '')), `some frame shows ${re}:\n${frames.map((f) => f[0]).join('\n')}`);
  seen(/^❯ mesh01 +0s {2}writing Secret clustermesh-apiserver-local-cert$/);
  seen(/^❯ mesh01 +0s {2}applying HelmChartConfig rke2-cilium \(server-side apply\)$/);
  seen(/^❯ mesh01 +0s {2}waiting for RKE2's helm-controller to install a new revision$/);
  seen(/^❯ mesh01 +2s {2}DaemonSet cilium rollout 1\/2 updated pods are available$/);
  seen(/^❯ mesh01 +6s {2}Deployment clustermesh-apiserver rollout$/);
  // mesh02 fails while mesh01 is still rolling out: both states in one frame.
  assert.ok(frames.some((f) => /^✖ mesh02 .*failed/.test(f[1] ?? '') && /^❯ mesh01/.test(f[0] ?? '')), 'the failed row shows while the other runs');

  assert.deepEqual(frames.at(-1), [
    '✔ mesh01     6s  changed Secret clustermesh-apiserver-local-cert, HelmChartConfig rke2-cilium',
    '✖ mesh02     0s  failed: Secret "x" is invalid: [redacted private key]',
  ]);
  const all = term.chunks.join('') + term.heldChunks.join('');
  assert.ok(!all.includes('SECRETKEYMATERIAL') && !all.includes('BEGIN PRIVATE KEY'), 'no private key reaches the terminal');
});

test('live mode: rows nobody finished take their outcome from the result; without one they stop', async () => {
  const term = fakeTerminal();
  let t = 0;
  const p = startApplyProgress(liveOptions(term, ['a', 'bb', 'ccc'], () => t));
  await p.drawn;
  p.onEvent({ cluster: 'a', phase: 'preflight', message: 'checking', step: 'preflight' });
  p.onEvent({ cluster: 'bb', phase: 'preflight', message: 'checking', step: 'preflight' });
  p.onEvent({ cluster: 'unknown', phase: 'preflight', message: 'checking', step: 'preflight' });
  t = 3_000;
  const result: ApplyResult = {
    clusters: [
      { cluster: 'a', outcome: 'would-change', objects: [], diffText: '', warnings: [], findings: [], steps: [] },
      { cluster: 'bb', outcome: 'failed', objects: [], diffText: '', warnings: [], findings: [], steps: [], error: clusterError({ cluster: 'bb', code: 'KUBE_API', message: 'boom', rule: 'r', fix: 'f' }) },
    ],
    changed: ['a'],
    unchanged: [],
    failed: ['bb'],
  };
  await p.close(result);
  assert.deepEqual(term.frames().at(-1), ['✔ a       3s  would change', '✖ bb      3s  failed: boom', '✖ ccc     0s  stopped']);
});

test('live mode: elapsed times of running rows tick without events', async () => {
  const term = fakeTerminal();
  let t = 0;
  const p = startApplyProgress({ ...liveOptions(term, ['mesh01'], () => t), refreshMs: 5 });
  await p.drawn;
  p.onEvent({ cluster: 'mesh01', phase: 'wait', message: 'DaemonSet cilium', step: 'rollout', object: 'DaemonSet cilium' });
  t = 42_000;
  for (let i = 0; i < 400 && !term.frames().some((f) => /42s/.test(f[0] ?? '')); i++) await new Promise((r) => setTimeout(r, 5));
  await p.close({ clusters: [{ cluster: 'mesh01', outcome: 'unchanged', objects: [], diffText: '', warnings: [], findings: [], steps: [] }], changed: [], unchanged: ['mesh01'], failed: [] });
  assert.ok(term.frames().some((f) => f[0] === '❯ mesh01    42s  DaemonSet cilium rollout'), 'the row was redrawn with the new elapsed time');
});

test('live mode holds back writes to the other stream until the rows are done', async () => {
  const term = fakeTerminal();
  const p = startApplyProgress(liveOptions(term, ['mesh01'], () => 0));
  await p.drawn;
  term.held.write('summary line\n');
  assert.deepEqual(term.heldChunks, [], 'nothing passes while rows are drawn');
  await p.close({ clusters: [{ cluster: 'mesh01', outcome: 'unchanged', objects: [], diffText: '', warnings: [], findings: [], steps: [] }], changed: [], unchanged: ['mesh01'], failed: [] });
  assert.deepEqual(term.heldChunks, ['summary line\n']);
  term.held.write('after\n');
  assert.deepEqual(term.heldChunks.at(-1), 'after\n', 'the stream is given back');
});

test('live mode with waves: a wave column; queued rows of the next wave show the gate they wait for', async () => {
  const term = fakeTerminal();
  let t = 0;
  const waves = new Map([['mesh01', 1], ['mesh02', 2], ['mesh03', 2], ['mesh04', 3]]);
  const p = startApplyProgress({ ...liveOptions(term, ['mesh01', 'mesh02', 'mesh03', 'mesh04'], () => t), waves });
  await p.drawn;
  p.onEvent({ cluster: 'mesh01', phase: 'preflight', message: 'checking', step: 'preflight' });
  t = 2_000;
  p.onEvent({ cluster: 'mesh01', phase: 'done', message: 'changed HelmChartConfig rke2-cilium', step: 'changed' });
  p.onGate(1, 1, 2);
  for (let i = 0; i < 400 && !term.frames().some((f) => /gate of wave 1/.test(f[1] ?? '') && /^✔/.test(f[0] ?? '')); i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(term.frames().at(-1), [
    '✔ mesh01  w1     2s  changed HelmChartConfig rke2-cilium',
    '❯ mesh02  w2         queued: gate of wave 1: 1/2 links ready',
    '❯ mesh03  w2         queued: gate of wave 1: 1/2 links ready',
    '❯ mesh04  w3         queued: wave 3 starts once the links of wave 2 are ready',
  ].map((l) => l.replace(/^❯/, term.frames().at(-1)![1]!.slice(0, 1))), 'rows of later waves wait with their wave named');
  await p.close({ clusters: [], changed: [], unchanged: [], failed: [] });
});
