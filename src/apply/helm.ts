import { spawn } from 'node:child_process';

/** Result of one helm run. */
export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the helm binary; replaceable in tests. */
export type HelmRunner = (args: string[], opts: { timeoutMs: number }) => Promise<HelmRun>;

/** A HelmRunner that spawns `binary` (no shell: arguments are passed as they are). */
export function spawnHelm(binary = 'helm'): HelmRunner {
  return (args, opts) =>
    new Promise((resolve) => {
      const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
}

/** Helm's merge of `-f a -f b`: maps merge deeply, the later file wins, lists and scalars are replaced. */
export function mergeValues(...layers: Record<string, unknown>[]): Record<string, unknown> {
  const merge = (a: unknown, b: unknown): unknown => {
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : structuredClone(v);
      return out;
    }
    return structuredClone(b);
  };
  return layers.reduce<Record<string, unknown>>((acc, l) => merge(acc, l) as Record<string, unknown>, {});
}

/** Paths of every leaf in a values tree (used to redact the secrets file's leaves in diffs). */
export function leafPaths(v: unknown, prefix: string[] = []): string[][] {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...prefix, k]));
  }
  return prefix.length ? [prefix] : [];
}

/** kubectl-style connection flags for helm. */
export interface HelmConnection {
  kubeconfig?: string;
  context?: string;
}

/** `helm upgrade` arguments the way the seed runs it. */
export function helmUpgradeArgs(p: {
  release: string;
  chart: string;
  version: string;
  namespace: string;
  valuesFiles: string[];
  connection: HelmConnection;
  dryRun?: boolean;
  timeoutMs: number;
}): string[] {
  const args = ['upgrade', p.release, p.chart, '--version', p.version, '-n', p.namespace];
  for (const f of p.valuesFiles) args.push('-f', f);
  if (p.connection.kubeconfig) args.push('--kubeconfig', p.connection.kubeconfig);
  if (p.connection.context) args.push('--kube-context', p.connection.context);
  if (p.dryRun) args.push('--dry-run=server');
  args.push('--timeout', `${Math.max(1, Math.round(p.timeoutMs / 1000))}s`);
  return args;
}
