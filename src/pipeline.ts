/**
 * Spec → plan → files: the whole offline job of `render`, as a library call. The clock and the
 * earlier certificates come in as arguments; writing the files is the caller's business.
 */
import { ExitCode, MeshformError } from './errors.js';
import type { Facts } from './kube/facts.js';
import { clusterLeafRequests, issueLeaves } from './pki/leaf.js';
import { serverCertNames } from './pki/names.js';
import { renewalReport, type RenewalReport } from './pki/renewal.js';
import { certStoreFiles } from './pki/store.js';
import type { CaMaterial, ClusterCerts, IssuedCert, LeafKind } from './pki/types.js';
import { planMesh } from './plan/plan.js';
import type { MeshPlan } from './plan/types.js';
import { renderMesh } from './render/render.js';
import type { Artefact, Target } from './render/types.js';
import type { MeshSpec } from './spec/types.js';
import { featuresOf, parseCiliumVersion } from './util/version.js';

export interface RenderFromSpecOptions {
  ca?: CaMaterial;
  facts?: Facts;
  /** Certificates of an earlier render (`readCertStore`), reused while they still match and are not due. */
  existing?: Map<string, { certPem: string; keyPem: string }>;
  now: Date;
  targets: readonly Target[];
  /** Parallel key generations (default: the pki module's). */
  concurrency?: number;
}

/**
 * Issues (or reuses) the leaf certificates for method `provided`, plans the mesh and renders the
 * chosen targets. `renewal` (method provided) says which certificates were issued or renewed and
 * when a re-render will renew them. The certificate store files (`secrets/<cluster>/certs/…`) are included so the
 * next render can reuse them; the result is sorted by path.
 */
export async function renderFromSpec(
  spec: MeshSpec,
  opts: RenderFromSpecOptions,
): Promise<{ plan: MeshPlan; files: Artefact[]; renewal?: RenewalReport }> {
  let certs: Map<string, ClusterCerts> | undefined;
  let storeFiles: Artefact[] = [];
  let renewal: RenewalReport | undefined;
  if (spec.certificates.method === 'provided') {
    if (!opts.ca) {
      throw new MeshformError(
        'certificate method provided needs the shared CA',
        [
          {
            code: 'CA_MISSING',
            severity: 'error',
            path: 'ca',
            message: 'certificate method provided issues every cluster\'s certificates from the shared CA, but no CA was given',
            rule: 'method provided needs ca.cert and ca.key',
            fix: 'create one with meshform ca init, or point ca.cert/ca.key at an existing one',
          },
        ],
        ExitCode.input,
      );
    }
    const requests = spec.clusters.flatMap((c) => {
      const v = parseCiliumVersion(c.ciliumVersion);
      return clusterLeafRequests({
        cluster: c.name,
        server: serverCertNames(c, spec),
        authMode: spec.authMode,
        localCert: v ? featuresOf(v).localCert : false,
      });
    });
    const issued = await issueLeaves(requests, opts.ca, {
      now: opts.now,
      validityDays: spec.certificates.validityDays,
      renewBeforeDays: spec.certificates.renewBeforeDays,
      keyAlgorithm: spec.certificates.keyAlgorithm,
      existing: opts.existing ?? new Map(),
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
    });
    certs = groupCerts(issued);
    storeFiles = certStoreFiles(issued);
    renewal = renewalReport(issued, spec.certificates.renewBeforeDays);
  }
  const plan = planMesh(spec, {
    ...(opts.facts ? { facts: opts.facts } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(certs ? { certs } : {}),
  });
  const files = [...renderMesh(plan, { targets: opts.targets }), ...storeFiles];
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { plan, files, ...(renewal ? { renewal } : {}) };
}

function groupCerts(issued: IssuedCert[]): Map<string, ClusterCerts> {
  const by = new Map<string, Partial<Record<LeafKind, IssuedCert>>>();
  for (const x of issued) {
    const m = by.get(x.request.cluster) ?? {};
    m[x.request.kind] = x;
    by.set(x.request.cluster, m);
  }
  const out = new Map<string, ClusterCerts>();
  for (const [name, m] of by) {
    if (!m.server || !m.admin || !m.remote) throw new Error(`internal: incomplete certificates for cluster ${name}`);
    out.set(name, { server: m.server, admin: m.admin, remote: m.remote, ...(m.local ? { local: m.local } : {}) });
  }
  return out;
}
