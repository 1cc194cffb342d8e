package ingest_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// The two benchmarks publish b.N 128-byte messages on one subject to an
// embedded server and stop the clock when the last has been handled:
// appended to a stream by an Ingester, or counted by a plain nats.go
// subscriber with the same pending limits. Run together, they show what
// ingest costs on top of nats.go. Allocations are the whole process's:
// publisher, server and subscriber.

const benchPayload = 128

// publishForBench publishes n messages, each benchPayload bytes, then
// flushes.
func publishForBench(b *testing.B, nc *nats.Conn, n int) {
	payload := make([]byte, benchPayload)
	for range n {
		if err := nc.Publish("bench.x", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := nc.FlushTimeout(time.Minute); err != nil {
		b.Fatal(err)
	}
}

func reportRate(b *testing.B, elapsed time.Duration) {
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

func BenchmarkIngest(b *testing.B) {
	srv := startServer(b, -1)
	hub, err := fanout.NewHub([]string{"bench.>"}) // default retention: memory stays flat
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(hub.Close)
	in, _ := newIngester(b, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(b, srv.ClientURL())
	handled := func() uint64 {
		s := in.Stats().Streams[0]
		return s.Received + s.Dropped
	}

	b.SetBytes(benchPayload)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishForBench(b, pub, b.N)
	tick := time.NewTicker(100 * time.Microsecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for handled() < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("after a minute: %d of %d messages handled", handled(), b.N)
		}
		<-tick.C
	}
	elapsed := time.Since(start)
	b.StopTimer()

	s := in.Stats().Streams[0]
	reportRate(b, elapsed)
	b.ReportMetric(float64(s.Received)/float64(max(s.Batches, 1)), "msgs/batch")
	if s.Dropped > 0 {
		b.ReportMetric(float64(s.Dropped), "dropped")
	}
}

func BenchmarkDirectSubscriber(b *testing.B) {
	srv := startServer(b, -1)
	nc := connect(b, srv.ClientURL())
	pub := connect(b, srv.ClientURL())
	var received atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	sub, err := nc.Subscribe("bench.>", func(*nats.Msg) {
		if received.Add(1) == n {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := sub.SetPendingLimits(ingest.DefaultPendingMessages, ingest.DefaultPendingBytes); err != nil {
		b.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}

	b.SetBytes(benchPayload)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishForBench(b, pub, b.N)
	select {
	case <-done:
	case <-time.After(time.Minute):
		dropped, _ := sub.Dropped()
		b.Fatalf("after a minute: %d of %d messages received, %d dropped", received.Load(), b.N, dropped)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	reportRate(b, elapsed)
}
