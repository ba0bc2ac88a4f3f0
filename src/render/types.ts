/** One output file, relative to the output folder. */
export interface RenderedFile {
  /** POSIX path relative to the output folder, e.g. `values/mesh01.yaml`. */
  path: string;
  content: string;
  /** Written 0600 (folders 0700) and never printed. */
  secret: boolean;
}

export type Target = 'values' | 'rke2' | 'rancher' | 'fleet' | 'plan';
export const ALL_TARGETS: readonly Target[] = ['values', 'rke2', 'rancher', 'fleet', 'plan'];
