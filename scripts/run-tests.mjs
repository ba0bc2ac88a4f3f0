#!/usr/bin/env node
// Runs the compiled test files with node's own test runner. An optional first argument picks a
// subset by path fragment (e.g. `unit`, `golden`, `cli`, `lab`). Node 20's --test takes no globs,
// so the file list is collected here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const filter = process.argv[2];
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (!filter || p.includes(filter))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error(`no test files under ${root}${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
