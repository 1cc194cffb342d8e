package ingest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// subscription is the ingest of one stream: the nats.go subscription to the
// stream's pattern and the batch its callback is building.
//
// nats.go calls onMsg from one goroutine per subscription, one message at a
// time, so batch needs no lock: that goroutine owns it. mu only keeps an
// append and stop apart, so that nothing is appended once Close has
// returned.
type subscription struct {
	stream   *fanout.Stream
	pattern  string
	maxBatch int

	// sub is set by subscribe, before the Ingester publishes its connection
	// (under Ingester.mu); read it only after reading a non-nil
	// Ingester.nc. The callback uses the *nats.Msg's Sub instead: it may
	// run before subscribe has stored sub.
	sub *nats.Subscription

	batch []fanout.Incoming // owned by the callback goroutine; reused, as Append copies it

	mu      sync.Mutex // serialises flush (append and count) with stop; taken before the stream's own
	stopped bool

	// done is closed when nats.go's delivery goroutine for sub has exited:
	// no callback runs after it.
	done     chan struct{}
	doneOnce sync.Once

	received     atomic.Uint64         // messages appended
	batches      atomic.Uint64         // Stream.Append calls that appended
	dropped      atomic.Uint64         // the last Subscription.Dropped seen, for when sub is closed
	slowConsumer atomic.Uint64         // ErrSlowConsumer reports
	refused      atomic.Pointer[error] // upstream's permissions violation, until resubscribed
	dropLog      throttle
}

// dropLogEvery is how often, at most, a stream's drops are logged.
const dropLogEvery = 10 * time.Second

func newSubscription(st *fanout.Stream, maxBatch int) *subscription {
	return &subscription{
		stream:   st,
		pattern:  st.Pattern(),
		maxBatch: maxBatch,
		done:     make(chan struct{}),
		dropLog:  throttle{every: dropLogEvery},
	}
}

// subscribe makes the nats.go subscription and sets its pending limits.
func (s *subscription) subscribe(nc *nats.Conn, pendingMsgs, pendingBytes int) error {
	sub, err := nc.Subscribe(s.pattern, s.onMsg)
	if err != nil {
		return fmt.Errorf("ingest: cannot subscribe to %q: %w", s.pattern, err)
	}
	// nats.go calls an async subscription's closed handler as its delivery
	// goroutine exits. If the subscription was closed before the handler
	// was set, the goroutine may have missed it: IsValid tells.
	sub.SetClosedHandler(func(string) { s.markDone() })
	if !sub.IsValid() {
		s.markDone()
	}
	if err := sub.SetPendingLimits(pendingMsgs, pendingBytes); err != nil {
		return fmt.Errorf("ingest: cannot set the pending limits of the subscription to %q: %w", s.pattern, err)
	}
	s.sub = sub
	return nil
}

func (s *subscription) markDone() { s.doneOnce.Do(func() { close(s.done) }) }

// onMsg is the subscription's nats.go callback. It adds m to the batch and
// appends the batch when no message is queued behind m, or when it is full.
//
// nats.go counts a message as pending from the moment it is queued until
// its callback has returned (Conn.waitForMsgs decrements the count at the
// top of its loop, after the callback). So inside the callback Pending is 1
// when m is the last message queued, and more when messages are queued
// behind it, each of which has a callback to come that will decide again.
// A message queued just after Pending was read is behind m too. So no
// message is ever left in a batch waiting for a later one.
func (s *subscription) onMsg(m *nats.Msg) {
	pending, _, err := m.Sub.Pending() // counts m
	if err != nil {
		pending = 1 // closed under us: append what we have
	}
	s.batch = append(s.batch, fanout.Incoming{Subject: m.Subject, Reply: m.Reply, Header: m.Header, Data: m.Data, GiveData: true})
	if pending <= 1 || len(s.batch) >= s.maxBatch {
		s.flush(m.Sub)
	}
}

// flush appends the batch to the stream, unless stop has been called, and
// empties it for the next. The messages are stamped with the time of the
// flush, which under load saves a clock reading per message; it is at most
// one batch later than their arrival.
func (s *subscription) flush(sub *nats.Subscription) {
	batch := s.batch
	s.mu.Lock()
	if !s.stopped && s.stream.Append(time.Now(), batch...) {
		// Counted under mu: once stop has returned, the counts are final.
		s.received.Add(uint64(len(batch)))
		s.batches.Add(1)
	}
	s.mu.Unlock()
	clear(batch) // let go of nats.go's messages: the stream has copies
	s.batch = batch[:0]
	// Drops happen only while messages are pending, hence before a later
	// flush: reading the count here keeps it once sub has closed.
	s.keepDropped(sub)
}

// stop makes sure nothing more is appended: a callback still running (the
// connection is closed, but nats.go does not wait for its callbacks) finds
// stopped set.
func (s *subscription) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// keepDropped saves sub's drop count while it still reports it, and
// returns the count saved.
func (s *subscription) keepDropped(sub *nats.Subscription) uint64 {
	if n, err := sub.Dropped(); err == nil {
		s.dropped.Store(uint64(n))
	}
	return s.dropped.Load()
}

// droppedNow is the drop count: nats.go's while the subscription is open,
// the last one seen after.
func (s *subscription) droppedNow() uint64 {
	if n, err := s.sub.Dropped(); err == nil {
		return uint64(n)
	}
	return s.dropped.Load()
}

// ready says why the subscription is not active, if it is not.
func (s *subscription) ready() error {
	if !s.sub.IsValid() {
		return fmt.Errorf("ingest: subscription to %q not active", s.pattern)
	}
	if err := s.refused.Load(); err != nil {
		return fmt.Errorf("ingest: subscription to %q not active: %w", s.pattern, *err)
	}
	return nil
}

// refusedBy records that upstream refused the subscription, if err is the
// permissions violation for its pattern, and says whether it was.
func (s *subscription) refusedBy(err error) bool {
	if !errors.Is(err, nats.ErrPermissionViolation) || !mentionsSubscription(err.Error(), s.pattern) {
		return false
	}
	s.refused.Store(&err)
	return true
}

// mentionsSubscription says whether a permissions violation's text is about
// the subscription to pattern; nats-server quotes it with Go's %q.
func mentionsSubscription(text, pattern string) bool {
	return strings.Contains(text, fmt.Sprintf("Subscription to %q", pattern))
}
