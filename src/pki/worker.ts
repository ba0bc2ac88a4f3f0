/**
 * Worker-thread entry of the issuing pool (pool.ts): builds one Issuer for the run's CA, then
 * answers batches of jobs. Loaded from the compiled layout as `new URL('./worker.js', import.meta.url)`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Issuer, type IssuerSetup, type Job } from './issuer.js';

const port = parentPort;
if (!port) throw new Error('internal: pki/worker.js must run as a worker thread');
const issuer = new Issuer(workerData as IssuerSetup);
port.on('message', (msg: { id: number; jobs: Job[] }) => {
  try {
    port.postMessage({ id: msg.id, results: msg.jobs.map((j) => issuer.run(j)) });
  } catch (e) {
    // Messages from node:crypto and asn1js name the failing step, never key bytes.
    port.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
