/**
 * Spreads certificate jobs over worker threads. Key generation, encoding, signing and the full
 * reuse check are CPU-bound and synchronous, so one thread per core (`os.availableParallelism()`)
 * with batches pulled as workers free up keeps every core busy whatever the mix of new and
 * reused certificates.
 *
 * The pool never waits forever: a batch that gets no answer within `batchTimeoutMs` (a worker
 * stuck in native code, as OpenSSL's key-generation job once was) fails the run with an error,
 * and the workers are terminated without waiting on them for more than a moment.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Issuer, type IssuerSetup, type Job, type JobResult } from './issuer.js';

/** Below this many jobs, starting workers (~30 ms each) costs more than it saves. */
const INLINE_BELOW = 48;
/** A batch is at most 128 jobs of ~1 ms each; a minute without an answer means a stuck worker. */
export const DEFAULT_BATCH_TIMEOUT_MS = 60_000;
/** How long to wait for a terminated worker before leaving it behind (unref'd). */
const TERMINATE_GRACE_MS = 2_000;

export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

/** Runs the jobs and returns their results in job order (null: see `Issuer.run`). */
export async function runJobs(
  setup: IssuerSetup,
  jobs: readonly Job[],
  concurrency: number,
  opts: { batchTimeoutMs?: number; inlineBelow?: number } = {},
): Promise<Array<JobResult | null>> {
  if (jobs.length === 0) return [];
  const threads = Math.min(Math.max(1, Math.floor(concurrency)), Math.ceil(jobs.length / 16));
  if (threads <= 1 || jobs.length < (opts.inlineBelow ?? INLINE_BELOW)) {
    const issuer = new Issuer(setup);
    return jobs.map((j) => issuer.run(j));
  }
  const timeoutMs = opts.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS;
  const batch = Math.max(8, Math.min(128, Math.ceil(jobs.length / (threads * 4))));
  const results = new Array<JobResult | null>(jobs.length);
  const workers: Worker[] = [];
  const timers = new Map<Worker, NodeJS.Timeout>();
  let settled = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      const fail = (why: string): void => {
        if (settled) return;
        settled = true;
        reject(new Error(`certificate worker failed: ${why}`));
      };
      const feed = (w: Worker): void => {
        clearTimeout(timers.get(w));
        if (next >= jobs.length) return;
        const id = next;
        next = Math.min(jobs.length, next + batch);
        const t = setTimeout(() => fail(`no answer for ${next - id} certificates within ${timeoutMs / 1000} s`), timeoutMs);
        timers.set(w, t);
        w.postMessage({ id, jobs: jobs.slice(id, next) });
      };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
        workers.push(w);
        w.on('message', (msg: { id: number; results?: Array<JobResult | null>; error?: string }) => {
          if (msg.error !== undefined || !msg.results) return fail(msg.error ?? 'no results');
          for (let k = 0; k < msg.results.length; k++) results[msg.id + k] = msg.results[k]!;
          done += msg.results.length;
          if (done === jobs.length) {
            settled = true;
            resolve();
          } else {
            feed(w);
          }
        });
        w.on('messageerror', (e) => fail(e.message));
        w.on('error', (e) => fail(e.message));
        // A worker that ends before the run is complete takes its batch with it: never wait for it.
        w.on('exit', (code) => fail(`a worker exited early (code ${code})`));
        feed(w);
      }
    });
  } finally {
    settled = true;
    for (const t of timers.values()) clearTimeout(t);
    // A worker stuck in native code may never finish terminating: do not let it hold the run (or the process).
    await Promise.all(
      workers.map((w) => {
        let grace: NodeJS.Timeout | undefined;
        return Promise.race([
          w.terminate().then(() => undefined, () => undefined),
          new Promise<void>((r) => {
            grace = setTimeout(() => {
              w.unref();
              r();
            }, TERMINATE_GRACE_MS);
            grace.unref();
          }),
        ]).finally(() => clearTimeout(grace));
      }),
    );
  }
  return results;
}
