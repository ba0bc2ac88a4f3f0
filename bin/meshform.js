#!/usr/bin/env node
// The bundled CLI (dist/bundle, made by npm run build) starts faster; it is used only when it is
// at least as new as the compiled modules in dist/src, which run otherwise.
import { statSync } from 'node:fs';

const mtime = (rel) => {
  try {
    return statSync(new URL(rel, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
const bundled = mtime('../dist/bundle/meshform.js') >= mtime('../dist/src/cli/main.js') && mtime('../dist/bundle/meshform.js') > 0;
const { main } = await import(bundled ? '../dist/bundle/meshform.js' : '../dist/src/cli/main.js');
main(process.argv.slice(2)).then((code) => {
  // A failed write to the terminal (src/cli/io.ts) has set an I/O failure's code already: keep it.
  if (!process.exitCode) process.exitCode = code;
});
