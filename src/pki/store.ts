/**
 * Where the leaf certificates of a render live, so the next render can reuse them:
 * `secrets/<cluster>/certs/<kind>.crt` and `.key` in the output folder (secret files, 0600).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RenderedFile } from '../render/types.js';
import { storeKey } from './leaf.js';
import type { IssuedCert, LeafKind } from './types.js';

const KINDS: readonly LeafKind[] = ['server', 'admin', 'remote', 'local'];
/** A leaf certificate or key is a few kB; anything larger is not ours and is not read. */
const MAX_BYTES = 256 * 1024;

export function certStorePath(cluster: string, kind: LeafKind, ext: 'crt' | 'key'): string {
  return `secrets/${cluster}/certs/${kind}.${ext}`;
}

/** The store files for the issued certificates (both marked secret: they sit under secrets/). */
export function certStoreFiles(issued: IssuedCert[]): RenderedFile[] {
  return issued.flatMap((c) => [
    { path: certStorePath(c.request.cluster, c.request.kind, 'crt'), content: c.certPem, secret: true },
    { path: certStorePath(c.request.cluster, c.request.kind, 'key'), content: c.key.reveal(), secret: true },
  ]);
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    const buf = await readFile(path);
    return buf.length <= MAX_BYTES ? buf.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the certificates an earlier render left in `outDir`, keyed `<cluster>/<kind>`. A missing,
 * unreadable or half-present pair is left out; garbled content is passed on and simply fails the
 * reuse check, so the certificate is issued anew.
 */
export async function readCertStore(outDir: string, clusters: string[]): Promise<Map<string, { certPem: string; keyPem: string }>> {
  const out = new Map<string, { certPem: string; keyPem: string }>();
  const pairs = clusters.flatMap((cluster) => KINDS.map((kind) => ({ cluster, kind })));
  // Bounded fan-out: 511 clusters × 4 kinds × 2 files would otherwise open 4000 files at once.
  const LIMIT = 64;
  for (let i = 0; i < pairs.length; i += LIMIT) {
    await Promise.all(
      pairs.slice(i, i + LIMIT).map(async (p) => {
        const [certPem, keyPem] = await Promise.all([
          readOrUndefined(join(outDir, certStorePath(p.cluster, p.kind, 'crt'))),
          readOrUndefined(join(outDir, certStorePath(p.cluster, p.kind, 'key'))),
        ]);
        if (certPem !== undefined && keyPem !== undefined) out.set(storeKey(p), { certPem, keyPem });
      }),
    );
  }
  return out;
}
