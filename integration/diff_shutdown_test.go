package integration

import (
	"bufio"
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
// CONNECT, and to no other (nats-server's sendAsyncInfoToClients). A client
// of protocol 1 whose first PING comes later gets the INFO that names its
// account, without "ldm".
func TestDifferential_ShutdownTellsOnlyClientsThatTakeINFO(t *testing.T) {
	type seen struct {
		Ready  []string `json:"ready"`  // protocol 1, PING answered before the shutdown: the next line
		Proto0 []string `json:"proto0"` // protocol 0, PING answered before: up to the PONG of a PING after
		Late   []string `json:"late"`   // protocol 1, first PING after the shutdown began: the PONG and the line after
	}
	opts := diffOptions{Direct: func(o *server.Options) {
		o.LameDuckDuration = 5 * time.Second
		o.LameDuckGracePeriod = 3 * time.Second // the clients are not closed before they have PINGed
	}}
	differential(t, opts, func(t *testing.T, tg *diffTarget) seen {
		dial := func(script string) *rawClient {
			t.Helper()
			c, err := net.Dial("tcp", strings.TrimPrefix(tg.URL, "nats://"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			rc := &rawClient{Conn: c, r: bufio.NewReader(c)}
			if l := rc.line(t); !strings.HasPrefix(l, "INFO ") {
				t.Fatalf("first line %q, want INFO", l)
			}
			rc.send(t, script)
			return rc
		}
		untilPong := func(rc *rawClient) []string {
			t.Helper()
			var lines []string
			for {
				l := infoSays(t, rc.line(t))
				lines = append(lines, l)
				if l == "PONG" {
					return lines
				}
			}
		}
		ready := dial("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
		untilPong(ready)
		ready.line(t) // the INFO that names the account
		proto0 := dial("CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n")
		untilPong(proto0)
		late := dial("CONNECT {\"verbose\":false,\"protocol\":1}\r\n")

		shutDown(t, tg)
		var obs seen
		obs.Ready = []string{infoSays(t, ready.line(t))} // lame duck mode has begun
		proto0.send(t, "PING\r\n")
		obs.Proto0 = untilPong(proto0)
		late.send(t, "PING\r\n")
		obs.Late = append(untilPong(late), infoSays(t, late.line(t)))
		return obs
	})
}
