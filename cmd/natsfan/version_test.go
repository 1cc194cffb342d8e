package main

import (
	"regexp"
	"testing"
)

// natsJSSemver is how nats.js (@nats-io/nats-core parseSemVer) reads a
// server's version; one that does not match makes it refuse the server.
var natsJSSemver = regexp.MustCompile(`(\d+).(\d+).(\d+)`)

func TestInfoVersion(t *testing.T) {
	for _, tc := range []struct {
		build, info string
	}{
		{"dev", "0.0.0-dev"}, // an unstamped build
		{"", "0.0.0-dev"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"v0.1.0", "0.1.0"},
		{"v1.2.3-rc.1", "1.2.3-rc.1"},
		{"v1.2.3+build.7", "1.2.3+build.7"},
		{"v1.2.3-4-gabc1234", "1.2.3-4-gabc1234"}, // git describe
		{"v1.2.3-4-gabc1234-dirty", "1.2.3-4-gabc1234-dirty"},
		{" v1.2.3\n", "1.2.3"},
		{"v1.2.3.4", "1.2.3"},
		{"v01.02.03", "1.2.3"},
		{"1.2.3-", "1.2.3"},
		{"1.2.3-01", "1.2.3"}, // a numeric pre-release with a leading zero is not semver
		{"1.2.3_beta", "1.2.3"},
		{"abc1234", "0.0.0-abc1234"}, // git describe --always with no tag
		{"abc1234-dirty", "0.0.0-abc1234-dirty"},
		{"v1.2", "0.0.0-v1-2"},
		{"my build/2024", "0.0.0-my-build-2024"},
		{"héllo", "0.0.0-h-llo"},
		{"0123", "0.0.0-dev"},                                    // not a valid pre-release name either
		{"99999999999999999999.1.1", "99999999999999999999.1.1"}, // semver sets no limit
		{"099999999999999999999.1.1", "0.0.0-099999999999999999999-1-1"},
	} {
		got := infoVersion(tc.build)
		if got != tc.info {
			t.Errorf("infoVersion(%q) = %q, want %q", tc.build, got, tc.info)
		}
		if !semverRe.MatchString(got) || !natsJSSemver.MatchString(got) {
			t.Errorf("infoVersion(%q) = %q, which is not a semantic version", tc.build, got)
		}
	}
}

// FuzzInfoVersion checks that whatever the build's version, INFO carries a
// semantic version, and that a semantic version is kept as it is.
func FuzzInfoVersion(f *testing.F) {
	for _, s := range []string{"dev", "v1.2.3", "v1.2.3-4-gabc1234-dirty", "1.2.3.4", "", "\xff", "0.0.0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, build string) {
		got := infoVersion(build)
		if !semverRe.MatchString(got) || !natsJSSemver.MatchString(got) {
			t.Fatalf("infoVersion(%q) = %q, which is not a semantic version", build, got)
		}
		if semverRe.MatchString(build) && got != build {
			t.Fatalf("infoVersion(%q) = %q, want the version unchanged", build, got)
		}
	})
}
