package integration

import (
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// shutDown starts the target's shutdown: lame duck mode for nats-server
// (what it does on SIGTERM with lame duck configured, and on `nats-server
// --signal ldm`), SIGTERM for natsfan.
func shutDown(t *testing.T, tg *diffTarget) {
	t.Helper()
	if tg.Natsfan != nil {
		if err := tg.Natsfan.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		return
	}
	go tg.Upstream.LameDuckShutdown()
}

// lameDuckOptions makes nats-server's lame duck mode short enough for a
// test: it announces it at once, then closes its clients within a second.
var lameDuckOptions = diffOptions{Direct: func(o *server.Options) {
	o.LameDuckDuration = time.Second
	o.LameDuckGracePeriod = 100 * time.Millisecond
}}

// TestDifferential_ShutdownAnnouncesLameDuckMode: a server going away tells
// its clients so (INFO with "ldm":true) before it closes their connections,
// so that they get ready to reconnect.
func TestDifferential_ShutdownAnnouncesLameDuckMode(t *testing.T) {
	type seen struct {
		Events []string `json:"events"` // "ldm", "disconnected", in the order the client saw them
	}
	differential(t, lameDuckOptions, func(t *testing.T, tg *diffTarget) seen {
		var mu sync.Mutex
		var obs seen
		disconnected := make(chan struct{})
		event := func(e string) {
			mu.Lock()
			defer mu.Unlock()
			obs.Events = append(obs.Events, e)
			if e == "disconnected" {
				close(disconnected)
			}
		}
		tg.Connect(t, nats.NoReconnect(),
			nats.LameDuckModeHandler(func(*nats.Conn) { event("ldm") }),
			nats.DisconnectErrHandler(func(*nats.Conn, error) { event("disconnected") }))
		shutDown(t, tg)
		select {
		case <-disconnected:
		case <-time.After(20 * time.Second):
			t.Fatal("the client was not disconnected")
		}
		mu.Lock()
		defer mu.Unlock()
		return obs
	})
}

func TestDifferential_ShutdownAnnouncesLameDuckModeNatsJS(t *testing.T) {
	type seen struct {
		Events []string `json:"events"`
	}
	differential(t, lameDuckOptions, func(t *testing.T, tg *diffTarget) seen {
		r := startNode(t, "lameduck.js", "--url", tg.URL)
		r.Await(t, "connected")
		shutDown(t, tg)
		r.Resume(t)
		var obs seen
		r.JSON(t, &obs)
		return obs
	})
}

// TestDifferential_ShutdownTellsOnlyClientsThatTakeINFO: lame duck mode is
// announced to a client of protocol 1 whose PING has been answered since its
// CONNECT, and to no other (nats-server's sendAsyncInfoToClients): not to
// one of protocol 0, nor to one that has not sent a PING.
func TestDifferential_ShutdownTellsOnlyClientsThatTakeINFO(t *testing.T) {
	type seen struct {
		Ready  []string `json:"ready"`   // protocol 1, PING answered: what came after, until the server closed
		Proto0 []string `json:"proto0"`  // protocol 0, PING answered
		NoPing []string `json:"no_ping"` // protocol 1, no PING
	}
	differential(t, lameDuckOptions, func(t *testing.T, tg *diffTarget) seen {
		dial := func(script string) *rawClient {
			t.Helper()
			rc := dialRawTo(t, "tcp", strings.TrimPrefix(tg.URL, "nats://"))
			rc.send(t, script)
			return rc
		}
		ready := dial("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
		ready.expect(t, "PONG")
		ready.expect(t, "INFO ") // the one that names the account
		proto0 := dial("CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n")
		proto0.expect(t, "PONG")
		registered := tg.Upstream.NumClients()
		noPing := dial("CONNECT {\"verbose\":false,\"protocol\":1}\r\n")
		if tg.Natsfan == nil {
			// nats-server sends INFO before it registers the client; lame
			// duck mode beginning between the two leaves the connection open.
			waitFor(t, "nats-server to register the client", func() bool { return tg.Upstream.NumClients() > registered })
		}

		shutDown(t, tg)
		return seen{Ready: ready.untilClosed(t, "ready"), Proto0: proto0.untilClosed(t, "proto0"), NoPing: noPing.untilClosed(t, "no_ping")}
	})
}

// expect reads a line and fails unless it starts with prefix.
func (rc *rawClient) expect(t *testing.T, prefix string) {
	t.Helper()
	if l := rc.line(t); !strings.HasPrefix(l, prefix) {
		t.Fatalf("got %q, want %s…", l, prefix)
	}
}

// untilClosed reads until the server closes the connection of the client
// called name and returns what it sent, each INFO as infoSays puts it.
func (rc *rawClient) untilClosed(t *testing.T, name string) []string {
	t.Helper()
	_ = rc.SetReadDeadline(time.Now().Add(20 * time.Second))
	lines := []string{}
	for {
		l, err := rc.r.ReadString('\n')
		if l = strings.TrimRight(l, "\r\n"); l != "" {
			lines = append(lines, infoSays(t, l))
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server did not close the connection of %s; it sent %q", name, lines)
			}
			return lines
		}
	}
}
