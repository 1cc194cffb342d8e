// Package buffer is natsfan's in-memory event buffer: one writer appends,
// any number of readers follow at their own pace, and nobody takes a lock.
//
// # Design
//
// A Buffer is the head of a singly linked list of items, after the design of
// Consul's agent/consul/stream/event_buffer.go. Each item owns a link: a
// pointer to the next item, stored atomically, and a channel that is closed
// once that pointer is set. Appending is therefore three steps: store the new
// item as the old head's next, close the old head's channel, make the new
// item the head. Closing a channel wakes every goroutine waiting on it, so one
// append notifies every blocked reader at once, and a reader that is behind
// walks the list with atomic loads alone. Unlike Consul's, the channel is
// made by the first reader that has to wait for it: under load readers are
// behind, nobody waits, and an item costs two small allocations, not three.
//
// Because items only point forward, the Buffer itself holds nothing but the
// head and the retention anchor (below). Whatever no reader points at any
// more is garbage collected: the list frees itself from the tail.
//
// Items stay inside the package. Holding one holds everything appended
// after it, so the only way to read is a Reader, which carries the lag limit
// below; Head returns the buffer's counters (a Mark), not an item.
//
// # Bounded memory
//
// Consul's buffer keeps every item a reader still points at, so one stuck
// reader can hold memory without limit. natsfan bounds both ends:
//
//   - A Retention window (messages, bytes, age; each optional) is enforced on
//     every append by advancing an anchor, an empty item that sits just before
//     the oldest retained item. Readers that start "at the oldest" start
//     there; everything before it is free to be collected.
//   - A Reader may carry a Lag limit. Lag is O(1): every item carries the
//     sequence number of its last event and the cumulative byte count of the
//     buffer up to it, so lag is the difference between the head's counters
//     and the reader's. A Reader past its limit is cut off (Next returns
//     ErrLagged) or skipped ahead to the head with the gap reported in
//     Batch.Missed. Readers check their own lag every few items read; a
//     reader that stopped calling Next is caught by EnforceLag, which the
//     owner of the buffer calls periodically from any goroutine. Either way
//     the reader's hold on old items is dropped at once, so it cannot pin
//     memory.
//
// # Sequence numbers
//
// Events are numbered 1, 2, 3… per buffer. An item may hold a batch of
// events (a writer that finds many events pending appends them together so
// the per-event cost falls under load), and a Reader returns one item's
// events as a Batch whose FirstSeq numbers the first of them. Head().Seq()
// is the number of the last event appended. Items with no events (a
// sentinel, an anchor, or an empty append) are skipped by Readers.
//
// # Concurrency
//
// Append, AppendErr and Expire must be externally synchronised: there is one
// writer. Everything else is safe for concurrent use. A Reader's Next must
// not be called from two goroutines at once; its Lag, Cut and Close may be
// called from anywhere.
package buffer
