/**
 * The agent script of `status` in a real POSIX shell, against stand-in `cilium-dbg`, `cilium` and
 * `cilium-health` commands: what the fake client emulates and the lab runs through kwok.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentScript, parseAgentScript } from '../../src/status/status.js';

/** Runs the script with PATH = stand-ins + the shell's own utilities. */
function runScript(commands: Record<string, string>, health = true) {
  const bin = mkdtempSync(join(tmpdir(), 'meshform-agent-'));
  for (const [name, body] of Object.entries(commands)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const r = spawnSync('/bin/sh', ['-c', agentScript(health)], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
  return parseAgentScript({ stdout: r.stdout, stderr: r.stderr, exitCode: r.status ?? undefined });
}

test('both commands in one run: each section has its own stdout, stderr and exit code', () => {
  const s = runScript({
    'cilium-dbg': `printf '{"cluster-mesh":{"clusters":[]}}'; echo 'level=warning msg=slow' >&2`,
    'cilium-health': `echo '{"nodes":[]}'; echo 'health: partial' >&2; exit 3`,
  });
  assert.deepEqual([...s.keys()], ['status cilium-dbg', 'health']);
  assert.deepEqual(s.get('status cilium-dbg'), { stdout: '{"cluster-mesh":{"clusters":[]}}', stderr: 'level=warning msg=slow', exitCode: 0 });
  assert.deepEqual(s.get('health'), { stdout: '{"nodes":[]}', stderr: 'health: partial', exitCode: 3 });
});

test('Cilium before 1.15: `cilium` answers when there is no cilium-dbg; without health only status runs', () => {
  const s = runScript({ cilium: `echo '{}'` }, false);
  assert.deepEqual([...s.keys()], ['status cilium']);
  assert.equal(s.get('status cilium')?.exitCode, 0);
});

test('no agent CLI at all: the status section fails with the shell\'s not-found code', () => {
  const s = runScript({});
  assert.equal(s.get('status cilium-dbg')?.exitCode, 127);
  assert.match(s.get('status cilium-dbg')?.stderr ?? '', /not found/);
  assert.equal(s.get('health')?.exitCode, 127);
});
