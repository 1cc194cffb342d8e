package fanout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
	"github.com/natsfan/natsfan/subjects"
)

// connSub is one SUB of a connection: the client's sid, and either a
// Subscription of its own or a membership in a queue group.
type connSub struct {
	sid     string
	subject string
	sub     *Subscription // nil for a queue group member
	group   *queueGroup   // nil for a plain subscription

	max       atomic.Uint64 // deliver this many in all, then unsubscribe; 0: no limit
	delivered atomic.Uint64

	ctx    context.Context // ends when the client unsubscribes or the connection closes
	cancel context.CancelFunc
}

// subscribe answers SUB.
func (c *conn) subscribe(subject, queue, sid string) {
	if err := subjects.ValidatePattern(subject); err != nil {
		c.queueErr(protocol.TextInvalidSubject)
		return
	}
	c.mu.Lock()
	_, dup := c.subs[sid]
	n := len(c.subs)
	c.mu.Unlock()
	switch {
	case dup:
		return // nats-server ignores a SUB that reuses a live sid
	case n >= c.srv.cfg.MaxSubscriptions:
		c.queueErr(protocol.TextMaxSubscriptions)
		return
	}

	cs := &connSub{sid: sid, subject: subject}
	cs.ctx, cs.cancel = context.WithCancel(c.ctx)
	var err error
	if queue == "" {
		cs.sub, err = c.srv.hub.Subscribe(cs.ctx, subject)
	} else {
		cs.group, err = c.srv.joinQueue(subject, queue)
	}
	if err != nil {
		cs.cancel()
		if errors.Is(err, ErrNotIngested) {
			c.queueErr(protocol.SubscribeViolation(subject, queue))
			return
		}
		c.closeWith(CloseServerShutdown, "") // the hub has closed
		return
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.release(cs)
		return
	}
	c.subs[sid] = cs
	c.pumps.Add(1)
	c.mu.Unlock()
	go c.pump(cs)
	c.ok()
}

// unsubscribe answers UNSUB: now, or once max messages have been delivered
// in all.
func (c *conn) unsubscribe(sid string, max int) {
	c.mu.Lock()
	cs := c.subs[sid]
	c.mu.Unlock()
	if cs == nil {
		c.ok() // nats-server accepts an UNSUB of an unknown sid
		return
	}
	if max > 0 && cs.delivered.Load() < uint64(max) {
		cs.max.Store(uint64(max))
		// A pump that delivered max meanwhile stops at its next message.
	} else {
		c.drop(cs)
	}
	c.ok()
}

// drop ends a subscription of the connection.
func (c *conn) drop(cs *connSub) {
	cs.cancel() // the pump returns and releases it
	c.mu.Lock()
	if c.subs[cs.sid] == cs {
		delete(c.subs, cs.sid)
	}
	c.space.Broadcast() // a pump waiting for space sees its context ended
	c.mu.Unlock()
}

// endSubs ends every subscription of a closed connection.
func (c *conn) endSubs() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*connSub{}
	c.mu.Unlock()
	for _, cs := range subs {
		cs.cancel()
	}
}

// release gives back what a subscription holds in the hub.
func (c *conn) release(cs *connSub) {
	cs.cancel()
	if cs.sub != nil {
		cs.sub.Close()
	} else {
		c.srv.leaveQueue(cs.group)
	}
}

// pump delivers one subscription's messages to the client until the
// subscription or the connection ends.
func (c *conn) pump(cs *connSub) {
	defer c.pumps.Done()
	defer c.release(cs)
	for {
		m, err := cs.next()
		if err != nil {
			c.subscriptionEnded(cs, err)
			return
		}
		if !c.deliver(cs, m) {
			return
		}
	}
}

// next returns the subscription's next message, skipping gaps (the NATS
// protocol has no way to tell a client about them; the metrics count them).
func (cs *connSub) next() (*Msg, error) {
	for {
		var m *Msg
		var err error
		if cs.group != nil {
			m, err = cs.group.next(cs.ctx)
		} else {
			m, err = cs.sub.Next(cs.ctx)
		}
		if errors.Is(err, ErrGap) {
			continue
		}
		return m, err
	}
}

