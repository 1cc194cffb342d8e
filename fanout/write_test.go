package fanout

import (
	"strings"
	"testing"
	"time"
)

// TestConn_AClosedConnectionHoldsNoQueuedFrames has a client send PINGs
// without reading until natsfan stops reading it, then go: what was queued
// for it is given back when the connection closes, whoever still points at
// the connection.
func TestConn_AClosedConnectionHoldsNoQueuedFrames(t *testing.T) {
	c := newIdleClient(t)
	c.send(t, "CONNECT {\"verbose\":false}\r\n")
	sc := c.conn(t)
	pings := []byte(strings.Repeat("PING\r\n", 10_000))
	for {
		_ = c.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.nc.Write(pings); err != nil {
			break // natsfan has stopped reading: its queue for the client is full
		}
	}
	sc.mu.Lock()
	held := sc.out.held
	sc.mu.Unlock()
	if held == 0 {
		t.Fatal("nothing queued for a client that does not read")
	}
	c.nc.Close()
	select {
	case <-sc.writerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not close")
	}
	sc.mu.Lock()
	held = sc.out.held
	sc.mu.Unlock()
	if held != 0 {
		t.Errorf("the closed connection still holds %d B of queued frames", held)
	}
}
