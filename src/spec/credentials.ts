/**
 * Refusing values files that hold key material or kubeconfig credentials (DESIGN.md §11): a
 * values file is copied into files meant for Git (values/, rke2/, fleet/, rancher/), so a private
 * key or a cluster credential in it would be published. Findings name the key path and line in
 * the values file, never the content.
 */
import { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import type { Finding } from '../errors.js';
import { RULES } from '../validate/catalogue.js';
import type { ParsedYaml } from './input.js';
import { formatPath } from './issues.js';

type Seg = string | number;

const PEM_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;
/** The shortest base64 text that can hold a PEM private-key header. */
const MIN_B64 = 40;
/** Keys of a kubeconfig `users[].user` entry that are credentials. */
// client-key-data is refused wherever it appears (see below).
const KUBE_USER_SECRETS = new Set(['token', 'password', 'client-key']);
/** More findings than this about one file say nothing new. */
const MAX_FINDINGS = 20;

/** Whether a string holds a private key: PEM, or base64 of a PEM as Helm values carry it. */
export function holdsPrivateKey(text: string): boolean {
  if (PEM_KEY.test(text)) return true;
  // Helm values carry certificates and keys base64-encoded (tls.ca.key, ...tls.server.key).
  if (text.length < MIN_B64 || !BASE64.test(text)) return false;
  return PEM_KEY.test(Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('latin1'));
}

function keyOf(pairKey: unknown): string | undefined {
  return isScalar(pairKey) ? String(pairKey.value) : undefined;
}

function get(map: unknown, key: string): unknown {
  if (!isMap(map)) return undefined;
  return map.items.find((p) => keyOf(p.key) === key)?.value;
}

/**
 * Every private key (PEM, or base64 of a PEM as Helm values hold it) and every kubeconfig
 * credential (`client-key-data` anywhere; `token`, `password`, `client-key` of a `users:` entry
 * in a `kind: Config` map) in a parsed values file (`text` is its source, for keys in comments),
 * as findings at `findingPath`.
 */
export function credentialFindings(parsed: ParsedYaml, text: string, absPath: string, findingPath: string, specPath: string): Finding[] {
  const out: Finding[] = [];
  const where = (node: Node | null | undefined, at: readonly Seg[]): string => {
    const off = node?.range?.[0];
    const pos = off === undefined ? undefined : parsed.lines.linePos(off);
    return `${formatPath(at) || '(the whole file)'}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`;
  };
  const privateKey = (node: Node, at: readonly Seg[]) => {
    const place = where(node, at);
    const isCaKey = formatPath(at) === 'tls.ca.key';
    out.push({
      code: 'VALUES_PRIVATE_KEY',
      severity: 'error',
      path: findingPath,
      value: `${absPath}: ${place}`,
      message: `values file ${absPath} holds a private key at ${place}; values are copied into files meant for Git`,
      rule: RULES.VALUES_PRIVATE_KEY.rule,
      fix: isCaKey
        ? `meshform manages the shared CA itself: import it with meshform ca import ${absPath} --spec ${specPath}, then delete tls.ca (cert and key) from ${absPath}`
        : `delete ${formatPath(at)} from ${absPath}: meshform issues the clustermesh certificates and writes keys only under secrets/`,
    });
  };
  const credential = (node: Node, at: readonly Seg[]) => {
    const place = where(node, at);
    out.push({
      code: 'VALUES_KUBECONFIG_CREDENTIALS',
      severity: 'error',
      path: findingPath,
      value: `${absPath}: ${place}`,
      message: `values file ${absPath} holds a kubeconfig credential at ${place}; values are copied into files meant for Git`,
      rule: RULES.VALUES_KUBECONFIG_CREDENTIALS.rule,
      fix: `point values: at the Helm values (helm get values rke2-cilium -n kube-system -o yaml) and kubeconfig: at the kubeconfig`,
    });
  };

  const walk = (node: unknown, at: Seg[]): void => {
    if (out.length >= MAX_FINDINGS) return;
    if (isScalar(node)) {
      if (typeof node.value === 'string' && holdsPrivateKey(node.value)) privateKey(node, at);
      return;
    }
    if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...at, i]));
      return;
    }
    if (!isMap(node)) return; // aliases: their anchor is checked where it is defined
    const kubeconfig = isScalar(get(node, 'kind')) && (get(node, 'kind') as { value: unknown }).value === 'Config';
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = keyOf(pair.key);
      const seg = k ?? '?';
      const value = pair.value as Node | null;
      if (k === 'client-key-data' && value && !(isScalar(value) && (value.value === '' || value.value === null))) {
        credential(value, [...at, seg]);
        continue;
      }
      if (kubeconfig && k === 'users' && isSeq(value)) {
        value.items.forEach((u, i) => {
          const user = get(u, 'user');
          if (!isMap(user)) return;
          for (const p of user.items) {
            const uk = keyOf(p.key);
            if (uk && KUBE_USER_SECRETS.has(uk) && p.value) credential(p.value as Node, [...at, 'users', i, 'user', uk]);
          }
        });
      }
      walk(value, [...at, seg]);
    }
  };
  walk(parsed.doc.contents, []);
  // Comments are copied into the output as well: a PEM key the walk did not meet sits in one.
  const m = out.some((f) => f.code === 'VALUES_PRIVATE_KEY') ? null : PEM_KEY.exec(text);
  if (m) {
    const pos = parsed.lines.linePos(m.index);
    out.push({
      code: 'VALUES_PRIVATE_KEY',
      severity: 'error',
      path: findingPath,
      value: `${absPath}: line ${pos.line}`,
      message: `values file ${absPath} holds a private key in a comment (line ${pos.line}, column ${pos.col}); comments are copied into files meant for Git`,
      rule: RULES.VALUES_PRIVATE_KEY.rule,
      fix: `delete the key from ${absPath}`,
    });
  }
  return out;
}
