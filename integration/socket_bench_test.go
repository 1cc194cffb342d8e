package integration

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// BenchmarkSocketDelivery publishes b.N 128-byte messages upstream and
// measures aggregate delivery to N stock nats.go consumers, either
// subscribed directly to the upstream nats-server ("direct") or connected
// to natsfan's Unix socket ("socket"), in the same process and run. It
// reports deliveries/s over all consumers and the share of deliveries that
// arrived (lost messages are counted, not hidden).
func BenchmarkSocketDelivery(b *testing.B) {
	for _, consumers := range []int{1, 10, 50} {
		for _, mode := range []string{"direct", "socket"} {
			b.Run(fmt.Sprintf("%s/consumers=%d", mode, consumers), func(b *testing.B) {
				benchSocketDelivery(b, mode, consumers)
			})
		}
	}
}

func benchSocketDelivery(b *testing.B, mode string, consumers int) {
	up := startServer(b, -1)
	var sc *socketSidecar
	dial := func() *nats.Conn { return connect(b, up.ClientURL()) }
	if mode == "socket" {
		sc = startSocketSidecar(b, up.ClientURL(), []string{"bench.>"}, fanout.ServerConfig{})
		dial = func() *nats.Conn { return dialSocket(b, sc.path) }
	}
	var received atomic.Int64
	for range consumers {
		nc := dial()
		sub, err := nc.Subscribe("bench.>", func(*nats.Msg) { received.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if sc != nil {
		waitFor(b, "every consumer's subscription", func() bool { return sc.srv.Stats().Subscriptions == consumers })
	}
	pub := connect(b, up.ClientURL())
	payload := make([]byte, 128)
	want := int64(b.N) * int64(consumers)

	b.ResetTimer()
	for range b.N {
		if err := pub.Publish("bench.x", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		b.Fatal(err)
	}
	// Wait for every delivery, or until deliveries stop for a second: what
	// has not arrived by then is lost.
	last, stalled := received.Load(), time.Now()
	for got := last; got < want; got = received.Load() {
		if got != last {
			last, stalled = got, time.Now()
		} else if time.Since(stalled) > time.Second {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	got := received.Load()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(want-got), "lost")
}
