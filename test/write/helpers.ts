import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every plain file below `dir`, relative and sorted. */
export function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...listFiles(dir, p));
    else out.push(p);
  }
  return out.sort();
}
