#!/usr/bin/env bash
# The main job on the built-in example: the seed's two RKE2 clusters. Creates the example's shared
# CA on first use (examples/seed/ca/, git-ignored), then renders every target into out/seed/.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=examples/seed/mesh.yaml
if [ ! -f examples/seed/ca/ca.crt ]; then
  node bin/meshform.js ca init --spec "$spec"
fi
node bin/meshform.js validate "$spec"
node bin/meshform.js render "$spec" --out out/seed
