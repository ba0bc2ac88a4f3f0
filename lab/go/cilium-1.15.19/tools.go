//go:build tools

// Package tools pins the command the lab builds, so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/cilium/cilium/clustermesh-apiserver"
