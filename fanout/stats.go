package fanout

// Stats is a snapshot of a hub, for metrics and logs.
type Stats struct {
	Streams       []StreamStats
	Subscriptions int    // open in-process subscriptions (the socket Server counts its own: ServerStats)
	Delivered     uint64 // messages returned by Next to in-process subscriptions, ever
}

// StreamStats describes one stream.
type StreamStats struct {
	Pattern       string
	Received      uint64 // messages appended since the hub started
	ReceivedBytes uint64 // their subjects, replies, headers and payloads
	Retained      uint64 // messages in the retention window
	RetainedBytes uint64 // what they cost in memory, as the byte limits count it: their bytes and bookkeeping
	Subscriptions int    // readers of this stream: in-process subscriptions, one per socket connection whose SUBs read it, one per queue group
	MaxLag        uint64 // the furthest any subscription is behind, in messages
	MaxLagBytes   uint64 // and in bytes, as the byte limits count them
	SlowConsumers uint64 // subscriptions cut off for lag
	Skips         uint64 // times a subscription was skipped ahead
	SkippedMsgs   uint64 // messages skipped subscriptions did not see
}

// Stats returns a snapshot of the hub. It costs O(streams + subscriptions).
func (h *Hub) Stats() Stats {
	st := Stats{Streams: make([]StreamStats, len(h.streams))}
	index := make(map[*Stream]int, len(h.streams))
	for i, s := range h.streams {
		index[s] = i
		head := s.buf.Head()
		retained, retainedBytes := s.buf.Window()
		lag := s.buf.LagStats()
		st.Streams[i] = StreamStats{
			Pattern:       s.pattern,
			Received:      head.Seq(),
			ReceivedBytes: s.received.Load(),
			Retained:      retained,
			RetainedBytes: retainedBytes,
			Subscriptions: s.buf.Readers(),
			SlowConsumers: lag.Cut,
			Skips:         lag.Skipped,
			SkippedMsgs:   lag.Missed,
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	st.Delivered = h.delivered
	for sub := range h.subs {
		if !sub.server {
			st.Subscriptions++
			st.Delivered += sub.delivered.Load()
		}
		for _, sr := range sub.readers {
			ss := &st.Streams[index[sr.stream]]
			msgs, bytes := sr.reader.Lag()
			ss.MaxLag, ss.MaxLagBytes = max(ss.MaxLag, msgs), max(ss.MaxLagBytes, bytes)
		}
	}
	return st
}
