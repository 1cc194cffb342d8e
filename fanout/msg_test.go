package fanout

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestNewMsg_HeadersAsNATSGoDecodedThem encodes headers as nats.go hands
// them to ingest, and checks the bytes a socket consumer gets, which
// nats.go must decode into the same headers.
func TestNewMsg_HeadersAsNATSGoDecodedThem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header nats.Header
		want   string
	}{
		{"fields, keys sorted", nats.Header{"b": {"2"}, "A": {"1", "x y"}},
			"NATS/1.0\r\nA: 1\r\nA: x y\r\nb: 2\r\n\r\n"},
		{"no-responders status", nats.Header{"Status": {"503"}},
			"NATS/1.0 503\r\n\r\n"},
		{"heartbeat status with a description and fields",
			nats.Header{"Status": {"100"}, "Description": {"Idle Heartbeat"}, "Nats-Last-Consumer": {"0"}},
			"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\n\r\n"},
		{"a Status field that is no status code", nats.Header{"Status": {"ok"}},
			"NATS/1.0\r\nStatus: ok\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMsg("s", "", tc.header, nil, time.Now())
			if got := string(m.RawHeader()); got != tc.want {
				t.Fatalf("encoded %q, want %q", got, tc.want)
			}
			back, err := nats.DecodeHeadersMsg(m.RawHeader())
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tc.header {
				if got := back.Values(k); len(got) != len(vs) {
					t.Errorf("%s: decoded %q, want %q", k, got, vs)
				}
			}
		})
	}
}
