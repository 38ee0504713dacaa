package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/chatd/chatd/protocol"
)

// Set at link time, e.g.
// go build -ldflags "-X main.version=1.0.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/chatd
var (
	version = ""
	commit  = ""
)

// buildInfo is what `chatd version` prints.
type buildInfo struct {
	Version  string
	Commit   string // "" when unknown
	Modified bool   // built from a tree with uncommitted changes
	Go       string
	Platform string
}

// readBuildInfo prefers the -ldflags values and falls back to what the Go
// toolchain embedded (module version, VCS revision).
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "dev"
	}
	return bi
}

// printVersion writes `chatd version` output.
func printVersion(w io.Writer, bi buildInfo) {
	fmt.Fprintf(w, "chatd %s\n", bi.Version)
	fmt.Fprintf(w, "go %s %s\n", bi.Go, bi.Platform)
	switch {
	case bi.Commit == "":
		fmt.Fprintln(w, "commit unknown")
	case bi.Modified:
		fmt.Fprintf(w, "commit %s (modified)\n", bi.Commit)
	default:
		fmt.Fprintf(w, "commit %s\n", bi.Commit)
	}
	fmt.Fprintf(w, "protocol %d\n", protocol.Version)
}
