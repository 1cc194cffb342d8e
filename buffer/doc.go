// Package buffer is natsfan's in-memory event buffer: one writer appends,
// any number of readers follow at their own pace, and nobody takes a lock.
//
// # Design
//
// A Buffer is the head of a singly linked list of Items, after the design of
// Consul's agent/consul/stream/event_buffer.go. Each Item owns a link: a
// pointer to the next Item, stored atomically, and a channel that is closed
// once that pointer is set. Appending is therefore three steps: store the new
// Item as the old head's next, close the old head's channel, make the new
// Item the head. Closing a channel wakes every goroutine waiting on it, so one
// append notifies every blocked reader at once, and a reader that is behind
// walks the list with atomic loads alone. Unlike Consul's, the channel is
// made by the first reader that has to wait for it: under load readers are
// behind, nobody waits, and an Item costs two small allocations, not three.
//
// Because Items only point forward, the Buffer itself holds nothing but the
// head and the retention anchor (below). Whatever no reader points at any
// more is garbage collected: the list frees itself from the tail.
//
// # Bounded memory
//
// Consul's buffer keeps every Item a reader still points at, so one stuck
// reader can hold memory without limit. natsfan bounds both ends:
//
//   - A Retention window (messages, bytes, age; each optional) is enforced on
//     every append by advancing an anchor, an empty Item that sits just before
//     the oldest retained Item. Readers that start "at the oldest" start
//     there; everything before it is free to be collected.
//   - A Reader may carry a Lag limit. Lag is O(1): every Item carries the
//     sequence number of its last event and the cumulative byte count of the
//     buffer up to it, so lag is the difference between the head's counters
//     and the reader's. A Reader past its limit is cut off (Next returns
//     ErrLagged) or skipped ahead to the head with the gap reported in
//     Batch.Missed. Readers check their own lag every few items read; a
//     reader that stopped calling Next is caught by EnforceLag, which the
//     owner of the buffer calls periodically from any goroutine. Either way the reader's
//     hold on old Items is dropped at once, so it cannot pin memory.
//
// # Sequence numbers
//
// Events are numbered 1, 2, 3… per buffer. An Item may hold a batch of
// events (a writer that finds many events pending appends them together so
// the per-event cost falls under load); its Seq is the number of its last
// event and FirstSeq the number of its first. An Item with no events (a
// sentinel, an anchor, or an empty append) has the Seq of the event before
// it and is skipped by Readers.
//
// # Concurrency
//
// Append, AppendErr and Expire must be externally synchronised: there is one
// writer. Everything else is safe for concurrent use. A Reader's Next must
// not be called from two goroutines at once; its Lag, Cut and Close may be
// called from anywhere.
package buffer
