package fanout_test

import (
	"fmt"
	"runtime"
	"testing"

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

// TestStream_RetainedMessagesCostWhatTheLimitsCount stores 128-byte
// messages in batches of one (light load) and of 256 (ingest's most, under
// load), and measures the live heap they take: never more than the byte
// limits count for them (RetainedBytes), and, in full batches, at most 64 B
// a message beyond its subject and payload.
func TestStream_RetainedMessagesCostWhatTheLimitsCount(t *testing.T) {
	const n, subject = 100_000, "mem.x"
	payload := make([]byte, 128)
	for _, batch := range []int{1, 16, 256} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			h := newHub(t, []string{"mem.>"}, fanout.WithRetention(buffer.Retention{MaxMessages: n}))
			in := make([]fanout.Incoming, batch)
			for i := range in {
				in[i] = fanout.Incoming{Subject: subject, Data: payload}
			}
			before := heapAfterGC()
			for range n / batch {
				h.Streams()[0].Append(in...)
			}
			live := float64(heapAfterGC()-before) / float64(n/batch*batch)
			st := h.Stats().Streams[0]
			counted := float64(st.RetainedBytes) / float64(st.Retained)
			bookkeeping := live - float64(len(subject)+len(payload))
			t.Logf("%.0f B of live heap a message, %.0f B beyond its subject and payload; the limits count %.0f B", live, bookkeeping, counted)
			if live > counted*1.02 { // 2% for the heap's own noise
				t.Errorf("a retained message takes %.0f B, more than the %.0f B the byte limits count for it", live, counted)
			}
			if batch == 256 && bookkeeping > 64 {
				t.Errorf("a retained message costs %.0f B beyond its subject and payload, want at most 64", bookkeeping)
			}
			runtime.KeepAlive(h)
		})
	}
}
