#!/usr/bin/env node
// Runs the compiled test files with node's own test runner, in one run so that its summary line
// closes the output. Arguments:
//   --no-lab     leave out the suites that need the lab or its binaries (test/lab, test/live, test/tools)
//   --lab-only   only those suites
//   WORD         only files whose path contains WORD (e.g. golden, cli, pki)
// When lab suites are in, files run one at a time (they share one set of clusters). Node 20's
// --test takes no globs, so the file list is collected here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const args = process.argv.slice(2);
const noLab = args.includes('--no-lab');
const labOnly = args.includes('--lab-only');
const words = args.filter((a) => !a.startsWith('--'));
// test/tools needs the upstream CLIs lab/build.sh builds (no clusters): it goes with the lab suites.
const isLab = (p) => /\/(lab|live|tools)\//.test(p);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (words.length === 0 || words.some((w) => p.includes(w)))) files.push(p);
  }
})(root);
const selected = files.filter((p) => !(noLab && isLab(p)) && !(labOnly && !isLab(p)));
if (selected.length === 0) {
  console.error(`no test files under ${root} for: ${args.join(' ') || '(all)'}`);
  process.exit(1);
}
const withLab = selected.some(isLab);
// The lab suites share one set of clusters: run files one after another when any of them is in.
const runner = ['--test', '--test-reporter=spec', ...(withLab ? ['--test-concurrency=1'] : []), ...selected];
const r = spawnSync(process.execPath, runner, { stdio: 'inherit' });
process.exit(r.status ?? 1);
