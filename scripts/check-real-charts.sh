#!/usr/bin/env bash
# Checks meshform's rendered values against REAL Cilium / rke2-cilium charts with `helm template`.
# test/lab/real-charts.test.ts runs it on the golden output with the upstream charts of the Cilium
# modules lab/build.sh downloads (Go module cache); rke2-cilium charts are checked by hand.
#
# Usage: scripts/check-real-charts.sh OUT_DIR CHART [CHART...]
#   OUT_DIR  a `meshform render` output folder (values/, secrets/, plan.json)
#   CHART    a chart folder or .tgz (upstream `cilium-1.x.y.tgz` from cilium/charts, or
#            `rke2-cilium-1.x.y00.tgz` from rancher/rke2-charts); rke2 charts get the `global.*`
#            values RKE2's helm-controller injects (they are already in values/<cluster>.yaml when the
#            user's values came from `helm get values`).
# Env: HELM (default: helm), CLUSTERS (default: every cluster in plan.json), RKE2=0 skips the
#      HelmChartConfig comparison (global + valuesContent + valuesSecrets must render the same objects).
#
# For every cluster and chart it renders `-f values/<c>.yaml -f secrets/<c>.values.yaml` (plus
# pre-created Secrets from secrets/<c>/) and checks: cilium-config cluster-name/cluster-id,
# Service clustermesh-apiserver type and nodePort, Secret cilium-clustermesh with one key per peer
# and its endpoint, hostAliases for peer IPs (and, from 1.20, the etcd config's cilium-host-aliases),
# the cert Secrets carrying meshform's certificates, the server certificate's CN and SANs against
# the chart's own (method provided: a second render with tls.auto method helm; helm, cronJob,
# certmanager: the chart's certificate, certgen config or Certificate, with the plan's validity),
# a CA bundle (ca.trust) in ConfigMap cilium-root-ca.crt projected wherever a peer is checked, and
# ConfigMap clustermesh-remote-users listing remote-<peer> (authMode cluster/migration).
set -euo pipefail
HELM=${HELM:-helm}
out=${1:?usage: check-real-charts.sh OUT_DIR CHART...}; shift
[[ $# -gt 0 ]] || { echo "usage: check-real-charts.sh OUT_DIR CHART..." >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed" >&2; exit 2; }
clusters=${CLUSTERS:-$(node -e 'for (const c of require(process.argv[1]).clusters) console.log(c.name)' "$(cd "$out" && pwd)/plan.json")}
method=$(node -e 'console.log(require(process.argv[1]).certMethod)' "$(cd "$out" && pwd)/plan.json")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
# Helm-generated Hubble/CA certificates and their checksums differ on every render.
noise='checksum/|^  (ca|tls)\.(crt|key): '
for chart in "$@"; do
  for c in $clusters; do
    args=(-f "$out/values/$c.yaml")
    [[ -f $out/secrets/$c.values.yaml ]] && args+=(-f "$out/secrets/$c.values.yaml")
    name=$(basename "$chart")
    if ! "$HELM" template rke2-cilium "$chart" -n kube-system --kube-version 1.30.0 "${args[@]}" > "$tmp/r.yaml" 2> "$tmp/err"; then
      echo "FAIL $name $c: helm template failed: $(cat "$tmp/err")"; fail=1; continue
    fi
    if [[ ${RKE2:-1} == 1 ]] && hcc=$(node "$(dirname "$0")/hcc-values.mjs" "$out" "$c" "$tmp"); then
      # The HelmChartConfig path (valuesContent + valuesSecrets over RKE2's globals) must give the same objects.
      mapfile -t hf < <(printf '%s\n' "$hcc")
      hargs=(); for f in "${hf[@]}"; do hargs+=(-f "$f"); done
      if "$HELM" template rke2-cilium "$chart" -n kube-system --kube-version 1.30.0 "${hargs[@]}" > "$tmp/h.yaml" 2> "$tmp/err"; then
        if ! diff -q <(grep -vE "$noise" "$tmp/r.yaml") <(grep -vE "$noise" "$tmp/h.yaml") >/dev/null; then
          echo "FAIL $name $c: HelmChartConfig values render differently from values/ + secrets/"; fail=1
        fi
      else echo "FAIL $name $c: helm template of the HelmChartConfig values failed: $(cat "$tmp/err")"; fail=1; fi
    fi
    # Pre-created Secrets (local cert 1.16–1.18, all four from 1.19) join the rendered objects.
    for f in "$out/secrets/$c"/clustermesh-apiserver-*-cert.yaml; do [[ -f $f ]] && { echo '---'; cat "$f"; } >> "$tmp/r.yaml"; done
    extra=()
    if [[ $method == provided ]]; then
      # Method provided: the chart's own server certificate (method helm, same values) for its CN and SANs.
      if "$HELM" template rke2-cilium "$chart" -n kube-system --kube-version 1.30.0 "${args[@]}" \
          --set clustermesh.apiserver.tls.auto.enabled=true --set clustermesh.apiserver.tls.auto.method=helm > "$tmp/m.yaml" 2> "$tmp/err"; then
        extra=("$tmp/m.yaml")
      else echo "FAIL $name $c: helm template with tls.auto method helm failed: $(cat "$tmp/err")"; fail=1; fi
    fi
    if node "$(dirname "$0")/check-real-charts.mjs" "$out" "$c" "$tmp/r.yaml" "${extra[@]}"; then echo "ok   $name $c"; else echo "FAIL $name $c"; fail=1; fi
  done
done
exit $fail
