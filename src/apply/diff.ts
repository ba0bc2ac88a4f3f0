import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { createTwoFilesPatch } from 'diff';
import { parseAllDocuments, stringify } from 'yaml';
import { MeshformError, ExitCode } from '../errors.js';
import { isKind, type ClusterClient, type KubeObject } from '../kube/client.js';

/**
 * Parses rendered manifests (multi-document YAML, e.g. `rke2/<cluster>/rke2-cilium-config.yaml`)
 * into objects. Throws an input error for a document that is not a Kubernetes object meshform knows.
 */
export function objectsFromYaml(text: string, source = 'manifest'): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new MeshformError(`${source}: ${doc.errors[0]?.message}`, [], ExitCode.input);
    const o = doc.toJS() as KubeObject | null;
    if (o === null || o === undefined) continue;
    if (typeof o !== 'object' || typeof o.kind !== 'string' || !o.metadata?.name || !isKind(o.kind)) {
      throw new MeshformError(`${source}: a document is not an object meshform can apply (kind ${String((o as { kind?: unknown })?.kind)})`, [], ExitCode.input);
    }
    out.push(o);
  }
  return out;
}

/** Secrets are compared and applied by `data` only; `stringData` is folded in (as the API server does). */
export function normaliseObject(o: KubeObject): KubeObject {
  if (o.kind !== 'Secret' || !o['stringData']) return o;
  const { stringData, ...rest } = o as KubeObject & { stringData: Record<string, string>; data?: Record<string, string> };
  const data: Record<string, string> = { ...(rest.data ?? {}) };
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
  return { ...rest, data } as KubeObject;
}

/** The part of `live` that `desired` speaks about: maps follow desired's keys, anything else is taken whole. */
export function project(desired: unknown, live: unknown): unknown {
  if (desired && typeof desired === 'object' && !Array.isArray(desired)) {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return undefined;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(desired)) {
      const v = project((desired as Record<string, unknown>)[k], (live as Record<string, unknown>)[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return live;
}

/** The fields of an object meshform owns when it applies it (identity fields are not compared). */
function managedView(o: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, ...body } = o;
  const meta: Record<string, unknown> = {};
  if (metadata.labels) meta['labels'] = metadata.labels;
  if (metadata.annotations) meta['annotations'] = metadata.annotations;
  return Object.keys(meta).length ? { metadata: meta, ...body } : body;
}

function fingerprint(b64: string): string {
  return `[secret sha256:${createHash('sha256').update(b64).digest('hex').slice(0, 12)}]`;
}

/** Secret values never reach a diff: each is shown as a short fingerprint, enough to see a change. */
function redact(kind: string, view: unknown): unknown {
  if (kind !== 'Secret' || !view || typeof view !== 'object') return view;
  const v = { ...(view as Record<string, unknown>) };
  if (v['data'] && typeof v['data'] === 'object') {
    v['data'] = Object.fromEntries(Object.entries(v['data'] as Record<string, string>).map(([k, x]) => [k, fingerprint(String(x))]));
  }
  return v;
}

export type ObjectDiffState = 'same' | 'differs' | 'missing';

export interface ObjectDiff {
  kind: string;
  namespace?: string;
  name: string;
  state: ObjectDiffState;
  /** Unified diff (live → rendered), secret values redacted; empty when `same`. */
  text: string;
}

function toYaml(v: unknown): string {
  return v === undefined ? '' : stringify(v, { lineWidth: 0, sortMapEntries: true });
}

/** Compares one rendered object with its live counterpart (`undefined` when absent). Pure. */
export function diffObject(rendered: KubeObject, live: KubeObject | undefined): ObjectDiff {
  const desired = managedView(normaliseObject(rendered));
  const id = { kind: rendered.kind, name: rendered.metadata.name, ...(rendered.metadata.namespace ? { namespace: rendered.metadata.namespace } : {}) };
  const label = `${rendered.kind} ${rendered.metadata.namespace ? `${rendered.metadata.namespace}/` : ''}${rendered.metadata.name}`;
  if (!live) {
    return { ...id, state: 'missing', text: createTwoFilesPatch(`live: ${label} (absent)`, `rendered: ${label}`, '', toYaml(redact(rendered.kind, desired)), undefined, undefined, { context: 3 }) };
  }
  const current = project(desired, managedView(live)) ?? {};
  if (isDeepStrictEqual(current, desired)) return { ...id, state: 'same', text: '' };
  const text = createTwoFilesPatch(`live: ${label}`, `rendered: ${label}`, toYaml(redact(rendered.kind, current)), toYaml(redact(rendered.kind, desired)), undefined, undefined, { context: 3 });
  return { ...id, state: 'differs', text };
}

/** Reads each rendered object's live version and compares. */
export async function diffCluster(client: ClusterClient, rendered: readonly KubeObject[]): Promise<ObjectDiff[]> {
  return await Promise.all(
    rendered.map(async (o) => {
      if (!isKind(o.kind)) throw new Error(`unknown kind ${o.kind}`);
      return diffObject(o, await client.get(o.kind, o.metadata.name, o.metadata.namespace));
    }),
  );
}

/** Values diff for `--method helm`: current release values vs the merged rendered values; secret leaves redacted. */
export function diffValues(current: Record<string, unknown>, desired: Record<string, unknown>, secretPaths: readonly string[][], label: string): string {
  const mask = (v: Record<string, unknown>) => {
    const copy = structuredClone(v);
    for (const p of secretPaths) {
      let cur: unknown = copy;
      for (let i = 0; i < p.length - 1; i++) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p[i] as string] : undefined;
      const last = p[p.length - 1] as string;
      if (cur && typeof cur === 'object' && last in (cur as object)) {
        (cur as Record<string, unknown>)[last] = fingerprint(String((cur as Record<string, unknown>)[last]));
      }
    }
    return copy;
  };
  if (isDeepStrictEqual(current, desired)) return '';
  return createTwoFilesPatch(`live: ${label} values`, `rendered: ${label} values`, toYaml(mask(current)), toYaml(mask(desired)), undefined, undefined, { context: 3 });
}
