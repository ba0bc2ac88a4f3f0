import { join, resolve } from 'node:path';
import { ExitCode, MeshformError } from '../errors.js';
import { createCa, describeCa, describeCaCert, importCa, inspectCa, inspectCaFiles, readCaCertText, unusableCa, writeCaFiles } from '../pki/ca.js';
import type { CaMaterial } from '../pki/types.js';
import { RULES } from '../validate/catalogue.js';
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

/** X.520's upper bound for a common name. */
const MAX_CN = 64;

/** `--cn`: one line of printable text, 1 to 64 characters. */
function parseCn(text: string): string {
  const cn = text.trim();
  // C0/C1 controls (a newline among them) would forge or garble the subject wherever it is printed.
  if (cn.length > 0 && cn.length <= MAX_CN && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(cn)) return cn;
  throw new MeshformError('bad --cn', [
    {
      code: 'USAGE_CN',
      severity: 'error',
      path: '--cn',
      value: JSON.stringify(text),
      message: cn.length === 0 ? '--cn is empty' : cn.length > MAX_CN ? `--cn has ${cn.length} characters, more than ${MAX_CN}` : '--cn holds a line break or another control character',
      rule: RULES.USAGE_CN.rule,
      fix: 'e.g. --cn "Cilium CA" (the default)',
    },
  ]);
}

/** Reads and checks the CA files; warnings (file permissions) go to stderr, errors end the command. */
async function loadCaWarn(io: Io, paths: { cert: string; key: string }, now: Date): Promise<CaMaterial> {
  const r = await inspectCaFiles(paths, now);
  if (!r.ca) throw unusableCa(paths.cert, r.findings);
  const warnings = r.findings.filter((f) => f.severity === 'warning');
  if (warnings.length > 0) io.err(formatFindings(warnings));
  return r.ca;
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
  const cn = parseCn(opts.cn);
  const days = parseDays(opts.days);
  const now = io.now();
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const created = await createCa({ commonName: cn, algorithm: opts.algorithm as KeyAlgorithm, validityDays: days, now });
  await writeCaFiles(resolve(paths.cert, '..'), created, { force: opts.force, certPath: paths.cert, keyPath: paths.key });
  const ca = await loadCaWarn(io, paths, now);
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
  const now = io.now();
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const from = resolve(io.cwd, source);
  const imported = await importCa(from);
  // Every check first (validity dates included), the write last: a refused CA leaves no files
  // behind that would make the retry fail with CA_FILE_EXISTS.
  const checked = inspectCa(imported.certPem, imported.key.reveal(), now, { cert: `${from} (certificate)`, key: `${from} (key)` });
  if (!checked.ca) throw unusableCa(from, checked.findings.map((f) => ({ ...f, path: 'source' })));
  await writeCaFiles(resolve(paths.cert, '..'), imported, { force: opts.force, certPath: paths.cert, keyPath: paths.key });
  const ca = await loadCaWarn(io, paths, now);
  io.err(`Imported the CA from ${source} into ${paths.cert} and ${paths.key} (0600).`);
  showLines(io, paths, describeCa(ca, now), 'table');
  return ExitCode.ok;
}

export async function caShowCommand(io: Io, dir: string | undefined, opts: { spec?: string; output: OutputFormat; allowOutsidePaths?: boolean }): Promise<number> {
  const paths = await caPaths(io, dir, opts.spec, opts.allowOutsidePaths);
  const now = io.now();
  try {
    const r = await inspectCaFiles(paths, now);
    if (!r.ca) throw unusableCa(paths.cert, r.findings);
    showLines(io, paths, describeCa(r.ca, now), opts.output);
    const warnings = r.findings.filter((f) => f.severity === 'warning');
    if (warnings.length > 0) io.err(formatFindings(warnings));
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
