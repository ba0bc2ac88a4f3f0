/**
 * `lab exec-bench`: N execs of `cilium-dbg status -o json` into a lab cluster's agent pods, C at a
 * time, through `@kubernetes/client-node`'s Exec as meshform makes them (no kubectl processes).
 * Reports wall time and the CPU the whole machine spent meanwhile (every lab process included).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { labPaths } from './paths.js';

export interface ExecBenchResult {
  cluster: string;
  execs: number;
  concurrency: number;
  pods: number;
  wallS: number;
  /** CPU seconds of the whole machine during the run (user + system, all processes). */
  machineCpuS: number;
  failures: number;
  firstError?: string;
}

function machineCpu(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system (idle iowait) irq softirq steal
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / 100;
}

/** One exec, as meshform's client makes it: stdout, stderr and the exec's status. */
export function execOnce(kc: k8s.KubeConfig, pod: string, container: string, command: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void) => new Writable({ write(chunk, _e, cb) { f(String(chunk)); cb(); } });
  return new Promise((resolve, reject) => {
    new k8s.Exec(kc)
      .exec('kube-system', pod, container, command, sink((s) => (stdout += s)), sink((s) => (stderr += s)), null, false, (st) =>
        resolve({ ok: st.status === 'Success', stdout, stderr }),
      )
      .catch(reject);
  });
}

/** Runs the benchmark against the running lab. */
export async function execBench(cluster: string, execs = 100, concurrency = 16): Promise<ExecBenchResult> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(labPaths().kubeconfig);
  kc.setCurrentContext(cluster);
  const pods = (await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=cilium' })).items.map((p) => p.metadata!.name!);
  if (pods.length === 0) throw new Error(`${cluster}: no cilium pods`);
  const cpu0 = machineCpu();
  const t0 = Date.now();
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, execs) }, async () => {
      while (next < execs) {
        const k = next++;
        try {
          const r = await execOnce(kc, pods[k % pods.length]!, 'cilium-agent', ['cilium-dbg', 'status', '-o', 'json']);
          if (!r.ok) throw new Error(r.stderr.trim() || 'exec failed');
          JSON.parse(r.stdout);
        } catch (err) {
          failures++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  return {
    cluster,
    execs,
    concurrency,
    pods: pods.length,
    wallS: (Date.now() - t0) / 1000,
    machineCpuS: Math.round((machineCpu() - cpu0) * 100) / 100,
    failures,
    ...(firstError ? { firstError } : {}),
  };
}
