/**
 * Leaf certificate issuance figures for the benchmark of issue 2: N clusters × 4 certificates,
 * cold (all issued), warm through the certificate index, and warm through the full X.509 check,
 * for N = 255 and 511. Prints one line per run.
 * Usage: node dist/bench/pki.bench.js [N...]
 */
import { createCa, inspectCa } from '../src/pki/ca.js';
import { clusterLeafRequests, issueLeaves } from '../src/pki/leaf.js';
import { serverCertNames } from '../src/pki/names.js';
import { certStoreFiles, certStoreFromFiles } from '../src/pki/store.js';
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
      ...clusterLeafRequests({
        cluster: `c${i}`,
        server: serverCertNames({ name: `c${i}`, endpoint: { type: 'NodePort', nodePort: 30000, ips: [] }, tls: { extraDnsNames: [], extraIpAddresses: [] } }, { domain: 'mesh.cilium.io', cilium: { namespace: 'kube-system' } }),
        authMode: 'cluster',
        localCert: true,
      }),
    );
  }
  const c = process.cpuUsage();
  const t = performance.now();
  const issued = await issueLeaves(requests, ca, opts);
  const cold = performance.now() - t;
  const coldCpu = cpuMs(process.cpuUsage(c));
  // warm: with the index records (the normal re-render); full: the same files without records
  // (a store from before the index, or hand-placed certificates): every one takes the X.509 check.
  const existing = certStoreFromFiles(certStoreFiles(issued));
  const bare = new Map([...existing].map(([k, v]) => [k, { certPem: v.certPem, keyPem: v.keyPem }]));
  const timed = async (store: typeof existing): Promise<string> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const again = await issueLeaves(requests, ca, { ...opts, existing: store });
    const wall = performance.now() - t0;
    const cpu = cpuMs(process.cpuUsage(c0));
    const reused = again.filter((x) => x.reused).length;
    return `${wall.toFixed(0)} ms wall / ${cpu} ms cpu (${reused}/${requests.length} reused)`;
  };
  const warm = await timed(existing);
  const full = await timed(bare);
  const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
  console.log(
    `pki N=${n}: ${requests.length} certs  cold ${cold.toFixed(0)} ms wall / ${coldCpu} ms cpu (${((cold / requests.length) * 1000).toFixed(0)} µs/cert)  ` +
      `warm (index) ${warm}  warm (full check) ${full}  rss ${rss} MB`,
  );
}
