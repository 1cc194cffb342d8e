package fanout

import (
	"bytes"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// queueMsgs queues n MSG frames of payload bytes for sid 1, as a pump does,
// and returns the bytes they make.
func queueMsgs(q *outbound, n, payload int) []byte {
	var want []byte
	data := bytes.Repeat([]byte{'x'}, payload)
	for i := range n {
		subject := fmt.Sprintf("s.%d", i)
		q.appendMsg("1", NewMsg(subject, "", nil, data, time.Time{}), false)
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
			held := len(q.chunks) * chunkSize
			for _, seg := range q.segs {
				if !q.inChunks(seg) {
					held += len(seg) // a frame of its own, or a borrowed payload
				}
			}
			if q.held != held || q.held < q.size {
				t.Errorf("held = %d, want the chunks' capacity and the other segments, %d", q.held, held)
			}
			var f flight
			q.take(&f)
			if got := bytes.Join(f.segs, nil); !bytes.Equal(got, want) {
				t.Fatalf("queued %d bytes that differ from the %d wanted", len(got), len(want))
			}
			if got := f.delivered(int64(len(want))); got != 50 {
				t.Errorf("a flight written whole delivered %d messages, want 50", got)
			}
			for _, seg := range f.segs {
				if len(seg) > max(chunkSize, payload+32) {
					t.Errorf("a segment of %d bytes, more than a chunk or one frame", len(seg))
				}
			}
			if q.size != 0 || q.held != 0 || len(q.segs) != 0 || len(q.chunks) != 0 {
				t.Errorf("after take: size %d, held %d, %d segments, %d chunks", q.size, q.held, len(q.segs), len(q.chunks))
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
	if len(f.segs) != 0 || cap(f.segs) == 0 || len(f.chunks) != 0 || cap(f.chunks) == 0 {
		t.Fatalf("release left %d segments and %d chunks, want empty slices with room", len(f.segs), len(f.chunks))
	}
	for _, c := range f.chunks[:cap(f.chunks)] {
		if c != nil {
			t.Fatal("release left a chunk in the flight, keeping it from the pool")
		}
	}
	for _, seg := range f.segs[:cap(f.segs)] {
		if seg != nil {
			t.Fatal("release left a segment in the flight, keeping what it points at alive")
		}
	}
	spare := f.segs[:1]
	queueMsgs(&q, 10, 10)
	q.take(&f)
	queueMsgs(&q, 10, 10)
	if &q.segs[0] != &spare[0] {
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
	if len(f.segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(f.segs))
	}
	first := int64(len(f.segs[0]))
	for _, tc := range []struct {
		written int64
		want    int
	}{
		{0, 0},
		{first - 1, 0},
		{first, f.msgs[0]},
		{first + int64(len(f.segs[1])), f.msgs[0] + f.msgs[1]},
	} {
		if got := f.delivered(tc.written); got != tc.want {
			t.Errorf("delivered(%d) = %d, want %d", tc.written, got, tc.want)
		}
	}
}

// A large payload is sent from the message, not copied: every consumer's
// queue points at the bytes the hub stores, and they still count against
// the connection's limit.
func TestOutboundBorrowsLargePayloads(t *testing.T) {
	var q outbound
	data := bytes.Repeat([]byte{'y'}, borrowMin)
	m := NewMsg("big", "", nats.Header{"A": {"b"}}, data, time.Time{})
	q.appendMsg("7", m, true)
	q.appendMsg("8", m, false)
	want := protocol.AppendHMsg(nil, "big", "7", "", m.RawHeader(), data)
	want = protocol.AppendMsg(want, "big", "8", "", data)
	borrowed := 0
	for _, seg := range q.segs {
		if len(seg) > 0 && &seg[0] == &m.Data()[0] {
			borrowed++
		}
	}
	if borrowed != 2 {
		t.Errorf("%d segments point at the message's payload, want 2", borrowed)
	}
	if q.held < 2*len(data) {
		t.Errorf("held = %d, less than the 2 payloads queued", q.held)
	}
	var f flight
	q.take(&f)
	if got := bytes.Join(f.segs, nil); !bytes.Equal(got, want) {
		t.Fatalf("queued\n%q\nwant\n%q", got, want)
	}
	if got := f.delivered(int64(len(want))); got != 2 {
		t.Errorf("delivered %d messages, want 2", got)
	}
	if got := f.delivered(int64(len(want) - 1)); got != 1 {
		t.Errorf("a write that stops short of the last CRLF delivered %d messages, want 1", got)
	}
	f.release()
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
	m := NewMsg("bench.x", "", nil, data, time.Time{})
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

// inChunks reports whether seg is a run of one of q's pooled chunks.
func (q *outbound) inChunks(seg []byte) bool {
	if len(seg) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(&seg[0]))
	for _, c := range q.chunks {
		if base := uintptr(unsafe.Pointer(c)); p >= base && p < base+chunkSize {
			return true
		}
	}
	return false
}
