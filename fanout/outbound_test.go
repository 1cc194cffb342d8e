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
		size := protocol.MsgLen(subject, "1", "", len(data))
		q.commit(protocol.AppendMsg(q.room(size), subject, "1", "", data))
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
			taken := q.take(nil)
			if got := bytes.Join(taken, nil); !bytes.Equal(got, want) {
				t.Fatalf("queued %d bytes that differ from the %d wanted", len(got), len(want))
			}
			for _, c := range taken {
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

func TestOutboundReleaseReusesTheSpare(t *testing.T) {
	var q outbound
	queueMsgs(&q, 10, 10)
	spare := release(q.take(nil))
	if len(spare) != 0 || cap(spare) == 0 {
		t.Fatalf("release returned len %d cap %d, want an empty slice with room", len(spare), cap(spare))
	}
	for _, c := range spare[:cap(spare)] {
		if c != nil {
			t.Fatal("release left a chunk in the spare slice, keeping it from the pool")
		}
	}
	queueMsgs(&q, 10, 10)
	q.take(spare)
	queueMsgs(&q, 10, 10)
	if &q.chunks[0] != &spare[:1][0] {
		t.Error("the queue did not reuse the spare slice take was given")
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
	var spare [][]byte
	allocs := testing.AllocsPerRun(100, func() {
		for range frames {
			q.commit(protocol.AppendMsg(q.room(size), "bench.x", "1", "", data))
		}
		spare = release(q.take(spare))
	})
	if allocs > limit {
		t.Errorf("%.1f allocations per %d frames queued and released, want at most %.0f", allocs, frames, limit)
	}
}
