// Every finding code used in src comes from the catalogue (src/validate/catalogue.ts). The type
// system checks literal codes (Finding.code is FindingCode); this test also catches codes the
// types cannot see: written into plain objects, compared as strings, or built from a template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES } from '../../src/validate/catalogue.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Error codes of Node and of meshform's own transport that are not findings (never shown as one). */
const NOT_FINDINGS = new Set(['EISDIR', 'ENOTFILE', 'ETOOBIG', 'EAI_AGAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'MESHFORM_TIMEOUT']);
const isNodeErrno = (c: string): boolean => /^E[A-Z]+$/.test(c) || c.startsWith('ERR_');

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** `code: 'X'`, `code === 'X'`, `code !== 'X'`, `'X'` passed where codes go: every upper-case SNAKE word in a code position. */
function codesIn(text: string): { literal: Set<string>; templates: Set<string> } {
  const literal = new Set<string>();
  const templates = new Set<string>();
  for (const m of text.matchAll(/\bcode\s*(?::|===|!==|==|!=)\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) literal.add(m[1]!);
  for (const m of text.matchAll(/\bcode\s*:\s*`([^`]*)`/g)) templates.add(m[1]!);
  return { literal, templates };
}

for (const [label, dir, ext] of [['src', join(ROOT, 'src'), '.ts'], ['dist/src', join(ROOT, 'dist/src'), '.js']] as const) {
  test(`every finding code in ${label} is in the catalogue`, () => {
    const unknown: string[] = [];
    const templates: string[] = [];
    let seen = 0;
    for (const f of files(dir, ext)) {
      const { literal, templates: t } = codesIn(readFileSync(f, 'utf8'));
      for (const c of literal) {
        seen++;
        if (!(c in RULES) && !NOT_FINDINGS.has(c) && !isNodeErrno(c)) unknown.push(`${f.slice(ROOT.length + 1)}: ${c}`);
      }
      for (const x of t) templates.push(`${f.slice(ROOT.length + 1)}: ${x}`);
    }
    assert.ok(seen > 50, `the scan found ${seen} codes: the pattern no longer matches the sources`);
    assert.deepEqual(unknown, [], 'codes missing from src/validate/catalogue.ts');
    // A code built from a template: every code it can produce must be catalogued. The one template
    // today is `${prefix}_SYNTAX`, prefix typed 'YAML' | 'VALUES' | 'FACTS' (src/spec/input.ts).
    const known: Record<string, string[]> = { '${prefix}_SYNTAX': ['YAML', 'VALUES', 'FACTS'] };
    for (const t of templates) {
      const body = t.slice(t.indexOf(': ') + 2);
      const parts = known[body];
      assert.ok(parts, `${t}: a code built from a template that this test does not know; list what it expands to here`);
      for (const p of parts) assert.ok(body.replace('${prefix}', p) in RULES, `${t} with ${p}`);
    }
  });
}

test('the catalogue documents CA, usage, init, cluster and doctor codes too', () => {
  for (const c of ['CA_EXPIRED', 'CA_KEY_MISMATCH', 'USAGE_TARGETS', 'INIT_EXISTS', 'KUBE_UNREACHABLE', 'CLUSTER_ACCESS', 'SAN_MISSING', 'SAN_INVALID']) {
    assert.ok(c in RULES, c);
  }
  const doc = readFileSync(join(ROOT, 'docs/rules.md'), 'utf8');
  for (const c of Object.keys(RULES)) assert.ok(doc.includes(`\`${c}\``), `docs/rules.md lists ${c}`);
});
