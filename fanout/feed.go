package fanout

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/subjects"
)

// feed is what one connection reads from one stream: a single subscription
// to the whole stream, read by one goroutine while there is something for
// it (notify.go, route.go), which routes each message to the connection's
// plain SUBs that match it. However many SUBs a connection has on a stream, it
// holds one reader of the stream and at most one goroutine; a SUB is an
// entry in the feed's index. The feed's lag is the
// connection's: a connection that falls too far behind is a slow consumer,
// however many SUBs it has.
//
// A SUB that arrives while the feed is behind must not receive what was
// ingested before it, as nats-server would not have sent it that: each
// entry keeps the stream's sequence number at the time of the SUB, and
// only later messages match it.
type feed struct {
	conn    *conn
	stream  *Stream
	router  *router       // the Server's router of the stream, whose index has the feed's SUBs (route.go)
	sub     *Subscription // the whole stream, read by the feed's goroutine
	targets []*connSub    // scratch for deliver, owned by the feed's goroutine: deliver may wait for room in the middle of it
	running atomic.Bool   // a goroutine delivers the feed's messages (notify.go)

	// The feed's goroutine waits for the router rather than for the
	// stream's broadcast while strays, the wake-ups left since it read a
	// message none of its SUBs wanted, are more than 0 (route.go).
	strays       int           // owned by the feed's goroutine
	awaitsRouter atomic.Bool   // the goroutine waits for poked
	poked        chan struct{} // a message for the feed was routed while awaitsRouter was set

	// What the router routed to the feed, for skipAhead.
	since atomic.Uint64               // where the feed stood when it last waited for the router
	first atomic.Pointer[routedFirst] // the first message routed to it after since
	last  atomic.Uint64               // the last message routed to it

	// Owned by the router: the last round that routed a message to the
	// feed, and what it routed.
	round                 uint64
	roundFirst, roundLast uint64
	roundBefore           buffer.Position[Msg]

	// Guarded by conn.mu.
	all   []feedEntry // SUBs whose subject covers the whole stream: every message matches
	exact literals    // SUBs on a literal subject
	wild  []feedEntry // other SUBs with wildcards
}

type feedEntry struct {
	cs   *connSub
	from uint64 // the stream's last sequence number when the SUB arrived
}

// add indexes cs in the feed and in its router. cs receives the messages
// of the stream appended from now on: the router has it before they come.
func (f *feed) add(cs *connSub) {
	every := subjects.Covers(cs.subject, f.stream.pattern)
	f.router.routes.add(f, cs.subject, every)
	e := feedEntry{cs: cs, from: f.stream.buf.Head().Seq()}
	switch {
	case every:
		f.all = append(f.all, e)
	case !subjects.IsLiteral(cs.subject):
		f.wild = append(f.wild, e)
	default:
		f.exact.add(e)
	}
}

// remove drops cs from the feed's index and its router's, and reports
// whether it was there.
func (f *feed) remove(cs *connSub) bool {
	is := func(e feedEntry) bool { return e.cs == cs }
	var found bool
	every := slices.ContainsFunc(f.all, is)
	switch {
	case every:
		f.all = slices.DeleteFunc(f.all, is)
		found = true
	case !subjects.IsLiteral(cs.subject):
		n := len(f.wild)
		f.wild = slices.DeleteFunc(f.wild, is)
		found = len(f.wild) < n
	default:
		found = f.exact.remove(cs)
	}
	if found {
		f.router.routes.remove(f, cs.subject, every)
	}
	return found
}

// soleSub is a feed's only SUB, and how to tell the messages it takes.
type soleSub struct {
	feedEntry
	every   bool // its subject covers the stream
	literal bool // its subject has no wildcard
}

