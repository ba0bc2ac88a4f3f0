/**
 * Leaf certificate issuance figures for the benchmark of issue 2: N clusters × 4 certificates,
 * cold (all issued) and warm (all reused), for N = 255 and 511. Prints one line per run.
 * Usage: node dist/bench/pki.bench.js [N...]
 */
import { createCa, inspectCa } from '../src/pki/ca.js';
import { clusterLeafRequests, issueLeaves, storeKey } from '../src/pki/leaf.js';
import type { LeafRequest } from '../src/pki/types.js';

const now = new Date();
// CPU time of all threads (workers included): less at the mercy of other load than wall time.
const cpuMs = (u: NodeJS.CpuUsage): string => ((u.user + u.system) / 1000).toFixed(0);
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const created = await createCa({ algorithm: 'ecdsa-p256', validityDays: 3650, now });
const { ca } = inspectCa(created.certPem, created.key.reveal(), now, { cert: 'bench', key: 'bench' });
if (!ca) throw new Error('bench CA unusable');

const opts = { now, validityDays: 365, renewBeforeDays: 30, keyAlgorithm: 'ecdsa-p256' as const };
for (const n of sizes.length > 0 ? sizes : [255, 511]) {
  const requests: LeafRequest[] = [];
  for (let i = 1; i <= n; i++) {
    requests.push(
      ...clusterLeafRequests({ cluster: `c${i}`, domain: 'mesh.cilium.io', namespace: 'kube-system', authMode: 'cluster', localCert: true, extraDnsNames: [], extraIpAddresses: [] }),
    );
  }
  let c = process.cpuUsage();
  let t = performance.now();
  const issued = await issueLeaves(requests, ca, opts);
  const cold = performance.now() - t;
  const coldCpu = cpuMs(process.cpuUsage(c));
  const existing = new Map(issued.map((c) => [storeKey(c.request), { certPem: c.certPem, keyPem: c.key.reveal() }]));
  c = process.cpuUsage();
  t = performance.now();
  const again = await issueLeaves(requests, ca, { ...opts, existing });
  const warm = performance.now() - t;
  const warmCpu = cpuMs(process.cpuUsage(c));
  const reused = again.filter((c) => c.reused).length;
  const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
  console.log(
    `pki N=${n}: ${requests.length} certs  cold ${cold.toFixed(0)} ms wall / ${coldCpu} ms cpu (${((cold / requests.length) * 1000).toFixed(0)} µs/cert)  ` +
      `warm ${warm.toFixed(0)} ms wall / ${warmCpu} ms cpu (${reused}/${requests.length} reused)  rss ${rss} MB`,
  );
}
