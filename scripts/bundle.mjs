#!/usr/bin/env node
// Bundles the compiled CLI (dist/src, from tsc) into dist/bundle/ with esbuild, for start-up time:
// one file per command group instead of hundreds of modules (zod, yaml, asn1js, commander...).
// @kubernetes/client-node (through its public entry) is bundled into the live commands' chunk, which
// only a live command loads: resolving and linking its thousands of modules from node_modules took
// more CPU than the whole rest of a `status` run. etcd3 (the lab's and tests') and listr2 stay external. The certificate worker is its own entry so
// `new URL('./worker.js', import.meta.url)` in the pool finds it beside the chunks.
// bin/meshform.js uses the bundle only when it is newer than dist/src (a plain tsc run after it
// falls back to dist/src, never to a stale bundle). Without esbuild installed, nothing is bundled.
import { rmSync } from 'node:fs';

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('bundle: esbuild is not installed (run npm install); meshform runs unbundled from dist/src');
  process.exit(0);
}
rmSync('dist/bundle', { recursive: true, force: true });
await esbuild.build({
  entryPoints: { meshform: 'dist/src/cli/main.js', worker: 'dist/src/pki/worker.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['etcd3', 'listr2'],
  // Bundled CommonJS packages call require() for Node's built-ins.
  banner: { js: "import { createRequire as __meshformRequire } from 'node:module'; const require = __meshformRequire(import.meta.url);" },
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: true,
  logLevel: 'warning',
});
