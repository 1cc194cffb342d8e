package fanout_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

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
// batches of one (light load) and of 256 (ingest's most, under load), 128
// bytes (copied into arenas) and 4 KiB (kept where they arrived, as ingest
// gives them), and measures the live heap they take: never more than the
// byte limits count for them (RetainedBytes), and, for full batches of 128
// bytes, at most 64 B a message beyond its subject and payload.
func TestStream_RetainedMessagesCostWhatTheLimitsCount(t *testing.T) {
	const subject = "mem.x"
	for _, tc := range []struct {
		n, batch, payload int
	}{
		{100_000, 1, 128},
		{100_000, 16, 128},
		{100_000, 256, 128},
		{10_000, 1, 4096},
		{10_000, 256, 4096},
	} {
		t.Run(fmt.Sprintf("batch=%d,payload=%d", tc.batch, tc.payload), func(t *testing.T) {
			h := newHub(t, []string{"mem.>"}, fanout.WithRetention(buffer.Retention{MaxMessages: uint64(tc.n)}))
			in := make([]fanout.Incoming, tc.batch)
			before := heapAfterGC()
			for range tc.n / tc.batch {
				for i := range in {
					in[i] = fanout.Incoming{Subject: subject, Data: make([]byte, tc.payload), GiveData: true}
				}
				h.Streams()[0].Append(time.Now(), in...)
			}
			clear(in)
			live := float64(heapAfterGC()-before) / float64(tc.n/tc.batch*tc.batch)
			st := h.Stats().Streams[0]
			counted := float64(st.RetainedBytes) / float64(st.Retained)
			bookkeeping := live - float64(len(subject)+tc.payload)
			t.Logf("%.0f B of live heap a message, %.0f B beyond its subject and payload; the limits count %.0f B", live, bookkeeping, counted)
			if live > counted*1.02 { // 2% for the heap's own noise
				t.Errorf("a retained message takes %.0f B, more than the %.0f B the byte limits count for it", live, counted)
			}
			if tc.batch == 256 && tc.payload == 128 && bookkeeping > 64 {
				t.Errorf("a retained message costs %.0f B beyond its subject and payload, want at most 64", bookkeeping)
			}
			runtime.KeepAlive(h)
		})
	}
}
