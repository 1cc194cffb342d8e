package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfan/natsfan/fanout"
)

// The Ingester is the fanout.Upstream of natsfan's socket server: local
// clients' publishes, and their subscriptions to subjects outside the
// streams, go over the same connection as the streams' subscriptions. The
// connection is therefore the pod's only one, and what a client sends
// reaches upstream in its order: a SUB before the PUB that follows it.
var _ fanout.Upstream = (*Ingester)(nil)

// Publish sends a message upstream over the connection. nats.go writes it
// to the connection's buffer, and blocks while the socket takes no more,
// which slows the local publisher down; while the connection is down it
// holds messages up to Config.ReconnectBuffer and sends them on reconnect,
// then fails with nats.ErrReconnectBufExceeded.
func (in *Ingester) Publish(subject, reply string, header nats.Header, data []byte) error {
	nc := in.conn()
	if nc == nil {
		return ErrNotStarted
	}
	if err := nc.PublishMsg(&nats.Msg{Subject: subject, Reply: reply, Header: header, Data: data}); err != nil {
		return fmt.Errorf("ingest: cannot publish to %q: %w", subject, err)
	}
	return nil
}

// Subscribe subscribes upstream for local clients (an interest, in
// fanout's terms), with the same pending limits as the streams'
// subscriptions. deliver runs on nats.go's goroutine for the subscription.
// What nats.go drops for it, past the limits, is counted in
// Stats.InterestDropped.
func (in *Ingester) Subscribe(subject, queue string, deliver func(*fanout.Msg)) (func(), error) {
	nc := in.conn()
	if nc == nil {
		return nil, ErrNotStarted
	}
	sub, err := nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
		deliver(fanout.NewMsg(m.Subject, m.Reply, m.Header, m.Data, time.Now()))
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: cannot subscribe to %q: %w", subject, err)
	}
	if err := sub.SetPendingLimits(in.cfg.PendingMessages, in.cfg.PendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("ingest: cannot subscribe to %q: %w", subject, err)
	}
	in.interests.Add(1)
	return func() {
		if n, err := sub.Dropped(); err == nil && n > 0 {
			in.interestDropped.Add(uint64(n))
		}
		_ = sub.Unsubscribe() // fails only once the connection is closed
		in.interests.Add(-1)
	}, nil
}

// Flush returns once upstream has processed everything sent before it, or
// ctx ends.
func (in *Ingester) Flush(ctx context.Context) error {
	nc := in.conn()
	if nc == nil {
		return ErrNotStarted
	}
	return nc.FlushWithContext(ctx)
}

// Connected reports whether the upstream connection is up.
func (in *Ingester) Connected() bool {
	nc := in.conn()
	return nc != nil && nc.IsConnected()
}

// ServerInfo returns the version and max_payload of the upstream server
// natsfan is connected to, or was last connected to; "" and 0 before the
// first connection.
func (in *Ingester) ServerInfo() (version string, maxPayload int) {
	nc := in.conn()
	if nc == nil {
		return "", 0
	}
	if v := nc.ConnectedServerVersion(); v != "" {
		in.serverVersion.Store(&v)
	}
	if v := in.serverVersion.Load(); v != nil {
		version = *v
	}
	return version, int(nc.MaxPayload())
}

// conn returns the connection once Start has made it, or nil.
func (in *Ingester) conn() *nats.Conn {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.nc
}

// OnViolation registers f to be called, on nats.go's callback goroutine,
// with the text of each permissions violation upstream sends that is not
// about a stream's subscription: about what local clients published or
// subscribed to through the Ingester.
func (in *Ingester) OnViolation(f func(text string)) {
	in.onViolation.Store(&f)
}

// relayViolation hands a permissions violation to the OnViolation
// function, if there is one.
func (in *Ingester) relayViolation(err error) {
	if f := in.onViolation.Load(); f != nil {
		(*f)(strings.TrimPrefix(err.Error(), nats.ErrPermissionViolation.Error()+": "))
	}
}
