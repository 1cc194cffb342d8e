package fanout

import (
	"net"
	"sync"
)

// outbound is what one connection has queued for its writer: frames packed
// into fixed-size chunks taken from a pool shared by every connection. The
// writer takes all the chunks at once, sends them in one writev and gives
// them back to the pool.
//
// Chunks, unlike one growing slice per connection, are never copied as the
// queue grows, and a connection holds memory only while it has something
// queued: a burst to many consumers borrows chunks from the pool and an
// idle connection holds none. Every method must be called with conn.mu
// held.
type outbound struct {
	chunks net.Buffers // the last one is being filled
	size   int         // bytes queued, in all the chunks
	held   int         // the chunks' capacity: the memory they hold
}

// chunkSize is the size of a pooled chunk: nats-server's largest write
// buffer, and many frames of a typical message in each.
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// room returns a slice to append a frame of n bytes to: the unused end of
// the last chunk when the frame fits there, or else a new chunk (one of
// exactly n bytes, not pooled, for a frame larger than a chunk). Give what
// was appended to commit.
func (q *outbound) room(n int) []byte {
	if k := len(q.chunks); k > 0 {
		if last := q.chunks[k-1]; cap(last)-len(last) >= n {
			return last
		}
	}
	var c []byte
	if n <= chunkSize {
		c = chunkPool.Get().(*[chunkSize]byte)[:0]
	} else {
		c = make([]byte, 0, n)
	}
	q.chunks = append(q.chunks, c)
	q.held += cap(c)
	return c
}

// commit records b, the slice room returned with frames appended to it, as
// the last chunk. The frames must not have outgrown room's n.
func (q *outbound) commit(b []byte) {
	last := &q.chunks[len(q.chunks)-1]
	q.size += len(b) - len(*last)
	*last = b
}

// appendFrame queues a frame that frame appends to its argument, whatever
// its size: for control frames, small and rare.
func (q *outbound) appendFrame(frame func([]byte) []byte) {
	b := frame(nil)
	q.commit(append(q.room(len(b)), b...))
}

// take removes everything queued and returns it, for send and then release.
// spare is a slice of an earlier take to reuse.
func (q *outbound) take(spare net.Buffers) net.Buffers {
	taken := q.chunks
	q.chunks, q.size, q.held = spare[:0], 0, 0
	return taken
}

// release gives taken's chunks back to the pool, and returns taken emptied,
// to be given to take as spare.
func release(taken net.Buffers) net.Buffers {
	for i, c := range taken {
		if cap(c) == chunkSize {
			chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
		}
		taken[i] = nil
	}
	return taken[:0]
}
