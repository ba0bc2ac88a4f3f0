/**
 * `npm run bench`: wall time and peak RSS of a full render (all targets) for N = 2, 16, 64, 255, 511
 * generated clusters (511 with maxConnectedClusters 511), each with a small user values file.
 * Every N runs in its own child process so peak RSS is honest. "cold" issues every certificate,
 * "warm" re-renders reusing them (method provided, through renderFromSpec); "render" is plan +
 * render alone with stubbed certificates (the YAML side). "warm" includes reading the first render's
 * certificate store (certificates, keys and index) back from disk with readCertStore, as
 * `meshform render` does. Wall time and CPU time are both shown:
 * on a busy machine CPU time is the steadier figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planMesh } from '../src/plan/plan.js';
import { renderMesh } from '../src/render/render.js';
import { ALL_TARGETS, type RenderedFile } from '../src/render/types.js';
import { FAKE_CA, fakeCertsFor, makeSpec, valuesFile } from '../test/render/helpers.js';
import { userValues } from './mesh-files.js';

const SIZES = [2, 16, 64, 255, 511];
// The in-memory spec is not validated, so RKE2's default globals may stand in every cluster's values.
const USER_VALUES = userValues('10.42.0.0/16', '10.43.0.0/16');

interface Result { n: number; mode: string; ms: number; cpuMs: number; rssMB: number; files: number; bytes: number; peerEntries: number }

/**
 * Counts the UTF-8 bytes of every file, inside the timed region: this makes V8 build each string's
 * flat bytes (peer lists are slices of shared text until then), as the writer will have to.
 */
function materialize(files: RenderedFile[]): number {
  let n = 0;
  for (const f of files) n += Buffer.byteLength(f.content, 'utf8');
  return n;
}

async function child(n: number, mode: 'cold' | 'warm' | 'render'): Promise<Result> {
  const spec = makeSpec(n, { version: '1.17.6', maxConnectedClusters: n > 255 ? 511 : 255, values: () => valuesFile(USER_VALUES) });
  let files: RenderedFile[];
  let ms: number;
  let bytes: number;
  let cpu0 = process.cpuUsage();
  let cpu: NodeJS.CpuUsage | undefined;
  if (mode === 'render') {
    const certs = fakeCertsFor(spec);
    cpu0 = process.cpuUsage();
    const t = performance.now();
    const plan = planMesh(spec, { ca: FAKE_CA, certs });
    files = renderMesh(plan, { targets: ALL_TARGETS });
    bytes = materialize(files);
    ms = performance.now() - t;
  } else {
    const { renderFromSpec } = await import('../src/pipeline.js');
    const { createCa, inspectCa } = await import('../src/pki/ca.js');
    const now = new Date('2027-01-01T00:00:00Z');
    const raw = await createCa({ commonName: 'bench CA', now, validityDays: 3650, algorithm: 'ecdsa-p256' });
    const ca = inspectCa(raw.certPem, raw.key.reveal(), now, { cert: 'bench-ca.crt', key: 'bench-ca.key' }).ca!;
    // warm: the first render's certificate store (certificates, keys, index) is written to a
    // scratch folder, and the timed re-render reads it back as `meshform render` does.
    let storeDir: string | undefined;
    if (mode === 'warm') {
      const first = await renderFromSpec(spec, { ca, now, targets: ALL_TARGETS });
      storeDir = await mkdtemp(join(tmpdir(), 'meshform-bench-'));
      for (const f of first.files.filter((x) => x.path.startsWith('secrets/') && x.path.includes('/certs/'))) {
        await mkdir(dirname(join(storeDir, f.path)), { recursive: true });
        await writeFile(join(storeDir, f.path), f.content, { mode: 0o600 });
      }
    }
    const { readCertStore } = await import('../src/pki/store.js');
    cpu0 = process.cpuUsage();
    const t = performance.now();
    const existing = storeDir ? await readCertStore(storeDir, spec.clusters.map((c) => c.name)) : undefined;
    const out = await renderFromSpec(spec, { ca, now, targets: ALL_TARGETS, ...(existing ? { existing } : {}) });
    files = out.files;
    bytes = materialize(files);
    ms = performance.now() - t;
    cpu = process.cpuUsage(cpu0);
    const certs = out.plan.clusters.flatMap((c) => (c.certs ? [c.certs.server, c.certs.admin, c.certs.remote, ...(c.certs.local ? [c.certs.local] : [])] : []));
    // A warm run that re-issued anything would measure the wrong thing.
    if (mode === 'warm' && !certs.every((c) => c.reused)) throw new Error('warm render re-issued certificates');
    if (storeDir) await rm(storeDir, { recursive: true, force: true });
  }
  // CPU time of this process (main thread and pki worker threads): steadier than wall time on a busy machine.
  cpu ??= process.cpuUsage(cpu0);
  return {
    n,
    mode,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssMB: process.resourceUsage().maxRSS / 1024,
    files: files.length,
    bytes,
    peerEntries: n * (n - 1),
  };
}

async function main(): Promise<void> {
  const [flag, nText, mode] = process.argv.slice(2);
  if (flag === '--child') {
    process.stdout.write(JSON.stringify(await child(Number(nText), mode as 'cold' | 'warm' | 'render')));
    return;
  }
  let havePki = true;
  try {
    await import('../src/pipeline.js');
    await import('../src/pki/ca.js');
  } catch {
    havePki = false;
  }
  // "render": plan + render with certificates stubbed (the YAML side alone); cold/warm: renderFromSpec.
  const modes = havePki ? ['render', 'cold', 'warm'] : ['render'];
  if (!havePki) console.log('pki module not available: only plan + render with certificates stubbed\n');
  console.log(`${(await import('node:os')).cpus().length} CPUs, load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
  console.log('    N  mode     peer entries   files      MB out    wall ms     CPU ms   peak RSS MB');
  const self = fileURLToPath(import.meta.url);
  for (const n of SIZES) {
    for (const mode of modes) {
      const r = spawnSync(process.execPath, [self, '--child', String(n), mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) {
        console.log(`${String(n).padStart(5)}  ${mode.padEnd(7)}  failed: ${r.stderr.split('\n').slice(0, 3).join(' ')}`);
        continue;
      }
      const x = JSON.parse(r.stdout) as Result;
      console.log(
        `${String(n).padStart(5)}  ${mode.padEnd(7)}${String(x.peerEntries).padStart(14)}${String(x.files).padStart(8)}` +
          `${(x.bytes / 1e6).toFixed(1).padStart(12)}${x.ms.toFixed(0).padStart(11)}${x.cpuMs.toFixed(0).padStart(11)}${x.rssMB.toFixed(0).padStart(14)}`,
      );
    }
  }
}

await main();
