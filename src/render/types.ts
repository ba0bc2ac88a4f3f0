import type { KubeObject } from '../kube/client.js';

/**
 * What a rendered file is for: consumers (the writer, the CLI summary, apply) pick artefacts by
 * role and cluster, never by matching path strings.
 */
export type ArtefactRole =
  /** `values/<c>.yaml`: Helm values (no keys). */
  | 'values'
  /** `secrets/<c>.values.yaml`: the secret Helm values, the second `-f`. */
  | 'secretValues'
  /** `rke2/<c>/rke2-cilium-config.yaml`: the HelmChartConfig meshform applies (no keys). */
  | 'helmChartConfig'
  /** `secrets/<c>/rke2-cilium-config.yaml`: the HelmChartConfig with inline keys (old RKE2). */
  | 'helmChartConfigInline'
  /** `secrets/<c>/rke2-cilium-values.yaml`: the Secret HelmChartConfig `spec.valuesSecrets` names. */
  | 'valuesSecret'
  /** `secrets/<c>/clustermesh-apiserver-<kind>-cert.yaml`: a pre-created certificate Secret. */
  | 'certSecret'
  /** `rancher/<c>.tf` / `rancher/<c>.yaml`: Rancher/Terraform fragments. */
  | 'rancher'
  /** `fleet/…`: the Fleet bundle and its per-cluster overlays. */
  | 'fleet'
  /** `plan.json`. */
  | 'plan'
  /** `secrets/<c>/certs/…`: the certificate store the next render reuses. */
  | 'certStore'
  /** `secrets/.gitignore`. */
  | 'gitignore'
  /** Files of other commands (init's mesh.yaml and values, discover's facts). */
  | 'other';

/** One output file, relative to the output folder. */
export interface RenderedFile {
  /** POSIX path relative to the output folder, e.g. `values/mesh01.yaml`. */
  path: string;
  content: string;
  /** Written 0600 (folders 0700) and never printed. */
  secret: boolean;
  /** The cluster it belongs to; absent for mesh-wide files (plan.json, fleet.yaml, .gitignore). */
  cluster?: string;
  /** What it is for (render always sets it). */
  role?: ArtefactRole;
  /** For Kubernetes manifests: the objects `content` holds, in order, as apply sends them (parsed from `content` on first read). */
  readonly objects?: KubeObject[];
}

/** A file from `render`: role always set. */
export interface Artefact extends RenderedFile {
  role: ArtefactRole;
}

export type Target = 'values' | 'rke2' | 'rancher' | 'fleet' | 'plan';
export const ALL_TARGETS: readonly Target[] = ['values', 'rke2', 'rancher', 'fleet', 'plan'];
