package buffer

import (
	"context"
	"sync/atomic"
)

// Item is one entry of a Buffer: a batch of events, an error that ends the
// buffer, or nothing at all (a sentinel that readers skip).
//
// Holding a pointer to an Item keeps it and every Item appended after it in
// memory. Readers must not mutate an Item or its Events: they are shared.
type Item[T any] struct {
	// Events is the batch appended in one call. It is empty for sentinels,
	// anchors and error items; readers skip such items.
	Events []T

	// Err is set on the item that ends the buffer. Next and NextNoBlock
	// return it instead of the item.
	Err error

	seq   uint64 // number of the last event in this item, or of the last one before it
	bytes uint64 // bytes appended to the buffer up to and including this item
	at    int64  // append time in Unix nanoseconds; set only when the buffer has a MaxAge
	gap   uint64 // events a reader skipped to arrive here; set only on skip targets

	link *link[T]
}

// link is the part of an Item that says what comes next. It is separate from
// the Item so that an empty copy of an Item (FollowAfter, the retention
// anchor) can wait for the same successor without holding the Item's events.
//
// The wake-up channel is made by the first reader that has to wait, not by
// the writer: under load readers are behind the head and never wait, and an
// item then costs two small allocations instead of three.
type link[T any] struct {
	// next is stored exactly once, by the writer, before wake is closed.
	next atomic.Pointer[Item[T]]
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
func (l *link[T]) publish(next *Item[T]) {
	l.next.Store(next)
	if c := l.wake.Swap(closedChan); c != nil {
		close(c.(chan struct{}))
	}
}

func newItem[T any](events []T) *Item[T] {
	return &Item[T]{Events: events, link: &link[T]{}}
}

// Seq returns the sequence number of the item's last event, or, for an item
// without events, of the last event appended before it (0 if none).
func (i *Item[T]) Seq() uint64 { return i.seq }

// FirstSeq returns the sequence number of the item's first event. For an
// item without events it is Seq()+1, the number the next event will get.
func (i *Item[T]) FirstSeq() uint64 { return i.seq - uint64(len(i.Events)) + 1 }

// Bytes returns the number of bytes appended to the buffer up to and
// including this item.
func (i *Item[T]) Bytes() uint64 { return i.bytes }

// Next returns the item that follows i, blocking until the writer links one
// or until ctx ends. If the following item carries an error, Next returns
// that error. Next never returns before one of those happens.
func (i *Item[T]) Next(ctx context.Context) (*Item[T], error) {
	return i.next(ctx, nil)
}

// next is Next with an extra channel that, once closed, ends the wait with
// ErrClosed: it lets a Reader be closed from another goroutine.
func (i *Item[T]) next(ctx context.Context, closed <-chan struct{}) (*Item[T], error) {
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
	if next.Err != nil {
		return nil, next.Err
	}
	return next, nil
}

// NextNoBlock returns the item that follows i, or nil if the writer has not
// linked one yet. If the following item carries an error, NextNoBlock
// returns that error.
func (i *Item[T]) NextNoBlock() (*Item[T], error) {
	next := i.link.next.Load()
	if next == nil {
		return nil, nil
	}
	if next.Err != nil {
		return nil, next.Err
	}
	return next, nil
}

// FollowAfter returns an empty item that is followed by whatever follows i:
// a reader holding it is woken by the next append but does not see i's
// events, and does not keep them in memory.
func (i *Item[T]) FollowAfter() *Item[T] {
	return &Item[T]{seq: i.seq, bytes: i.bytes, link: i.link}
}
