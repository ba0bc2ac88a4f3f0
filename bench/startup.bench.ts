/**
 * `npm run bench` (and `npm run bench:startup`): start-up time of the whole meshform process,
 * the median of N runs each of `node bin/meshform.js --help` and `validate examples/seed/mesh.yaml`,
 * next to a floor (`node -e 0`) measured in the same run and interleaved with them, so a busy
 * machine shifts all three alike; the ratio to the floor is the steadier figure. Goal: ≤ 0.2 s.
 * The seed needs its CA (examples/seed/ca/, git-ignored): made here when missing, as `npm run demo` does.
 * `STARTUP_RUNS=N` sets N (default 15).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/meshform.js');
const SEED = join(ROOT, 'examples/seed/mesh.yaml');
const RUNS = Math.max(3, Number(process.env.STARTUP_RUNS ?? 15));
const GOAL_MS = 200;

function timeOnce(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

if (!existsSync(join(ROOT, 'examples/seed/ca/ca.crt'))) {
  const r = spawnSync(process.execPath, [BIN, 'ca', 'init', '--spec', SEED], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('could not create the seed CA');
}

const cases: Array<{ name: string; args: string[] }> = [
  { name: 'node -e 0 (floor)', args: ['-e', '0'] },
  { name: 'meshform --help', args: [BIN, '--help'] },
  { name: 'meshform validate seed', args: [BIN, 'validate', SEED] },
];
const times = cases.map(() => [] as number[]);
for (const c of cases) timeOnce(c.args); // warm the file cache
for (let i = 0; i < RUNS; i++) cases.forEach((c, k) => times[k]!.push(timeOnce(c.args)));

const floor = median(times[0]!);
const mtime = (rel: string): number => (existsSync(join(ROOT, rel)) ? statSync(join(ROOT, rel)).mtimeMs : -1);
const bundled = mtime('dist/bundle/meshform.js') > 0 && mtime('dist/bundle/meshform.js') >= mtime('dist/src/cli/main.js');
console.log(`\nStart-up, median of ${RUNS} runs (whole process; goal ≤ ${GOAL_MS} ms); CLI: ${bundled ? 'bundled (dist/bundle)' : 'unbundled (dist/src; npm run build bundles it when esbuild is installed)'}`);
console.log(`${'command'.padEnd(26)} ${'median'.padStart(9)} ${'min'.padStart(9)}  ×floor  over floor`);
cases.forEach((c, k) => {
  const m = median(times[k]!);
  const min = Math.min(...times[k]!);
  const mark = k === 0 ? '' : m <= GOAL_MS ? '  ok' : '  over the goal';
  console.log(`${c.name.padEnd(26)} ${`${m.toFixed(0)} ms`.padStart(9)} ${`${min.toFixed(0)} ms`.padStart(9)}  ${(m / floor).toFixed(2).padStart(5)}  ${`${(m - floor).toFixed(0)} ms`.padStart(9)}${mark}`);
});
