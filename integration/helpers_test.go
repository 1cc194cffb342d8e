package integration

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// startServer starts a nats-server in the test process on 127.0.0.1:port
// (-1: a free one) and shuts it down when the test ends.
func startServer(t testing.TB, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server on port %d not ready", port)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// serverPort returns the port a started server listens on.
func serverPort(t testing.TB, s *server.Server) int {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// connect returns a nats.go connection to url, closed when the test ends.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// sidecar is natsfan wired in the test process as cmd/natsfan wires it: a
// hub and an ingester connected to an upstream server.
type sidecar struct {
	hub *fanout.Hub
	in  *ingest.Ingester
}

func startSidecar(t testing.TB, url string, patterns []string, opts ...fanout.Option) *sidecar {
	t.Helper()
	return startSidecarWith(t, ingest.Config{URLs: []string{url}, ReconnectWait: 20 * time.Millisecond}, patterns, opts...)
}

// startSidecarWith is startSidecar with the ingester's whole configuration.
func startSidecarWith(t testing.TB, cfg ingest.Config, patterns []string, opts ...fanout.Option) *sidecar {
	t.Helper()
	hub, err := fanout.NewHub(patterns, append([]fanout.Option{fanout.WithLogger(zaptest.NewLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	in := ingest.New(cfg, hub.Streams(), zaptest.NewLogger(t))
	if err := in.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	waitFor(t, "the sidecar to be ready", func() bool { return in.Ready() == nil })
	return &sidecar{hub: hub, in: in}
}

// subscribe subscribes to the sidecar's hub, closing it when the test ends.
func (s *sidecar) subscribe(t testing.TB, pattern string, opts ...fanout.SubscribeOption) *fanout.Subscription {
	t.Helper()
	sub, err := s.hub.Subscribe(testContext(t), pattern, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// testContext ends with the test, or after a deadline that fails a hung
// test instead of letting it run into the package timeout.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// publishAll publishes msgs on nc and flushes, so the server has them all.
func publishAll(t testing.TB, nc *nats.Conn, msgs ...*nats.Msg) {
	t.Helper()
	for _, m := range msgs {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// metricSum returns the sum of the samples of a Prometheus text exposition
// that selector names: a metric name (every sample of it, whatever its
// labels) or a name with its labels (that sample); 0 if there are none.
func metricSum(t testing.TB, body, selector string) float64 {
	t.Helper()
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, selector)
		if !ok || !strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{") {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// publishN publishes n messages of payload on subject and flushes, so the
// server has them all.
func publishN(t testing.TB, nc *nats.Conn, subject string, n int, payload []byte) {
	t.Helper()
	for range n {
		if err := nc.Publish(subject, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// subscribeAll subscribes nc to subject (in queue group queue, unless
// empty) with cb, or synchronously for a nil cb, without nats.go's pending
// limits, so that the client drops nothing of a burst, and flushes, so that
// the server has the subscription.
func subscribeAll(t testing.TB, nc *nats.Conn, subject, queue string, cb nats.MsgHandler) *nats.Subscription {
	t.Helper()
	var sub *nats.Subscription
	var err error
	switch {
	case cb == nil:
		sub, err = nc.QueueSubscribeSync(subject, queue)
	default:
		sub, err = nc.QueueSubscribe(subject, queue, cb)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// msg builds a message with a header carrying its index.
func msg(subject string, i int) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set("Index", strconv.Itoa(i))
	m.Reply = "reply." + strconv.Itoa(i)
	m.Data = fmt.Appendf(nil, "%s #%d", subject, i)
	return m
}

// lagLimit is a consumer lag limit for tests that need a small one.
func lagLimit(msgs uint64) fanout.Option {
	return fanout.WithLagLimit(buffer.Lag{MaxMessages: msgs})
}
