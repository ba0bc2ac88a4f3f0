/**
 * The lock that makes two meshform processes writing one output folder safe by design: the second
 * is refused while the first runs, and a lock left by a killed process is taken over.
 *
 * The lock is a file created with O_EXCL holding the owner's pid and host. A lock whose owner is
 * gone is stale; removing it is itself guarded by a second O_EXCL file (the breaker), and the
 * stale lock is removed only if it still holds the very content that was judged stale, so two
 * processes that both find a stale lock cannot both end up holding a fresh one.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createFile, ownerMayRun } from './fs.js';

export interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

export type LockResult = { ok: true; release: () => void } | { ok: false; owner: Partial<LockOwner> };

function readOwner(path: string): { text: string; owner: Partial<LockOwner> } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return { text, owner: JSON.parse(text) as Partial<LockOwner> };
  } catch {
    // A lock file torn by a crash between create and write: its owner cannot be running.
    return { text, owner: {} };
  }
}

function tryCreate(path: string, content: string): boolean {
  try {
    createFile(path, content, 0o600);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Takes the lock at `path`. Errors other than "held by a running process" (a missing folder,
 * permissions) are thrown for the caller to report.
 */
export function acquireLock(path: string): LockResult {
  const me: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  const text = JSON.stringify(me);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, text)) {
      return {
        ok: true,
        release: () => {
          const cur = readOwner(path);
          if (cur?.text === text) unlinkSync(path);
        },
      };
    }
    const held = readOwner(path);
    if (!held) continue; // released meanwhile: try again
    if (ownerMayRun(held.owner)) return { ok: false, owner: held.owner };
    breakStale(path, held.text);
  }
  const held = readOwner(path);
  return { ok: false, owner: held?.owner ?? {} };
}

function breakStale(path: string, staleText: string): void {
  const breaker = `${path}.break`;
  const mine = JSON.stringify({ pid: process.pid, host: hostname() });
  if (!tryCreate(breaker, mine)) {
    const b = readOwner(breaker);
    // A breaker whose owner died (within the few microseconds it is held): remove it, next round.
    if (b && !ownerMayRun(b.owner)) {
      try {
        unlinkSync(breaker);
      } catch {
        // Another process removed it first.
      }
    }
    return;
  }
  try {
    const cur = readOwner(path);
    if (cur?.text === staleText) unlinkSync(path);
  } finally {
    unlinkSync(breaker);
  }
}
