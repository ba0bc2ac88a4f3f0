/** TLS rules checkable without parsing certificates (DESIGN.md §5); the CA itself is checked by src/pki. */
import { formatIp, parseIp } from '../util/cidr.js';
import { cpath, type Rule } from './context.js';

/** The chart's server certificate always carries these, whatever the domain. */
const BUILTIN_DNS = ['*.mesh.cilium.io'];
const BUILTIN_IPS = ['127.0.0.1', '::1'];

const LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS name (lower case, no trailing dot), as certificate SANs and hostAliases need. */
export function isDnsName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => LABEL_RE.test(l));
}

/** RFC 6125 matching: exact, or a leading `*.` standing for exactly one label. */
export function dnsCovered(name: string, sans: readonly string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return sans.some((san) => {
    const s = san.toLowerCase().replace(/\.$/, '');
    if (s === n) return true;
    if (!s.startsWith('*.')) return false;
    const dot = n.indexOf('.');
    return dot > 0 && n.slice(dot + 1) === s.slice(2);
  });
}

export const checkTls: Rule = (spec, ctx, out) => {
  const method = spec.certificates.method;
  if ((method === 'provided' || method === 'helm') && !spec.ca) {
    out.add('CA_MISSING', 'ca', undefined, `certificate method ${method} needs the shared CA, and the spec names none`, 'create one with `meshform ca init <dir>` (or import the cilium-ca of a cluster with `meshform ca import`) and set ca: {cert, key}');
  }
  for (const f of ctx.caFindings ?? []) out.findings.push(f);

  if (!isDnsName(spec.domain)) {
    out.add('DOMAIN_INVALID', 'domain', spec.domain, `domain ${JSON.stringify(spec.domain)} is not a DNS name; peers are dialled as <name>.<domain>`, 'use lower-case DNS labels, e.g. mesh.cilium.io (the default)');
  }

  for (const c of spec.clusters) {
    const ep = c.endpoint;
    if (ep.type !== 'LoadBalancer' || ep.address === undefined) continue;
    const p = cpath(c, 'endpoint', 'address');
    const ip = parseIp(ep.address);
    if (ip) {
      const mine = formatIp(ip.family, ip.value);
      const sans = [...BUILTIN_IPS, ...c.tls.extraIpAddresses].map((t) => {
        const x = parseIp(t);
        return x ? formatIp(x.family, x.value) : t;
      });
      if (!sans.includes(mine)) {
        out.add('SAN_NOT_COVERED', p, ep.address, `${c.name} is dialled at IP ${ep.address}, which its server certificate does not cover; peers fail with "certificate is valid for ..., not ${ep.address}"`, `add ${ep.address} to ${cpath(c, 'tls', 'extraIpAddresses')}`);
      }
      continue;
    }
    if (!isDnsName(ep.address.toLowerCase().replace(/\.$/, ''))) {
      out.add('SAN_NOT_COVERED', p, ep.address, `endpoint address ${JSON.stringify(ep.address)} of ${c.name} is neither an IP nor a DNS name`, 'write a DNS name (e.g. clustermesh.example.net) or an IP');
      continue;
    }
    const sans = [...BUILTIN_DNS, `${c.name}.${spec.domain}`, ...c.tls.extraDnsNames];
    if (!dnsCovered(ep.address, sans)) {
      out.add('SAN_NOT_COVERED', p, ep.address, `${c.name} is dialled at ${ep.address}, which its server certificate (${sans.join(', ')}) does not cover; peers fail with "certificate is valid for ..., not ${ep.address}"`, `add it to ${cpath(c, 'tls', 'extraDnsNames')}`);
    }
  }
};
