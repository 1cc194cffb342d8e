package integration

import (
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
