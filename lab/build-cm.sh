# Sourced by lab/build.sh (before its early exit): builds (or reuses) Cilium's clustermesh-apiserver
# for each version in LAB_CILIUM_VERSIONS, from the wrapper module lab/go/cilium-<version>, as
# "$bin/clustermesh-apiserver-<version>". Uses build.sh's $here, $bin, $nice_cmd, log and tidy.
# The lab daemon runs its clustermesh, kvstoremesh, kvstoremesh-dbg and etcdinit subcommands.

build_cm() { # build_cm <version>
  local v="$1" out="clustermesh-apiserver-$1" dir="$here/go/cilium-$1" start
  if [[ -x "$bin/$out" ]]; then log "reuse $bin/$out"; return 0; fi
  [[ -f "$dir/go.mod" ]] || { log "no wrapper module $dir for cilium $v (LAB_CILIUM_VERSIONS)"; exit 1; }
  log "building $out from $dir (github.com/cilium/cilium/clustermesh-apiserver)"
  start=$SECONDS
  # The checksum database answers 404 for some cilium versions: skip it for github.com/cilium only.
  GONOSUMDB=github.com/cilium tidy "$dir"
  # go mod download fills go.sum for go.mod files only: tidy when the package's imports lack sums.
  (cd "$dir" && GONOSUMDB=github.com/cilium go list github.com/cilium/cilium/clustermesh-apiserver >/dev/null 2>&1) ||
    (cd "$dir" && GONOSUMDB=github.com/cilium "${nice_cmd[@]}" go mod tidy)
  (cd "$dir" && GONOSUMDB=github.com/cilium "${nice_cmd[@]}" go build \
    -ldflags "-s -w -X 'github.com/cilium/cilium/pkg/version.ciliumVersion=$v lab'" \
    -o "$bin/$out.tmp" github.com/cilium/cilium/clustermesh-apiserver)
  mv "$bin/$out.tmp" "$bin/$out"
  log "built $out in $((SECONDS - start))s"
}

for cm_version in ${LAB_CILIUM_VERSIONS//,/ }; do build_cm "$cm_version"; done
unset cm_version
