package fanout

import (
	"net"
	"sync"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// outbound is what one connection has queued for its writer: frames packed
// into fixed-size chunks taken from a pool shared by every connection. The
// writer takes all the chunks at once (a flight), sends them in one writev
// and gives them back to the pool.
//
// Chunks, unlike one growing slice per connection, are never copied as the
// queue grows, and a connection holds memory only while it has something
// queued: a burst to many consumers borrows chunks from the pool and an
// idle connection holds none. Every method must be called with conn.mu
// held.
//
// Every frame counts against the connection's limit, maxOutbound: messages,
// and the PONGs, +OKs and -ERRs that answer the client, so that a client
// that sends without reading cannot make natsfan queue without bound.
type outbound struct {
	chunks net.Buffers // the last one is being filled
	msgs   []int       // messages (MSG and HMSG frames) in each chunk
	size   int         // bytes queued, in all the chunks
	held   int         // the chunks' capacity: the memory they hold

	// Never reset by take: every message queued since the connection
	// opened, and its headers' and payload's bytes, as nats-server counts
	// out_msgs and out_bytes (connz.go).
	totalMsgs, totalBytes uint64
}

// maxOutbound is how much memory the frames queued for one client may hold
// (outbound.held: whole chunks, however full) before whoever queues for it
// waits for the writer: subscriptions stop taking messages from the hub,
// where the lag limit applies, and the connection's reader stops reading
// what the client sends. A connection holds at most twice this, plus a
// frame: what is queued, and the flight the writer is sending. The
// benchmark program delivered as fast with 256 KiB as with 1 MiB, and
// faster at 4 KiB messages and N=200.
const maxOutbound = 256 << 10

// full reports whether the queue is at its limit.
func (q *outbound) full() bool { return q.held >= maxOutbound }

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
	q.msgs = append(q.msgs, 0)
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

// appendFrame queues a control frame that frame appends to its argument.
func (q *outbound) appendFrame(frame func([]byte) []byte) {
	b := frame(nil)
	q.commit(append(q.room(len(b)), b...))
}

// appendMsg queues m for subscription sid: HMSG with its headers for a
// client that handles them, MSG otherwise.
func (q *outbound) appendMsg(sid string, m *Msg, headers bool) {
	if headers && m.rawHeader != nil {
		n := protocol.HMsgLen(m.Subject, sid, m.Reply, len(m.rawHeader), len(m.Data))
		q.commit(protocol.AppendHMsg(q.room(n), m.Subject, sid, m.Reply, m.rawHeader, m.Data))
		q.totalBytes += uint64(len(m.rawHeader))
	} else {
		n := protocol.MsgLen(m.Subject, sid, m.Reply, len(m.Data))
		q.commit(protocol.AppendMsg(q.room(n), m.Subject, sid, m.Reply, m.Data))
	}
	q.msgs[len(q.msgs)-1]++
	q.totalMsgs++
	q.totalBytes += uint64(len(m.Data))
}

// messages returns how many messages are queued.
func (q *outbound) messages() int {
	n := 0
	for _, k := range q.msgs {
		n += k
	}
	return n
}

// flight is what the writer took from an outbound to send: the chunks, and
// how many messages each holds, so that only messages that reached the
// socket count as delivered.
type flight struct {
	chunks net.Buffers
	msgs   []int
}

// take moves everything queued into f, which must be empty (released), and
// gives the queue f's slices to fill again.
func (q *outbound) take(f *flight) {
	q.chunks, f.chunks = f.chunks[:0], q.chunks
	q.msgs, f.msgs = f.msgs[:0], q.msgs
	q.size, q.held = 0, 0
}

// delivered returns how many messages the first n bytes of the flight hold
// whole: what a write of n bytes delivered.
func (f *flight) delivered(n int64) int {
	msgs := 0
	for i, c := range f.chunks {
		if n < int64(len(c)) {
			break
		}
		n -= int64(len(c))
		msgs += f.msgs[i]
	}
	return msgs
}

// release gives the flight's chunks back to the pool and empties it, for
// the next take.
func (f *flight) release() {
	for i, c := range f.chunks {
		if cap(c) == chunkSize {
			chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
		}
		f.chunks[i] = nil
	}
	f.chunks, f.msgs = f.chunks[:0], f.msgs[:0]
}
