# Sourced by lab/build.sh (before its early exit): RKE2's helm-controller, built from the Go module
# proxy as a plain module build (`go install MOD@VERSION`, no replaces), pinned by
# HELM_CONTROLLER_VERSION in lab/versions.env. Reused when already in the cache.
# Expects from build.sh: $bin, $nice_cmd, log(); GOTOOLCHAIN/GOFLAGS already exported.

build_helm_controller() {
  local v="${HELM_CONTROLLER_VERSION:?HELM_CONTROLLER_VERSION missing from lab/versions.env}"
  local out="$bin/helm-controller-$v"
  if [[ -x "$out" ]]; then log "reuse $out"; return 0; fi
  log "building helm-controller from github.com/k3s-io/helm-controller@$v"
  local start=$SECONDS tmpd
  tmpd="$(mktemp -d)"
  # Outside any module, so `go install MOD@V` builds with the module's own go.mod and go.sum.
  if ! (cd "$tmpd" && GOBIN="$tmpd/bin" GOFLAGS="-trimpath -buildvcs=false" "${nice_cmd[@]}" \
        go install -ldflags "-s -w -X github.com/k3s-io/helm-controller/pkg/version.Version=$v" \
        "github.com/k3s-io/helm-controller@$v"); then
    rm -rf "$tmpd"
    log "cannot build github.com/k3s-io/helm-controller@$v"
    exit 1
  fi
  mv "$tmpd/bin/helm-controller" "$out.tmp"
  mv "$out.tmp" "$out"
  rm -rf "$tmpd"
  log "built helm-controller in $((SECONDS - start))s"
}
build_helm_controller
