package ingest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// BenchmarkSubscription_AppendQueued measures ingest's own cost per message,
// without the network: b.N messages are queued in nats.go behind a blocked
// callback, then released, and the clock runs until the callback has
// appended them all. This is the regime batching is for.
func BenchmarkSubscription_AppendQueued(b *testing.B) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		b.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(5 * time.Second) {
		b.Fatal("nats-server not ready")
	}
	b.Cleanup(srv.Shutdown)
	hub, err := fanout.NewHub([]string{"bench.>"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(hub.Close)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	pub, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pub.Close)

	s := newSubscription(hub.Streams()[0], DefaultMaxBatch)
	gate := make(chan struct{})
	first := true
	sub, err := nc.Subscribe("bench.>", func(m *nats.Msg) {
		if first {
			first = false
			<-gate
		}
		s.onMsg(m)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		b.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	for range b.N {
		if err := pub.Publish("bench.x", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		b.Fatal(err)
	}
	waitUntil(b, func() bool { n, _, _ := sub.Pending(); return n == b.N })

	b.ReportAllocs()
	b.ResetTimer()
	close(gate)
	waitUntil(b, func() bool { return s.received.Load() == uint64(b.N) })
	b.StopTimer()
	b.ReportMetric(float64(s.received.Load())/float64(s.batches.Load()), "msgs/batch")
}

// waitUntil polls cond until it holds, for a minute at most.
func waitUntil(b *testing.B, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Microsecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("condition not met after a minute")
		}
		<-tick.C
	}
}
