#!/usr/bin/env bash
# `npm test`: every test. Builds meshform, builds (or reuses, from ~/.cache/meshform-lab) the lab's
# Kubernetes binaries, brings up a fresh two-cluster lab on 127.0.0.1, runs every suite in one test
# run (unit, golden, CLI, then the lab and live suites), and always takes the lab down again.
# Without the lab the integration suites fail loudly: nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
npx tsc -p tsconfig.json
# The CLI the tests run is the bundled one users get (when esbuild is installed, as after npm ci).
node scripts/bundle.mjs
bash lab/build.sh
node dist/lab/src/cli.js down >/dev/null 2>&1 || true
trap 'node dist/lab/src/cli.js down || true' EXIT
node dist/lab/src/cli.js up
node scripts/run-tests.mjs "$@"
