package fanout

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// queueMsgs queues n MSG frames of payload bytes for sid 1, as a pump does,
// and returns the bytes they make.
func queueMsgs(q *outbound, n, payload int) []byte {
	var want []byte
	data := bytes.Repeat([]byte{'x'}, payload)
	for i := range n {
		subject := fmt.Sprintf("s.%d", i)
		q.appendMsg("1", &Msg{Subject: subject, Data: data}, false)
		want = protocol.AppendMsg(want, subject, "1", "", data)
	}
	return want
}

func TestOutboundKeepsFramesInOrderAcrossChunks(t *testing.T) {
	for _, payload := range []int{0, 100, chunkSize/2 + 1, chunkSize - 20, chunkSize, 3 * chunkSize} {
		t.Run(fmt.Sprint(payload), func(t *testing.T) {
			var q outbound
			q.appendFrame(protocol.AppendPing)
			want := append([]byte("PING\r\n"), queueMsgs(&q, 50, payload)...)
			if q.size != len(want) {
				t.Errorf("size = %d, want %d", q.size, len(want))
			}
			held := 0
			for _, c := range q.chunks {
				held += cap(c)
			}
			if q.held != held || q.held < q.size {
				t.Errorf("held = %d, want the chunks' capacity, %d", q.held, held)
			}
			var f flight
			q.take(&f)
			if got := bytes.Join(f.chunks, nil); !bytes.Equal(got, want) {
				t.Fatalf("queued %d bytes that differ from the %d wanted", len(got), len(want))
			}
			if got := f.delivered(int64(len(want))); got != 50 {
				t.Errorf("a flight written whole delivered %d messages, want 50", got)
			}
			for _, c := range f.chunks {
				if len(c) > max(chunkSize, payload+32) {
					t.Errorf("a chunk of %d bytes, more than a chunk or one frame", len(c))
				}
			}
			if q.size != 0 || q.held != 0 || len(q.chunks) != 0 {
				t.Errorf("after take: size %d, held %d, %d chunks", q.size, q.held, len(q.chunks))
			}
		})
	}
}

func TestOutboundFillsChunksBeforeTakingNewOnes(t *testing.T) {
	var q outbound
	queueMsgs(&q, 10_000, 100) // about 1.1 MB
	if want := q.size/chunkSize + 1; len(q.chunks) != want {
		t.Errorf("%d bytes in %d chunks, want %d", q.size, len(q.chunks), want)
	}
}

func TestOutboundReleaseReusesTheFlight(t *testing.T) {
	var q outbound
	queueMsgs(&q, 10, 10)
	var f flight
	q.take(&f)
	f.release()
	if len(f.chunks) != 0 || cap(f.chunks) == 0 {
		t.Fatalf("release left len %d cap %d, want an empty slice with room", len(f.chunks), cap(f.chunks))
	}
	for _, c := range f.chunks[:cap(f.chunks)] {
		if c != nil {
			t.Fatal("release left a chunk in the flight, keeping it from the pool")
		}
	}
	spare := f.chunks[:1]
	queueMsgs(&q, 10, 10)
	q.take(&f)
	queueMsgs(&q, 10, 10)
	if &q.chunks[0] != &spare[0] {
		t.Error("the queue did not reuse the slices of the flight it was given")
	}
}

// A write that stops part way counts only the messages of the chunks it
// wrote whole: the others did not reach the client.
func TestFlightDeliveredCountsWholeChunksWritten(t *testing.T) {
	var q outbound
	queueMsgs(&q, 1000, 200) // about 213 KB: 4 chunks
	var f flight
	q.take(&f)
	if len(f.chunks) < 3 {
		t.Fatalf("%d chunks, want at least 3", len(f.chunks))
	}
	first := int64(len(f.chunks[0]))
	for _, tc := range []struct {
		written int64
		want    int
	}{
		{0, 0},
		{first - 1, 0},
		{first, f.msgs[0]},
		{first + int64(len(f.chunks[1])), f.msgs[0] + f.msgs[1]},
	} {
		if got := f.delivered(tc.written); got != tc.want {
			t.Errorf("delivered(%d) = %d, want %d", tc.written, got, tc.want)
		}
	}
}

func TestOutboundAppendsWithoutAllocating(t *testing.T) {
	const frames = 1000
	var q outbound
	data := make([]byte, 128)
	size := protocol.MsgLen("bench.x", "1", "", len(data))
	chunks := (frames*size + chunkSize - 1) / chunkSize
	// Chunks come from the pool, but the race detector makes sync.Pool drop
	// a random quarter of what is put back: then allow a new chunk each
	// time, but nothing per frame.
	limit := 0.0
	if raceEnabled {
		limit = float64(chunks)
	}
	m := &Msg{Subject: "bench.x", Data: data}
	var f flight
	allocs := testing.AllocsPerRun(100, func() {
		for range frames {
			q.appendMsg("1", m, false)
		}
		q.take(&f)
		f.release()
	})
	if allocs > limit {
		t.Errorf("%.1f allocations per %d frames queued and released, want at most %.0f", allocs, frames, limit)
	}
}
