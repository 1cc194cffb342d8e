package buffer

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by a Reader's Next after the Reader was closed.
var ErrClosed = errors.New("buffer: reader closed")

// Retention bounds what a Buffer keeps for readers that start at the oldest
// retained event or after a given sequence number. A zero field means no
// limit of that kind; a zero Retention keeps nothing but the head.
//
// The window is enforced on every Append (and by Expire) by dropping items
// from the old end until every limit holds, so the window never exceeds any
// of them. The message limit is exact, even where it cuts a batch; the byte
// and age limits drop whole items. An item larger than the byte limit on its
// own is not retained once the next item arrives.
type Retention struct {
	MaxMessages uint64        // events in the window
	MaxBytes    uint64        // bytes in the window, as passed to Append
	MaxAge      time.Duration // age of the oldest retained item
}

func (r Retention) keepsNothing() bool {
	return r.MaxMessages == 0 && r.MaxBytes == 0 && r.MaxAge == 0
}

// Option configures a Buffer.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes the buffer read the time from now instead of time.Now. It
// is meant for tests of the MaxAge limit.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Buffer is a single-writer, multi-reader event buffer with a bounded
// retention window. See the package documentation for how it works. The
// zero value is not usable: call New.
type Buffer[T any] struct {
	head   atomic.Pointer[item[T]]
	anchor atomic.Pointer[item[T]] // empty item just before the oldest retained one

	retention Retention
	now       func() time.Time
	ended     bool // written and read by the writer only

	mu      sync.Mutex // guards readers
	readers map[*Reader[T]]struct{}

	lagged  atomic.Uint64 // readers cut off for lag
	skipped atomic.Uint64 // times a reader was skipped ahead
	missed  atomic.Uint64 // events skipped readers missed
}

// LagStats counts what lag limits did to the buffer's readers, since New.
type LagStats struct {
	Cut     uint64 // readers cut off (LagDisconnect)
	Skipped uint64 // times a reader was skipped ahead (LagSkip)
	Missed  uint64 // events skipped readers did not see
}

// LagStats returns what lag limits did to the buffer's readers so far.
func (b *Buffer[T]) LagStats() LagStats {
	return LagStats{Cut: b.lagged.Load(), Skipped: b.skipped.Load(), Missed: b.missed.Load()}
}

// New returns an empty Buffer that retains what r allows.
func New[T any](r Retention, opts ...Option) *Buffer[T] {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	b := &Buffer[T]{retention: r, now: o.now, readers: make(map[*Reader[T]]struct{})}
	sentinel := newItem[T](nil)
	b.head.Store(sentinel)
	b.anchor.Store(sentinel)
	return b
}

// Mark is what a Buffer has counted up to one point: the sequence number of
// the last event appended and the bytes appended so far. It refers to no
// item, so holding one holds no memory of the buffer.
type Mark struct {
	seq, bytes uint64
}

// Seq returns the sequence number of the last event appended up to the
// mark, 0 if none.
func (m Mark) Seq() uint64 { return m.seq }

// Bytes returns the bytes appended up to the mark, as Append was told.
func (m Mark) Bytes() uint64 { return m.bytes }

// Head returns the buffer's counters at its newest item: Seq is the number
// of the last event appended, which the writer numbers the next ones from.
func (b *Buffer[T]) Head() Mark {
	head := b.head.Load()
	return Mark{seq: head.seq, bytes: head.bytes}
}

// oldest returns an empty item whose next is the oldest retained item, or
// the next item to be appended if nothing is retained. A reader that starts
// from it sees the whole retention window.
func (b *Buffer[T]) oldest() *item[T] { return b.anchor.Load() }

// Append adds events as one item, size being their total size in bytes as
// the caller counts it, and wakes every waiting reader. An empty events
// slice appends an empty item, which readers skip. The caller must not
// modify events afterwards: readers share them.
//
// Append must be externally synchronised with Append, AppendErr and Expire.
// It panics after AppendErr.
func (b *Buffer[T]) Append(events []T, size uint64) {
	if b.ended {
		panic("buffer: Append after AppendErr")
	}
	head := b.head.Load()
	it := newItem(events)
	it.seq = head.seq + uint64(len(events))
	it.bytes = head.bytes + size
	var now int64
	if b.retention.MaxAge > 0 {
		now = b.now().UnixNano()
		it.at = now
	}
	b.link(head, it)
	b.trim(it, now)
}

