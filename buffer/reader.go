package buffer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrLagged is returned by a Reader's Next once the reader fell further
// behind the head than its Lag allows, under LagDisconnect. The reader has
// lost its place; a new Reader may start again (at the oldest retained
// event, to recover what the window still holds).
var ErrLagged = errors.New("buffer: reader fell too far behind")

// LagPolicy says what happens to a Reader past its lag limit.
type LagPolicy int

const (
	// LagDisconnect cuts the reader off: Next returns ErrLagged.
	LagDisconnect LagPolicy = iota
	// LagSkip moves the reader to the head: it continues with new events,
	// and the next Batch reports how many it skipped in Missed.
	LagSkip
)

// Lag limits how far a Reader may fall behind the head of its buffer. A zero
// field means no limit of that kind.
type Lag struct {
	MaxMessages uint64
	MaxBytes    uint64
	Policy      LagPolicy
}

// Start says where a new Reader begins. Use StartAtHead, StartAtOldest or
// StartAfter.
type Start struct {
	kind  startKind
	after uint64
}

type startKind int

const (
	startHead startKind = iota
	startOldest
	startAfter
)

// StartAtHead starts a reader with the next event appended: new events only.
func StartAtHead() Start { return Start{kind: startHead} }

// StartAtOldest starts a reader with the oldest event the window retains.
func StartAtOldest() Start { return Start{kind: startOldest} }

// StartAfter starts a reader with the event numbered seq+1. If that event
// has already left the retention window, the reader starts with the oldest
// retained event instead and NewReader reports how many it missed. If seq is
// not yet reached (a sequence from an earlier buffer), it starts at the head.
func StartAfter(seq uint64) Start { return Start{kind: startAfter, after: seq} }

// Batch is what a Reader's Next returns: the events of one item.
type Batch[T any] struct {
	Events   []T    // shared with every other reader: do not modify
	FirstSeq uint64 // sequence number of Events[0]; the others follow on
	Missed   uint64 // events skipped just before this batch under LagSkip
}

// Reader follows a Buffer from a starting point, one Batch at a time, and
// keeps track of how far behind the head it is. Next must be called by one
// goroutine at a time; Lag, Seq, Cut and Close are safe from any goroutine.
type Reader[T any] struct {
	buf  *Buffer[T]
	lag  Lag
	pos  atomic.Pointer[item[T]] // last item delivered; an item with err once cut
	skip uint64                  // events up to this number are not delivered: the start may be inside a batch

	sinceCheck int // items read since Next last checked the lag; owned by Next's caller

	done     chan struct{} // closed by Cut, to wake a blocked Next
	doneOnce sync.Once
}

// NewReader returns a Reader that starts where start says and enforces lag.
// missed is non-zero only for StartAfter when events after that sequence had
// already left the retention window: it is how many were lost. The Reader
// holds its buffer's items in memory until it is closed, cut off or moves
// on, so Close it when done.
func (b *Buffer[T]) NewReader(start Start, lag Lag) (r *Reader[T], missed uint64) {
	r = &Reader[T]{buf: b, lag: lag, done: make(chan struct{})}
	var pos *item[T]
	switch start.kind {
	case startHead:
		pos = b.head.Load()
	case startOldest:
		pos = b.oldest()
	case startAfter:
		pos, missed = b.find(start.after)
	}
	r.skip = pos.seq // pos may stand inside the batch that follows it
	r.pos.Store(pos)
	b.register(r)
	return r, missed
}

// find returns the position from which the event numbered seq+1 is the
// next delivered, walking the retention window from its old end: O(window).
// The position may stand inside the batch that follows it: its Seq is seq.
func (b *Buffer[T]) find(seq uint64) (pos *item[T], missed uint64) {
	anchor := b.oldest()
	if seq < anchor.seq {
		return anchor, anchor.seq - seq
	}
	head := b.head.Load()
	if seq >= head.seq {
		return head.followAfter(), 0
	}
	pos = anchor
	for {
		next := pos.link.next.Load() // not nil: pos.seq <= seq < head.seq
		if next.seq > seq {
			return &item[T]{seq: seq, bytes: pos.bytes, link: pos.link}, 0 // next holds event seq+1
		}
		pos = next
	}
}

// Next returns the next batch of events, blocking until there is one, ctx
// ends, the reader is closed or cut off (ErrClosed, ErrLagged, or the error
// given to Cut), or the buffer ends (the error given to AppendErr). Items
// without events are skipped.
func (r *Reader[T]) Next(ctx context.Context) (Batch[T], error) {
	for {
		cur := r.pos.Load()
		if cur.err != nil {
			return Batch[T]{}, cur.err
		}
		if r.sinceCheck++; r.sinceCheck >= lagCheckEvery {
			r.sinceCheck = 0
			if r.enforce(cur) {
				continue
			}
		}
		next, err := cur.next(ctx, r.done)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				if cut := r.pos.Load(); cut.err != nil {
					err = cut.err
				}
			}
			return Batch[T]{}, err
		}
		if !r.pos.CompareAndSwap(cur, next) {
			continue // cut off or skipped ahead meanwhile
		}
		events := next.events
		first := next.firstSeq()
		if r.skip >= first && len(events) > 0 {
			drop := min(r.skip-first+1, uint64(len(events)))
			events, first = events[drop:], first+drop
		}
		if len(events) == 0 {
			continue
		}
		return Batch[T]{Events: events, FirstSeq: first, Missed: cur.gap}, nil
	}
}

