package integration

import (
	"regexp"
	"testing"
)

// The differential scenarios: each runs with a stock client (nats.go in the
// test process, nats.js under node) against nats-server and through natsfan,
// and the two runs must observe the same (see differential_test.go).

// connectObservation is what a client sees of the server it connected to
// that matters to it: not server_id, version or ports, which differ.
type connectObservation struct {
	Headers         bool  `json:"headers"`           // INFO headers: the client may send and receive HMSG
	MaxPayload      int64 `json:"max_payload"`       // INFO max_payload
	Proto           int   `json:"proto,omitempty"`   // INFO proto; nats.go does not show it
	VersionIsSemver bool  `json:"version_is_semver"` // INFO version is major.minor.patch, as clients parse it
	Flushed         bool  `json:"flushed"`           // a PING got its PONG
}

// semver is what a strict client accepts as a server version.
var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func TestDifferential_ConnectNatsGo(t *testing.T) {
	differential(t, diffOptions{}, func(t *testing.T, tg *diffTarget) connectObservation {
		nc := tg.Connect(t)
		if _, err := nc.RTT(); err != nil {
			t.Fatal(err)
		}
		return connectObservation{
			Headers:         nc.HeadersSupported(),
			MaxPayload:      nc.MaxPayload(),
			VersionIsSemver: semver.MatchString(nc.ConnectedServerVersion()),
			Flushed:         true,
		}
	})
}

func TestDifferential_ConnectNatsJS(t *testing.T) {
	differential(t, diffOptions{}, func(t *testing.T, tg *diffTarget) connectObservation {
		var obs connectObservation
		decodeObservation(t, "connect.js", runNode(t, "connect.js", "--url", tg.URL), &obs)
		return obs
	})
}
