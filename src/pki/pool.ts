/**
 * Spreads certificate jobs over worker threads. Key generation, encoding and signing are CPU-bound
 * and synchronous, so one thread per core (`os.availableParallelism()`) with batches pulled as
 * workers free up keeps every core busy whatever the mix of new and reused certificates.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Issuer, type IssuerSetup, type Job, type JobResult } from './issuer.js';

/** Below this many jobs, starting workers (~30 ms each) costs more than it saves. */
const INLINE_BELOW = 48;

export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

/** Runs the jobs and returns their results in job order. */
export async function runJobs(setup: IssuerSetup, jobs: readonly Job[], concurrency: number): Promise<JobResult[]> {
  const threads = Math.min(Math.max(1, Math.floor(concurrency)), Math.ceil(jobs.length / 16));
  if (threads <= 1 || jobs.length < INLINE_BELOW) {
    const issuer = new Issuer(setup);
    return jobs.map((j) => issuer.run(j));
  }
  const batch = Math.max(8, Math.min(128, Math.ceil(jobs.length / (threads * 4))));
  const results = new Array<JobResult>(jobs.length);
  const workers: Worker[] = [];
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
        if (next >= jobs.length) return;
        const id = next;
        next = Math.min(jobs.length, next + batch);
        w.postMessage({ id, jobs: jobs.slice(id, next) });
      };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
        workers.push(w);
        w.on('message', (msg: { id: number; results?: JobResult[]; error?: string }) => {
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
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
