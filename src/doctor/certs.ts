/**
 * Doctor's findings about the certificates in use (pki/live.ts): an expired or foreign certificate
 * is a failure, one inside the renewal window a warning (doctor stays healthy). Pure.
 */
import type { ClusterCertificates } from '../pki/live.js';
import type { DoctorFinding } from './doctor.js';

export function certificateFindings(cs: readonly ClusterCertificates[], specPath = 'mesh.yaml'): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  for (const c of cs) {
    for (const x of c.certs) {
      const seen = `${x.role} certificate (Secret ${x.secret}): ${x.detail ?? x.state}; not after ${x.notAfter}, issuer ${x.issuer}, SHA-256 ${x.fingerprint256}`;
      if (x.state === 'expired') {
        out.push({ cluster: c.cluster, code: 'CERT_EXPIRED', source: 'cluster', seen, where: [x.secret],
          cause: x.role === 'ca' ? 'the CA every clustermesh certificate chains to has expired' : 'an expired certificate: peers refuse the connection',
          fix: x.role === 'ca' ? `make or import a new CA (meshform ca init / ca import) and rotate to it: meshform ca rotate ${specPath}` : `re-issue it: meshform apply ${specPath} --out <out> (render renews expired certificates), then meshform status ${specPath} --wait` });
      } else if (x.state === 'foreign') {
        out.push({ cluster: c.cluster, code: 'CERT_FOREIGN', source: 'cluster', seen, where: [x.secret],
          cause: x.role === 'ca' ? "the cluster's cilium-ca is not the mesh's shared CA: its peers' certificates do not verify here" : "not issued by the mesh's shared CA: peers that trust only the shared CA refuse it",
          fix: `apply the mesh's certificates: meshform apply ${specPath} --out <out>; if this cluster keeps its own CA on purpose, trust it first (ca.trust) and rotate: meshform ca rotate ${specPath}` });
      } else if (x.state === 'due') {
        out.push({ cluster: c.cluster, code: 'CERT_DUE', source: 'cluster', seen, where: [x.secret],
          cause: 'inside the renewal window: the next render re-issues it', fix: `renew it now: meshform apply ${specPath} --out <out>` });
      } else if (x.state === 'unreadable') {
        out.push({ cluster: c.cluster, code: 'CERT_FOREIGN', source: 'cluster', seen, where: [x.secret], cause: 'the Secret does not hold a readable certificate', fix: `apply the mesh's certificates: meshform apply ${specPath} --out <out>` });
      }
    }
  }
  return out;
}
