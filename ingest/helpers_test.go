package ingest_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// clientName is the connection name the tests give the Ingester, to find
// its connection in the server's Connz.
const clientName = "natsfan-ingest-test"

// startServer starts a nats-server in the test process on 127.0.0.1:port
// (-1: any free port), shut down when the test ends. opts, if given, is
// the base configuration.
func startServer(t testing.TB, port int, opts ...*server.Options) *server.Server {
	t.Helper()
	o := &server.Options{}
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Host, o.Port, o.NoSigs, o.NoLog = "127.0.0.1", port, true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("cannot configure nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats-server on port %d not ready for connections", port)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// port returns the port s listens on.
func port(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// freePort returns a port nothing listens on (now).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newHub returns a hub with a stream per pattern that retains enough for
// every test to read everything from the oldest message.
func newHub(t testing.TB, patterns ...string) *fanout.Hub {
	t.Helper()
	h, err := fanout.NewHub(patterns,
		fanout.WithRetention(buffer.Retention{MaxMessages: 1 << 20}),
		fanout.WithLagLimit(buffer.Lag{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// newIngester returns an Ingester of hub's streams connected to url,
// started, and closed when the test ends, with the logs it wrote.
func newIngester(t testing.TB, url string, hub *fanout.Hub, cfg ingest.Config) (*ingest.Ingester, *observer.ObservedLogs) {
	t.Helper()
	in, logs := newUnstarted(t, url, hub, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return in, logs
}

// newUnstarted is newIngester without Start.
func newUnstarted(t testing.TB, url string, hub *fanout.Hub, cfg ingest.Config) (*ingest.Ingester, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	if url != "" {
		cfg.URLs = []string{url}
	}
	cfg.NATSOptions = append(cfg.NATSOptions, nats.Name(clientName))
	in := ingest.New(cfg, hub.Streams(), zap.New(core))
	t.Cleanup(in.Close)
	return in, logs
}

// connect returns a plain nats.go connection, closed when the test ends.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("cannot connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// publish publishes each message, then flushes: when it returns, the
// server has routed every message to its subscribers.
func publish(t testing.TB, nc *nats.Conn, msgs ...*nats.Msg) {
	t.Helper()
	for _, m := range msgs {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatalf("publish %s: %v", m.Subject, err)
		}
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// numbered returns n messages on subject whose payloads are their numbers,
// from first.
func numbered(subject string, first, n int) []*nats.Msg {
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		msgs[i] = &nats.Msg{Subject: subject, Data: fmt.Appendf(nil, "%d", first+i)}
	}
	return msgs
}

// waitFor waits until cond holds, checking every few milliseconds, and
// fails the test if it does not within timeout. It returns at once when
// cond already holds.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// reader reads a hub's messages matching pattern, from the oldest.
type reader struct {
	t   testing.TB
	sub *fanout.Subscription
}

func newReader(t testing.TB, hub *fanout.Hub, pattern string) *reader {
	t.Helper()
	sub, err := hub.Subscribe(context.Background(), pattern, fanout.StartAtOldest())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return &reader{t: t, sub: sub}
}

// next returns the next n messages, failing the test if they do not all
// arrive within timeout.
func (r *reader) next(n int, timeout time.Duration) []*fanout.Msg {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	msgs := make([]*fanout.Msg, 0, n)
	for len(msgs) < n {
		m, err := r.sub.Next(ctx)
		if err != nil {
			r.t.Fatalf("after %d of %d messages on %q: %v", len(msgs), n, r.sub.Pattern(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// connz returns the server's view of the Ingester's connection, or nil.
func connz(t testing.TB, s *server.Server) *server.ConnInfo {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == clientName {
			return c
		}
	}
	return nil
}

// waitSubscribed waits until the server has n subscriptions of the
// Ingester's: from then on, what is published reaches it.
func waitSubscribed(t testing.TB, s *server.Server, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("the Ingester's %d subscriptions on the server", n), func() bool {
		c := connz(t, s)
		return c != nil && int(c.NumSubs) == n
	})
}

// logged returns the entries whose message contains text.
func logged(logs *observer.ObservedLogs, text string) []observer.LoggedEntry {
	return logs.Filter(func(e observer.LoggedEntry) bool { return strings.Contains(e.Message, text) }).All()
}

// streamStats returns the Ingester's stats of the stream with pattern.
func streamStats(t testing.TB, in *ingest.Ingester, pattern string) ingest.StreamStats {
	t.Helper()
	for _, s := range in.Stats().Streams {
		if s.Pattern == pattern {
			return s
		}
	}
	t.Fatalf("no stream %q in Stats", pattern)
	return ingest.StreamStats{}
}

// gatedDialer dials upstream for nats.go once its gate is closed, and counts
// the dials under way and the connections it made that are still open.
type gatedDialer struct {
	dialing chan struct{} // closed when the first Dial begins
	gate    chan struct{} // closed by the test to let dials proceed
	once    sync.Once
	busyN   atomic.Int64 // dials under way and connections open
}

func newGatedDialer() *gatedDialer {
	return &gatedDialer{dialing: make(chan struct{}), gate: make(chan struct{})}
}

func (d *gatedDialer) Dial(network, address string) (net.Conn, error) {
	d.busyN.Add(1)
	d.once.Do(func() { close(d.dialing) })
	<-d.gate
	c, err := net.Dial(network, address)
	if err != nil {
		d.busyN.Add(-1)
		return nil, err
	}
	return &countedConn{Conn: c, busy: &d.busyN}, nil
}

// busy returns the number of dials under way and connections open.
func (d *gatedDialer) busy() int { return int(d.busyN.Load()) }

// countedConn is a connection that counts itself out of busy when closed.
type countedConn struct {
	net.Conn
	busy *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.busy.Add(-1) })
	return c.Conn.Close()
}

// parkedIn reports whether a goroutine whose stack holds fn (such as
// "ingest.(*Ingester).Close(") is parked: waiting, not running.
func parkedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, stack, _ := strings.Cut(g, "\n")
		if strings.Contains(stack, fn) && !strings.Contains(header, "[running") && !strings.Contains(header, "[runnable") {
			return true
		}
	}
	return false
}
