package buffer

import (
	"context"
	"sync/atomic"
)

// item is one entry of a Buffer: a batch of events, an error that ends the
// buffer, or nothing at all (a sentinel, an anchor, a position, which
// readers skip).
//
// Holding a pointer to an item keeps it and every item appended after it in
// memory. That is why items stay inside the package: the only way to read
// is a Reader, whose lag limit and retention window bound what it holds.
// Readers must not mutate an item or its events: they are shared.
type item[T any] struct {
	// events is the batch appended in one call. It is empty for sentinels,
	// anchors, positions and error items.
	events []T

	// err is set on the item that ends the buffer, and on the position of
	// a Reader that was cut off. next returns it instead of the item.
	err error

	seq   uint64 // number of the last event in this item, or of the last one before it
	bytes uint64 // bytes appended to the buffer up to and including this item
	at    int64  // append time in Unix nanoseconds; set only when the buffer has a MaxAge
	gap   uint64 // events a reader skipped to arrive here; set only on skip targets

	link *link[T]
}

// link is the part of an item that says what comes next. It is separate from
// the item so that an empty copy of an item (followAfter, the retention
// anchor) can wait for the same successor without holding the item's events.
//
// The wake-up channel is made by the first reader that has to wait, not by
// the writer: under load readers are behind the head and never wait, and an
// item then costs two small allocations instead of three.
type link[T any] struct {
	// next is stored exactly once, by the writer, before wake is closed.
	next atomic.Pointer[item[T]]
	// wake holds a chan struct{}: nil until a reader needs it; the reader's
	// channel, which the writer closes once next is set; or closedChan,
	// when the writer linked next before any reader waited.
	wake atomic.Value
}

// closedChan stands in for a wake-up channel nobody needed before the next
// item was linked.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// wakeChan returns the channel that is closed once next is set.
func (l *link[T]) wakeChan() chan struct{} {
	if c := l.wake.Load(); c != nil {
		return c.(chan struct{})
	}
	c := make(chan struct{})
	if l.wake.CompareAndSwap(nil, c) {
		return c
	}
	return l.wake.Load().(chan struct{}) // the writer or another reader was first
}

// publish sets next and wakes whoever waits for it. Only the writer calls it,
// once per link.
func (l *link[T]) publish(next *item[T]) {
	l.next.Store(next)
	if c := l.wake.Swap(closedChan); c != nil {
		close(c.(chan struct{}))
	}
}

func newItem[T any](events []T) *item[T] {
	return &item[T]{events: events, link: &link[T]{}}
}

// firstSeq returns the sequence number of the item's first event. For an
// item without events it is seq+1, the number the next event will get.
func (i *item[T]) firstSeq() uint64 { return i.seq - uint64(len(i.events)) + 1 }

// next returns the item that follows i, blocking until the writer links one,
// ctx ends, or closed (which may be nil) is closed: then it returns
// ErrClosed, so that a Reader can be closed from another goroutine. If the
// following item carries an error, next returns that error. An item linked
// before the call is returned even if ctx has ended or closed is closed.
func (i *item[T]) next(ctx context.Context, closed <-chan struct{}) (*item[T], error) {
	next := i.link.next.Load()
	if next == nil {
		wake := i.link.wakeChan()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-closed:
			return nil, ErrClosed
		}
		next = i.link.next.Load()
	}
	if next.err != nil {
		return nil, next.err
	}
	return next, nil
}

// followAfter returns an empty item that is followed by whatever follows i:
// a reader positioned on it is woken by the next append but does not see
// i's events, and does not keep them in memory.
func (i *item[T]) followAfter() *item[T] {
	return &item[T]{seq: i.seq, bytes: i.bytes, link: i.link}
}
