package ingest

import (
	"time"

	"github.com/nats-io/nats.go"
)

// Stats is a snapshot of an Ingester, for metrics and logs.
type Stats struct {
	Connected   bool   // the upstream connection is up
	Reconnects  uint64 // completed reconnects (the first connection is not one)
	Disconnects uint64 // outages: established connections that dropped
	// ConnectFailures counts failed connection attempts, at boot and while
	// reconnecting.
	ConnectFailures uint64
	// Disconnected is the time spent in outages (the connection dropped,
	// until nats.go reconnected), the current one included.
	Disconnected time.Duration
	// Interests counts the upstream subscriptions made for local clients
	// now (Subscribe), and InterestDropped the messages nats.go dropped
	// for those that ended, past the pending limits.
	Interests       int
	InterestDropped uint64
	Streams         []StreamStats // in the order of the streams given to New
}

// StreamStats describes the ingest of one stream.
type StreamStats struct {
	Pattern string
	// Received counts the messages appended to the stream, and Batches the
	// Stream.Append calls that appended them: Received/Batches is the mean
	// batch size. Both are counted just after each append, so a consumer
	// may read a batch a moment before it is counted.
	Received uint64
	Batches  uint64
	// Dropped counts messages nats.go dropped because the stream's callback
	// was further behind than the pending limits (Subscription.Dropped).
	Dropped uint64
	// SlowConsumer counts nats.go's ErrSlowConsumer reports: how many times
	// the subscription started dropping.
	SlowConsumer uint64
	// PendingMessages and PendingBytes are what nats.go holds for the
	// stream now (Subscription.Pending); 0 once it is closed.
	PendingMessages int
	PendingBytes    int
	// Active: the subscription is open and upstream has not refused it. It
	// stays active while the connection is down: nats.go resubscribes.
	Active bool
}

// Stats returns a snapshot of the Ingester. It costs a few uncontended
// locks per stream.
func (in *Ingester) Stats() Stats {
	in.mu.Lock()
	nc := in.nc
	in.mu.Unlock()
	st := Stats{
		Connected:       nc != nil && in.connStatus() == nats.CONNECTED,
		Reconnects:      in.reconnects.Load(),
		Disconnects:     in.disconnects.Load(),
		ConnectFailures: in.failures.Load(),
		Disconnected:    time.Duration(in.downTotal.Load()),
		Interests:       int(in.interests.Load()),
		InterestDropped: in.interestDropped.Load(),
		Streams:         make([]StreamStats, len(in.subs)),
	}
	if since := in.downSince.Load(); since != 0 {
		st.Disconnected += time.Since(time.Unix(0, since))
	}
	for i, s := range in.subs {
		ss := StreamStats{
			Pattern:      s.pattern,
			Received:     s.received.Load(),
			Batches:      s.batches.Load(),
			Dropped:      s.dropped.Load(),
			SlowConsumer: s.slowConsumer.Load(),
		}
		if nc != nil { // then s.sub is set
			ss.Dropped = s.droppedNow()
			if msgs, bytes, err := s.sub.Pending(); err == nil {
				ss.PendingMessages, ss.PendingBytes = msgs, bytes
			}
			ss.Active = s.ready() == nil
		}
		st.Streams[i] = ss
	}
	return st
}
