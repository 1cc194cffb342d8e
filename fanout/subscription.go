package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/subjects"
)

// ErrSlowConsumer ends a subscription that fell further behind than its lag
// limit allows. It lost its place: subscribe again, with StartAfter and the
// Position it had, to recover what the streams still hold.
var ErrSlowConsumer = errors.New("fanout: slow consumer: fell too far behind")

// ErrClosed is returned by Next after Close, or after the context given to
// Subscribe ended.
var ErrClosed = errors.New("fanout: subscription closed")

// ErrGap is what a *GapError matches with errors.Is.
var ErrGap = errors.New("fanout: messages missed")

// GapError is returned by Next, once, where messages were skipped: the
// subscription started after a position that had left the retention window
// or that belongs to another run of the stream, or it fell behind its lag
// limit under the skip policy. It is not fatal: the next call to Next
// returns the message after the gap.
type GapError struct {
	Stream string // the stream the messages were missed on

	// Missed is how many messages were missed, when that is known: always,
	// except where Unknown says otherwise.
	Missed uint64

	// Unknown is set when the subscription resumed from a Position saved in
	// another run of the stream (by another Hub, such as the one before a
	// restart): its sequence numbers do not count this run's messages, so
	// how many were missed cannot be told, and Missed is 0. The
	// subscription starts at the oldest message the stream retains.
	Unknown bool
}

func (e *GapError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("fanout: messages missed on %q, how many unknown: the position is from another run of the stream", e.Stream)
	}
	return fmt.Sprintf("fanout: %d messages missed on %q", e.Missed, e.Stream)
}

// Is makes errors.Is(err, ErrGap) true for a *GapError.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// Position is where a subscription stands, per stream it reads (by the
// stream's pattern). Callers save it, for instance as JSON, which it
// round-trips through, and pass it to StartAfter to resume, in the same run
// or a later one.
type Position map[string]StreamPosition

// StreamPosition is where a subscription stands in one stream.
type StreamPosition struct {
	// Run names the run of the stream that Seq counts in. Every Hub
	// numbers each stream's messages from 1, so a sequence number means
	// nothing without it: a new Hub, in this process or after a restart,
	// has new runs.
	Run string `json:"run"`

	// Seq is the sequence number (Msg.Seq) of the last message the
	// subscription delivered or passed over in Run.
	Seq uint64 `json:"seq"`
}

// SubscribeOption configures a Subscription.
type SubscribeOption func(*subscribeConfig)

type subscribeConfig struct {
	// start says where to start reading st, and returns a gap to report
	// first, or nil.
	start func(st *Stream) (buffer.Start, *GapError)
	lag   *buffer.Lag
	// server marks the subscriptions the socket Server reads through (one
	// per connection and stream, one per queue group), which the Server
	// counts as consumers and deliveries itself (server_subscription.go).
	server bool
}

// StartAtNew delivers only messages that arrive after Subscribe. It is the
// default.
func StartAtNew() SubscribeOption {
	return func(c *subscribeConfig) {
		c.start = func(*Stream) (buffer.Start, *GapError) { return buffer.StartAtHead(), nil }
	}
}

// StartAtOldest delivers what the streams retain, then new messages.
func StartAtOldest() SubscribeOption {
	return func(c *subscribeConfig) {
		c.start = func(*Stream) (buffer.Start, *GapError) { return buffer.StartAtOldest(), nil }
	}
}

// StartAfter resumes after pos. For each stream:
//
//   - if pos has it, from this run of the stream, the subscription starts
//     with the message after pos's sequence number; where that message has
//     left the retention window, it starts with the oldest retained one and
//     the first Next returns a *GapError saying how many were missed;
//   - if pos has it from another run (a Hub made before), it starts with
//     the oldest retained message, and the first Next returns a *GapError
//     whose Unknown is set: what the earlier run delivered after pos, and
//     what this one dropped before its oldest, are both lost to it;
//   - if pos does not name the stream, it starts with the oldest retained
//     message, with no gap.
func StartAfter(pos Position) SubscribeOption {
	return func(c *subscribeConfig) {
		c.start = func(st *Stream) (buffer.Start, *GapError) {
			p, ok := pos[st.pattern]
			switch {
			case !ok:
				return buffer.StartAtOldest(), nil
			case p.Run != st.run:
				return buffer.StartAtOldest(), &GapError{Stream: st.pattern, Unknown: true}
			}
			return buffer.StartAfter(p.Seq), nil
		}
	}
}

