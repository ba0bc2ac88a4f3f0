/** Fixtures shared by the apply and progress tests: a cluster's helm release, HelmChart(Config) and rendered objects. */
import { gzipSync } from 'node:zlib';
import { objectsFromYaml } from '../../src/apply/diff.js';
import type { KubeObject } from '../../src/kube/client.js';

export const NS = 'kube-system';

export function releaseSecret(revision: number, config: object, status = 'deployed'): KubeObject {
  const rel = { name: 'rke2-cilium', namespace: NS, version: revision, info: { status }, chart: { metadata: { name: 'rke2-cilium', version: '1.16.302', appVersion: '1.16.3' } }, config };
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'helm.sh/release.v1',
    metadata: { name: `sh.helm.release.v1.rke2-cilium.v${revision}`, namespace: NS, labels: { owner: 'helm', name: 'rke2-cilium', status, version: String(revision) } },
    data: { release: Buffer.from(gzipSync(Buffer.from(JSON.stringify(rel))).toString('base64')).toString('base64') },
  };
}

export const hcc = (values: string): KubeObject => ({ apiVersion: 'helm.cattle.io/v1', kind: 'HelmChartConfig', metadata: { name: 'rke2-cilium', namespace: NS }, spec: { valuesContent: values, failurePolicy: 'abort' } });

export const helmChart: KubeObject = { apiVersion: 'helm.cattle.io/v1', kind: 'HelmChart', metadata: { name: 'rke2-cilium', namespace: NS }, spec: { chart: 'rke2-cilium', version: '1.16.302' } };

/** What render writes for a cluster: its HelmChartConfig and a certificate Secret holding a (fake) key. */
export const rendered = (name: string, id = 1) =>
  objectsFromYaml(`apiVersion: helm.cattle.io/v1
kind: HelmChartConfig
metadata:
  name: rke2-cilium
  namespace: kube-system
spec:
  failurePolicy: abort
  valuesContent: |
    kubeProxyReplacement: true
    cluster:
      name: ${name}
      id: ${id}
---
apiVersion: v1
kind: Secret
metadata:
  name: clustermesh-apiserver-local-cert
  namespace: kube-system
type: kubernetes.io/tls
stringData:
  tls.key: "-----BEGIN PRIVATE KEY-----\\nSECRETKEYMATERIAL\\n-----END PRIVATE KEY-----\\n"
  tls.crt: "cert-${name}"
`, `rke2/${name}/rke2-cilium-config.yaml`);
