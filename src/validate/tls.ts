/** TLS rules checkable without parsing certificates (DESIGN.md §5); the CA itself is checked by src/pki. */
import { dialledHost, dnsCovered, hostCovered, serverCertNames } from '../pki/names.js';
import { parseIp } from '../util/cidr.js';
import { at, cpath, type Rule } from './context.js';

const LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS name (lower case, no trailing dot), as certificate SANs and hostAliases need. */
export function isDnsName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => LABEL_RE.test(l));
}

export { dnsCovered };

export const checkTls: Rule = (spec, ctx, out) => {
  const method = spec.certificates.method;
  if ((method === 'provided' || method === 'helm') && !spec.ca) {
    out.add('CA_MISSING', 'ca', undefined, `certificate method ${method} needs the shared CA, and the spec names none`, 'create one with `meshform ca init <dir>` (or import the cilium-ca of a cluster with `meshform ca import`) and set ca: {cert, key}');
  }
  if (method === 'keep' && !spec.ca) {
    out.add('CA_MISSING', 'ca', undefined, 'certificate method keep needs the shared CA the mesh converges onto (every cluster trusts it beside its own CA), and the spec names none', 'create one with `meshform ca init ca` and set ca: {cert: ca/ca.crt, key: ca/ca.key}');
  }
  if (method === 'keep' && spec.ca && !spec.ca.trust?.length) {
    out.add('KEEP_WITHOUT_TRUST', 'ca.trust', undefined, 'certificate method keep with no ca.trust: every cluster keeps its own certificates but trusts only the shared CA, so a peer whose certificates another CA issued is refused', "list each cluster's own CA certificate in ca.trust (meshform init writes them when the clusters' CAs differ), or use certificates.method provided");
  }
  for (const f of ctx.caFindings ?? []) out.findings.push(f);

  if (!isDnsName(spec.domain)) {
    out.add('DOMAIN_INVALID', 'domain', spec.domain, `domain ${JSON.stringify(spec.domain)} is not a DNS name; peers are dialled as <name>.<domain>`, 'use lower-case DNS labels, e.g. mesh.cilium.io (the default)');
  }

  // The names come from the same function the certificate and the rendered values use, so this
  // reports what peers will really see: a name that cannot be a SAN, or a dialled host left uncovered.
  for (const c of spec.clusters) {
    const names = serverCertNames(c, spec);
    for (const bad of names.invalid) {
      const p = at.dialled(c, ...bad.field.replace(/\[/g, '.[').split('.'));
      if (bad.field === 'endpoint.address') {
        out.add('SAN_NOT_COVERED', p, bad.value, `endpoint address ${JSON.stringify(bad.value)} of ${c.name} is neither an IP nor a DNS name, so no server certificate can cover it`, 'write a DNS name (e.g. clustermesh.example.net) or an IP');
      } else if (bad.field !== 'name') {
        out.add('SAN_INVALID', p, bad.value, `${JSON.stringify(bad.value)} in the server certificate names of ${c.name} is not ${bad.expected === 'ip' ? 'an IP address' : 'a DNS name'}`, bad.expected === 'ip' ? 'write an address such as 192.0.2.10 or 2001:db8::10, or move a name to extraDnsNames' : 'correct the name, e.g. clustermesh.example.net');
      }
    }
    if (names.invalid.some((b) => b.field === 'endpoint.address')) continue;
    const host = dialledHost(c, spec);
    if (!hostCovered(host, names)) {
      out.add('SAN_NOT_COVERED', at.dialled(c, 'endpoint'), host, `${c.name} is dialled at ${host}, which its server certificate (${[...names.dnsNames, ...names.ipAddresses].join(', ')}) does not cover; peers fail with "certificate is valid for ..., not ${host}"`, `add it to ${cpath(c, 'tls', parseIp(host) ? 'extraIpAddresses' : 'extraDnsNames')}`);
    }
  }
};