// WithSubscriptionLag overrides the hub's lag limit for one subscription.
func WithSubscriptionLag(l buffer.Lag) SubscribeOption {
	return func(c *subscribeConfig) { c.lag = &l }
}

// Subscription delivers the messages of the hub's streams that match its
// pattern, in order per stream. Next and Position must be called from one
// goroutine at a time; Lag, Delivered and Close from any.
type Subscription struct {
	hub     *Hub
	pattern string
	literal bool // pattern has no wildcards: a message matches when its subject equals it
	server  bool // read by the socket Server, which counts consumers and deliveries itself
	readers []*streamReader

	// Owned by the goroutine calling Next.
	pending []Msg         // rest of the current batch
	from    *streamReader // where pending came from
	gaps    []error       // gaps to report before the next message
	merged  *merger       // non-nil when reading more than one stream

	delivered atomic.Uint64
	stopCtx   func() bool // stops the context.AfterFunc that closes us; set before end can run
	ended     atomic.Bool // set before the hub forgets the subscription
	endErr    error       // why it ended; written once, before merged is stopped
	endOnce   sync.Once
}

// streamReader is a subscription's reader of one stream.
type streamReader struct {
	stream *Stream
	reader *buffer.Reader[Msg]
	filter bool   // the pattern is narrower than the stream: check each message
	last   uint64 // sequence of the last message delivered or passed over; owned by Next
}

// Subscribe returns a subscription to every message of the hub's streams
// that matches pattern, which may be narrower than a stream (a filter) or
// span several. A pattern that no stream can match is an error wrapping
// ErrNotIngested. The subscription ends when ctx ends or Close is called; if
// ctx ends before Subscribe returns, Subscribe returns ErrClosed, or a
// subscription whose Next returns ErrClosed.
func (h *Hub) Subscribe(ctx context.Context, pattern string, opts ...SubscribeOption) (*Subscription, error) {
	if err := subjects.ValidatePattern(pattern); err != nil {
		return nil, fmt.Errorf("fanout: cannot subscribe: %w", err)
	}
	c := subscribeConfig{}
	StartAtNew()(&c)
	for _, opt := range opts {
		opt(&c)
	}
	lag := h.lag
	if c.lag != nil {
		lag = *c.lag
	}

	s := &Subscription{hub: h, pattern: pattern, literal: subjects.IsLiteral(pattern), server: c.server}
	for _, st := range h.streams {
		if !subjects.Overlap(pattern, st.pattern) {
			continue
		}
		start, gap := c.start(st)
		r, missed := st.buf.NewReader(start, lag)
		s.readers = append(s.readers, &streamReader{
			stream: st,
			reader: r,
			filter: !subjects.Covers(pattern, st.pattern),
			last:   r.Seq(), // what it starts after counts as passed over
		})
		if gap == nil && missed > 0 {
			gap = &GapError{Stream: st.pattern, Missed: missed}
		}
		if gap != nil {
			s.gaps = append(s.gaps, gap)
		}
	}
	if len(s.readers) == 0 {
		return nil, fmt.Errorf("fanout: cannot subscribe to %q: %w", pattern, ErrNotIngested)
	}
	if len(s.readers) > 1 {
		s.merged = newMerger(s.readers)
	}
	// From here on, end may run: the context may end at any moment, and
	// once registered, the hub may close. So the subscription is whole
	// before either can reach it. context.AfterFunc may call its function
	// before it returns the stop function that end calls, so the function
	// waits until the stop function is stored.
	s.stopCtx = neverStarted
	if ctx.Done() != nil { // else it never ends: the Server's feeds and groups close theirs
		armed := make(chan struct{})
		s.stopCtx = context.AfterFunc(ctx, func() {
			<-armed
			s.Close()
		})
		close(armed)
	}
	if err := h.register(s); err != nil {
		s.end(err)
		return nil, err
	}
	return s, nil
}

// neverStarted stands for the stop function of a context.AfterFunc that a
// subscription whose context cannot end does not need.
func neverStarted() bool { return false }

// Pattern returns the pattern the subscription was made with.
func (s *Subscription) Pattern() string { return s.pattern }

