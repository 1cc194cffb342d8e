package fanout

import (
	"slices"
	"sync"
)

// interest is one upstream subscription that a Server holds for its
// clients' SUBs to a subject it does not buffer: one per distinct subject
// and queue group, whatever the number of local SUBs on it, made when the
// first one arrives and ended when the last one leaves (UNSUB, an UNSUB
// maximum reached, or its connection closing), as a leaf node propagates
// interest to its hub.
//
// Messages are not buffered: the Upstream's goroutine puts each one
// straight into the members' outbound queues. A plain interest gives every
// member a copy; a queue interest has joined the upstream queue group of
// the same name, so upstream gives each message to one member in the whole
// cluster, and if that is this interest, it goes to one local member in
// turn. A member whose connection has more than
// ServerConfig.MaxPending queued is closed as a slow consumer, as
// nats-server closes a client past its max_pending.
//
// A SUB whose subject spans buffered and unbuffered subjects (">" when
// "orders.>" is buffered) is served by an interest alone, not in part by
// the hub: upstream delivers all it matches in one order, the publishers',
// which two paths would not keep. So is a SUB to a client's inbox
// (ServerConfig.InboxPrefix), whatever the streams: JetStream delivers to
// an inbox under each message's own subject, which only the upstream
// subscription it was sent to can tell apart from a message on that
// subject.
type interest struct {
	srv    *Server
	key    queueKey
	ready  chan struct{} // closed once the upstream subscription is made, or failed
	cancel func()        // ends the upstream subscription; set before ready is closed
	err    error         // why it could not be made; set before ready is closed

	mu      sync.Mutex // guards members and next; taken before conn.mu
	members []*connSub
	next    int // the queue member to offer the next message to first
}

// deliver hands m, just received upstream, to the members. It runs on a
// goroutine of the Upstream's, one message at a time.
func (in *interest) deliver(m *Msg) {
	in.mu.Lock()
	left := false
	if in.key.queue == "" {
		for i := 0; i < len(in.members); {
			cs := in.members[i]
			if _, last := cs.conn.pass(cs, m); last {
				in.members = slices.Delete(in.members, i, i+1)
				left = true
				continue
			}
			i++
		}
	} else {
		n := len(in.members)
		for i := range n {
			k := (in.next + i) % n
			cs := in.members[k]
			taken, last := cs.conn.pass(cs, m)
			if !taken {
				continue // closed, or cut off: the next member gets it
			}
			in.next = k + 1
			if last {
				in.members = slices.Delete(in.members, k, k+1)
				in.next = k
				left = true
			}
			break
		}
	}
	empty := len(in.members) == 0
	in.mu.Unlock()
	if left && empty {
		// Not on this goroutine: ending the upstream subscription may wait
		// for the connection's lock, and every interest's messages wait
		// for this goroutine.
		go in.srv.dropInterestIfEmpty(in)
	}
}

// pass queues m, a message received through an interest, for cs, and
// reports whether it did and whether m was the last message cs's UNSUB
// maximum allowed (cs is then removed from the connection; the interest
// removes it from its members). Unlike a feed, pass cannot wait for room:
// nothing holds the message for a client that is behind. A connection with
// more than MaxPending queued is closed as a slow consumer, as nats-server
// does, and the message goes to nobody on it. The caller holds the
// interest's mu.
func (c *conn) pass(cs *connSub, m *Msg) (taken, last bool) {
	c.mu.Lock()
	if c.closed || cs.gone || !c.wants(cs, m) {
		c.mu.Unlock()
		return false, false
	}
	if c.out.held >= c.srv.cfg.MaxPending {
		c.mu.Unlock()
		c.closeWith(CloseSlowConsumer, "")
		return false, false
	}
	c.out.appendMsg(cs.sid, m, c.headers.Load())
	c.answeredLocked(m.Subject())
	if cs.count() {
		c.removeSubLocked(cs)
		last = true
	}
	c.mu.Unlock()
	c.wake()
	return true, last
}

// wants reports whether the client is to receive m on its SUB cs: not
// a copy of its own message if it asked for no echo (echo.go), and a
// no-responders status only if it asked for them in its CONNECT, as
// nats-server sends them only to those. c.mu must be held.
func (c *conn) wants(cs *connSub, m *Msg) bool {
	if c.noEcho && c.echoes.own(m, cs) {
		return false
	}
	return c.noResponders || !m.isNoResponders()
}

// joinInterest makes cs a member of the interest in key, subscribing
// upstream if it is the first, and returns once upstream has been asked
// (so that a PING after the SUB can wait for upstream to have it). The
// Upstream is not called under Server.mu: it may block while upstream
// takes nothing.
func (s *Server) joinInterest(cs *connSub, key queueKey) error {
	s.mu.Lock()
	in := s.interests[key]
	first := in == nil
	if first {
		// The member is in before the subscription exists, so that nothing
		// upstream delivers finds the interest empty.
		in = &interest{srv: s, key: key, ready: make(chan struct{})}
		s.interests[key] = in
	}
	cs.interest = in
	in.mu.Lock()
	in.members = append(in.members, cs)
	in.mu.Unlock()
	s.mu.Unlock()

	if first {
		in.cancel, in.err = s.cfg.Upstream.Subscribe(key.subject, key.queue, in.deliver)
		close(in.ready)
	}
	<-in.ready
	if in.err != nil {
		s.mu.Lock()
		if s.interests[key] == in {
			delete(s.interests, key) // the next SUB tries again
		}
		s.mu.Unlock()
		return in.err
	}
	return nil
}

// leaveInterest removes cs, which its connection has removed, from its
// interest; the last member out ends the upstream subscription.
func (s *Server) leaveInterest(cs *connSub) {
	s.mu.Lock()
	in := cs.interest
	s.mu.Unlock()
	if in == nil {
		return
	}
	in.mu.Lock()
	in.members = slices.DeleteFunc(in.members, func(m *connSub) bool { return m == cs })
	in.mu.Unlock()
	s.dropInterestIfEmpty(in)
}

// dropInterestIfEmpty ends in's upstream subscription if it has no
// members left. A SUB that arrives afterwards makes a new one.
func (s *Server) dropInterestIfEmpty(in *interest) {
	s.mu.Lock()
	in.mu.Lock()
	empty := len(in.members) == 0
	in.mu.Unlock()
	if empty && s.interests[in.key] == in {
		delete(s.interests, in.key)
	} else {
		empty = false
	}
	s.mu.Unlock()
	if empty {
		<-in.ready // its first member may still be subscribing
		if in.err == nil {
			in.cancel()
		}
	}
}

// interestsOpen returns how many upstream subscriptions the server holds
// for its clients now.
func (s *Server) interestsOpen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.interests)
}
