import { ExitCode, MeshformError, type Finding } from '../errors.js';
import type { CodeOfArea } from '../validate/catalogue.js';

/** Codes of cluster access failures (all exit 3): the catalogue's area `cluster`. */
export type ClusterErrorCode = CodeOfArea<'cluster'>;

export interface ClusterErrorInput {
  cluster: string;
  code: ClusterErrorCode;
  message: string;
  rule: string;
  fix: string;
  /** Spec path, e.g. `clusters[1]`; `` when not known. */
  path?: string;
  value?: string;
}

/** A cluster/IO failure (exit 3) with one finding; the message always names the cluster. */
export function clusterError(e: ClusterErrorInput): MeshformError {
  const message = e.message.startsWith(`cluster ${e.cluster}`) ? e.message : `cluster ${e.cluster}: ${e.message}`;
  const finding: Finding = {
    code: e.code,
    severity: 'error',
    path: e.path ?? '',
    message,
    rule: e.rule,
    fix: e.fix,
    ...(e.value !== undefined ? { value: e.value } : {}),
  };
  return new MeshformError(message, [finding], ExitCode.cluster);
}

/** The finding code of a MeshformError, if it has exactly one. */
export function errorCode(err: unknown): Finding['code'] | undefined {
  return err instanceof MeshformError ? err.findings[0]?.code : undefined;
}

/** Any error as a user-facing MeshformError about `cluster` (unexpected ones become KUBE_API). */
export function asClusterError(cluster: string, err: unknown): MeshformError {
  if (err instanceof MeshformError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return clusterError({
    cluster,
    code: 'KUBE_API',
    message: text,
    rule: 'cluster calls must succeed',
    fix: 'retry; if it persists, check the API server logs',
  });
}
