// Local stand-in for github.com/cilium/charts (the proxy refuses that module): cilium-cli embeds
// its Helm charts from it. lab/build-tools.sh fills this directory with `helm package` output of the
// chart inside a cilium module of the Go module cache before building; the .tgz files are git-ignored.
module github.com/cilium/charts

go 1.24.0
