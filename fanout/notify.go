package fanout

import (
	"sync"
)

// A feed's goroutine runs only while the feed is busy (runFeed): most
// consumers are idle most of the time, and a goroutine parked in Next for
// each would hold a stack of 4 KiB or more. A feed that has caught up with
// its stream waits for more on its own for ServerConfig.IdleAfter, so that a consumer
// that receives now and then pays no extra hand-off; then it parks: it
// registers with the stream's notifier, one goroutine per stream, which
// starts the feeds registered with it again once the stream has more.
//
// A feed registers before it looks for more one last time, and the
// notifier takes the registered feeds after it has seen the stream grow:
// so a message appended after that last look finds the feed registered,
// and the notifier starts it. running is set while a goroutine runs the
// feed, and only one that sets it (compare-and-swap from false) runs.

// parked is a stream's notifier's list of the feeds waiting for more.
type parked struct {
	mu    sync.Mutex
	feeds map[*feed]struct{}
}

func (p *parked) add(f *feed) {
	p.mu.Lock()
	p.feeds[f] = struct{}{}
	p.mu.Unlock()
}

func (p *parked) remove(f *feed) {
	p.mu.Lock()
	delete(p.feeds, f)
	p.mu.Unlock()
}

// take empties the list and returns the feeds it held.
func (p *parked) take() []*feed {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.feeds) == 0 {
		return nil
	}
	feeds := make([]*feed, 0, len(p.feeds))
	for f := range p.feeds {
		feeds = append(feeds, f)
	}
	clear(p.feeds)
	return feeds
}

// startNotifiers starts a notifier for each of the hub's streams. They
// run until the hub closes.
func (s *Server) startNotifiers() {
	s.parked = make(map[*Stream]*parked, len(s.hub.streams))
	for _, st := range s.hub.streams {
		p := &parked{feeds: make(map[*feed]struct{})}
		s.parked[st] = p
		go notify(st, p)
	}
}

// notify starts the feeds parked on st whenever st has more, and once more
// when it ends, so that they read the end; then it returns.
func notify(st *Stream, p *parked) {
	seen := st.buf.Head().Seq()
	for {
		<-st.buf.Changed(seen)
		seen = st.buf.Head().Seq()
		ended := st.buf.Ended()
		for _, f := range p.take() {
			f.conn.startFeed(f)
		}
		if ended {
			return
		}
	}
}

// park registers f, which has caught up with its stream, with the stream's
// notifier, and reports whether its goroutine may stop: true unless more
// came meanwhile and this goroutine carries on. A feed that has lost its
// last SUB, or whose connection has closed, is not registered: nothing
// would take it off the list again.
func (c *conn) park(f *feed) bool {
	f.running.Store(false)
	c.mu.Lock()
	current := !c.closed && c.feeds[f.stream] == f
	if current {
		c.srv.parked[f.stream].add(f)
	}
	c.mu.Unlock()
	if !current || !f.behind() {
		return true
	}
	// Something came between the last look and the registration: carry
	// on, unless the notifier has started another goroutine for it.
	return !f.running.CompareAndSwap(false, true)
}

// startParked registers a new feed with its stream's notifier, as park
// does, so that it has a goroutine only once its stream has something for
// it: a SUB to a quiet subject costs no goroutine. It must be called with
// c.mu held.
func (c *conn) startParked(f *feed) {
	c.srv.parked[f.stream].add(f)
	if f.behind() && f.running.CompareAndSwap(false, true) {
		c.feedsRunning.Add(1)
		go c.runFeed(f)
	}
}

// startFeed starts a goroutine that delivers f's messages, unless one runs
// or the feed or the connection has ended.
func (c *conn) startFeed(f *feed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.feeds[f.stream] != f || !f.running.CompareAndSwap(false, true) {
		return
	}
	c.feedsRunning.Add(1)
	go c.runFeed(f)
}
