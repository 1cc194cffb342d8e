package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// version is natsfan's release version, set at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/natsfan
//
// natsfan version and natsfan_build_info show it as it is; the INFO sent to
// consumers carries infoVersion(version).
var version = "dev"

// semverRe is a semantic version (semver.org 2.0.0) without a leading "v".
var semverRe = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
	`(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$`)

// leadingTripleRe is the major.minor.patch a version string starts with.
var leadingTripleRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// infoVersion returns the version natsfan puts in the INFO it sends
// consumers: a semantic version whatever v, the build's version, is.
// Clients parse it and some refuse to connect when it does not parse (nats.js
// takes the first "N.N.N" in it and fails on "dev"), so:
//   - a semantic version, with or without a leading "v", is kept without the
//     "v": "v1.2.3" and "v1.2.3-4-gabc1234-dirty" (git describe) become
//     "1.2.3" and "1.2.3-4-gabc1234-dirty";
//   - a string that starts with major.minor.patch keeps those: "v1.2.3.4"
//     becomes "1.2.3";
//   - anything else becomes a pre-release of 0.0.0 named after it, so that
//     it still says which build it is: "dev" becomes "0.0.0-dev" and a bare
//     revision "abc1234" "0.0.0-abc1234"; what cannot be such a name becomes
//     "0.0.0-dev".
//
// Clients also compare the version to enable features (nats.js enables
// JetStream features from 2.6.2 on); 0.0.0 and natsfan's own releases do not
// say anything about the upstream's.
func infoVersion(v string) string {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	if semverRe.MatchString(s) {
		return s
	}
	if m := leadingTripleRe.FindStringSubmatch(s); m != nil {
		var n [3]uint64
		ok := true
		for i := range n {
			var err error
			if n[i], err = strconv.ParseUint(m[i+1], 10, 63); err != nil {
				ok = false
			}
		}
		if ok {
			return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2])
		}
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, v)
	if len(name) > 64 {
		name = name[:64]
	}
	if pre := "0.0.0-" + name; name != "" && semverRe.MatchString(pre) {
		return pre
	}
	return "0.0.0-dev"
}

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
