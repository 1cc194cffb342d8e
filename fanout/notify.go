package fanout

// A feed's goroutine runs only while the feed is busy (runFeed): most
// consumers are idle most of the time, and a goroutine parked in Next for
// each would hold a stack of 4 KiB or more. A feed that has caught up with
// its stream waits for more on its own for ServerConfig.IdleAfter, so that
// a consumer that receives now and then pays no extra hand-off; then it
// parks, and the stream's router (route.go), which routes every message to
// the feeds that want it, starts it again when a message for it comes.
//
// running is set while a goroutine runs the feed, and only one that sets it
// (compare-and-swap from false) runs. A feed unsets running, or sets
// awaitsRouter, before it looks for more one last time, and the router
// looks at both after the stream has grown: so a message appended after
// that last look finds the feed parked or waiting for a token, and the
// router starts it or hands it one.

// startRouters starts a router for each of the hub's streams (route.go).
// They run until the Server or the hub closes.
func (s *Server) startRouters() {
	s.routers = make(map[*Stream]*router, len(s.hub.streams))
	for _, st := range s.hub.streams {
		r := newRouter(s.hub.lag)
		s.routers[st] = r
		st.addRouter(r)
		go r.run(st)
	}
}

// stopRouters ends the Server's routers, once its connections and queue
// groups have ended and no feed is left to route to: the streams hand them
// nothing more, and their goroutines return. A hub outlives the Servers
// started on it, so a closed Server's routers would otherwise cost every
// append for as long as the hub runs.
func (s *Server) stopRouters() {
	s.routersStopped.Do(func() {
		for st, r := range s.routers {
			st.removeRouter(r)
			r.end()
		}
	})
}

// park gives up f's goroutine, f having caught up with what its router
// routed to it, and reports whether the goroutine may stop: true unless
// more came meanwhile and this goroutine carries on. The router starts the
// feed again when a message for it comes (poke).
func (c *conn) park(f *feed) bool {
	f.skipAhead()
	f.running.Store(false)
	if !f.hasMore() {
		return true
	}
	// Something came between the last look and now, which the router may
	// have routed before running was unset: carry on, unless the router
	// has started another goroutine for it.
	return !f.running.CompareAndSwap(false, true)
}

// hasMore reports whether the feed has something to read: messages its
// router routed to it, or the end of its subscription or of its stream.
// It may be called from any goroutine.
func (f *feed) hasMore() bool { return f.last.Load() > f.sub.readSeq() || f.over() }

// over reports whether the feed's stream or subscription has ended: what
// the feed reads next says how.
func (f *feed) over() bool {
	if f.stream.buf.Ended() {
		return true
	}
	select {
	case <-f.sub.stopped():
		return true
	default:
		return false
	}
}

// poke wakes f for a message its router routed to it: it hands the feed's
// goroutine a token if it waits for one, and starts a goroutine if the
// feed has parked. A feed that runs otherwise reads the message anyway.
func (c *conn) poke(f *feed) {
	if !f.handToken() && !f.running.Load() {
		c.startFeed(f)
	}
}

// handToken hands f's goroutine a token if it waits for one, and reports
// whether it does.
func (f *feed) handToken() bool {
	if !f.awaitsRouter.Load() {
		return false
	}
	select {
	case f.poked <- struct{}{}:
	default: // it has one already
	}
	return true
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
