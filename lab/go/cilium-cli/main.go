// Command cilium is cilium-cli v0.18.4, whose code lives in github.com/cilium/cilium v1.18.0-pre.3
// under cilium-cli/ (the upstream cmd/cilium/main.go without gops).
package main

import (
	"fmt"
	"os"

	"github.com/cilium/cilium/cilium-cli/cli"
	_ "github.com/cilium/cilium/cilium-cli/logging" // silences cfssl log messages, as upstream
)

func main() {
	if err := cli.NewDefaultCiliumCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