// AppendErr ends the buffer: every reader's Next returns err once it has
// read what came before. No more appends are allowed. AppendErr must be
// externally synchronised with Append and Expire.
func (b *Buffer[T]) AppendErr(err error) {
	if err == nil {
		panic("buffer: AppendErr with a nil error")
	}
	if b.ended {
		panic("buffer: AppendErr after AppendErr")
	}
	b.ended = true
	head := b.head.Load()
	end := newItem[T](nil)
	end.err = err
	end.seq, end.bytes = head.seq, head.bytes
	b.link(head, end)
}

func (b *Buffer[T]) link(head, next *item[T]) {
	// Link before moving the head, so that a reader who sees the new head
	// finds a valid list.
	head.link.publish(next)
	b.head.Store(next)
}

// Expire drops retained items older than MaxAge. Append does the same, so
// Expire matters only for a buffer that receives nothing for a while. It
// must be externally synchronised with Append and AppendErr.
func (b *Buffer[T]) Expire() {
	if b.retention.MaxAge == 0 || b.ended {
		return
	}
	b.trim(b.head.Load(), b.now().UnixNano())
}

// trim advances the anchor until the window from the anchor to head is
// within every limit of the retention. Bytes and age are per item, so items
// leave whole for those. The message limit is exact: where it cuts into a
// batch, the anchor's sequence number moves into the batch, readers that
// start there skip the events before it, and the batch stays in memory
// until it leaves whole. Its bytes still count for the byte limit then,
// which errs on the side of less memory.
func (b *Buffer[T]) trim(head *item[T], now int64) {
	r := b.retention
	anchor := b.anchor.Load()
	last := anchor // the new anchor follows this item
	seq, bytes := anchor.seq, anchor.bytes
	for last != head {
		oldest := last.link.next.Load()
		whole := r.keepsNothing() ||
			(r.MaxBytes > 0 && head.bytes-bytes > r.MaxBytes) ||
			(r.MaxAge > 0 && now-oldest.at > int64(r.MaxAge)) ||
			(r.MaxMessages > 0 && head.seq-oldest.seq >= r.MaxMessages)
		if whole {
			last, seq, bytes = oldest, oldest.seq, oldest.bytes
			continue
		}
		if r.MaxMessages > 0 && head.seq-seq > r.MaxMessages {
			seq = head.seq - r.MaxMessages // part of oldest's batch leaves
		}
		break
	}
	if seq != anchor.seq || last != anchor {
		b.anchor.Store(&item[T]{seq: seq, bytes: bytes, link: last.link})
	}
}

// Window returns the number of events and bytes in the retention window.
func (b *Buffer[T]) Window() (messages, bytes uint64) {
	anchor := b.anchor.Load()
	head := b.head.Load()
	return head.seq - anchor.seq, head.bytes - anchor.bytes
}

// EnforceLag applies every open Reader's lag limit: readers that fell too far
// behind are cut off or skipped ahead, as their Lag says, which releases
// their hold on old items. Readers enforce their own limit on every Next;
// EnforceLag is for the ones that stopped calling it. It is safe to call
// from any goroutine, concurrently with the writer, and costs O(readers).
// It returns how many readers it cut off or skipped.
func (b *Buffer[T]) EnforceLag() int {
	b.mu.Lock()
	readers := make([]*Reader[T], 0, len(b.readers))
	for r := range b.readers {
		readers = append(readers, r)
	}
	b.mu.Unlock()

	n := 0
	for _, r := range readers {
		if r.enforce(r.pos.Load()) {
			n++
		}
	}
	return n
}

// Changed returns a channel that is closed once the buffer holds an event
// numbered after seq, or has ended (AppendErr): at once if it does
// already. It lets a goroutine that serves a reader wait for appends
// together with other events (see fanout's feeds), where the reader's Next
// would block it.
func (b *Buffer[T]) Changed(seq uint64) <-chan struct{} {
	head := b.head.Load()
	if head.seq > seq || head.err != nil {
		return closedChan
	}
	return head.link.wakeChan()
}

// Ended reports whether AppendErr has ended the buffer.
func (b *Buffer[T]) Ended() bool { return b.head.Load().err != nil }

// Readers returns the number of open Readers.
func (b *Buffer[T]) Readers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.readers)
}

func (b *Buffer[T]) register(r *Reader[T]) {
	b.mu.Lock()
	b.readers[r] = struct{}{}
	b.mu.Unlock()
}

func (b *Buffer[T]) unregister(r *Reader[T]) {
	b.mu.Lock()
	delete(b.readers, r)
	b.mu.Unlock()
}
