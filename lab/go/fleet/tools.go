//go:build tools

// Package tools pins the Fleet CLI command so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/rancher/fleet/cmd/fleetcli"
