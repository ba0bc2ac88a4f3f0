import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

/** Repository root (tests run from dist/test/cli). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(ROOT, 'bin/meshform.js');
export const NOW = '2026-11-27T12:00:00.000Z';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built meshform binary as a user would. */
export function meshform(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MESHFORM_NOW: NOW, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A private copy of an example folder, so tests can add a CA and outputs without touching the repo. */
export async function exampleCopy(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `meshform-cli-${name}-`));
  await cp(join(ROOT, 'examples', name), dir, { recursive: true, filter: (src) => basename(src) !== 'ca' });
  return dir;
}

/** Replaces machine-specific paths so snapshots are stable. */
export function normalise(text: string, dirs: Record<string, string>): string {
  let t = text;
  for (const [label, dir] of Object.entries(dirs)) t = t.split(dir).join(`<${label}>`);
  // Fingerprints of freshly made keys and certificates differ on every run.
  return t.replace(/\b([0-9A-F]{2}:){31}[0-9A-F]{2}\b/g, '<sha256>');
}

/**
 * Compares `actual` with the snapshot file `test/fixtures/cli/<name>`; MESHFORM_UPDATE_GOLDEN=1
 * rewrites it instead.
 */
export async function snapshot(name: string, actual: string): Promise<void> {
  const file = join(ROOT, 'test/fixtures/cli', name);
  if (process.env.MESHFORM_UPDATE_GOLDEN === '1') {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, actual);
    return;
  }
  // A missing snapshot is a failure, never silently created: only the update mode writes one.
  if (!existsSync(file)) assert.fail(`snapshot ${name} is missing; run npm run golden:update, review and commit it`);
  assert.equal(actual, await readFile(file, 'utf8'), `snapshot ${name} differs (MESHFORM_UPDATE_GOLDEN=1 to accept)`);
}
