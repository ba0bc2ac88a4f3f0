import { join, resolve } from 'node:path';
import { ExitCode, MeshformError } from '../errors.js';
import { createCa, describeCa, describeCaCert, importCa, loadCa, readCaCertText, writeCaFiles } from '../pki/ca.js';
import { loadSpec } from '../spec/load.js';
import type { KeyAlgorithm } from '../spec/types.js';
import { formatFindings, table, type Io, type OutputFormat } from './io.js';

/** Where the CA files are: the spec's `ca` paths with --spec, else `<dir>/ca.crt` and `<dir>/ca.key`. */
async function caPaths(io: Io, dir: string | undefined, spec: string | undefined, allowOutsidePaths = false): Promise<{ cert: string; key: string }> {
  if (spec) {
    if (dir) {
      throw new MeshformError('both a folder and --spec', [
        {
          code: 'USAGE_CA_PATHS',
          severity: 'error',
          path: '--spec',
          value: `${dir} and --spec ${spec}`,
          message: 'give either a folder or --spec, not both',
          rule: 'the CA files are taken from one place',
          fix: `drop the folder to use the paths in ${spec}, or drop --spec`,
        },
      ]);
    }
    const s = await loadSpec(spec, { allowOutsidePaths });
    if (!s.ca) {
      throw new MeshformError('no ca in spec', [
        {
          code: 'SPEC_NO_CA',
          severity: 'error',
          path: 'ca',
          message: `${spec} names no CA files`,
          rule: 'the spec says where the shared CA lives: ca: {cert: ca/ca.crt, key: ca/ca.key}',
          fix: `add a ca: section to ${spec}, or give a folder instead of --spec`,
        },
      ]);
    }
    return s.ca;
  }
  const d = resolve(io.cwd, dir ?? 'ca');
  return { cert: join(d, 'ca.crt'), key: join(d, 'ca.key') };
}

function parseDays(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 30 || n > 36500) {
    throw new MeshformError('bad --days', [
      {
        code: 'USAGE_DAYS',
        severity: 'error',
        path: '--days',
        value: text,
        message: `--days must be a whole number of days from 30 to 36500`,
        rule: 'a CA must stay valid at least 30 days (meshform refuses a CA that expires sooner)',
        fix: 'e.g. --days 3650 for ten years',
      },
    ]);
  }
  return n;
}

function showLines(io: Io, paths: { cert: string }, info: ReturnType<typeof describeCa>, format: OutputFormat): void {
  if (format === 'json') {
    io.out(JSON.stringify({ cert: paths.cert, ...info, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString() }, null, 2));
    return;
  }
  io.out(
    table(
      ['FIELD', 'VALUE'],
      [
        ['certificate', paths.cert],
        ['subject', info.subject],
        ['key', info.keyAlgorithm],
        ['sha256', info.fingerprint256],
        ['not before', info.notBefore.toISOString()],
        ['not after', `${info.notAfter.toISOString()} (${info.daysLeft} days left)`],
      ],
    ),
  );
}

export async function caInitCommand(
  io: Io,
  dir: string | undefined,
  opts: { spec?: string; algorithm: string; days: string; cn: string; force: boolean; allowOutsidePaths?: boolean },
): Promise<number> {
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const days = parseDays(opts.days);
  const now = io.now();
  const created = await createCa({ commonName: opts.cn, algorithm: opts.algorithm as KeyAlgorithm, validityDays: days, now });
  await writeCaFiles(resolve(paths.cert, '..'), created, { force: opts.force, certPath: paths.cert, keyPath: paths.key });
  const ca = await loadCa(paths, now);
  io.err(`Created a new shared CA: ${paths.cert} and ${paths.key} (0600). Keep the key out of git.`);
  showLines(io, paths, describeCa(ca, now), 'table');
  return ExitCode.ok;
}

export async function caImportCommand(
  io: Io,
  source: string,
  dir: string | undefined,
  opts: { spec?: string; force: boolean; allowOutsidePaths?: boolean },
): Promise<number> {
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const imported = await importCa(resolve(io.cwd, source));
  const now = io.now();
  await writeCaFiles(resolve(paths.cert, '..'), imported, { force: opts.force, certPath: paths.cert, keyPath: paths.key });
  const ca = await loadCa(paths, now);
  io.err(`Imported the CA from ${source} into ${paths.cert} and ${paths.key} (0600).`);
  showLines(io, paths, describeCa(ca, now), 'table');
  return ExitCode.ok;
}

export async function caShowCommand(io: Io, dir: string | undefined, opts: { spec?: string; output: OutputFormat; allowOutsidePaths?: boolean }): Promise<number> {
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const now = io.now();
  try {
    showLines(io, paths, describeCa(await loadCa(paths, now), now), opts.output);
    return ExitCode.ok;
  } catch (err) {
    // An expired or otherwise unusable CA is still worth describing: show it, then say what is wrong.
    if (!(err instanceof MeshformError) || err.findings.every((f) => f.path !== 'ca.cert' || /^CA_FILE/.test(f.code))) throw err;
    let info: ReturnType<typeof describeCaCert>;
    try {
      const text = readCaCertText(paths.cert);
      if (text === undefined) throw err;
      info = describeCaCert(text, now);
    } catch {
      throw err;
    }
    showLines(io, paths, info, opts.output);
    io.err(formatFindings(err.findings));
    return ExitCode.findings;
  }
}
