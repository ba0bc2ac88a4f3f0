/**
 * Where the leaf certificates of a render live, so the next render can reuse them:
 * `secrets/<cluster>/certs/<kind>.crt` and `.key`, plus the cluster's certificate index
 * `secrets/<cluster>/certs/index.json` (record.ts), in the output folder (secret files, 0600).
 */
import { join } from 'node:path';
import type { Artefact, RenderedFile } from '../render/types.js';
import { readBoundedSync } from '../util/bounded-read.js';
import { storeKey, type StoredLeaf } from './leaf.js';
import { indexFileContent, parseIndexFile, type LeafRecord } from './record.js';
import type { IssuedCert, LeafKind } from './types.js';

const KINDS: readonly LeafKind[] = ['server', 'admin', 'remote', 'local'];
/** A leaf certificate or key is a few kB; anything larger is not ours and is not read. */
const MAX_BYTES = 256 * 1024;

export function certStorePath(cluster: string, kind: LeafKind, ext: 'crt' | 'key'): string {
  return `secrets/${cluster}/certs/${kind}.${ext}`;
}

/** The certificate index of one cluster. */
export function certIndexPath(cluster: string): string {
  return `secrets/${cluster}/certs/index.json`;
}

/**
 * The store files for the issued certificates (all marked secret: they sit under secrets/): each
 * certificate and key, and per cluster the index of the records `issueLeaves` attached (a cluster
 * with no record gets no index). The index content depends only on the records, so a re-render
 * that keeps every certificate writes the same bytes.
 */
export function certStoreFiles(issued: IssuedCert[]): Artefact[] {
  const out: Artefact[] = [];
  const byCluster = new Map<string, Partial<Record<LeafKind, LeafRecord>>>();
  for (const c of issued) {
    out.push(
      { path: certStorePath(c.request.cluster, c.request.kind, 'crt'), content: c.certPem, secret: true, role: 'certStore', cluster: c.request.cluster },
      { path: certStorePath(c.request.cluster, c.request.kind, 'key'), content: c.key.reveal(), secret: true, role: 'certStore', cluster: c.request.cluster },
    );
    if (!c.record) continue;
    const records = byCluster.get(c.request.cluster) ?? {};
    records[c.request.kind] = c.record;
    byCluster.set(c.request.cluster, records);
  }
  for (const [cluster, records] of byCluster) out.push({ path: certIndexPath(cluster), content: indexFileContent(records), secret: true, role: 'certStore', cluster });
  return out;
}

/** The file's text, or undefined when it is missing, unreadable, not a regular file or too large. */
function readOrUndefined(path: string): string | undefined {
  const r = readBoundedSync(path, MAX_BYTES);
  return r.ok ? r.bytes.toString('utf8') : undefined;
}

/**
 * Reads the certificates an earlier render left in `outDir`, keyed `<cluster>/<kind>`, each with
 * its index record when the cluster's index has a well-formed one. A missing, unreadable or
 * half-present pair is left out; garbled content is passed on and simply fails the reuse check,
 * so the certificate is issued anew. A missing or garbled index only means the full check runs.
 *
 * The reads are synchronous on purpose: for a 511-cluster mesh (4,600 small files) fs/promises'
 * readFile spends ~0.7 s of CPU in its per-file promise and thread-pool round trips, plain
 * synchronous reads ~0.1 s, and nothing else runs meanwhile in a render.
 */
export async function readCertStore(outDir: string, clusters: string[]): Promise<Map<string, StoredLeaf>> {
  const out = new Map<string, StoredLeaf>();
  for (const cluster of clusters) {
    const indexText = readOrUndefined(join(outDir, certIndexPath(cluster)));
    const records = indexText === undefined ? {} : parseIndexFile(indexText);
    for (const kind of KINDS) {
      const certPem = readOrUndefined(join(outDir, certStorePath(cluster, kind, 'crt')));
      const keyPem = certPem === undefined ? undefined : readOrUndefined(join(outDir, certStorePath(cluster, kind, 'key')));
      if (certPem === undefined || keyPem === undefined) continue;
      const record = records[kind];
      out.set(storeKey({ cluster, kind }), record ? { certPem, keyPem, record } : { certPem, keyPem });
    }
  }
  return out;
}

/**
 * The same map from files in memory (a render's result), for callers that hold the output
 * rather than a folder (benchmarks, tests).
 */
export function certStoreFromFiles(files: readonly RenderedFile[]): Map<string, StoredLeaf> {
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const out = new Map<string, StoredLeaf>();
  const clusters = new Set<string>();
  for (const f of files) {
    const m = /^secrets\/([^/]+)\/certs\/[a-z]+\.crt$/.exec(f.path);
    if (m) clusters.add(m[1]!);
  }
  for (const cluster of clusters) {
    const indexText = byPath.get(certIndexPath(cluster));
    const records = indexText === undefined ? {} : parseIndexFile(indexText);
    for (const kind of KINDS) {
      const certPem = byPath.get(certStorePath(cluster, kind, 'crt'));
      const keyPem = byPath.get(certStorePath(cluster, kind, 'key'));
      if (certPem === undefined || keyPem === undefined) continue;
      const record = records[kind];
      out.set(storeKey({ cluster, kind }), record ? { certPem, keyPem, record } : { certPem, keyPem });
    }
  }
  return out;
}
