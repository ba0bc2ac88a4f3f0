// docs/rules.md lists every finding code with its severity and rule, generated from the catalogue
// that the findings themselves use; this test keeps the two equal (MESHFORM_UPDATE_GOLDEN=1 rewrites it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES } from '../../src/validate/catalogue.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function rulesDoc(): string {
  const byArea = new Map<string, Array<[string, { severity: string; rule: string }]>>();
  for (const [code, info] of Object.entries(RULES)) {
    const list = byArea.get(info.area) ?? [];
    list.push([code, info]);
    byArea.set(info.area, list);
  }
  const lines = [
    '# Validation rules',
    '',
    'Every finding `meshform validate` and `render` report, by area. Errors make `validate` exit 1, and every',
    'other command refuse the spec with the same exit 1; warnings do not. Generated from `src/validate/catalogue.ts` (run `npm run golden:update` after changing it).',
    '',
  ];
  for (const [area, rules] of byArea) {
    lines.push(`## ${area}`, '', '| code | severity | rule |', '|---|---|---|');
    for (const [code, info] of rules) lines.push(`| \`${code}\` | ${info.severity} | ${info.rule.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

test('docs/rules.md matches the rule catalogue', async () => {
  const file = join(ROOT, 'docs/rules.md');
  const want = rulesDoc();
  if (process.env.MESHFORM_UPDATE_GOLDEN === '1') await writeFile(file, want);
  assert.equal(await readFile(file, 'utf8'), want, 'docs/rules.md is stale: run npm run golden:update');
});
