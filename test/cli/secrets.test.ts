import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exampleCopy, meshform, type Run } from './helpers.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

/** Fragments that would give a key away: its PEM body lines, and its PEM as base64 (the form in values). */
function keyFragments(pem: string): string[] {
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'));
  const b64 = Buffer.from(pem).toString('base64');
  return [...body.filter((l) => l.length >= 32), b64.slice(0, 60), b64.slice(60, 120)];
}

test('no private key material in any command output, plan.json or the files meant for Git', async () => {
  const dir = await exampleCopy('seed');
  const runs: Run[] = [];
  const run = (args: string[], env?: Record<string, string>) => {
    const r = meshform(args, { cwd: dir, env });
    runs.push(r);
    return r;
  };
  assert.equal(run(['ca', 'init', '--spec', 'mesh.yaml']).code, 0);
  run(['ca', 'show', '--spec', 'mesh.yaml']);
  run(['ca', 'show', '--spec', 'mesh.yaml', '-o', 'json']);
  run(['validate', 'mesh.yaml']);
  run(['validate', 'mesh.yaml', '-o', 'json']);
  assert.equal(run(['render', 'mesh.yaml', '--out', 'out']).code, 0);
  run(['render', 'mesh.yaml', '--out', 'out', '-o', 'json']);

  // Export the CA as a cilium-ca Secret and import it again; then break the pair and render.
  const crt = await readFile(join(dir, 'ca/ca.crt'));
  const key = await readFile(join(dir, 'ca/ca.key'));
  await writeFile(
    join(dir, 'cilium-ca.yaml'),
    `apiVersion: v1\nkind: Secret\nmetadata: {name: cilium-ca}\ndata:\n  ca.crt: ${crt.toString('base64')}\n  ca.key: ${key.toString('base64')}\n`,
  );
  assert.equal(run(['ca', 'import', 'cilium-ca.yaml', 'imported']).code, 0);
  run(['ca', 'import', 'cilium-ca.yaml', 'imported']); // refused: exists
  run(['ca', 'init', 'other']);
  await writeFile(join(dir, 'ca/ca.key'), await readFile(join(dir, 'other/ca.key')));
  assert.equal(run(['render', 'mesh.yaml', '--out', 'out2']).code, 1, 'a CA key mismatch is a finding');
  run(['ca', 'show', '--spec', 'mesh.yaml']);
  // A key file given where a certificate belongs must not be echoed back either.
  await writeFile(join(dir, 'ca/ca.crt'), key);
  run(['ca', 'show', '--spec', 'mesh.yaml']);
  run(['validate', 'mesh.yaml', '-o', 'json']);

  const keys = [key.toString('utf8'), (await readFile(join(dir, 'other/ca.key'))).toString('utf8')];
  for (const f of await filesUnder(join(dir, 'out/secrets'))) if (f.endsWith('.key')) keys.push(await readFile(f, 'utf8'));
  assert.ok(keys.length >= 2 + 6, 'the CA keys and the six leaf keys of the seed were collected');
  const fragments = keys.flatMap(keyFragments);

  const published: Array<[string, string]> = runs.flatMap((r, i) => [
    [`run ${i} stdout`, r.stdout],
    [`run ${i} stderr`, r.stderr],
  ]);
  for (const f of await filesUnder(join(dir, 'out'))) {
    if (f.includes('/secrets/')) continue;
    published.push([f, await readFile(f, 'utf8')]);
  }
  assert.ok(published.some(([name]) => name.endsWith('plan.json')));
  for (const [name, text] of published) {
    assert.ok(!/PRIVATE KEY/.test(text), `${name} mentions a PRIVATE KEY`);
    for (const frag of fragments) assert.ok(!text.includes(frag), `${name} contains key material`);
  }
});
