package fanout

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/natsfan/natsfan/buffer"
)

// Stream is the buffer of one configured subject pattern: ingest appends
// what arrives on it, subscriptions read from it.
//
// A Stream's methods serialise the writes to its buffer with a mutex, so
// ingest (one goroutine per stream) and the hub's housekeeping (expiry, the
// end at shutdown) can share it; readers never take that mutex.
type Stream struct {
	pattern string
	run     string // unique to this Stream: tells its sequence numbers from another run's
	buf     *buffer.Buffer[Msg]

	mu      sync.Mutex // serialises writes to buf
	ended   bool
	routers []*router // the Servers' routers of the stream (route.go), handed every batch

	wire  wireCache    // frames shared by socket consumers (wire.go)
	feeds atomic.Int32 // socket connections reading it (feed.go)

	// received counts the bytes of every message appended, as they
	// travel: subject, reply, headers and payload. The buffer counts
	// what they cost in memory, bookkeeping included.
	received atomic.Uint64
}

func newStream(pattern string, r buffer.Retention) *Stream {
	return &Stream{pattern: pattern, run: nuid.Next(), buf: buffer.New[Msg](r)}
}

// Pattern returns the configured subject pattern the stream ingests.
func (s *Stream) Pattern() string { return s.pattern }

// Append stores msgs, received at the time given, as one batch, numbering
// them, and wakes the subscriptions waiting for it. Ingest calls it with
// every message it has pending, so that the cost per message falls under
// load. The batch's bytes go into a few arenas, and its messages into one
// slice: the caller may reuse msgs and what they point to once Append
// returns, except the payloads it gave (Incoming.GiveData). After the hub
// has closed, Append drops msgs and returns false.
func (s *Stream) Append(received time.Time, msgs ...Incoming) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	stored, allocated := storeAll(msgs, &batchInfo{stream: s, received: received.UnixNano()})
	seq := s.buf.Head().Seq()
	var wire uint64
	for i := range stored {
		seq++
		stored[i].seq = seq
		wire += stored[i].wireSize()
	}
	before := s.buf.Tail()
	s.buf.Append(stored, allocated+batchOverhead)
	if len(s.routers) > 0 {
		b := routedBatch{msgs: stored, size: allocated + batchOverhead, before: before, after: s.buf.Tail()}
		for _, r := range s.routers {
			r.post(b)
		}
	}
	s.received.Add(wire)
	return true
}

// addRouter hands r every batch from now on, and the stream's end.
func (s *Stream) addRouter(r *router) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		r.end()
		return
	}
	s.routers = append(s.routers, r)
}

// removeRouter hands r nothing more.
func (s *Stream) removeRouter(r *router) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routers = slices.DeleteFunc(s.routers, func(x *router) bool { return x == r })
}

// batchOverhead is what a batch costs the buffer beyond the allocations
// storeAll counts: the buffer's item and its link.
const batchOverhead = 104

// expire drops retained messages older than the retention's MaxAge.
func (s *Stream) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.buf.Expire()
	}
}

// end closes the stream: subscriptions read what it holds, then err.
func (s *Stream) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		s.buf.AppendErr(err)
		for _, r := range s.routers {
			r.end()
		}
	}
}