// soleFor returns the feed's SUB when it has one only, and m may go to it
// (takes says): a SUB on a literal subject is found by m's.
func (f *feed) soleFor(m *Msg) (soleSub, bool) {
	switch {
	case len(f.all) == 1 && len(f.wild) == 0 && f.exact.empty():
		return soleSub{feedEntry: f.all[0], every: true}, true
	case len(f.wild) == 1 && len(f.all) == 0 && f.exact.empty():
		return soleSub{feedEntry: f.wild[0]}, true
	case len(f.all) == 0 && len(f.wild) == 0:
		if e, ok := f.exact.only(m.Subject()); ok {
			return soleSub{feedEntry: e, literal: true}, true
		}
	}
	return soleSub{}, false
}

// takes reports whether m, a message of the feed's stream, goes to s, as
// match would say.
func (s soleSub) takes(m *Msg) bool {
	switch {
	case m.Seq() <= s.from:
		return false
	case s.every:
		return true
	case s.literal:
		return s.cs.subject == m.Subject()
	}
	return subjects.Match(s.cs.subject, m.Subject())
}

// empty reports whether no SUB reads the feed any more.
func (f *feed) empty() bool { return len(f.all) == 0 && f.exact.empty() && len(f.wild) == 0 }

// match appends to into the SUBs of the feed that m goes to: those whose
// subject matches it and that came before it.
func (f *feed) match(m *Msg, into []*connSub) []*connSub {
	for _, e := range f.all {
		if m.Seq() > e.from {
			into = append(into, e.cs)
		}
	}
	if f.exact.empty() && len(f.wild) == 0 {
		return into
	}
	for _, e := range f.exact.candidates(m.Subject()) {
		if m.Seq() > e.from && e.cs.subject == m.Subject() {
			into = append(into, e.cs)
		}
	}
	for _, e := range f.wild {
		if m.Seq() > e.from && subjects.Match(e.cs.subject, m.Subject()) {
			into = append(into, e.cs)
		}
	}
	return into
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
			f = &feed{conn: c, stream: st, router: c.srv.routers[st], sub: sub, poked: make(chan struct{}, 1)}
			c.feeds[st] = f
			st.feeds.Add(1)
		}
		f.add(cs)
	}
	return nil
}

// runFeed delivers a feed's messages until it has caught up with its
// stream and nothing more came for ServerConfig.IdleAfter, when it parks
// (notify.go), or the feed has no SUB left, or the connection closes. It
// waits for more on the stream's broadcast, or, if the feed wants little
// of the stream, for its router (route.go).
func (c *conn) runFeed(f *feed) {
	defer c.feedsRunning.Done()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	f.skipAhead() // a feed its router started may find its messages far ahead
	for {
		m, err := f.next()
		switch {
		case errors.Is(err, ErrGap):
			// Skipped ahead under the skip policy: the NATS protocol has no
			// way to tell the client; the metrics count what it missed.
			continue
		case err != nil:
			f.sub.Close()
			c.feedEnded(f, err)
			return
		case m == nil:
			if linger == nil {
				linger = time.NewTimer(c.srv.cfg.IdleAfter)
			} else {
				linger.Reset(c.srv.cfg.IdleAfter)
			}
			// Waiting on the broadcast makes its channel: only a feed
			// that waits on it asks for it.
			var changed, poked <-chan struct{}
			if f.strays == 0 {
				changed = f.stream.buf.Changed(f.sub.readSeq())
			} else {
				f.strays--
				f.skipAhead()
				at := f.sub.readSeq()
				f.since.Store(at)
				f.awaitsRouter.Store(true)
				if f.hasMore() { // routed before the router could see awaitsRouter, or over
					f.awaitsRouter.Store(false)
					f.skipAhead()
					continue
				}
				poked = f.poked
			}
			select {
			case <-changed:
			case <-poked:
				f.skipAhead()
			case <-f.sub.stopped(): // Next says why
			case <-c.ctx.Done():
				return // the connection closed: its SUBs go, and close the subscription
			case <-linger.C:
				f.awaitsRouter.Store(false)
				if c.park(f) {
					return
				}
			}
			f.awaitsRouter.Store(false)
			continue
		}
		if !c.deliver(f, m) {
			f.sub.Close()
			return
		}
	}
}

