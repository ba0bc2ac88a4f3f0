/**
 * Refusing values files that hold key material or kubeconfig credentials (DESIGN.md §11): a
 * values file is copied into files meant for Git (values/, rke2/, fleet/, rancher/), so a private
 * key or a cluster credential in it would be published. Findings name the key path and line in
 * the values file, never the content.
 */
import type { Finding } from '../errors.js';
import { RULES } from '../validate/catalogue.js';
import { locate, type ParsedYaml } from './input.js';
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

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every private key (PEM, or base64 of a PEM as Helm values hold it) and every kubeconfig
 * credential (`client-key-data` anywhere; `token`, `password`, `client-key` of a `users:` entry
 * in a `kind: Config` map) in a parsed values file (`text` is its source, for keys in comments),
 * as findings at `findingPath`.
 */
export function credentialFindings(parsed: ParsedYaml, text: string, absPath: string, findingPath: string, specPath: string): Finding[] {
  const out: Finding[] = [];
  // Positions are looked up only for a finding: the document is built then, not for every file.
  const where = (at: readonly Seg[]): string => {
    const pos = locate(parsed, at);
    return `${formatPath(at) || '(the whole file)'}${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`;
  };
  const privateKey = (at: readonly Seg[]) => {
    const place = where(at);
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
  const credential = (at: readonly Seg[]) => {
    const place = where(at);
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

  // The data of a file with aliases shares what they repeat: each object and long string is
  // checked once, where the walk first meets it (an alias bomb repeats one string many times).
  const seenObjects = new Set<object>();
  const seenStrings = new Set<string>();
  const walk = (node: unknown, at: Seg[]): void => {
    if (out.length >= MAX_FINDINGS) return;
    if (typeof node === 'string') {
      if (node.length >= MIN_B64 ? !seenStrings.has(node) && (seenStrings.add(node), holdsPrivateKey(node)) : holdsPrivateKey(node)) privateKey(at);
      return;
    }
    if (node === null || typeof node !== 'object' || seenObjects.has(node)) return;
    seenObjects.add(node);
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, [...at, i]));
      return;
    }
    const map = node as Record<string, unknown>;
    const kubeconfig = map.kind === 'Config';
    for (const [k, value] of Object.entries(map)) {
      if (k === 'client-key-data' && value !== '' && value !== null && value !== undefined) {
        credential([...at, k]);
        continue;
      }
      if (kubeconfig && k === 'users' && Array.isArray(value)) {
        value.forEach((u, i) => {
          const user = isMap(u) ? u.user : undefined;
          if (!isMap(user)) return;
          for (const [uk, uv] of Object.entries(user)) {
            if (KUBE_USER_SECRETS.has(uk) && uv !== null && uv !== undefined && uv !== '') credential([...at, 'users', i, 'user', uk]);
          }
        });
      }
      walk(value, [...at, k]);
    }
  };
  walk(parsed.data, []);
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
