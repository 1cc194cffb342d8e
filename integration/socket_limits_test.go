package integration

import (
	"testing"
	"time"

	"github.com/natsfan/natsfan/fanout"
)

// TestSocket_Limits drives each connection limit with a hand-written client
// and checks nats-server's answer.
func TestSocket_Limits(t *testing.T) {
	up := startServer(t, -1)
	sc := startSocketSidecar(t, up.ClientURL(), []string{"live.>"}, fanout.ServerConfig{
		MaxConnections:   3,
		MaxSubscriptions: 2,
		PingInterval:     50 * time.Millisecond,
		MaxPingsOut:      2,
	})

	t.Run("verbose mode answers +OK", func(t *testing.T) {
		rc := dialRaw(t, sc.path)
		rc.send(t, "CONNECT {\"verbose\":true}\r\nsub\tlive.>  1\r\nPING\r\n")
		for _, want := range []string{"+OK", "+OK", "PONG"} {
			if got := nextNonPing(t, rc); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	})

	t.Run("subscriptions past the limit are refused, the connection stays", func(t *testing.T) {
		rc := dialRaw(t, sc.path)
		rc.send(t, "CONNECT {\"verbose\":false}\r\nSUB live.a 1\r\nSUB live.b 2\r\nSUB live.c 3\r\nPING\r\n")
		if got := nextNonPing(t, rc); got != "-ERR 'maximum subscriptions exceeded'" {
			t.Fatalf("third SUB: %q", got)
		}
		if got := nextNonPing(t, rc); got != "PONG" {
			t.Fatalf("after the refusal: %q, want PONG", got)
		}
	})

	t.Run("a client that never answers PING is stale", func(t *testing.T) {
		rc := dialRaw(t, sc.path)
		rc.send(t, "CONNECT {}\r\n")
		if last := rc.closedAfter(t); last != "-ERR 'Stale Connection'" {
			t.Fatalf("last line %q, want the stale connection error", last)
		}
	})

	t.Run("connections past the limit are refused", func(t *testing.T) {
		waitFor(t, "earlier connections to close", func() bool { return sc.srv.Stats().Connections == 0 })
		for range 3 {
			rc := dialRaw(t, sc.path)
			rc.send(t, "CONNECT {}\r\n")
			go func() { // keep answering PINGs
				for {
					l, err := rc.r.ReadString('\n')
					if err != nil {
						return
					}
					if l == "PING\r\n" {
						rc.Write([]byte("PONG\r\n"))
					}
				}
			}()
		}
		waitFor(t, "three connections", func() bool { return sc.srv.Stats().Connections == 3 })
		over := dialRawNoInfo(t, "unix", sc.path)
		if last := over.closedAfter(t); last != "-ERR 'maximum connections exceeded'" {
			t.Fatalf("fourth connection: last line %q", last)
		}
	})
}

// nextNonPing returns the next line that is not the server's PING.
func nextNonPing(t *testing.T, rc *rawClient) string {
	t.Helper()
	for {
		if l := rc.line(t); l != "PING" {
			return l
		}
	}
}
