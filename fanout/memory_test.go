package fanout_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
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

// TestStream_RetainedMessagesCostWhatTheLimitsCount stores messages in
// batches of one (light load) and of 256 (ingest's most, under load), of
// 128 bytes and 4 KiB, given as ingest gives them (kept where they arrived),
// some with headers read into the payload's allocation as nats.go reads
// them, and 8 bytes (copied into arenas). It measures the live heap they
// take: never more than the byte limits count for them (RetainedBytes),
// and, for full batches of 128 bytes, at most 64 B a message beyond its
// subject and payload.
func TestStream_RetainedMessagesCostWhatTheLimitsCount(t *testing.T) {
	const subject = "mem.x"
	// A header as nats.go reads it, in front of the payload.
	header := nats.Header{"K": []string{"v"}}
	const headerWire = len("NATS/1.0\r\nK: v\r\n\r\n")
	for _, tc := range []struct {
		n, batch, payload int
		headers           bool
	}{
		{100_000, 1, 128, false},
		{100_000, 16, 128, false},
		{100_000, 256, 128, false},
		{100_000, 256, 128, true},
		{100_000, 256, 8, false},
		{10_000, 1, 4096, false},
		{10_000, 256, 4096, false},
		{10_000, 256, 4096, true},
	} {
		t.Run(fmt.Sprintf("batch=%d,payload=%d,headers=%t", tc.batch, tc.payload, tc.headers), func(t *testing.T) {
			h := newHub(t, []string{"mem.>"}, fanout.WithRetention(buffer.Retention{MaxMessages: uint64(tc.n)}))
			in := make([]fanout.Incoming, tc.batch)
			before := heapAfterGC()
			for range tc.n / tc.batch {
				for i := range in {
					in[i] = fanout.Incoming{Subject: subject, Data: make([]byte, tc.payload), GiveData: true}
					if tc.headers {
						in[i].Header = header
						in[i].Data = make([]byte, headerWire+tc.payload)[headerWire:]
					}
				}
				h.Streams()[0].Append(time.Now(), in...)
			}
			clear(in)
			live := float64(heapAfterGC()-before) / float64(tc.n/tc.batch*tc.batch)
			st := h.Stats().Streams[0]
			counted := float64(st.RetainedBytes) / float64(st.Retained)
			bookkeeping := live - float64(len(subject)+tc.payload)
			if tc.headers {
				bookkeeping -= 2 * float64(headerWire) // nats.go's copy, which the payload keeps, and the stream's
			}
			t.Logf("%.0f B of live heap a message, %.0f B beyond its subject and payload; the limits count %.0f B", live, bookkeeping, counted)
			if live > counted*1.02 { // 2% for the heap's own noise
				t.Errorf("a retained message takes %.0f B, more than the %.0f B the byte limits count for it", live, counted)
			}
			if tc.batch == 256 && tc.payload == 128 && !tc.headers && bookkeeping > 64 {
				t.Errorf("a retained message costs %.0f B beyond its subject and payload, want at most 64", bookkeeping)
			}
			runtime.KeepAlive(h)
		})
	}
}