// deliver queues m for the SUBs it goes to, and every message already read
// behind it, for the writer. Whenever out is full, between messages and
// between the frames of one message for many SUBs, it waits for the writer
// to make room, so that a connection never holds more than its limit plus
// one frame, whatever its number of SUBs. It returns false once the feed or
// the connection has ended.
func (c *conn) deliver(f *feed, m *Msg) bool {
	headers := c.headers.Load()
	c.mu.Lock()
	for m != nil {
		if p, sub := c.sharedFrames(f, m, headers); p != nil {
			c.queueShared(f, p, sub, m)
		} else if err := c.queueEach(f, m, headers); err != nil {
			c.mu.Unlock()
			c.feedEnded(f, err)
			return false
		}
		if c.closed || f.empty() {
			break
		}
		m = nil
		if !c.out.full() {
			m = f.sub.tryNext()
		}
	}
	ok := !c.closed && !f.empty()
	c.mu.Unlock()
	c.wake()
	return ok
}

// queueEach queues m for each of the feed's SUBs it goes to, encoding its
// frame for each. It must be called with c.mu held, which it releases
// while it waits for room.
func (c *conn) queueEach(f *feed, m *Msg, headers bool) error {
	targets := f.match(m, f.targets[:0])
	defer func() { f.targets = targets[:0] }()
	if len(targets) == 0 {
		f.strays = strayWakes // m woke the feed for nothing
	}
	for _, cs := range targets {
		if c.out.full() {
			if err := c.waitRoomLocked(f); err != nil {
				return err
			}
		}
		if cs.gone || !c.wants(cs, m) { // unsubscribed while deliver waited for room, or not for this client
			continue
		}
		c.out.appendMsg(cs.sid, m, headers)
		c.answeredLocked(m.Subject())
		if cs.count() {
			c.removeSubLocked(cs) // UNSUB's maximum reached
		}
	}
	return nil
}

// next returns the feed's next message, or nil if it has none now. A feed
// that waits for its router reads no further than what the router routed
// to it: the rest it skips once the router has been through it.
func (f *feed) next() (*Msg, error) {
	if first := f.first.Load(); first != nil && first.seq <= f.sub.readSeq() {
		f.first.CompareAndSwap(first, nil) // passed: it would hold what came after
	}
	if f.strays > 0 && f.sub.readAll() && !f.hasMore() {
		return nil, nil
	}
	return f.sub.nextNow()
}

// errFeedGone ends a wait for room whose feed lost its last SUB, or whose
// connection closed, meanwhile.
var errFeedGone = errors.New("fanout: feed or connection gone")

// waitRoomLocked waits until out has room: it wakes the writer, and sleeps
// until the writer has taken what is queued. c.mu is held on entry and on
// return. It returns errFeedGone if the connection closed or the feed lost
// its last SUB meanwhile, and the hub's error (ErrSlowConsumer) if the hub
// cut the feed off.
func (c *conn) waitRoomLocked(f *feed) error {
	for c.out.full() && !c.closed && !f.empty() {
		c.wake()
		room := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-room:
			c.mu.Lock()
		case <-f.sub.stopped(): // closed, or cut off by the hub's sweeper
			c.mu.Lock()
			if f.empty() {
				return errFeedGone
			}
			return f.sub.stopErr()
		}
	}
	if c.closed || f.empty() {
		return errFeedGone
	}
	return nil
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
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, errFeedGone):
		// The feed lost its last SUB, or the connection closed.
	default:
		c.srv.log.Warn("subscription ended", c.logField(), zap.String("stream", f.sub.Pattern()), zap.Error(err))
		c.closeWith(CloseProtocolError, "")
	}
}
