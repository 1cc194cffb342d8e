package fanout

import (
	"context"
	"errors"
	"slices"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/subjects"
)

// feed is what one connection reads from one stream: a single subscription
// to the whole stream, read by one goroutine, which routes each message to
// the connection's plain SUBs that match it. However many SUBs a
// connection has on a stream, it holds one reader of the stream and one
// goroutine; a SUB is an entry in the feed's index. The feed's lag is the
// connection's: a connection that falls too far behind is a slow consumer,
// however many SUBs it has.
//
// A SUB that arrives while the feed is behind must not receive what was
// ingested before it, as nats-server would not have sent it that: each
// entry keeps the stream's sequence number at the time of the SUB, and
// only later messages match it.
type feed struct {
	sub *Subscription // the whole stream, read by the feed's goroutine

	// Guarded by conn.mu.
	all   []feedEntry            // SUBs whose subject covers the whole stream: every message matches
	exact map[string][]feedEntry // SUBs on a literal subject, by subject
	wild  []feedEntry            // other SUBs with wildcards
}

type feedEntry struct {
	cs   *connSub
	from uint64 // the stream's last sequence number when the SUB arrived
}

// add indexes cs, which receives messages of stream numbered after from.
func (f *feed) add(cs *connSub, stream string, from uint64) {
	e := feedEntry{cs: cs, from: from}
	switch {
	case subjects.Covers(cs.subject, stream):
		f.all = append(f.all, e)
		return
	case !subjects.IsLiteral(cs.subject):
		f.wild = append(f.wild, e)
		return
	}
	if f.exact == nil {
		f.exact = make(map[string][]feedEntry, 1)
	}
	f.exact[cs.subject] = append(f.exact[cs.subject], e)
}

// remove drops cs from the index and reports whether it was there.
func (f *feed) remove(cs *connSub) bool {
	is := func(e feedEntry) bool { return e.cs == cs }
	if n := len(f.all); slices.ContainsFunc(f.all, is) {
		f.all = slices.DeleteFunc(f.all, is)
		return len(f.all) < n
	}
	if !subjects.IsLiteral(cs.subject) {
		n := len(f.wild)
		f.wild = slices.DeleteFunc(f.wild, is)
		return len(f.wild) < n
	}
	entries, ok := f.exact[cs.subject]
	if !ok {
		return false
	}
	n := len(entries)
	if entries = slices.DeleteFunc(entries, is); len(entries) == 0 {
		delete(f.exact, cs.subject)
	} else {
		f.exact[cs.subject] = entries
	}
	return len(entries) < n
}

// empty reports whether no SUB reads the feed any more.
func (f *feed) empty() bool { return len(f.all) == 0 && len(f.exact) == 0 && len(f.wild) == 0 }

// route queues m for every SUB of the feed it matches and appends to last
// the ones that reached their UNSUB maximum with it, for the caller to
// remove (removing them here would change the index being walked).
func (f *feed) route(out *outbound, m *Msg, headers bool, last []*connSub) []*connSub {
	for _, e := range f.all {
		last = e.queue(out, m, headers, last)
	}
	if len(f.exact) == 0 && len(f.wild) == 0 {
		return last
	}
	for _, e := range f.exact[m.Subject] {
		last = e.queue(out, m, headers, last)
	}
	for _, e := range f.wild {
		if subjects.Match(e.cs.subject, m.Subject) {
			last = e.queue(out, m, headers, last)
		}
	}
	return last
}

// queue queues m for e's SUB unless m came before the SUB, and appends the
// SUB to last if m was the last its UNSUB maximum allows.
func (e feedEntry) queue(out *outbound, m *Msg, headers bool, last []*connSub) []*connSub {
	if m.Seq <= e.from {
		return last
	}
	out.appendMsg(e.cs.sid, m, headers)
	if e.cs.count() {
		last = append(last, e.cs)
	}
	return last
}

// addToFeeds indexes cs in the feed of each of streams, starting the feeds
// the connection did not have. It must be called with c.mu held.
func (c *conn) addToFeeds(cs *connSub, streams []*Stream) error {
	for _, st := range streams {
		f := c.feeds[st]
		if f == nil {
			sub, err := c.srv.hub.subscribeServer(st.pattern)
			if err != nil {
				return err
			}
			f = &feed{sub: sub}
			c.feeds[st] = f
			c.feedsRunning.Add(1)
			go c.runFeed(f)
		}
		f.add(cs, st.pattern, st.buf.Head().Seq())
	}
	return nil
}

// runFeed delivers a feed's messages until the feed has no SUB left or the
// connection closes.
func (c *conn) runFeed(f *feed) {
	defer c.feedsRunning.Done()
	defer f.sub.Close()
	for {
		m, err := f.sub.Next(c.ctx)
		if errors.Is(err, ErrGap) {
			// Skipped ahead under the skip policy: the NATS protocol has no
			// way to tell the client; the metrics count what it missed.
			continue
		}
		if err != nil {
			c.feedEnded(f, err)
			return
		}
		if !c.deliver(f, m) {
			return
		}
	}
}

// deliver routes m, and every message already read behind it, into out for
// the writer, waiting while out is full. It returns false once the feed or
// the connection has ended.
func (c *conn) deliver(f *feed, m *Msg) bool {
	headers := c.headers.Load()
	c.mu.Lock()
	for c.out.full() && !c.closed && !f.empty() {
		room := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-room:
		case <-f.sub.stopped(): // closed, or cut off by the hub's sweeper
			c.mu.Lock()
			removed := f.empty()
			c.mu.Unlock()
			if !removed {
				c.feedEnded(f, f.sub.stopErr())
			}
			return false
		}
		c.mu.Lock()
	}
	if c.closed || f.empty() {
		c.mu.Unlock()
		return false
	}
	last := c.last[:0]
	for m != nil {
		last = f.route(&c.out, m, headers, last)
		for _, cs := range last {
			c.removeSubLocked(cs) // UNSUB's maximum reached
		}
		last = last[:0]
		if c.out.full() || f.empty() {
			break
		}
		m = f.sub.tryNext()
	}
	c.last = last
	c.mu.Unlock()
	c.wake()
	return true
}

// feedEnded closes the connection when the hub cut its feed off, and does
// nothing when the feed or the connection ended it.
func (c *conn) feedEnded(f *feed, err error) {
	switch {
	case errors.Is(err, ErrSlowConsumer):
		c.closeWith(CloseSlowConsumer, "")
	case errors.Is(err, ErrHubClosed):
		// Shutting down: what the hub held has been queued; Shutdown closes
		// the connection once it is written.
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		// The feed lost its last SUB, or the connection closed.
	default:
		c.log.Warn("subscription ended", zap.String("stream", f.sub.Pattern()), zap.Error(err))
		c.closeWith(CloseProtocolError, "")
	}
}
