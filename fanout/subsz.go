package fanout

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/natsfan/natsfan/subjects"
)

// Monitoring of subscriptions in nats-server's /subsz shape. nats-server
// describes its Sublist; natsfan has no Sublist, but the same questions
// have answers: how many subscriptions there are (num_subscriptions: the
// SUBs of socket connections and the in-process subscriptions), which
// (subscriptions_list, with subs=1, filtered by test as nats-server filters
// it), how many were made and removed (num_inserts, num_removes: SUBs of
// socket connections), and the widest fan-out (max_fanout: the most hub
// readers of one stream; each of its messages is handed to every one).
// natsfan caches no matches: num_cache is 0. The fields of nats-server's
// that have no meaning here (num_matches, cache_hit_rate, avg_fanout) are
// left out.
//
// What only natsfan knows is per buffered stream, in streams: what it
// retains, who reads it and who is furthest behind.

// DefaultSubListSize is the default SubszOptions.Limit, as in nats-server.
const DefaultSubListSize = 1024

// SubszOptions are what /subsz is asked, as nats-server's SubszOptions.
type SubszOptions struct {
	Subscriptions bool   // fill subscriptions_list
	Offset        int    // skip this many of the list
	Limit         int    // list at most this many; <= 0: DefaultSubListSize
	Test          string // list only the subscriptions a message on this literal subject would reach
}

// Subsz is the answer of /subsz: nats-server's Subsz with the fields that
// apply, and Streams.
type Subsz struct {
	ID         string        `json:"server_id"`
	Now        time.Time     `json:"now"`
	NumSubs    uint32        `json:"num_subscriptions"`
	NumCache   uint32        `json:"num_cache"`
	NumInserts uint64        `json:"num_inserts"`
	NumRemoves uint64        `json:"num_removes"`
	MaxFanout  uint32        `json:"max_fanout"`
	Total      int           `json:"total"`
	Offset     int           `json:"offset"`
	Limit      int           `json:"limit"`
	Subs       []SubDetail   `json:"subscriptions_list,omitempty"`
	Streams    []StreamState `json:"streams"`
}

// StreamState is one buffered stream: one upstream subscription, its
// retention window and its readers.
type StreamState struct {
	Subject        string    `json:"subject"`                  // the configured pattern, which natsfan subscribes to upstream
	Mode           string    `json:"mode"`                     // ModeBuffered
	SocketSubs     int       `json:"socket_subscriptions"`     // SUBs of socket connections whose subject overlaps the stream
	InProcessSubs  int       `json:"in_process_subscriptions"` // Hub.Subscribe subscriptions reading the stream
	Readers        int       `json:"readers"`                  // hub readers: one per connection and queue group reading it, one per in-process subscription
	Messages       uint64    `json:"messages"`                 // retained
	Bytes          uint64    `json:"bytes"`                    // what the retained cost in memory, as the byte limits count it
	FirstSeq       uint64    `json:"first_seq"`                // of the oldest retained message; last_seq+1 when none is
	LastSeq        uint64    `json:"last_seq"`                 // of the newest message: how many were received
	ReceivedBytes  uint64    `json:"received_bytes"`           // subjects, replies, headers and payloads of every message received
	SlowConsumers  uint64    `json:"slow_consumers"`           // readers cut off for lag
	FurthestBehind *Furthest `json:"furthest_behind"`          // null when no reader is behind
}

// Furthest is the reader of a stream furthest behind: a socket
// connection's feed (cid, name), a queue group (qgroup, subject) or an
// in-process subscription (in_process, subject).
type Furthest struct {
	Cid       uint64 `json:"cid,omitempty"`
	Name      string `json:"name,omitempty"`
	Queue     string `json:"qgroup,omitempty"`
	Subject   string `json:"subject,omitempty"`
	InProcess bool   `json:"in_process,omitempty"`
	LagMsgs   uint64 `json:"lag_messages"`
	LagBytes  uint64 `json:"lag_bytes"`
}

// consider makes who the stream's furthest-behind reader if it is further
// behind than the one found so far.
func (st *StreamState) consider(l lag, who Furthest) {
	if l.msgs == 0 && l.bytes == 0 {
		return
	}
	if f := st.FurthestBehind; f != nil && !l.more(lag{f.LagMsgs, f.LagBytes}) {
		return
	}
	who.LagMsgs, who.LagBytes = l.msgs, l.bytes
	st.FurthestBehind = &who
}

