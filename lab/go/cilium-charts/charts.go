// Package charts replaces github.com/cilium/charts for the lab's cilium-cli build: the same exported
// HelmFS (read by cilium-cli/internal/helm/helm.go in cilium v1.18.0-pre.3 as "cilium-<version>.tgz").
package charts

import "embed"

// HelmFS holds cilium-<version>.tgz packaged by lab/build-tools.sh from the Go module cache.
//
//go:embed *.tgz
var HelmFS embed.FS
