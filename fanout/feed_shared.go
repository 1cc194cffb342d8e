package fanout

// sharedFrames returns the piece of the stream's shared frames (wire.go)
// that m, and the messages after it in its batch, can be sent to the
// connection from, and the feed's SUB they go to: nil unless the feed has
// one SUB only, m goes to it, the messages need no filter or count but
// their subject, and out has room (queueEach waits for it). It must be
// called with c.mu held.
func (c *conn) sharedFrames(f *feed, m *Msg, headers bool) (*wirePiece, soleSub) {
	if f.stream.feeds.Load() < wireMinFeeds || m.dataLen >= wireFrameMax || m.batch.msgs == nil {
		return nil, soleSub{} // not worth it (see wire.go), or m in no stream
	}
	sub, ok := f.soleFor(m)
	switch {
	case !ok, !sub.takes(m):
		return nil, sub // several SUBs, or m not for the SUB
	case sub.cs.max > 0, c.noEcho, len(c.requests) > 0:
		return nil, sub // counted, filtered or watched message by message
	case c.out.full():
		return nil, sub // queueEach waits for room
	}
	w := f.stream.wire.frames(m.batch, wireKey{sid: sub.cs.sid, headers: headers})
	if w == nil || w.noResponders && !c.noResponders {
		return nil, sub
	}
	return w.piece(m.batchIndex()), sub // nil if m's frame is too large to share
}

// queueShared queues m, and the messages after it in p that go to sub,
// from p, the piece of shared frames that holds m's. m is the message the
// feed took last; queueShared takes the rest of the piece, and passes over
// those that do not go to sub. It must be called with c.mu held.
func (c *conn) queueShared(f *feed, p *wirePiece, sub soleSub, m *Msg) {
	i := m.batchIndex()
	var rest []Msg
	if i+1 < p.end() {
		rest = f.sub.peekRun(&m.batch.msgs[i+1], p.end()-i-1)
	}
	f.sub.skip(len(rest))
	if sub.every || sub.literal && sub.cs.subject == p.subject {
		// Every message goes to sub, as m did: the messages after m are
		// newer than the SUB too.
		c.queueRun(p, sub, i, i+1+len(rest))
		return
	}
	// Runs of consecutive messages for sub, each one segment.
	first := i
	for k := range rest {
		if !sub.takes(&rest[k]) {
			f.strays = strayWakes // see queueEach
			c.queueRun(p, sub, first, i+1+k)
			first = i + 2 + k
		}
	}
	c.queueRun(p, sub, first, i+1+len(rest))
}

// queueRun queues the messages of p from index first of their batch to
// end, if any, for sub.
func (c *conn) queueRun(p *wirePiece, sub soleSub, first, end int) {
	if end <= first {
		return
	}
	from, to := p.at(first), p.at(end)
	c.out.appendShared(p, int(from.frame), int(to.frame), end-first, uint64(to.sent-from.sent))
	sub.cs.delivered += uint64(end - first)
}