// Subsz returns the server's and its hub's subscriptions as nats-server's
// /subsz does, or nats-server's error for a test subject that is not
// literal.
func (s *Server) Subsz(opts SubszOptions) (*Subsz, error) {
	if opts.Test != "" && subjects.ValidateSubject(opts.Test) != nil {
		return nil, fmt.Errorf("invalid test subject, must be valid publish subject: %s", opts.Test)
	}
	opts.Offset = max(opts.Offset, 0)
	if opts.Limit <= 0 {
		opts.Limit = DefaultSubListSize
	}
	streams := s.hub.streams
	sz := &Subsz{
		ID:      s.id,
		Now:     time.Now().UTC(),
		Offset:  opts.Offset,
		Limit:   opts.Limit,
		Streams: make([]StreamState, len(streams)),
	}
	for i, st := range streams {
		retained, retainedBytes := st.buf.Window()
		head := st.buf.Head()
		sz.Streams[i] = StreamState{
			Subject:       st.pattern,
			Mode:          ModeBuffered,
			Readers:       st.buf.Readers(),
			Messages:      retained,
			Bytes:         retainedBytes,
			LastSeq:       head.Seq(),
			FirstSeq:      head.Seq() - min(retained, head.Seq()) + 1,
			ReceivedBytes: st.received.Load(),
			SlowConsumers: st.buf.LagStats().Cut,
		}
		sz.MaxFanout = max(sz.MaxFanout, uint32(sz.Streams[i].Readers))
	}

	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	groups := s.groupsLocked()
	s.mu.Unlock()
	sz.NumInserts, sz.NumRemoves = s.subsAdded.Load(), s.subsGone.Load()

	var details []SubDetail
	listed := func(subject string) bool {
		return opts.Subscriptions && (opts.Test == "" || subjects.Match(subject, opts.Test))
	}
	groupLags := make(map[queueKey]lag, len(groups))
	for _, g := range groups {
		var total lag
		for _, sr := range g.sub.readers {
			m, b := sr.reader.Lag()
			total = lag{total.msgs + m, total.bytes + b}
			i := slices.Index(streams, sr.stream)
			sz.Streams[i].consider(lag{m, b}, Furthest{Queue: g.key.queue, Subject: g.key.subject})
		}
		groupLags[g.key] = total
	}
	numSubs := 0
	for _, c := range conns {
		feedLags := make([]lag, len(streams))
		c.mu.Lock()
		for i, st := range streams {
			if f := c.feeds[st]; f != nil {
				m, b := f.lag()
				feedLags[i] = lag{m, b}
				sz.Streams[i].consider(feedLags[i], Furthest{Cid: c.id, Name: c.client.name})
			}
		}
		for _, cs := range c.subs {
			numSubs++
			for i, st := range streams {
				if subjects.Overlap(cs.subject, st.pattern) {
					sz.Streams[i].SocketSubs++
				}
			}
			if listed(cs.subject) {
				details = append(details, cs.detail(streams, feedLags, groupLags))
			}
		}
		c.mu.Unlock()
	}

	s.hub.mu.Lock()
	for sub := range s.hub.subs {
		if sub.server {
			continue
		}
		numSubs++
		var total lag
		for _, sr := range sub.readers {
			i := slices.Index(streams, sr.stream)
			m, b := sr.reader.Lag()
			total = lag{total.msgs + m, total.bytes + b}
			sz.Streams[i].InProcessSubs++
			sz.Streams[i].consider(lag{m, b}, Furthest{InProcess: true, Subject: sub.pattern})
		}
		if listed(sub.pattern) {
			sd := SubDetail{Subject: sub.pattern, Msgs: int64(sub.delivered.Load()), Mode: ModeBuffered,
				LagMsgs: total.msgs, LagBytes: total.bytes, InProcess: true}
			for _, sr := range sub.readers {
				sd.Streams = append(sd.Streams, sr.stream.pattern)
			}
			details = append(details, sd)
		}
	}
	s.hub.mu.Unlock()
	sz.NumSubs = uint32(numSubs)

	if opts.Subscriptions {
		slices.SortFunc(details, func(a, b SubDetail) int {
			switch {
			case a.InProcess != b.InProcess:
				return cmp.Compare(boolInt(a.InProcess), boolInt(b.InProcess))
			case a.InProcess:
				return cmp.Compare(a.Subject, b.Subject)
			}
			return cmp.Or(cmp.Compare(a.Cid, b.Cid), compareSids(a.Sid, b.Sid))
		})
		sz.Total = len(details)
		lo := min(opts.Offset, len(details))
		hi := lo + min(opts.Limit, len(details)-lo)
		sz.Subs = details[lo:hi]
	}
	return sz, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
