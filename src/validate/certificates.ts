/**
 * Certificate rules (DESIGN.md §5, TLS): the renewal window, a CA that outlives the certificates
 * issued from it, and the helm method's drift (on RKE2: at every helm-controller run).
 */
import { SPEC_DEFAULTS } from '../defaults.js';
import { CHART_CA_VALIDITY_DAYS, featuresOf, parseCiliumVersion } from '../util/version.js';
import { cpath, isMap, valuesOf, type Rule, type ValidateContext } from './context.js';
import type { MeshSpec } from '../spec/types.js';

const DAY_MS = 86_400_000;
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** RKE2 installs Cilium here when the release is RKE2's own, or an RKE2 version is known for a cluster. */
function onRke2(spec: MeshSpec, ctx: ValidateContext): boolean {
  if (spec.cilium.release === SPEC_DEFAULTS.release) return true;
  return spec.clusters.some((c) => {
    const f = ctx.facts?.clusters[c.name];
    return c.rke2Version !== undefined || f?.rke2Version !== undefined || f?.helmChart !== undefined;
  });
}

export const checkCertificates: Rule = (spec, ctx, out) => {
  const { method, validityDays, renewBeforeDays } = spec.certificates;
  if (renewBeforeDays >= validityDays) {
    out.add(
      'CERT_RENEW_WINDOW',
      'certificates.renewBeforeDays',
      String(renewBeforeDays),
      `renewBeforeDays ${renewBeforeDays} is not shorter than validityDays ${validityDays}: every render would re-issue every certificate`,
      `make renewBeforeDays smaller than validityDays (default ${SPEC_DEFAULTS.certificates.renewBeforeDays})`,
    );
  }

  // Whoever issues (meshform, the chart's helm templates or certgen, cert-manager), a leaf that
  // outlives its CA is rejected by every peer from the day the CA expires; Cilium 1.20's certgen
  // refuses to issue one (certgen.enforceCAValidityThroughoutLeavesDuration, on by default).
  const now = ctx.now.getTime();
  const leavesEnd = now + validityDays * DAY_MS;
  if (ctx.ca) {
    const caEnd = ctx.ca.notAfter.getTime();
    if (caEnd < leavesEnd) {
      const left = Math.max(0, Math.floor((caEnd - now) / DAY_MS));
      out.add(
        'CA_EXPIRES_BEFORE_LEAVES',
        'certificates.validityDays',
        String(validityDays),
        `the shared CA expires on ${day(caEnd)}, before certificates issued now for ${validityDays} days would (${day(leavesEnd)}): peers would reject them from ${day(caEnd)} on`,
        `rotate to a CA valid for more than ${validityDays} days (meshform ca init --days N), or set certificates.validityDays to at most ${left}`,
      );
    }
  } else if (method === 'cronJob') {
    // Without a shared CA the chart's certgen makes one, valid tls.ca.certValidityDuration days.
    for (const c of spec.clusters) {
      const v = valuesOf(c, ctx);
      const ca = v && isMap(v.data.tls) && isMap(v.data.tls.ca) ? v.data.tls.ca.certValidityDuration : undefined;
      const caDays = typeof ca === 'number' ? ca : CHART_CA_VALIDITY_DAYS;
      if (caDays >= validityDays) continue;
      out.add(
        'CA_EXPIRES_BEFORE_LEAVES',
        typeof ca === 'number' ? cpath(c, 'values') : 'certificates.validityDays',
        String(validityDays),
        `${c.name}: the chart's certgen makes its CA valid for ${caDays} days (tls.ca.certValidityDuration${typeof ca === 'number' ? ` in ${v!.where}` : ', the chart default'}), shorter than the ${validityDays} days of the certificates it issues from it`,
        `set certificates.validityDays to at most ${caDays}, or give the mesh a shared CA (ca: {cert, key}, meshform ca init)`,
      );
    }
  }

  // 1.15–1.17 mount KVStoreMesh's trust from the remote certificate Secret whatever tls.caBundle
  // says; 1.16–1.17 let meshform pre-create that Secret with the bundle (render), 1.15 cannot
  // (its chart always makes the Secret itself from tls.ca.cert, or certgen/cert-manager do).
  if (spec.ca?.trust?.length) {
    for (const c of spec.clusters) {
      const v = parseCiliumVersion(c.ciliumVersion);
      if (!v) continue;
      const f = featuresOf(v);
      const kvstoremesh = c.kvstoremesh ?? f.kvstoremeshDefault;
      if (!kvstoremesh || !f.kvstoremeshIgnoresCaBundle || (method === 'provided' && f.enableSecretsKey)) continue;
      out.add(
        'CA_BUNDLE_UNREACHABLE',
        cpath(c, 'kvstoremesh'),
        String(kvstoremesh),
        `${c.name} runs Cilium ${c.ciliumVersion} with KVStoreMesh: its chart mounts KVStoreMesh's trust from Secret clustermesh-apiserver-remote-cert${method === 'provided' ? ', which it renders itself from tls.ca.cert' : ''}, never from tls.caBundle, so it would not trust the CAs of ca.trust`,
        method === 'provided'
          ? `set ${cpath(c, 'kvstoremesh')}: false (the 1.15 default), or upgrade ${c.name} to Cilium 1.16 or newer`
          : method === 'keep'
            ? `upgrade ${c.name} to Cilium 1.18 or newer before adopting it, or set ${cpath(c, 'kvstoremesh')}: false while it keeps its own CA`
            : `use certificates.method provided (meshform then pre-creates the Secret with the bundle on 1.16–1.17), or upgrade ${c.name} to Cilium 1.18 or newer`,
      );
    }
  }

  if (method === 'helm') {
    if (onRke2(spec, ctx)) {
      out.add(
        'CERT_METHOD_HELM_RKE2',
        'certificates.method',
        'helm',
        "certificate method helm on RKE2: RKE2's helm-controller runs helm again at every HelmChart or HelmChartConfig change and every RKE2 upgrade, and every run makes new clustermesh-apiserver certificates (the chart's tls-helm templates call genSignedCert at each render): the live Secrets drift from Git and every peer reconnects with the new certificates",
        `use certificates.method provided (the default): meshform issues stable certificates from the shared CA and renews them itself within renewBeforeDays (${renewBeforeDays}) of expiry`,
      );
    } else {
      out.add(
        'CERT_METHOD_HELM_DRIFT',
        'certificates.method',
        'helm',
        'certificate method helm: the chart re-issues the clustermesh-apiserver certificates at every render (and a new CA where lookup cannot reach the cluster), so GitOps tools see endless drift',
        'use certificates.method provided (the default), cronJob or certmanager',
      );
    }
  }
};
