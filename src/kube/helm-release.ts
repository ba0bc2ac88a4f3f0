import { gunzipSync, gzipSync } from 'node:zlib';
import { field, num, str, strMap, type ClusterClient, type KubeObject } from './client.js';

/** A Helm release as stored by Helm 3 in a `helm.sh/release.v1` Secret, reduced to what meshform reads. */
export interface HelmRelease {
  name: string;
  namespace: string;
  /** Revision (the `vN` of the Secret name). */
  revision: number;
  /** deployed, superseded, failed, pending-upgrade, ... */
  status: string;
  chartName?: string;
  chartVersion?: string;
  appVersion?: string;
  /** User-supplied values (`helm get values`). */
  config: Record<string, unknown>;
}

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];

/**
 * Decodes the `release` payload without a helm binary: Kubernetes' base64 (already undone when
 * `k8sBase64` is false) → Helm's base64 → gzip (when the magic bytes are there) → JSON.
 */
export function decodeReleasePayload(data: string, k8sBase64 = true): unknown {
  const helmB64 = k8sBase64 ? Buffer.from(data, 'base64').toString('latin1') : data;
  let bytes = Buffer.from(helmB64, 'base64');
  if (GZIP_MAGIC.every((b, i) => bytes[i] === b)) bytes = gunzipSync(bytes);
  return JSON.parse(bytes.toString('utf8'));
}

/** Encodes a release object the way Helm stores it, including Kubernetes' base64 of `data`. */
export function encodeReleasePayload(release: unknown): string {
  const helmB64 = gzipSync(Buffer.from(JSON.stringify(release), 'utf8')).toString('base64');
  return Buffer.from(helmB64, 'latin1').toString('base64');
}

/** Revision of a Helm release Secret, from its `version` label or its `.vN` name suffix. */
export function releaseRevision(secret: KubeObject): number {
  const label = num(secret.metadata.labels?.['version']);
  if (label !== undefined) return label;
  const m = /\.v(\d+)$/.exec(secret.metadata.name);
  return m ? Number(m[1]) : 0;
}

/** Decodes one `sh.helm.release.v1.<name>.v<N>` Secret. Throws on a payload that does not decode. */
export function decodeHelmReleaseSecret(secret: KubeObject): HelmRelease {
  const data = str(field(secret, 'data', 'release'));
  if (!data) throw new Error(`Secret ${secret.metadata.name} has no data.release`);
  const rel = decodeReleasePayload(data) as Record<string, unknown>;
  const labels = strMap(secret.metadata.labels);
  const config = field(rel, 'config');
  return {
    name: str(rel['name']) ?? labels['name'] ?? '',
    namespace: str(rel['namespace']) ?? secret.metadata.namespace ?? '',
    revision: num(rel['version']) ?? releaseRevision(secret),
    status: str(field(rel, 'info', 'status')) ?? labels['status'] ?? 'unknown',
    chartName: str(field(rel, 'chart', 'metadata', 'name')),
    chartVersion: str(field(rel, 'chart', 'metadata', 'version')),
    appVersion: str(field(rel, 'chart', 'metadata', 'appVersion')),
    config: config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : {},
  };
}

/**
 * The Secret holding the release's current state: the newest `deployed` revision, else the newest
 * revision of any status (a failed upgrade still says what was tried).
 */
export function currentReleaseSecret(secrets: readonly KubeObject[], release: string): KubeObject | undefined {
  const mine = secrets
    .filter((s) => s.type === 'helm.sh/release.v1' || s.metadata.labels?.['owner'] === 'helm')
    .filter((s) => s.metadata.labels?.['name'] === release || s.metadata.name.startsWith(`sh.helm.release.v1.${release}.v`))
    .sort((a, b) => releaseRevision(b) - releaseRevision(a));
  return mine.find((s) => s.metadata.labels?.['status'] === 'deployed') ?? mine[0];
}

/** Where a release stands, as its Secrets say: what apply reads before writing and while waiting. */
export interface ReleaseState {
  /** The newest revision of any status. */
  revision: number;
  /** Status of that newest revision (deployed, failed, pending-upgrade, …). */
  status: string;
  /** User values of the current (deployed) revision. */
  config: Record<string, unknown>;
}

/** The state of release `release` in `namespace`, or undefined when it has no Secret. */
export async function readReleaseState(client: ClusterClient, release: string, namespace: string): Promise<ReleaseState | undefined> {
  const secrets = await client.list('Secret', { namespace, labelSelector: `owner=helm,name=${release}` });
  const s = currentReleaseSecret(secrets, release);
  if (!s) return undefined;
  const r = decodeHelmReleaseSecret(s);
  // The newest revision of any status tells whether an upgrade ran and how it ended; the values
  // are those of the current (deployed) one.
  const newest = [...secrets].sort((a, b) => releaseRevision(b) - releaseRevision(a))[0];
  const status = newest && releaseRevision(newest) > r.revision ? (newest.metadata.labels?.['status'] ?? 'unknown') : r.status;
  return { revision: Math.max(r.revision, newest ? releaseRevision(newest) : 0), status, config: r.config };
}
