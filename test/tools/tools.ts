/**
 * The upstream CLIs lab/build-tools.sh builds (cilium-cli, Fleet CLI). A suite that needs one fails
 * loudly when it is missing: nothing is skipped.
 */
import { existsSync } from 'node:fs';
import { labPaths } from '../../lab/src/paths.js';

export const toolPaths = labPaths();

/** The binary's path, or an error that says how to build it. */
export function requireTool(file: string): string {
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`bash lab/build.sh\` first (it builds it with lab/build-tools.sh)`);
  return file;
}
