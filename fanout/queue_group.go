package fanout

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// queueKey names a queue group: its members subscribe to the same subject
// with the same queue name, on any connection.
type queueKey struct{ subject, queue string }

// queueGroup delivers each message of its subject to one member, as
// nats-server does: one goroutine reads the hub and hands every message to
// the next member in turn whose connection has room for it, so the split
// does not depend on which member happens to read first, and a member that
// is behind (its connection's outbound queue full) is passed over until it
// has room. When no member has room the group waits, and its subscription
// falls behind in the hub, where the lag limit applies: past it, every
// member's connection is closed as a slow consumer.
//
// A member that leaves is never offered another message, so the group
// loses nothing to it; the last member to leave ends the group and its
// goroutine.
//
// One difference from nats-server is deliberate: nats-server assigns a
// message to a member when it is published, and a member that does not
// read holds its share in its own queue until it is cut off as a slow
// consumer, and loses it. natsfan keeps what no member has room for in the
// buffer, for whichever member has room first, so a member that joins
// while every other is stuck may be given messages published before its
// SUB: work a stuck member would have lost is done instead.
type queueGroup struct {
	srv  *Server
	key  queueKey
	sub  *Subscription // read by run
	kick chan struct{} // capacity 1: a member may have room, or the members changed
	done chan struct{} // closed by stop
	stop func()

	mu      sync.Mutex // guards members and next; taken before conn.mu
	members []*connSub
	next    int // index of the member to offer the next message to first
}

func newQueueGroup(s *Server, key queueKey, sub *Subscription) *queueGroup {
	g := &queueGroup{srv: s, key: key, sub: sub, kick: make(chan struct{}, 1), done: make(chan struct{})}
	g.stop = sync.OnceFunc(func() {
		close(g.done)
		g.sub.Close()
	})
	return g
}

func (g *queueGroup) wake() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// run delivers the group's messages until it stops or its subscription ends.
func (g *queueGroup) run() {
	defer g.srv.groupsRunning.Done()
	defer g.stop()
	for {
		m, err := g.sub.Next(context.Background()) // stop closes sub
		if errors.Is(err, ErrGap) {
			continue // skipped ahead under the skip policy; the metrics count it
		}
		if err != nil {
			if errors.Is(err, ErrSlowConsumer) {
				g.cutOff()
			}
			return
		}
		for m != nil {
			if !g.dispatch(m) {
				return
			}
			m = g.sub.tryNext()
		}
	}
}

// dispatch gives m to one member: the first, from the one after the last
// served, whose connection has room. It waits while none has, and returns
// false if the group stops meanwhile.
func (g *queueGroup) dispatch(m *Msg) bool {
	for {
		g.mu.Lock()
		n := len(g.members)
		for i := range n {
			k := (g.next + i) % n
			cs := g.members[k]
			taken, last := cs.conn.offer(g, cs, m)
			if !taken {
				continue
			}
			g.next = k + 1
			if last { // its UNSUB maximum: it has already left its connection
				g.members = slices.Delete(g.members, k, k+1)
				g.next = k
			}
			empty := len(g.members) == 0
			g.mu.Unlock()
			cs.conn.wake()
			if empty {
				g.srv.dropGroupIfEmpty(g)
			}
			return true
		}
		g.mu.Unlock()
		select {
		case <-g.kick:
		case <-g.done:
			return false
		case <-g.sub.stopped(): // cut off by the hub's sweeper: no member kept up
			if errors.Is(g.sub.stopErr(), ErrSlowConsumer) {
				g.cutOff()
			}
			return false
		}
	}
}

// cutOff closes every member's connection: the group fell further behind
// than its lag limit, so none of them kept up.
func (g *queueGroup) cutOff() {
	g.srv.mu.Lock()
	if g.srv.queues[g.key] == g {
		delete(g.srv.queues, g.key) // members that come back form a new group
	}
	g.srv.mu.Unlock()
	g.mu.Lock()
	members := slices.Clone(g.members)
	g.mu.Unlock()
	for _, cs := range members {
		cs.conn.closeWith(CloseSlowConsumer, "")
	}
}

// offer queues m for group member cs if its connection has room, and
// reports whether it did and whether m was the last message cs's UNSUB
// maximum allowed (cs is then removed from the connection; the group
// removes it from its members). A connection without room remembers g, to
// wake it once the writer has made room. The caller holds g.mu.
func (c *conn) offer(g *queueGroup, cs *connSub, m *Msg) (taken, last bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || cs.gone || !c.wants(cs, m) {
		return false, false
	}
	if c.out.full() {
		if !slices.Contains(c.waiters, g) {
			c.waiters = append(c.waiters, g)
		}
		return false, false
	}
	c.out.appendMsg(cs.sid, m, c.headers.Load())
	c.answeredLocked(m.Subject())
	if cs.count() {
		c.removeSubLocked(cs)
		return true, true
	}
	return true, false
}

// errTooManyGroups refuses a queue subscription that would make a group
// beyond ServerConfig.MaxQueueGroups: each costs a goroutine and a reader
// of the hub (about 6 KiB), unlike a member of a group that exists.
var errTooManyGroups = errors.New("fanout: too many queue groups")

// joinQueue makes cs a member of the queue group key, making the group if
// it is the first member.
func (s *Server) joinQueue(cs *connSub, key queueKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.queues[key]
	if g == nil && len(s.queues) >= s.cfg.MaxQueueGroups {
		return errTooManyGroups
	}
	if g == nil {
		sub, err := s.hub.subscribeServer(key.subject)
		if err != nil {
			return err
		}
		g = newQueueGroup(s, key, sub)
		s.queues[key] = g
		s.groupsRunning.Add(1)
		go g.run()
	}
	cs.group = g
	// The connection's reader calls joinQueue, and ends its subscriptions
	// only after it has stopped reading: cs cannot be gone yet.
	g.mu.Lock()
	g.members = append(g.members, cs)
	g.mu.Unlock()
	g.wake()
	return nil
}

// leaveQueue removes cs, which its connection has removed, from its queue
// group; the last member out stops the group. It does nothing for a plain
// subscription.
func (s *Server) leaveQueue(cs *connSub) {
	s.mu.Lock()
	g := cs.group
	s.mu.Unlock()
	if g == nil {
		return
	}
	g.mu.Lock()
	g.members = slices.DeleteFunc(g.members, func(m *connSub) bool { return m == cs })
	g.mu.Unlock()
	g.wake()
	s.dropGroupIfEmpty(g)
}

// dropGroupIfEmpty stops g if it has no members left.
func (s *Server) dropGroupIfEmpty(g *queueGroup) {
	s.mu.Lock()
	g.mu.Lock()
	empty := len(g.members) == 0
	g.mu.Unlock()
	if empty && s.queues[g.key] == g {
		delete(s.queues, g.key)
	}
	s.mu.Unlock()
	if empty {
		g.stop()
	}
}
