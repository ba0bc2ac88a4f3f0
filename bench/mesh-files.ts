/**
 * Writes a generated mesh of N clusters as files, as a user has them: mesh.yaml, one small values
 * file per cluster and a shared CA made by `meshform ca init`. Used by the CLI benchmark and by the
 * tests that drive the whole `meshform` process on large meshes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A cluster's values as `helm get values` prints them, RKE2's globals agreeing with the spec. */
export const userValues = (podCIDR: string, serviceCIDR: string): string => `# helm get values rke2-cilium -n kube-system -o yaml
global:
  clusterCIDR: ${podCIDR}
  serviceCIDR: ${serviceCIDR}
hubble: # Enable Hubble for observability
  enabled: true
  relay:
    enabled: true
k8sServiceHost: 127.0.0.1
k8sServicePort: 6443
kubeProxyReplacement: true
operator:
  replicas: 1
`;

export interface MeshFilesOptions {
  version?: string;
  /** apiserver.replicas: changing it changes every cluster's values (a cheap "new set"). */
  replicas?: number;
  name?: string;
}

/** The mesh.yaml text for `n` generated clusters c000, c001, … (full mesh, NodePort endpoints). */
const cidrs = (i: number) => ({ pod: `10.${100 + (i >> 8)}.${i & 255}.0/24`, service: `172.${16 + (i >> 8)}.${i & 255}.0/24` });

export function meshYaml(n: number, o: MeshFilesOptions = {}): string {
  const version = o.version ?? '1.17.6';
  const lines = [
    'apiVersion: meshform/v1alpha1',
    'kind: Mesh',
    `name: ${o.name ?? 'generated'}`,
    `cilium: {version: ${version}}`,
    `maxConnectedClusters: ${n > 255 ? 511 : 255}`,
    'ca: {cert: ca/ca.crt, key: ca/ca.key}',
    `apiserver: {replicas: ${o.replicas ?? 2}}`,
    'clusters:',
  ];
  for (let i = 0; i < n; i++) {
    const name = `c${String(i).padStart(3, '0')}`;
    const hi = i >> 8;
    const lo = i & 255;
    lines.push(
      `  - name: ${name}`,
      `    id: ${i + 1}`,
      `    rke2Version: v1.32.4+rke2r1`,
      `    podCIDR: ${cidrs(i).pod}`,
      `    serviceCIDR: ${cidrs(i).service}`,
      `    nodeCIDRs: [100.${64 + hi}.${lo}.0/24]`,
      `    endpoint: {nodePort: ${30000 + i}, ips: [100.${64 + hi}.${lo}.1, 100.${64 + hi}.${lo}.2]}`,
      `    values: values/${name}.yaml`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes mesh.yaml and the values files into `dir` (the CA is the caller's: `meshform ca init --spec`). */
export function writeMeshFiles(dir: string, n: number, o: MeshFilesOptions = {}): string {
  mkdirSync(join(dir, 'values'), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, 'values', `c${String(i).padStart(3, '0')}.yaml`), userValues(cidrs(i).pod, cidrs(i).service));
  const spec = join(dir, 'mesh.yaml');
  writeFileSync(spec, meshYaml(n, o));
  return spec;
}
