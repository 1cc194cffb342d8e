package integration

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// writeGate dials TCP for nats.go and lets the test stop what nats.go
// writes from leaving, as an upstream that takes no more would.
type writeGate struct {
	mu   sync.Mutex
	open chan struct{} // closed while writes may go
}

func newWriteGate() *writeGate {
	g := &writeGate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *writeGate) Dial(network, address string) (net.Conn, error) {
	c, err := net.DialTimeout(network, address, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &gatedWriter{Conn: c, g: g}, nil
}

func (g *writeGate) stop() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *writeGate) resume() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *writeGate) wait() {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
}

type gatedWriter struct {
	net.Conn
	g *writeGate
}

func (c *gatedWriter) Write(b []byte) (int, error) {
	c.g.wait()
	return c.Conn.Write(b)
}

// TestPassthrough_APublisherFasterThanUpstreamIsSlowedNotBuffered stops
// natsfan's upstream connection from sending while a client publishes as
// fast as it can: natsfan stops reading that client instead of holding
// what it sends, so its memory stays flat, other clients are still
// answered, and once upstream takes again everything arrives, in order.
func TestPassthrough_APublisherFasterThanUpstreamIsSlowedNotBuffered(t *testing.T) {
	up := startServer(t, -1)
	gate := newWriteGate()
	sc := startPodSidecarWith(t, ingest.Config{URLs: []string{up.ClientURL()}, NATSOptions: []nats.Option{nats.SetCustomDialer(gate)}},
		[]string{"orders.>"}, fanout.ServerConfig{})

	const n = 20_000
	payload := make([]byte, 4096) // 80 MB in all
	got := make(chan int, n)
	upstream := connect(t, up.ClientURL())
	subscribeAll(t, upstream, "flood", "", func(m *nats.Msg) { got <- int(m.Data[0]) | int(m.Data[1])<<8 | int(m.Data[2])<<16 })

	gate.stop()
	before := heapAfterGC()
	publisher := dialSocket(t, sc.path)
	published := make(chan error, 1)
	go func() {
		for i := range n {
			payload[0], payload[1], payload[2] = byte(i), byte(i>>8), byte(i>>16)
			if err := publisher.Publish("flood", payload); err != nil {
				published <- err
				return
			}
		}
		published <- publisher.Flush()
	}()
	// The publisher is blocked once natsfan stops reading it and the
	// sockets between them are full; natsfan holds little of it.
	// Nothing says when that is: wait until natsfan has sent nothing more
	// upstream for 200 ms, with most of the flood still to come.
	last, since := uint64(0), time.Now()
	waitFor(t, "natsfan to stop taking the publisher's messages", func() bool {
		if p := sc.srv.Stats().Published; p != last {
			last, since = p, time.Now()
		}
		return last > 0 && last < n/2 && time.Since(since) > 200*time.Millisecond
	})
	grew := int64(heapAfterGC()) - int64(before)
	t.Logf("natsfan took %d of %d messages of %d B, its heap grew by %d KiB, while upstream took nothing", last, n, len(payload), grew>>10)
	if grew > 8<<20 {
		t.Errorf("natsfan's heap grew by %d MiB while upstream took nothing, want it to stop reading the publisher", grew>>20)
	}
	other := dialSocket(t, sc.path)
	if err := other.FlushTimeout(5 * time.Second); err != nil {
		t.Errorf("another client is not answered while one publisher waits for upstream: %v", err)
	}

	gate.resume()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case seq := <-got:
			if seq != i {
				t.Fatalf("message %d arrived as the %dth", seq, i)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d messages arrived upstream", i, n)
		}
	}
}
