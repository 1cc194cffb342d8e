package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
// fanout's terms). Unlike a stream's subscription it has no goroutine of
// its own: every interest delivers into one channel, which one goroutine,
// the router, reads in arrival order and hands each message to its
// interest's deliver, so that an interest costs a map entry and nats.go's
// subscription, not a goroutine (an old-style request makes one per
// request). deliver must not block; it runs on the router.
func (in *Ingester) Subscribe(subject, queue string, deliver func(*fanout.Msg)) (func(), error) {
	nc := in.conn()
	if nc == nil {
		return nil, ErrNotStarted
	}
	r := in.router()
	// Held while nats.go subscribes, so that the router finds the route of
	// the first message, however soon it arrives.
	r.mu.Lock()
	sub, err := nc.ChanQueueSubscribe(subject, queue, r.ch)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("ingest: cannot subscribe to %q: %w", subject, err)
	}
	r.routes[sub] = deliver
	r.mu.Unlock()
	in.interests.Add(1)
	return func() {
		if n, err := sub.Dropped(); err == nil && n > 0 {
			in.interestDropped.Add(uint64(n))
		}
		_ = sub.Unsubscribe() // fails only once the connection is closed
		r.mu.Lock()
		delete(r.routes, sub)
		r.mu.Unlock()
		in.interests.Add(-1)
	}, nil
}

// routerQueue is how many messages received for interests may wait for
// the router; nats.go drops what arrives beyond them (counted in
// Stats.InterestDropped when the interest ends), which happens only if the
// router is starved of CPU, since delivering never waits.
const routerQueue = 8192

// router reads what every interest receives and hands it on.
type router struct {
	ch   chan *nats.Msg
	done chan struct{} // closed when run returns

	mu     sync.RWMutex
	routes map[*nats.Subscription]func(*fanout.Msg)
}

// router returns the Ingester's router, starting it with the first
// interest. Close stops it.
func (in *Ingester) router() *router {
	in.routerOnce.Do(func() {
		r := &router{ch: make(chan *nats.Msg, routerQueue), done: make(chan struct{}), routes: make(map[*nats.Subscription]func(*fanout.Msg))}
		in.interestRouter.Store(r)
		go r.run(in.connClosed)
	})
	return in.interestRouter.Load()
}

// run delivers until the connection is closed for good, when nothing more
// can arrive.
func (r *router) run(closed <-chan struct{}) {
	defer close(r.done)
	for {
		select {
		case m := <-r.ch:
			r.mu.RLock()
			deliver := r.routes[m.Sub]
			r.mu.RUnlock()
			if deliver != nil { // nil: unsubscribed since it arrived
				deliver(fanout.NewMsg(m.Subject, m.Reply, m.Header, m.Data, time.Now()))
			}
		case <-closed:
			return
		}
	}
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
	return in.conn() != nil && in.connStatus() == nats.CONNECTED
}

// ServerInfo returns what the INFO of the upstream server natsfan is
// connected to, or was last connected to, said; the zero UpstreamInfo
// before the first connection.
func (in *Ingester) ServerInfo() fanout.UpstreamInfo {
	if si := in.server.Load(); si != nil {
		return *si
	}
	return fanout.UpstreamInfo{}
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
