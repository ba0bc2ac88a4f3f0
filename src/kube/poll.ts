/**
 * The one polling loop every wait of meshform runs through (rollouts, the helm-controller's new
 * revision, `status --wait`): read, decide, sleep, with an injected clock and sleep for tests.
 */
import { DEFAULT_POLL_MS } from '../defaults.js';
import { realSleep, type Sleep } from './pool.js';

export interface PollOptions {
  /** Give up after this long; 0 reads once. */
  timeoutMs: number;
  /** Time between reads (default 2 s). */
  intervalMs?: number;
  /** Each interval is this many times the one before (default 1: a steady pace), up to `maxIntervalMs`. */
  backoff?: number;
  maxIntervalMs?: number;
  sleep?: Sleep;
  now?: () => number;
}

export interface PollResult<S> {
  /** The last state read (the one that was done, or the one at the deadline). */
  state: S;
  elapsedMs: number;
  timedOut: boolean;
}

/**
 * Reads `read()` until `done(state)` or the timeout passes, sleeping between reads (never past the
 * deadline). Errors from `read` end the poll: a read that finds a final failure throws.
 * `onRead` sees every state, e.g. to report progress.
 */
export async function pollUntil<S>(
  read: () => Promise<S>,
  done: (state: S) => boolean,
  opts: PollOptions & { onRead?: (state: S, elapsedMs: number) => void },
): Promise<PollResult<S>> {
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const start = now();
  let interval = opts.intervalMs ?? DEFAULT_POLL_MS;
  for (;;) {
    const state = await read();
    const elapsedMs = now() - start;
    opts.onRead?.(state, elapsedMs);
    if (done(state)) return { state, elapsedMs, timedOut: false };
    const left = opts.timeoutMs - elapsedMs;
    if (left <= 0) return { state, elapsedMs, timedOut: true };
    await sleep(Math.min(interval, left));
    interval = Math.min(interval * (opts.backoff ?? 1), opts.maxIntervalMs ?? Number.POSITIVE_INFINITY);
  }
}
