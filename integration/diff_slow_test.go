package integration

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// gatedDialer dials for nats.go (natsfan's Unix socket when it has one,
// TCP otherwise) and lets the test stop the client from reading its
// socket, as a client that falls behind would, and let it go on.
type gatedDialer struct {
	socket string // "" for TCP

	mu   sync.Mutex
	open chan struct{} // closed while the client may read
}

func newGatedDialer(socket string) *gatedDialer {
	d := &gatedDialer{socket: socket, open: make(chan struct{})}
	close(d.open)
	return d
}

func (d *gatedDialer) Dial(network, address string) (net.Conn, error) {
	if d.socket != "" {
		network, address = "unix", d.socket
	}
	c, err := net.DialTimeout(network, address, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, d: d}, nil
}

// stop keeps the client from reading: its next Read waits for resume.
func (d *gatedDialer) stop() {
	d.mu.Lock()
	d.open = make(chan struct{})
	d.mu.Unlock()
}

func (d *gatedDialer) resume() {
	d.mu.Lock()
	close(d.open)
	d.mu.Unlock()
}

func (d *gatedDialer) gate() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open
}

type gatedConn struct {
	net.Conn
	d *gatedDialer
}

func (c *gatedConn) Read(b []byte) (int, error) {
	<-c.d.gate()
	return c.Conn.Read(b)
}

// metric returns the sum of a natsfan metric's samples, 0 if it has none.
func metric(t *testing.T, tg *diffTarget, name string) float64 {
	t.Helper()
	code, body := probe(tg.HTTP + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return metricSum(t, body, name)
}

// TestDifferential_SlowConsumerReconnects stops a nats.go consumer from
// reading while messages pour in, until the server cuts it off as a slow
// consumer, then lets it read again. nats-server closes a slow consumer
// without an -ERR, and nats.go reconnects by itself and receives again;
// through natsfan it must be the same (an -ERR 'Slow Consumer' would make
// nats.go close for good).
func TestDifferential_SlowConsumerReconnects(t *testing.T) {
	type seen struct {
		Reconnected            bool `json:"reconnected"`
		ClosedForGood          bool `json:"closed_for_good"`
		ReceivedAfterReconnect bool `json:"received_after_reconnect"`
	}
	opts := diffOptions{
		Subjects: "load.>",
		Env:      []string{"NATSFAN_CONSUMER_MAX_LAG_MESSAGES=200"},
		Direct:   func(o *server.Options) { o.MaxPending = 2 << 20 },
	}
	differential(t, opts, func(t *testing.T, tg *diffTarget) seen {
		d := newGatedDialer(tg.Socket)
		start := time.Now()
		lap := func(what string) { t.Logf("%s: %s after %v", tg.Name, what, time.Since(start).Round(time.Millisecond)) }
		reconnected, closed := make(chan struct{}, 1), make(chan struct{})
		var obs seen
		nc, err := nats.Connect(tg.URL, nats.SetCustomDialer(d),
			nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1),
			nats.ReconnectHandler(func(*nats.Conn) {
				select {
				case reconnected <- struct{}{}:
				default:
				}
			}),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		sub := subscribeAll(t, nc, "load.>", "", nil)

		d.stop()
		// 10 MB: more than the sockets and the server hold for one client.
		publishN(t, tg.Pub, "load.x", 10_000, make([]byte, 1024))
		if tg.Natsfan != nil {
			// The hub has cut the consumer's subscription off for lag; what
			// natsfan then does with the connection is what this checks.
			waitFor(t, "natsfan to cut the consumer off", func() bool { return metric(t, tg, "natsfan_slow_consumers_total") > 0 })
		} else {
			waitFor(t, "nats-server to cut the consumer off", func() bool { return tg.Upstream.NumSlowConsumers() > 0 })
		}
		lap("cut off")
		d.resume()

		select {
		case <-reconnected:
			obs.Reconnected = true
		case <-closed:
		case <-time.After(10 * time.Second):
		}
		select {
		case <-closed:
			obs.ClosedForGood = true
		default:
		}
		lap("reconnected or closed")
		if obs.Reconnected {
			// What was in flight when the server cut it off comes first.
			deadline := time.Now().Add(20 * time.Second)
			for i := 0; time.Now().Before(deadline) && !obs.ReceivedAfterReconnect; i++ {
				publishAll(t, tg.Pub, msg("load.after", i))
				for {
					m, err := sub.NextMsg(100 * time.Millisecond)
					if err != nil {
						break
					}
					if m.Subject == "load.after" {
						obs.ReceivedAfterReconnect = true
						break
					}
				}
			}
		}
		t.Logf("%s: %+v", tg.Name, obs)
		return obs
	})
}
