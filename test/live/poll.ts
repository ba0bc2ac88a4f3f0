/**
 * Status polled in the background while a live change runs (a separate process, so the change's
 * own CLI process is not slowed by the test), and the longest time a link that was ready went
 * unready: what the membership and certificate lab tests report.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BIN } from '../cli/helpers.js';

export interface Sample {
  t: number;
  matrix: { cluster: string; peer: string; ready: number; total: number }[];
}

/** Runs `meshform status mesh.yaml -o json` in `dir` once a second (or as fast as it answers), appending to `log`. */
export function startStatusPoller(dir: string, log: string, env: Record<string, string>): { stop: () => void; samples: () => Sample[] } {
  const child = spawn(process.execPath, ['-e', `
    const { spawnSync } = require('node:child_process');
    const { appendFileSync } = require('node:fs');
    process.on('SIGTERM', () => process.exit(0));
    (function loop() {
      const t = Date.now();
      const r = spawnSync(process.execPath, [${JSON.stringify(BIN)}, 'status', 'mesh.yaml', '-o', 'json', '--exec-timeout', '10s'], { encoding: 'utf8', env: process.env });
      try { appendFileSync(${JSON.stringify(log)}, JSON.stringify({ t, matrix: JSON.parse(r.stdout).matrix }) + '\\n'); } catch {}
      setTimeout(loop, Math.max(0, 1000 - (Date.now() - t)));
    })();
  `], { cwd: dir, env: { ...process.env, ...env }, stdio: 'ignore' });
  return {
    stop: () => void child.kill('SIGTERM'),
    samples: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample) : []),
  };
}

/** The longest time one of `links` (cluster → peer) was seen not ready after it had been ready (0 when never). */
export function longestGap(samples: readonly Sample[], links: readonly (readonly [string, string])[]): { ms: number; link?: string; samples: number } {
  let worst: { ms: number; link?: string } = { ms: 0 };
  for (const [a, b] of links) {
    const ok = (s: Sample) => s.matrix.some((m) => m.cluster === a && m.peer === b && m.total > 0 && m.ready === m.total);
    let lastReady: number | undefined;
    let down = false;
    for (const s of samples) {
      if (ok(s)) {
        if (down && lastReady !== undefined && s.t - lastReady > worst.ms) worst = { ms: s.t - lastReady, link: `${a}→${b}` };
        lastReady = s.t;
        down = false;
      } else if (lastReady !== undefined) down = true;
    }
    if (down && lastReady !== undefined) {
      const end = samples[samples.length - 1]!.t;
      if (end - lastReady > worst.ms) worst = { ms: end - lastReady, link: `${a}→${b} (still down)` };
    }
  }
  return { ...worst, samples: samples.length };
}

/** Every ordered pair of distinct clusters. */
export const allLinks = (names: readonly string[]): [string, string][] => names.flatMap((a) => names.filter((b) => b !== a).map((b): [string, string] => [a, b]));
