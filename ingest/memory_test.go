package ingest_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/natsfan/natsfan/ingest"
)

// heapAfterGC returns the live heap once the garbage collector has run.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestIngest_RetainedMessagesCostWhatTheLimitsCount ingests a burst of
// 128-byte messages from a real nats-server into a stream that retains them
// all, and measures the live heap they add: no more than the byte limits
// count for them. It logs what they cost beyond their subjects and payloads,
// which depends on how ingest batched them (fanout's memory test pins that
// down for given batch sizes).
func TestIngest_RetainedMessagesCostWhatTheLimitsCount(t *testing.T) {
	const n, payload, subject = 200_000, 128, "mem.x"
	srv := startServer(t, -1)
	hub := newHub(t, "mem.>")
	in, _ := newIngester(t, srv.ClientURL(), hub, ingest.Config{})
	pub := connect(t, srv.ClientURL())

	before := heapAfterGC()
	data := make([]byte, payload)
	for range n {
		if err := pub.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.FlushTimeout(time.Minute); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the burst to be ingested", func() bool {
		return in.Stats().Streams[0].Received == n
	})
	live := float64(heapAfterGC()-before) / n
	st := hub.Stats().Streams[0]
	counted := float64(st.RetainedBytes) / float64(st.Retained)
	s := in.Stats().Streams[0]
	t.Logf("%.0f B of live heap a message, %.0f B beyond its subject and payload, %.1f messages a batch; the limits count %.0f B",
		live, live-float64(len(subject)+payload), float64(s.Received)/float64(s.Batches), counted)
	if live > counted*1.02 { // 2% for the heap's own noise
		t.Errorf("a retained message takes %.0f B, more than the %.0f B the byte limits count for it", live, counted)
	}
	runtime.KeepAlive(hub)
}