// Seq returns the sequence number of the last event the reader has been
// given (or skipped), 0 before the first.
func (r *Reader[T]) Seq() uint64 { return r.pos.Load().seq }

// Lag returns how far the reader is behind the head, in events and bytes.
// It is 0 for a reader that is cut off.
func (r *Reader[T]) Lag() (messages, bytes uint64) {
	pos := r.pos.Load()
	if pos.err != nil {
		return 0, 0
	}
	return distance(pos, r.buf.head.Load())
}

// distance returns how many events and bytes were appended after pos up to
// head. The writer links an item before it makes it the head, so a reader
// may already stand on an item that Head does not return yet: that counts
// as no distance at all.
func distance[T any](pos, head *item[T]) (messages, bytes uint64) {
	if pos.seq >= head.seq && pos.bytes >= head.bytes {
		return 0, 0
	}
	return head.seq - pos.seq, head.bytes - pos.bytes
}

// lagCheckEvery is how many items Next reads between checks of the lag
// limit. Checking reads the head, whose cache line the writer keeps
// changing, so doing it on every item would cost readers more than the walk
// itself; a reader can therefore overshoot its limit by this many items.
const lagCheckEvery = 32

// enforce applies the lag limit to a reader positioned at cur and reports
// whether it moved the reader (cut it off or skipped it ahead).
func (r *Reader[T]) enforce(cur *item[T]) bool {
	if r.lag.MaxMessages == 0 && r.lag.MaxBytes == 0 {
		return false
	}
	head := r.buf.head.Load()
	if cur.err != nil || head.err != nil {
		return false // cut already, or the buffer has ended and cannot grow
	}
	behind, bytes := distance(cur, head)
	if (r.lag.MaxMessages == 0 || behind <= r.lag.MaxMessages) &&
		(r.lag.MaxBytes == 0 || bytes <= r.lag.MaxBytes) {
		return false
	}
	if r.lag.Policy == LagSkip {
		target := head.followAfter()
		target.gap = cur.gap + behind
		if !r.pos.CompareAndSwap(cur, target) {
			return false
		}
		r.buf.skipped.Add(1)
		r.buf.missed.Add(behind)
		return true
	}
	if !r.cut(cur, ErrLagged) {
		return false
	}
	r.buf.lagged.Add(1)
	return true
}

// Cut ends the reader with err: a blocked Next wakes, and every Next from
// now on returns err. The reader releases its hold on the buffer at once.
// The first Cut or Close wins.
func (r *Reader[T]) Cut(err error) {
	for {
		cur := r.pos.Load()
		if cur.err != nil || r.cut(cur, err) {
			return
		}
	}
}

// Close ends the reader: Next returns ErrClosed. Close is Cut(ErrClosed).
func (r *Reader[T]) Close() { r.Cut(ErrClosed) }

// Done returns a channel that is closed once the reader has been cut off
// (by its lag limit, EnforceLag or Cut) or closed. It lets whoever holds
// the reader notice while it waits for something else than Next.
func (r *Reader[T]) Done() <-chan struct{} { return r.done }

// Err returns the error Next returns once the reader has been cut off or
// closed, and nil before.
func (r *Reader[T]) Err() error { return r.pos.Load().err }

func (r *Reader[T]) cut(cur *item[T], err error) bool {
	if !r.pos.CompareAndSwap(cur, &item[T]{err: err, seq: cur.seq}) {
		return false
	}
	r.doneOnce.Do(func() { close(r.done) })
	r.buf.unregister(r)
	return true
}

// Position is a place in a Buffer between two items: where a Reader stands
// once it has read every event up to Seq. Writer-side code takes one with
// Tail after an Append and hands it to a Reader's SkipTo, so that a reader
// that knows it wants none of the events in between moves past them at
// once rather than reading them.
//
// Holding a Position holds every item appended after it, as a Reader does:
// hold one only while it is near the head.
type Position[T any] struct {
	seq, bytes uint64
	link       *link[T]
}

// Seq returns the number of the last event before the position.
func (p Position[T]) Seq() uint64 { return p.seq }

// Tail returns the position after the last item appended: what a Reader
// that has read everything stands on. It must be externally synchronised
// with Append, as the writer calls it right after.
func (b *Buffer[T]) Tail() Position[T] {
	head := b.head.Load()
	return Position[T]{seq: head.seq, bytes: head.bytes, link: head.link}
}

// SkipTo moves the reader forward to p, a position of its buffer, passing
// over every event before it unread, and reports whether it moved: not if
// it already stood at or after p, or has been cut off. Skipped events are
// not reported in Batch.Missed: the caller chose to pass them over. It is
// safe from any goroutine: a Next under way reads on from p, or, if it
// moved first, leaves SkipTo nothing to do.
func (r *Reader[T]) SkipTo(p Position[T]) bool {
	for {
		cur := r.pos.Load()
		if cur.err != nil || p.seq <= cur.seq {
			return false
		}
		target := &item[T]{seq: p.seq, bytes: p.bytes, link: p.link, gap: cur.gap}
		if r.pos.CompareAndSwap(cur, target) {
			return true
		}
	}
}
