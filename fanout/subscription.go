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
// subscription started after a position that had left the retention window,
// or it fell behind its lag limit under the skip policy. It is not fatal:
// the next call to Next returns the message after the gap.
type GapError struct {
	Stream string // the stream the messages were missed on
	Missed uint64 // how many
}

func (e *GapError) Error() string {
	return fmt.Sprintf("fanout: %d messages missed on %q", e.Missed, e.Stream)
}

// Is makes errors.Is(err, ErrGap) true for a *GapError.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// Position is where a subscription stands: for each stream, the sequence
// number of the last message delivered from it. Pass it to StartAfter to
// resume.
type Position map[string]uint64

// SubscribeOption configures a Subscription.
type SubscribeOption func(*subscribeConfig)

type subscribeConfig struct {
	start func(stream string) buffer.Start
	lag   *buffer.Lag
}

// StartAtNew delivers only messages that arrive after Subscribe. It is the
// default.
func StartAtNew() SubscribeOption {
	return func(c *subscribeConfig) { c.start = func(string) buffer.Start { return buffer.StartAtHead() } }
}

// StartAtOldest delivers what the streams retain, then new messages.
func StartAtOldest() SubscribeOption {
	return func(c *subscribeConfig) { c.start = func(string) buffer.Start { return buffer.StartAtOldest() } }
}

// StartAfter resumes after pos: for each stream, with the message after the
// sequence number pos holds for it, or with the oldest retained message for
// a stream pos does not name. Where that message has left the retention
// window, the first Next returns a *GapError saying how many were missed.
func StartAfter(pos Position) SubscribeOption {
	return func(c *subscribeConfig) {
		c.start = func(stream string) buffer.Start {
			if seq, ok := pos[stream]; ok {
				return buffer.StartAfter(seq)
			}
			return buffer.StartAtOldest()
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
	readers []*streamReader

	// Owned by the goroutine calling Next.
	pending []*Msg        // rest of the current batch
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
	reader *buffer.Reader[*Msg]
	filter bool   // the pattern is narrower than the stream: check each message
	last   uint64 // sequence of the last message delivered; owned by Next
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

	s := &Subscription{hub: h, pattern: pattern, literal: subjects.IsLiteral(pattern)}
	for _, st := range h.streams {
		if !subjects.Overlap(pattern, st.pattern) {
			continue
		}
		r, missed := st.buf.NewReader(c.start(st.pattern), lag)
		s.readers = append(s.readers, &streamReader{
			stream: st,
			reader: r,
			filter: !subjects.Covers(pattern, st.pattern),
		})
		if missed > 0 {
			s.gaps = append(s.gaps, &GapError{Stream: st.pattern, Missed: missed})
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
	armed := make(chan struct{})
	s.stopCtx = context.AfterFunc(ctx, func() {
		<-armed
		s.Close()
	})
	close(armed)
	if err := h.register(s); err != nil {
		s.end(err)
		return nil, err
	}
	return s, nil
}

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
		m := s.pending[0]
		s.pending = s.pending[1:]
		s.from.last = m.Seq
		if s.from.filter && !s.matches(m.Subject) {
			continue
		}
		s.delivered.Add(1)
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

func (s *Subscription) nextBatch(ctx context.Context) (*streamReader, buffer.Batch[*Msg], error) {
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
	case errors.Is(err, buffer.ErrLagged):
		err = ErrSlowConsumer
	case errors.Is(err, buffer.ErrClosed):
		err = ErrClosed
	}
	s.end(err)
	return err
}

// Position returns, for each stream the subscription reads, the sequence
// number of the last message it delivered or passed over (0 if none yet).
func (s *Subscription) Position() Position {
	p := make(Position, len(s.readers))
	for _, sr := range s.readers {
		p[sr.stream.pattern] = sr.last
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
