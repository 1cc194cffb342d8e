package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/subjects"
)

// ErrHubClosed ends every subscription once it has read what the hub held
// when it closed.
var ErrHubClosed = errors.New("fanout: hub closed")

// ErrNotIngested is returned by Subscribe for a pattern that no configured
// stream can deliver: no subject matches both.
var ErrNotIngested = errors.New("fanout: no ingested subject matches")

// Option configures a Hub.
type Option func(*hubConfig)

type hubConfig struct {
	retention buffer.Retention
	lag       buffer.Lag
	sweep     time.Duration
	log       *zap.Logger
}

// WithRetention sets what every stream keeps for subscriptions that start
// at the oldest message or resume from a position. The default keeps 10,000
// messages.
func WithRetention(r buffer.Retention) Option { return func(c *hubConfig) { c.retention = r } }

// WithLagLimit sets how far a subscription may fall behind the newest
// message of a stream, and what happens past that, unless the subscription
// sets its own (see WithSubscriptionLag). The default: 4,000,000 messages or
// 256 MiB, then disconnect; 256 MiB holds a burst of about 1.4 million
// messages of 128 bytes. The memory is shared: every subscription reads the
// same messages, so the hub holds at most the furthest-behind
// subscription's lag, not the sum.
func WithLagLimit(l buffer.Lag) Option { return func(c *hubConfig) { c.lag = l } }

// WithSweepInterval sets how often the hub applies lag limits to
// subscriptions that stopped reading, and expires old messages. It bounds
// how much a stuck subscription can hold beyond its limit: what ingest
// receives in one interval. The default is 100ms.
func WithSweepInterval(d time.Duration) Option { return func(c *hubConfig) { c.sweep = d } }

// WithLogger makes the hub log what it does to subscriptions (never a line
// per message). The default is zap.NewNop().
func WithLogger(l *zap.Logger) Option { return func(c *hubConfig) { c.log = l } }

// Hub holds one Stream per configured subject pattern and hands out
// Subscriptions that read from them. Its methods are safe for concurrent
// use. Close (or Drain) stops it.
type Hub struct {
	streams []*Stream
	lag     buffer.Lag
	log     *zap.Logger

	mu   sync.Mutex // guards subs and closed
	subs map[*Subscription]struct{}
	// delivered counts messages delivered by subscriptions that have ended;
	// the live ones count their own.
	delivered uint64
	closed    bool

	stop      chan struct{} // closed by Close to stop the sweeper
	idle      chan struct{} // signalled when a subscription ends, for Drain
	sweeperWG sync.WaitGroup
}

// NewHub returns a Hub with one stream per pattern. Patterns must be valid
// and must not overlap: a message must belong to exactly one stream.
func NewHub(patterns []string, opts ...Option) (*Hub, error) {
	c := hubConfig{
		retention: buffer.Retention{MaxMessages: 10_000},
		lag:       buffer.Lag{MaxMessages: 4_000_000, MaxBytes: 256 << 20},
		sweep:     100 * time.Millisecond,
		log:       zap.NewNop(),
	}
	for _, opt := range opts {
		opt(&c)
	}
	if len(patterns) == 0 {
		return nil, errors.New("fanout: no subject patterns to ingest")
	}
	h := &Hub{
		lag:  c.lag,
		log:  c.log,
		subs: make(map[*Subscription]struct{}),
		stop: make(chan struct{}),
		idle: make(chan struct{}, 1),
	}
	for i, p := range patterns {
		if err := subjects.ValidatePattern(p); err != nil {
			return nil, fmt.Errorf("fanout: cannot ingest %q: %w", p, err)
		}
		for _, q := range patterns[:i] {
			if subjects.Overlap(p, q) {
				return nil, fmt.Errorf("fanout: patterns %q and %q overlap: a message would belong to both", q, p)
			}
		}
		h.streams = append(h.streams, newStream(p, c.retention))
	}
	h.sweeperWG.Go(func() { h.sweep(c.sweep) })
	return h, nil
}

// Streams returns the hub's streams, in the order of the patterns given to
// NewHub.
func (h *Hub) Streams() []*Stream { return h.streams }

// sweep periodically applies lag limits to subscriptions that stopped
// reading (the ones that read check their own) and expires old messages.
func (h *Hub) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	seen := make([]buffer.LagStats, len(h.streams))
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		for i, s := range h.streams {
			s.buf.EnforceLag()
			s.expire()
			seen[i] = h.logLagged(s, seen[i])
		}
	}
}

// logLagged logs what lag limits did to a stream's subscriptions since the
// last sweep, one line per stream and kind, with counts.
func (h *Hub) logLagged(s *Stream, before buffer.LagStats) buffer.LagStats {
	now := s.buf.LagStats()
	if cut := now.Cut - before.Cut; cut > 0 {
		h.log.Warn("slow consumers cut off",
			zap.String("stream", s.pattern), zap.Uint64("count", cut), zap.Uint64("total", now.Cut))
	}
	if skips := now.Skipped - before.Skipped; skips > 0 {
		h.log.Warn("slow consumers skipped ahead",
			zap.String("stream", s.pattern), zap.Uint64("count", skips),
			zap.Uint64("missed_messages", now.Missed-before.Missed), zap.Uint64("total", now.Skipped))
	}
	return now
}

// Close ends every stream and every subscription at once: subscriptions
// return ErrHubClosed from their next Next, whatever they had not read.
// Use Drain to let them read it first.
func (h *Hub) Close() {
	h.end()
	h.mu.Lock()
	subs := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.end(ErrHubClosed)
	}
}

// Drain ends every stream, then waits until every subscription has read
// what the streams held and ended, or until ctx ends; then it closes the
// rest, and returns a *DrainError that says how many it cut short and how
// many messages they had not read.
func (h *Hub) Drain(ctx context.Context) error {
	h.end()
	for {
		h.mu.Lock()
		n := len(h.subs)
		h.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-h.idle:
		case <-ctx.Done():
			cut := &DrainError{Err: ctx.Err()}
			h.mu.Lock()
			for s := range h.subs {
				m, _ := s.Lag()
				cut.Subscriptions++
				cut.Messages += m
			}
			h.mu.Unlock()
			h.Close()
			return cut
		}
	}
}

// DrainError is what Drain returns when its context ended before every
// subscription had read what the hub held.
type DrainError struct {
	Subscriptions int    // subscriptions closed before they had read everything (the socket Server's feeds and queue groups among them)
	Messages      uint64 // messages they had not read, counting each subscription's
	Err           error  // the context's error
}

func (e *DrainError) Error() string {
	return fmt.Sprintf("fanout: %d subscriptions closed with %d messages unread: %v", e.Subscriptions, e.Messages, e.Err)
}

func (e *DrainError) Unwrap() error { return e.Err }

// end stops the sweeper and ends every stream with ErrHubClosed; ingest's
// further appends are dropped. It is idempotent.
func (h *Hub) end() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	h.sweeperWG.Wait()
	for _, s := range h.streams {
		s.end(ErrHubClosed)
	}
}

func (h *Hub) register(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return ErrHubClosed
	case s.ended.Load():
		return ErrClosed // its context ended while it was being made
	}
	h.subs[s] = struct{}{}
	return nil
}

// unregister forgets an ended subscription, keeping its delivered count.
func (h *Hub) unregister(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	if !s.server {
		h.delivered += s.delivered.Load()
	}
	h.mu.Unlock()
	select {
	case h.idle <- struct{}{}:
	default:
	}
}