// Next returns the next matching message, blocking until there is one or
// ctx ends. It returns a *GapError where messages were missed (then carries
// on), ErrSlowConsumer if the subscription fell too far behind, ErrClosed
// after Close, and ErrHubClosed once it has read everything a closed hub
// held. The message is shared: do not modify it.
func (s *Subscription) Next(ctx context.Context) (*Msg, error) {
	for {
		if len(s.gaps) > 0 {
			gap := s.gaps[0]
			s.gaps = s.gaps[1:]
			return nil, gap
		}
		if m := s.tryNext(); m != nil {
			return m, nil
		}
		sr, batch, err := s.nextBatch(ctx)
		if err != nil {
			return nil, s.fail(err)
		}
		if batch.Missed > 0 {
			s.gaps = append(s.gaps, &GapError{Stream: sr.stream.pattern, Missed: batch.Missed})
		}
		s.pending, s.from = batch.Events, sr
	}
}

// tryNext returns the next matching message of the current batch, or nil
// if it holds no more, without blocking. A gap to report also gives nil: Next
// reports it. Like Next, it must be called from Next's goroutine.
func (s *Subscription) tryNext() *Msg {
	if len(s.gaps) > 0 {
		return nil
	}
	for len(s.pending) > 0 {
		m := &s.pending[0]
		s.pending = s.pending[1:]
		s.from.last = m.Seq()
		if s.from.filter && !s.matches(m.Subject()) {
			continue
		}
		if !s.server { // the socket Server counts what it writes
			s.delivered.Add(1)
		}
		return m
	}
	return nil
}

// matches reports whether subject matches the subscription's pattern:
// most consumers name a literal subject, which a comparison decides.
func (s *Subscription) matches(subject string) bool {
	if s.literal {
		return subject == s.pattern
	}
	return subjects.Match(s.pattern, subject)
}

func (s *Subscription) nextBatch(ctx context.Context) (*streamReader, buffer.Batch[Msg], error) {
	if s.merged != nil {
		return s.merged.next(ctx)
	}
	sr := s.readers[0]
	batch, err := sr.reader.Next(ctx)
	return sr, batch, err
}

// fail translates a reader's error into the subscription's and, for every
// error that ends the subscription, ends it.
func (s *Subscription) fail(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err // the caller's ctx for this Next: the subscription goes on
	case errors.Is(err, errStopped):
		return s.endErr // ended by Close, its context or the hub
	}
	err = subscriptionErr(err)
	s.end(err)
	return err
}

// subscriptionErr translates an error of the buffer's reader into the
// subscription's.
func subscriptionErr(err error) error {
	switch {
	case errors.Is(err, buffer.ErrLagged):
		return ErrSlowConsumer
	case errors.Is(err, buffer.ErrClosed):
		return ErrClosed
	}
	return err
}

// Position returns where the subscription stands in each stream it reads:
// the stream's run, and the sequence number of the last message it
// delivered or passed over. Before the first, that is where it started:
// after the newest message for StartAtNew, before the oldest retained for
// StartAtOldest.
func (s *Subscription) Position() Position {
	p := make(Position, len(s.readers))
	for _, sr := range s.readers {
		p[sr.stream.pattern] = StreamPosition{Run: sr.stream.run, Seq: sr.last}
	}
	return p
}

// Lag returns how far the subscription is behind the newest messages of its
// streams, in messages and bytes, summed over the streams.
func (s *Subscription) Lag() (messages, bytes uint64) {
	for _, sr := range s.readers {
		m, b := sr.reader.Lag()
		messages, bytes = messages+m, bytes+b
	}
	return messages, bytes
}

// Delivered returns how many messages Next has returned.
func (s *Subscription) Delivered() uint64 { return s.delivered.Load() }

// Close ends the subscription: a blocked Next returns ErrClosed. It releases
// the subscription's hold on the streams at once. Idempotent.
func (s *Subscription) Close() { s.end(ErrClosed) }

func (s *Subscription) closeReaders(err error) {
	for _, sr := range s.readers {
		sr.reader.Cut(err)
	}
}

// end releases everything the subscription holds, once: Next returns err.
func (s *Subscription) end(err error) {
	s.endOnce.Do(func() {
		s.endErr = err
		s.ended.Store(true)
		s.closeReaders(err)
		if s.merged != nil {
			s.merged.stop()
		}
		s.stopCtx()
		s.hub.unregister(s)
	})
}