// subscriptionEnded closes the connection when the hub cut the subscription
// off, and does nothing when the client or the connection ended it.
func (c *conn) subscriptionEnded(cs *connSub, err error) {
	switch {
	case errors.Is(err, ErrSlowConsumer):
		c.closeWith(CloseSlowConsumer, protocol.TextSlowConsumer)
	case errors.Is(err, ErrHubClosed):
		// Shutting down: what the hub held has been queued; Shutdown closes
		// the connection once it is written.
	case cs.ctx.Err() != nil:
		// Unsubscribed, or the connection closed.
	default:
		c.log.Warn("subscription ended", zap.String("subject", cs.subject), zap.Error(err))
		c.closeWith(CloseProtocolError, "")
	}
}

// deliver encodes m, and every message already buffered behind it, into
// out for the writer, waiting while out is full. It returns false once the
// subscription or the connection has ended.
func (c *conn) deliver(cs *connSub, m *Msg) bool {
	headers := c.headers.Load()
	c.mu.Lock()
	for c.out.held >= maxOutbound && !c.closed && cs.ctx.Err() == nil {
		c.space.Wait()
	}
	if c.closed || cs.ctx.Err() != nil {
		c.mu.Unlock()
		return false
	}
	more := true
	for m != nil && more {
		c.out.commit(appendMsg(c.out.room(msgLen(cs.sid, m, headers)), cs.sid, m, headers))
		n := cs.delivered.Add(1)
		if max := cs.max.Load(); max > 0 && n >= max {
			more = false
		}
		m = nil
		if more && c.out.held < maxOutbound && cs.sub != nil {
			m = cs.sub.tryNext()
		}
	}
	c.mu.Unlock()
	c.wake()
	if !more {
		c.drop(cs) // UNSUB's maximum reached
		return false
	}
	return true
}

// appendMsg encodes m for subscription sid: HMSG with its headers for a
// client that handles them, MSG otherwise.
func appendMsg(out []byte, sid string, m *Msg, headers bool) []byte {
	if headers && m.rawHeader != nil {
		return protocol.AppendHMsg(out, m.Subject, sid, m.Reply, m.rawHeader, m.Data)
	}
	return protocol.AppendMsg(out, m.Subject, sid, m.Reply, m.Data)
}

// msgLen returns how many bytes appendMsg appends.
func msgLen(sid string, m *Msg, headers bool) int {
	if headers && m.rawHeader != nil {
		return protocol.HMsgLen(m.Subject, sid, m.Reply, len(m.rawHeader), len(m.Data))
	}
	return protocol.MsgLen(m.Subject, sid, m.Reply, len(m.Data))
}

// queueKey names a queue group: its members subscribe to the same subject
// with the same queue name, on any connection.
type queueKey struct{ subject, queue string }

// queueGroup is a Subscription shared by its members, each of which takes
// the next message when it is ready for one: each message goes to one
// member, and a slow member takes fewer.
type queueGroup struct {
	key     queueKey
	members int // guarded by Server.mu

	mu  sync.Mutex // one member at a time reads sub
	sub *Subscription
}

func (g *queueGroup) next(ctx context.Context) (*Msg, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sub.Next(ctx)
}

// joinQueue adds a member to the queue group for subject and queue, making
// the group if it is the first.
func (s *Server) joinQueue(subject, queue string) (*queueGroup, error) {
	key := queueKey{subject, queue}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.queues[key]; g != nil {
		g.members++
		return g, nil
	}
	sub, err := s.hub.Subscribe(context.Background(), subject)
	if err != nil {
		return nil, err
	}
	g := &queueGroup{key: key, members: 1, sub: sub}
	s.queues[key] = g
	return g, nil
}

// leaveQueue removes a member; the last one out closes the group.
func (s *Server) leaveQueue(g *queueGroup) {
	s.mu.Lock()
	g.members--
	last := g.members == 0
	if last {
		delete(s.queues, g.key)
	}
	s.mu.Unlock()
	if last {
		g.sub.Close()
	}
}
