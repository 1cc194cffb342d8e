package fanout

import (
	"context"
	"errors"

	"github.com/natsfan/natsfan/buffer"
)

// subscribeServer subscribes to pattern for the Server's feeds and queue
// groups, which close the subscription themselves. The hub's Stats leave
// such subscriptions out of its consumers and deliveries: the Server counts
// SUBs, and messages written to sockets.
func (h *Hub) subscribeServer(pattern string) (*Subscription, error) {
	return h.Subscribe(context.Background(), pattern, func(c *subscribeConfig) { c.server = true })
}

// nextNow is Next without waiting: it returns nil and no error when the
// subscription has nothing to deliver yet.
func (s *Subscription) nextNow() (*Msg, error) {
	m, err := s.Next(doneContext)
	if m == nil && errors.Is(err, context.Canceled) {
		return nil, nil
	}
	return m, err
}

// doneContext has ended: given to Next, it takes what is there and does not
// wait for more.
var doneContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// stopped returns a channel that is closed once the hub has cut the
// subscription off (its lag limit), or it was closed, so that a feed or a
// queue group waiting for room in a connection notices at once rather than
// at its next Next.
func (s *Subscription) stopped() <-chan struct{} {
	if s.merged != nil {
		return s.merged.cut
	}
	return s.readers[0].reader.Done()
}

// stopErr returns why a stopped subscription stopped, as Next would say it:
// ErrSlowConsumer when the hub cut it off for lag.
func (s *Subscription) stopErr() error {
	for _, sr := range s.readers {
		if err := sr.reader.Err(); err != nil {
			return subscriptionErr(err)
		}
	}
	return nil
}

// peekRun returns up to n more messages of the current batch, those that
// follow the one Next or tryNext returned last, without taking them, for a
// feed: its subscription reads one stream, whole. It returns none unless
// the first is next, as it is unless a gap came between.
func (s *Subscription) peekRun(next *Msg, n int) []Msg {
	if len(s.gaps) > 0 || len(s.pending) == 0 || &s.pending[0] != next {
		return nil
	}
	return s.pending[:min(n, len(s.pending))]
}

// skip takes the first n messages peekRun returned.
func (s *Subscription) skip(n int) {
	if n > 0 {
		s.from.last = s.pending[n-1].Seq()
		s.pending = s.pending[n:]
	}
}

// readSeq returns the sequence number of the last message of the one stream
// a server subscription reads that it has read or passed over.
func (s *Subscription) readSeq() uint64 { return s.readers[0].reader.Seq() }

// readAll reports whether the subscription has no message of its current
// batch left to read.
func (s *Subscription) readAll() bool { return len(s.pending) == 0 }

// skipTo moves a server subscription, which reads one stream and has read
// all of its current batch, to p: it passes over the messages before p
// unread, as it passes over those that do not match. It reports whether it
// passed over any.
func (s *Subscription) skipTo(p buffer.Position[Msg]) bool {
	sr := s.readers[0]
	if len(s.pending) > 0 || !sr.reader.SkipTo(p) {
		return false
	}
	sr.last = p.Seq()
	return true
}
