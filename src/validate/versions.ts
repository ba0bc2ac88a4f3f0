/** Version rules (DESIGN.md §5): parse, ≥ 1.15 (see MIN_MINOR), at most one minor apart, chart ↔ Cilium, RKE2 version form. */
import { MIN_MINOR, NEWEST_KNOWN_MINOR, featuresOf, parseCiliumVersion, rke2ChartVersion, type CiliumVersion } from '../util/version.js';
import { at, type Rule } from './context.js';

/** True when `chart` is the chart of `v`: RKE2's x.y.(z·100+build) or upstream's x.y.z. */
export function chartMatches(chart: CiliumVersion, v: CiliumVersion): boolean {
  if (chart.major !== v.major || chart.minor !== v.minor) return false;
  return chart.patch === v.patch || Math.floor(chart.patch / 100) === v.patch;
}

/** `v1.32.5+rke2r1` as RKE2 reports it; `v` and the `+rke2rN` build are optional. */
const RKE2_VERSION = /^v?\d+\.\d+\.\d+(?:\+rke2r\d+)?$/;

export const checkVersions: Rule = (spec, _ctx, out) => {
  const parsed: { i: number; v: CiliumVersion }[] = [];
  const reported = new Set<string>();
  for (const c of spec.clusters) {
    if (c.rke2Version !== undefined && !RKE2_VERSION.test(c.rke2Version.trim())) {
      out.add(
        'RKE2_VERSION_INVALID',
        at.cluster(c, 'rke2Version'),
        c.rke2Version,
        `${JSON.stringify(c.rke2Version)} is not an RKE2 version; it decides whether the HelmChartConfig can carry the keys through valuesSecrets`,
        'write the version the cluster runs as vMAJOR.MINOR.PATCH+rke2rN, e.g. v1.32.5+rke2r1 (kubectl get nodes shows it), or leave rke2Version out (discover reads it)',
      );
    }
    // A version inherited from cilium.version is reported once, at cilium.version.
    const inherited = c.ciliumVersion === spec.cilium.version;
    const p = inherited ? 'cilium.version' : at.cluster(c, 'ciliumVersion');
    const v = parseCiliumVersion(c.ciliumVersion);
    const once = (key: string, fn: () => void) => {
      if (inherited) {
        if (reported.has(key)) return;
        reported.add(key);
      }
      fn();
    };
    if (!v) {
      once('invalid', () => out.add('VERSION_INVALID', p, c.ciliumVersion, `${JSON.stringify(c.ciliumVersion)} is not a Cilium version (expected MAJOR.MINOR.PATCH)`, 'write the version as e.g. 1.15.5'));
      continue;
    }
    parsed.push({ i: c.index, v });
    if (v.major < 1 || (v.major === 1 && v.minor < MIN_MINOR)) {
      once('old', () => out.add('VERSION_TOO_OLD', p, c.ciliumVersion, `Cilium ${c.ciliumVersion} is older than 1.${MIN_MINOR}, the oldest version meshform supports`, `meshform renders Cilium 1.${MIN_MINOR}–1.${NEWEST_KNOWN_MINOR} (newer minors with a warning): upgrade Cilium to 1.${MIN_MINOR} or newer first`));
    } else if (featuresOf(v).unknownNewer) {
      once('new', () => out.add('VERSION_UNKNOWN_NEWER', p, c.ciliumVersion, `Cilium ${c.ciliumVersion} is newer than 1.${NEWEST_KNOWN_MINOR}, the newest minor meshform knows; values are rendered in the 1.${NEWEST_KNOWN_MINOR} form`, 'check the rendered values against the chart of that version'));
    }
    const cp = at.cluster(c, 'chartVersion');
    const chart = parseCiliumVersion(c.chartVersion);
    if (!chart) {
      out.add('VERSION_INVALID', cp, c.chartVersion, `chart version ${JSON.stringify(c.chartVersion)} of ${c.name} is not a version`, `write the rke2-cilium chart version, e.g. ${rke2ChartVersion(v)}`);
    } else if (!chartMatches(chart, v)) {
      out.add('CHART_VERSION_MISMATCH', cp, c.chartVersion, `chart version ${c.chartVersion} of ${c.name} does not carry Cilium ${c.ciliumVersion} (rke2-cilium ${rke2ChartVersion(v)}, or upstream ${v.major}.${v.minor}.${v.patch})`, `set chartVersion to ${rke2ChartVersion(v)} (or the RKE2 build of it), or correct ciliumVersion`);
    }
  }
  if (parsed.length < 2) return;
  const key = (v: CiliumVersion) => v.major * 1000 + v.minor;
  let lo = parsed[0]!;
  for (const x of parsed) if (key(x.v) < key(lo.v)) lo = x;
  const loC = spec.clusters[lo.i]!;
  for (const x of parsed) {
    if (key(x.v) - key(lo.v) <= 1) continue;
    const c = spec.clusters[x.i]!;
    out.add('VERSION_SKEW', at.cluster(c, 'ciliumVersion'), c.ciliumVersion, `${c.name} runs Cilium ${c.ciliumVersion} but ${loC.name} runs ${loC.ciliumVersion}: more than one minor apart, which Cluster Mesh does not support`, `upgrade ${loC.name} (one minor at a time) or pin ${c.name} to ${lo.v.major}.${lo.v.minor + 1}.x`);
  }
};
