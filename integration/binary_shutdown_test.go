package integration

import (
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestBinary_ShutdownSaysWhatItCutShort stops natsfan while a consumer
// that never reads has a backlog: the shutdown timeout cuts it short, and
// the log says how many consumers and messages were left undelivered,
// while a consumer that reads gets everything.
func TestBinary_ShutdownSaysWhatItCutShort(t *testing.T) {
	up := startServer(t, -1)
	sock := filepath.Join(t.TempDir(), "natsfan.sock")
	p := startNatsfan(t,
		"NATSFAN_NATS_URL="+up.ClientURL(),
		"NATSFAN_SUBJECTS=load.>",
		"NATSFAN_SOCKET="+sock,
		"NATSFAN_HTTP_ADDR=127.0.0.1:0",
		"NATSFAN_SHUTDOWN_TIMEOUT=1s")
	p.waitLog(t, "natsfan started")

	stuck := dialRaw(t, sock)
	stuck.send(t, "CONNECT {\"verbose\":false}\r\nSUB load.> 1\r\n")
	stuck.pingPong(t)
	reader := dialSocket(t, sock)
	var received atomic.Int64
	subscribeAll(t, reader, "load.>", "", func(*nats.Msg) { received.Add(1) })
	pub := connect(t, up.ClientURL())
	const n = 10_000 // 10 MB: far more than the socket and the connection's queue hold
	publishN(t, pub, "load.x", n, make([]byte, 1024))

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	unread := p.waitLog(t, "consumers had not read everything at the shutdown timeout")
	if subs, _ := unread["subscriptions"].(float64); subs < 1 {
		t.Errorf("the warning counts %v subscriptions cut short, want 1: %v", unread["subscriptions"], unread)
	}
	if msgs, _ := unread["unread_messages"].(float64); msgs < 1 || msgs > n {
		t.Errorf("the warning counts %v unread messages, want some of the %d: %v", unread["unread_messages"], n, unread)
	}
	unwritten := p.waitLog(t, "consumer connections closed before everything was written")
	if conns, _ := unwritten["connections"].(float64); conns != 1 {
		t.Errorf("the warning counts %v connections cut short, want 1: %v", unwritten["connections"], unwritten)
	}
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
	// natsfan has written them all; nats.go may still be handing them over.
	waitFor(t, "the consumer that reads to get every message", func() bool { return received.Load() == n })
}
