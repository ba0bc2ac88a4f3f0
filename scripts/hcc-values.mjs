// Helper of check-real-charts.sh: writes the values files RKE2's helm-controller would pass for a
// rendered HelmChartConfig: `global.*` (injected by RKE2; taken from values/<c>.yaml), then
// spec.valuesContent, then the valuesSecrets Secret's values. Usage: node hcc-values.mjs OUT_DIR CLUSTER TMPDIR
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
const [out, c, tmp] = process.argv.slice(2);
const hccPath = [join(out, 'rke2', c, 'rke2-cilium-config.yaml'), join(out, 'secrets', c, 'rke2-cilium-config.yaml')].find(existsSync);
if (!hccPath) process.exit(3);
const hcc = parse(readFileSync(hccPath, 'utf8'));
const files = [];
const global = parse(readFileSync(join(out, 'values', `${c}.yaml`), 'utf8'))?.global;
if (global) { writeFileSync(join(tmp, 'g.yaml'), stringify({ global })); files.push(join(tmp, 'g.yaml')); }
writeFileSync(join(tmp, 'vc.yaml'), hcc.spec.valuesContent); files.push(join(tmp, 'vc.yaml'));
for (const ref of hcc.spec.valuesSecrets ?? []) {
  const s = parse(readFileSync(join(out, 'secrets', c, 'rke2-cilium-values.yaml'), 'utf8'));
  if (s.metadata.name !== ref.name) throw new Error(`valuesSecrets names ${ref.name}, Secret is ${s.metadata.name}`);
  for (const k of ref.keys) { writeFileSync(join(tmp, `vs-${k}`), s.stringData[k]); files.push(join(tmp, `vs-${k}`)); }
}
console.log(files.join('\n'));
