package fanout

import (
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
	"github.com/natsfan/natsfan/subjects"
)

// connSub is one SUB of a connection. What the hub buffers it reads as an
// entry in the feed of every stream its subject overlaps (feed.go), or, in
// a queue group, as a member of the group (queue_group.go); what the hub
// does not buffer, as a member of an interest (interest.go), when the
// server has an Upstream. None of these gives it a goroutine or a hub
// reader of its own, so that an idle SUB costs a few hundred bytes.
type connSub struct {
	conn     *conn
	sid      string
	subject  string
	queue    string      // the queue group's name; "" for a plain subscription
	group    *queueGroup // set by joinQueue, under Server.mu
	interest *interest   // set by joinInterest, under Server.mu

	// Guarded by conn.mu.
	max       uint64 // deliver this many in all, then unsubscribe; 0: no limit
	delivered uint64
	gone      bool // unsubscribed, or the connection closed: deliver nothing more
}

// count counts one message queued for cs and reports whether that was the
// last its UNSUB maximum allows: the caller then removes cs. It must be
// called with conn.mu held.
func (cs *connSub) count() (last bool) {
	cs.delivered++
	return cs.max > 0 && cs.delivered >= cs.max
}

// subscribe answers SUB. It returns errClose once the connection is closing.
func (c *conn) subscribe(subject, queue, sid string) error {
	if err := subjects.ValidatePattern(subject); err != nil {
		return c.queueErr(protocol.TextInvalidSubject)
	}
	s := c.srv
	streams := s.streamsFor(subject)
	onInterest := s.onInterest(subject, streams)
	if onInterest {
		streams = nil // the interest delivers all of it (interest.go)
	}
	if !s.maySubscribe(subject) || len(streams) == 0 && !onInterest {
		return c.queueErr(protocol.SubscribeViolation(subject, queue))
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClose
	}
	// In nats-server's order: the limit, then a SUB that reuses a live sid,
	// which it answers (+OK in verbose mode) and otherwise ignores.
	if len(c.subs) >= s.cfg.MaxSubscriptions {
		c.mu.Unlock()
		return c.queueErr(protocol.TextMaxSubscriptions)
	}
	if _, dup := c.subs[sid]; dup {
		c.mu.Unlock()
		return c.ok()
	}
	if !s.reserveSub() {
		c.mu.Unlock()
		return c.queueErr(protocol.TextMaxSubscriptions)
	}
	cs := &connSub{conn: c, sid: sid, subject: subject, queue: queue}
	c.subs[sid] = cs
	if queue == "" && len(streams) > 0 {
		if err := c.addToFeeds(cs, streams); err != nil {
			c.mu.Unlock()
			c.closeWith(CloseServerShutdown, "") // the hub has closed
			return errClose
		}
	}
	c.mu.Unlock()

	if queue != "" && len(streams) > 0 {
		switch err := s.joinQueue(cs, queueKey{subject, queue}); {
		case errors.Is(err, errTooManyGroups):
			c.dropSub(cs)
			return c.queueErr(protocol.TextMaxSubscriptions)
		case err != nil:
			c.closeWith(CloseServerShutdown, "") // the hub has closed
			return errClose
		}
	}
	if onInterest {
		if err := s.joinInterest(cs, queueKey{subject, queue}); err != nil {
			c.srv.log.Warn("cannot subscribe upstream", c.logField(), zap.String("subject", subject), zap.Error(err))
			c.dropSub(cs)
			return c.queueErr(protocol.SubscribeViolation(subject, queue))
		}
		c.unflushed = true
	}
	return c.ok()
}

// onInterest reports whether a SUB to subject, which overlaps streams, is
// served through an upstream subscription rather than the hub: with an
// Upstream, when no stream buffers all the subject matches, or when it is
// a client's inbox (interest.go says why).
func (s *Server) onInterest(subject string, streams []*Stream) bool {
	if s.cfg.Upstream == nil {
		return false
	}
	if strings.HasPrefix(subject, s.cfg.InboxPrefix) {
		return true
	}
	for _, st := range streams {
		if subjects.Covers(st.pattern, subject) {
			return false
		}
	}
	return true
}

// dropSub undoes a SUB that could not be served in full.
func (c *conn) dropSub(cs *connSub) {
	c.mu.Lock()
	c.removeSubLocked(cs)
	c.mu.Unlock()
	c.srv.leave(cs)
}

// unsubscribe answers UNSUB: now, or once max messages have been delivered
// in all. nats-server accepts an UNSUB of an unknown sid, and so does this.
func (c *conn) unsubscribe(sid string, max int) {
	c.mu.Lock()
	cs := c.subs[sid]
	if cs == nil {
		c.mu.Unlock()
		return
	}
	if max > 0 && cs.delivered < uint64(max) {
		cs.max = uint64(max) // checked as each message is queued, under mu
		c.mu.Unlock()
		return
	}
	c.removeSubLocked(cs)
	c.mu.Unlock()
	c.srv.leave(cs)
}

// removeSubLocked stops deliveries to cs and forgets it: a plain
// subscription leaves its feeds, and a feed left with no subscription
// ends. A queue subscription stops receiving at once; its group forgets it
// in leave, which the caller calls once it has released conn.mu (or, when
// the group or interest itself removed it, in dispatch or deliver). It must be called with
// c.mu held.
func (c *conn) removeSubLocked(cs *connSub) {
	if cs.gone {
		return
	}
	cs.gone = true
	delete(c.subs, cs.sid)
	c.srv.releaseSub()
	if cs.queue != "" {
		return
	}
	for st, f := range c.feeds {
		if f.remove(cs) && f.empty() {
			delete(c.feeds, st)
			st.feeds.Add(-1)
			f.sub.Close() // its goroutine, if one runs, returns
		}
	}
}

// endSubs ends every subscription of a closed connection.
func (c *conn) endSubs() {
	c.mu.Lock()
	subs := make([]*connSub, 0, len(c.subs))
	for _, cs := range c.subs {
		subs = append(subs, cs)
	}
	for _, cs := range subs {
		c.removeSubLocked(cs)
	}
	c.mu.Unlock()
	for _, cs := range subs {
		c.srv.leave(cs)
	}
}

// leave removes cs, which its connection has removed, from its queue
// group and its interest, if it has them.
func (s *Server) leave(cs *connSub) {
	s.leaveQueue(cs)
	s.leaveInterest(cs)
}
