package fanout

import (
	"net"
	"sync"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// outbound is what one connection has queued for its writer, as a list
// of segments that one writev sends in order: runs of fixed-size chunks
// taken from a pool shared by every connection, into which frames are
// encoded, and the payloads of large messages, not copied but borrowed from
// the message the hub stores (every consumer's segment points at the same
// bytes). The writer takes all the segments at once (a flight), sends them
// and gives the chunks back to the pool.
//
// Chunks, unlike one growing slice per connection, are never copied as the
// queue grows, and a connection holds memory only while it has something
// queued: a burst to many consumers borrows chunks from the pool and an
// idle connection holds none. Every method must be called with conn.mu
// held.
//
// Every frame counts against the connection's limit, maxOutbound: messages,
// borrowed payloads included, and the PONGs, +OKs and -ERRs that answer the
// client, so that a client that sends without reading cannot make natsfan
// queue without bound.
type outbound struct {
	segs   net.Buffers        // what is queued, in order
	msgs   []int              // messages (MSG and HMSG frames) that end in each segment
	chunks []*[chunkSize]byte // the pooled chunks the segments' runs are in
	cur    []byte             // the last of chunks, as far as it is filled; nil: none
	tail   bool               // the last segment is the run of cur that ends where cur does
	size   int                // bytes queued, in all the segments
	held   int                // what they hold: whole chunks, larger frames, borrowed payloads and pieces

	// The piece of shared frames (wire.go) sent from last, counted whole in
	// held; and, while the last segment is from it, where that starts.
	pinned      *wirePiece
	pinnedTail  bool
	pinnedStart int

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

// room returns the next n bytes of the queue, for the caller to encode
// exactly n bytes of frames into (append to room(n)[:0]): the unused end of
// the current chunk when they fit there, else a new chunk; a frame larger
// than a chunk gets a buffer of its own.
func (q *outbound) room(n int) []byte {
	q.size += n
	if n > chunkSize {
		b := make([]byte, n)
		q.held += n
		q.segment(b)
		return b
	}
	if q.cur == nil || cap(q.cur)-len(q.cur) < n {
		c := chunkPool.Get().(*[chunkSize]byte)
		q.chunks = append(q.chunks, c)
		q.cur, q.tail = c[:0], false
		q.held += chunkSize
	}
	start := len(q.cur)
	q.cur = q.cur[:start+n]
	if q.tail {
		last := &q.segs[len(q.segs)-1]
		*last = (*last)[:len(*last)+n] // the same run of cur, longer
	} else {
		q.segment(q.cur[start : start+n])
		q.tail = true
	}
	return q.cur[start : start+n]
}

// segment adds b to the queue as a segment of its own.
func (q *outbound) segment(b []byte) {
	q.segs = append(q.segs, b)
	q.msgs = append(q.msgs, 0)
	q.tail, q.pinnedTail = false, false
}

// appendShared queues the frames of n messages of piece p, from offset start
// to end of its frames: not copied, unless they are few bytes, as the piece
// is shared by every connection of its wireKey, and never changes. The first
// time the queue sends from p, it counts the whole piece against the limit.
// payload is the messages' header and payload bytes, for the totals.
func (q *outbound) appendShared(p *wirePiece, start, end, n int, payload uint64) {
	if end-start < borrowMin {
		// Copied, like a small payload: cheaper than an iovec, and the
		// frames are ready.
		copy(q.room(end-start), p.frames[start:end])
	} else {
		q.borrow(p, start, end)
	}
	q.msgs[len(q.msgs)-1] += n
	q.totalMsgs += uint64(n)
	q.totalBytes += payload
}

// borrow queues the frames of piece p from offset start to end.
func (q *outbound) borrow(p *wirePiece, start, end int) {
	same := q.pinned == p
	if !same {
		q.pinned = p
		q.held += p.size()
	}
	if last := len(q.segs) - 1; same && q.pinnedTail && q.pinnedStart+len(q.segs[last]) == start {
		q.segs[last] = p.frames[q.pinnedStart:end:end] // the same run of p, longer
	} else {
		q.segment(p.frames[start:end:end])
		q.pinnedTail, q.pinnedStart = true, start
	}
	q.size += end - start
}

// borrowMin is the smallest payload sent from the message itself rather
// than copied into a chunk: below it, a copy costs less than the two more
// segments writev would take.
const borrowMin = 2048

// appendFrame queues a control frame that frame appends to its argument.
func (q *outbound) appendFrame(frame func([]byte) []byte) {
	b := frame(nil)
	copy(q.room(len(b)), b)
}

// appendMsg queues m for subscription sid: HMSG with its headers for a
// client that handles them, MSG otherwise. A payload of borrowMin bytes
// or more is borrowed from m, not copied: the hub never changes a stored
// message.
func (q *outbound) appendMsg(sid string, m *Msg, headers bool) {
	subject, reply, data := m.Subject(), m.Reply(), m.Data()
	var header []byte
	if headers {
		header = m.RawHeader()
	}
	if len(data) < borrowMin {
		key := wireKey{sid: sid, headers: headers}
		appendMsgFrame(q.room(msgFrameLen(m, key))[:0], m, key)
	} else {
		if header != nil {
			n := protocol.HMsgLineLen(subject, sid, reply, len(header), len(data))
			b := protocol.AppendHMsgLine(q.room(n + len(header))[:0], subject, sid, reply, len(header), len(data))
			copy(b[n:n+len(header)], header)
		} else {
			n := protocol.MsgLineLen(subject, sid, reply, len(data))
			protocol.AppendMsgLine(q.room(n)[:0], subject, sid, reply, len(data))
		}
		q.segment(data) // capped by Data: nothing may append into it
		q.size += len(data)
		q.held += len(data)
		copy(q.room(2), "\r\n")
	}
	q.msgs[len(q.msgs)-1]++
	q.totalMsgs++
	q.totalBytes += m.sentBytes(headers)
}

// messages returns how many messages are queued.
func (q *outbound) messages() int {
	n := 0
	for _, k := range q.msgs {
		n += k
	}
	return n
}

// flight is what the writer took from an outbound to send: the segments,
// how many messages end in each, so that only messages that reached the
// socket count as delivered, and the chunks to give back.
type flight struct {
	segs   net.Buffers
	msgs   []int
	chunks []*[chunkSize]byte
}

// take moves everything queued into f, which must be empty (released), and
// gives the queue f's slices to fill again.
func (q *outbound) take(f *flight) {
	q.segs, f.segs = f.segs[:0], q.segs
	q.msgs, f.msgs = f.msgs[:0], q.msgs
	q.chunks, f.chunks = f.chunks[:0], q.chunks
	q.cur, q.tail = nil, false
	q.pinned, q.pinnedTail = nil, false
	q.size, q.held = 0, 0
}

// delivered returns how many messages the first n bytes of the flight hold
// whole: what a write of n bytes delivered.
func (f *flight) delivered(n int64) int {
	msgs := 0
	for i, c := range f.segs {
		if n < int64(len(c)) {
			break
		}
		n -= int64(len(c))
		msgs += f.msgs[i]
	}
	return msgs
}

// release gives the flight's chunks back to the pool, lets go of the
// payloads it borrowed, and empties it, for the next take.
func (f *flight) release() {
	for i, c := range f.chunks {
		chunkPool.Put(c)
		f.chunks[i] = nil
	}
	clear(f.segs)
	f.segs, f.msgs, f.chunks = f.segs[:0], f.msgs[:0], f.chunks[:0]
}
