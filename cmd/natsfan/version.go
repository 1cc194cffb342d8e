package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is natsfan's release version, set at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/natsfan
var version = "dev"

// vcsRevision returns the version-control revision the binary was built
// from, with "-dirty" appended for a modified tree, or "" when the build did
// not record it (go run, -buildvcs=false, a build outside a repository).
func vcsRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// printVersion writes what natsfan version prints: the version, the Go
// version and, when known, the revision.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "natsfan %s %s", version, runtime.Version())
	if rev := vcsRevision(); rev != "" {
		fmt.Fprintf(w, " %s", rev)
	}
	fmt.Fprintln(w)
}
