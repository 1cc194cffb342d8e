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
func (c *conn) queueShared(f *feed, p *wirePiece, sub soleSub, m *Msg, headers bool) {
	msgs := m.batch.msgs
	i := m.batchIndex()
	var rest []Msg
	if i+1 < p.end() {
		rest = f.sub.peekRun(&msgs[i+1], p.end()-i-1)
	}
	// Runs of consecutive messages for sub, each one segment: all of it,
	// unless the SUB is narrower than the stream.
	first, n, sent := i, 1, m.sentBytes(headers)
	for k := range rest {
		if next := &rest[k]; sub.takes(next) {
			n++
			sent += next.sentBytes(headers)
			continue
		}
		if n > 0 {
			c.out.appendShared(p, p.offset(first), p.offset(first+n), n, sent)
			sub.cs.delivered += uint64(n)
		}
		first, n, sent = i+2+k, 0, 0
	}
	if n > 0 {
		c.out.appendShared(p, p.offset(first), p.offset(first+n), n, sent)
		sub.cs.delivered += uint64(n)
	}
	f.sub.skip(len(rest))
}
