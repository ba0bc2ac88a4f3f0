/**
 * `npm run bench:cli` (part of `npm run bench`): what a user waits for. For generated meshes of
 * N = 2 … 511 clusters (files on disk: mesh.yaml, one values file per cluster, a CA from
 * `meshform ca init`), each figure is the whole `meshform` process, started fresh:
 *   validate  `meshform validate mesh.yaml`
 *   cold      `meshform render mesh.yaml --out out` into a new folder (every certificate issued)
 *   warm      the same again (nothing changed: certificates reused, nothing written)
 *   change    a render after one spec change that touches every cluster's values (a new set swapped in)
 * next to a floor measured in the same run: a plain Node process that writes the same files
 * (temporary file, chmod, rename; no checks, no fsync), counted as that loop plus Node's own start-up
 * (`node -e 0`, also measured here), so the ratios compare whole processes. Medians of RUNS runs; peak RSS from the
 * process itself (`process.resourceUsage().maxRSS`, reported through a preloaded probe). Before
 * every timed process the file system is flushed (untimed), so none pays for another's dirty data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { meshYaml, writeMeshFiles } from './mesh-files.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/meshform.js');
const SIZES = (process.env.MESHFORM_BENCH_SIZES ?? '2,16,64,255,511').split(',').map(Number);
const RUNS = Number(process.env.MESHFORM_BENCH_RUNS ?? 3);
const NOW = '2026-12-01T00:00:00.000Z';

interface Sample {
  ms: number;
  rssMB: number;
}

function probeFile(dir: string): string {
  const probe = join(dir, 'rss-probe.mjs');
  writeFileSync(
    probe,
    "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { if (process.env.MESHFORM_BENCH_RSS) writeFileSync(process.env.MESHFORM_BENCH_RSS, String(process.resourceUsage().maxRSS)); });\n",
  );
  return probe;
}

function timed(dir: string, probe: string, args: string[], okCodes = [0]): Sample {
  const rssFile = join(dir, 'rss.txt');
  rmSync(rssFile, { force: true });
  // Untimed: flush what earlier runs left dirty (the floor writes 113 MB without fsync at 511), so
  // no run pays for another's writes when it syncs its own.
  spawnSync('sync');
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', probe, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, MESHFORM_NOW: NOW, MESHFORM_BENCH_RSS: rssFile },
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const kb = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : 0;
  return { ms, rssMB: kb / 1024 };
}

const FLOOR = `
import { readdirSync, readFileSync, writeFileSync, renameSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
const [src, dst] = process.argv.slice(2);
const files = [];
(function walk(d, rel) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = rel ? rel + '/' + e.name : e.name;
    if (e.isDirectory()) walk(join(d, e.name), p); else files.push([p, readFileSync(join(d, e.name), 'utf8')]);
  }
})(src, '');
const t = performance.now();
const made = new Set();
for (const [p, content] of files) {
  const target = join(dst, ...p.split('/'));
  const dir = target.slice(0, target.lastIndexOf('/'));
  if (!made.has(dir)) { mkdirSync(dir, { recursive: true }); made.add(dir); }
  const tmp = target + '.tmp';
  writeFileSync(tmp, content);
  chmodSync(tmp, p.startsWith('secrets/') ? 0o600 : 0o644);
  renameSync(tmp, target);
}
console.log(JSON.stringify({ ms: performance.now() - t, files: files.length }));
`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

function benchSize(n: number): Record<string, string | number> {
  const dir = mkdtempSync(join(tmpdir(), `meshform-clibench-${n}-`));
  try {
    const probe = probeFile(dir);
    const spec = writeMeshFiles(dir, n);
    writeFileSync(join(dir, 'mesh-b.yaml'), meshYaml(n, { replicas: 3 }));
    timed(dir, probe, [BIN, 'ca', 'init', '--spec', spec]);
    const s: Record<'validate' | 'cold' | 'warm' | 'change' | 'floor' | 'node', Sample[]> = { validate: [], cold: [], warm: [], change: [], floor: [], node: [] };
    writeFileSync(join(dir, 'floor.mjs'), FLOOR);
    let files = 0;
    for (let i = 0; i < RUNS; i++) {
      const out = `out${i}`;
      s.validate.push(timed(dir, probe, [BIN, 'validate', spec]));
      s.cold.push(timed(dir, probe, [BIN, 'render', spec, '--out', out]));
      s.warm.push(timed(dir, probe, [BIN, 'render', spec, '--out', out]));
      s.change.push(timed(dir, probe, [BIN, 'render', 'mesh-b.yaml', '--out', out]));
      spawnSync('sync');
      const fl = spawnSync(process.execPath, [join(dir, 'floor.mjs'), join(dir, out), join(dir, `floor${i}`)], { encoding: 'utf8' });
      const parsed = JSON.parse(fl.stdout) as { ms: number; files: number };
      files = parsed.files;
      s.node.push(timed(dir, probe, ['-e', '0']));
      s.floor.push({ ms: parsed.ms + s.node[s.node.length - 1]!.ms, rssMB: 0 });
      rmSync(join(dir, `floor${i}`), { recursive: true, force: true });
      rmSync(join(dir, out), { recursive: true, force: true });
    }
    const m = (k: keyof typeof s) => median(s[k].map((x) => x.ms));
    const rss = Math.max(...[...s.cold, ...s.warm, ...s.change, ...s.validate].map((x) => x.rssMB));
    return {
      n,
      files,
      validate: fmt(m('validate')),
      cold: fmt(m('cold')),
      warm: fmt(m('warm')),
      change: fmt(m('change')),
      node: fmt(m('node')),
      floor: fmt(m('floor')),
      'cold/floor': (m('cold') / m('floor')).toFixed(1),
      'change/floor': (m('change') / m('floor')).toFixed(1),
      'peak RSS': `${rss.toFixed(0)} MB`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  console.log(`meshform CLI, whole process, median of ${RUNS} runs; ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at start`);
  const rows = SIZES.map((n) => {
    const r = benchSize(n);
    console.error(`  N=${n} done`);
    return r;
  });
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  console.log(cols.map((c, i) => c.padStart(width[i]!)).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => String(r[c]).padStart(width[i]!)).join('  '));
  console.log(`load average ${loadavg()[0]!.toFixed(1)} at the end. Goals at 511: cold ≤ 2 s, warm ≤ 1 s, validate ≤ 0.3 s, peak RSS < 400 MB.`);
}

main();
