package fanout

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/natsfan/natsfan/subjects"
)

// Monitoring of the socket server in nats-server's /connz shape: the same
// JSON field names, sort keys, defaults and errors, so that what reads
// nats-server's /connz reads natsfan's. What only natsfan knows is in
// fields nats-server does not have:
//
//   - lag_messages, lag_bytes: how far the connection is behind, at its
//     furthest-behind reader of the hub (what the lag limit, and
//     natsfan_consumer_lag_max_messages, measure);
//   - readers: each of those readers: one feed per stream the
//     connection's plain SUBs read (stream), and each queue group it is a
//     member of (qgroup and subject; the group's lag is shared by its
//     members);
//   - in subscriptions_list_detail: mode (how the SUB is served: "buffered",
//     from the streams of NATSFAN_SUBJECTS, for every SUB today), streams
//     (which), and the SUB's lag: its feeds' or its queue group's.
//
// A snapshot holds Server.mu only to copy the lists of connections, queue
// groups and closed connections, and each connection's lock only to copy
// that connection.

// SortOpt is a /connz sort key, nats-server's (SortOpt in its monitor.go)
// plus ByLag. ByCid, ByStart, ByUptime and ByReason sort ascending, the
// others descending, as in nats-server.
type SortOpt string

// The sort keys.
const (
	ByCid      SortOpt = "cid"
	ByStart    SortOpt = "start"
	BySubs     SortOpt = "subs"
	ByPending  SortOpt = "pending"
	ByOutMsgs  SortOpt = "msgs_to"
	ByInMsgs   SortOpt = "msgs_from"
	ByOutBytes SortOpt = "bytes_to"
	ByInBytes  SortOpt = "bytes_from"
	ByLast     SortOpt = "last"
	ByIdle     SortOpt = "idle"
	ByUptime   SortOpt = "uptime"
	ByStop     SortOpt = "stop"   // closed connections only
	ByReason   SortOpt = "reason" // closed connections only
	ByRTT      SortOpt = "rtt"    // accepted as nats-server does; natsfan measures no RTT, so it is cid order
	ByLag      SortOpt = "lag"    // natsfan's: lag_messages, then lag_bytes, descending
)

// IsValid reports whether s is a sort key ("" is: it means ByCid).
func (s SortOpt) IsValid() bool {
	switch s {
	case "", ByCid, ByStart, BySubs, ByPending, ByOutMsgs, ByInMsgs, ByOutBytes, ByInBytes,
		ByLast, ByIdle, ByUptime, ByStop, ByReason, ByRTT, ByLag:
		return true
	}
	return false
}

// ConnState selects connections by state.
type ConnState int

// The states, as nats-server names them.
const (
	ConnOpen ConnState = iota
	ConnClosed
	ConnAll
)

// DefaultConnListSize is the default Limit, as in nats-server.
const DefaultConnListSize = 1024

// ConnzOptions are what /connz is asked, as nats-server's ConnzOptions.
type ConnzOptions struct {
	Sort                SortOpt // "" is ByCid
	Subscriptions       bool    // fill subscriptions_list
	SubscriptionsDetail bool    // fill subscriptions_list_detail instead
	Offset              int     // skip this many, after sorting
	Limit               int     // return at most this many; <= 0: DefaultConnListSize
	CID                 uint64  // only this connection (Limit is then 1); 0: all
	State               ConnState
}

// Connz is the answer of /connz, nats-server's Connz.
type Connz struct {
	ID       string      `json:"server_id"`
	Now      time.Time   `json:"now"`
	NumConns int         `json:"num_connections"`
	Total    int         `json:"total"`
	Offset   int         `json:"offset"`
	Limit    int         `json:"limit"`
	Conns    []*ConnInfo `json:"connections"`
}

// ConnInfo is one connection, nats-server's ConnInfo with the fields that
// apply and natsfan's (the package's monitoring note above). IP and Port
// are empty for a Unix socket connection, as nats-server leaves them for a
// connection that is not TCP.
type ConnInfo struct {
	Cid          uint64      `json:"cid"`
	Kind         string      `json:"kind,omitempty"`
	Type         string      `json:"type,omitempty"`
	IP           string      `json:"ip"`
	Port         int         `json:"port"`
	Start        time.Time   `json:"start"`
	LastActivity time.Time   `json:"last_activity"`
	Stop         *time.Time  `json:"stop,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	Uptime       string      `json:"uptime"`
	Idle         string      `json:"idle"`
	Pending      int         `json:"pending_bytes"`
	InMsgs       int64       `json:"in_msgs"`
	OutMsgs      int64       `json:"out_msgs"`
	InBytes      int64       `json:"in_bytes"`
	OutBytes     int64       `json:"out_bytes"`
	NumSubs      uint32      `json:"subscriptions"`
	Name         string      `json:"name,omitempty"`
	Lang         string      `json:"lang,omitempty"`
	Version      string      `json:"version,omitempty"`
	Subs         []string    `json:"subscriptions_list,omitempty"`
	SubsDetail   []SubDetail `json:"subscriptions_list_detail,omitempty"`

	LagMsgs  uint64      `json:"lag_messages"`
	LagBytes uint64      `json:"lag_bytes"`
	Readers  []ReaderLag `json:"readers,omitempty"`
}

// SubDetail is one subscription, nats-server's SubDetail and natsfan's
// fields.
type SubDetail struct {
	Subject string `json:"subject"`
	Queue   string `json:"qgroup,omitempty"`
	Sid     string `json:"sid"`
	Msgs    int64  `json:"msgs"`
	Max     int64  `json:"max,omitempty"`
	Cid     uint64 `json:"cid"`

	Mode      string   `json:"mode"` // ModeBuffered
	Streams   []string `json:"streams,omitempty"`
	LagMsgs   uint64   `json:"lag_messages"`
	LagBytes  uint64   `json:"lag_bytes"`
	InProcess bool     `json:"in_process,omitempty"` // in /subsz: a Hub.Subscribe subscription, which has no cid or sid
}

// ModeBuffered is the mode of a subscription served from the streams of
// the buffered subjects, which every subscription is today.
const ModeBuffered = "buffered"

// ReaderLag is one reader of the hub a connection reads through, and how
// far behind it is.
type ReaderLag struct {
	Stream   string `json:"stream,omitempty"`  // a feed: the stream it reads
	Queue    string `json:"qgroup,omitempty"`  // a queue group the connection is a member of
	Subject  string `json:"subject,omitempty"` // the queue group's subject
	LagMsgs  uint64 `json:"lag_messages"`
	LagBytes uint64 `json:"lag_bytes"`
}

type lag struct{ msgs, bytes uint64 }

func (l lag) more(o lag) bool { return l.msgs > o.msgs || l.msgs == o.msgs && l.bytes > o.bytes }

// Connz returns the server's connections as nats-server's /connz does, or
// nats-server's error for options it refuses.
func (s *Server) Connz(opts ConnzOptions) (*Connz, error) {
	if !opts.Sort.IsValid() {
		return nil, fmt.Errorf("invalid sorting option: %s", opts.Sort)
	}
	if opts.Sort == "" {
		opts.Sort = ByCid
	}
	if opts.Sort == ByStop && opts.State != ConnClosed {
		return nil, fmt.Errorf("sort by stop only valid on closed connections")
	}
	if opts.Sort == ByReason && opts.State != ConnClosed {
		return nil, fmt.Errorf("sort by reason only valid on closed connections")
	}
	opts.Offset = max(opts.Offset, 0)
	if opts.Limit <= 0 {
		opts.Limit = DefaultConnListSize
	}
	if opts.CID > 0 {
		opts.Limit = 1
	}
	cz := &Connz{ID: s.id, Now: time.Now().UTC(), Offset: opts.Offset, Limit: opts.Limit}

	open := opts.State == ConnOpen || opts.State == ConnAll
	closed := opts.State == ConnClosed || opts.State == ConnAll
	var conns []*conn
	var gone []closedConn
	s.mu.Lock()
	if open {
		conns = make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			if opts.CID == 0 || c.id == opts.CID {
				conns = append(conns, c)
			}
		}
		cz.Total += len(s.conns)
	}
	if closed {
		if opts.CID == 0 {
			gone = s.closedConns.appendTo(make([]closedConn, 0, s.closedConns.len()))
		} else if len(conns) == 0 {
			for i := range s.closedConns.conns {
				if cc := &s.closedConns.conns[i]; cc.cid == opts.CID {
					gone = append(gone, *cc)
				}
			}
		}
		cz.Total += s.closedConns.len()
	}
	groups := s.groupsLocked()
	s.mu.Unlock()

	groupLags := make(map[queueKey]lag, len(groups))
	for _, g := range groups {
		m, b := g.sub.Lag()
		groupLags[g.key] = lag{m, b}
	}
	// Sort and page on what every connection has, then list the
	// subscriptions of the page only: a request for one connection's
	// details must not build every connection's.
	infos := make([]*ConnInfo, 0, len(conns)+len(gone))
	live := make(map[*ConnInfo]*conn, len(conns))
	for _, c := range conns {
		ci := c.connInfo(cz.Now, groupLags)
		infos = append(infos, ci)
		live[ci] = c
	}
	for i := range gone {
		infos = append(infos, gone[i].connInfo())
	}
	sortConns(infos, opts.Sort, cz.Now)
	lo := min(opts.Offset, len(infos))
	hi := lo + min(opts.Limit, len(infos)-lo)
	cz.Conns = infos[lo:hi]
	cz.NumConns = len(cz.Conns)
	if opts.Subscriptions || opts.SubscriptionsDetail {
		for _, ci := range cz.Conns {
			if c := live[ci]; c != nil {
				c.listSubs(ci, opts, groupLags)
			}
		}
	}
	return cz, nil
}

// groupsLocked returns the queue groups. s.mu must be held.
func (s *Server) groupsLocked() []*queueGroup {
	groups := make([]*queueGroup, 0, len(s.queues))
	for _, g := range s.queues {
		groups = append(groups, g)
	}
	return groups
}

// connInfo describes c at now, without its subscriptions (listSubs).
// groupLags are the lags of the queue groups.
func (c *conn) connInfo(now time.Time, groupLags map[queueKey]lag) *ConnInfo {
	ip, port := addrOf(c.nc.RemoteAddr())
	ci := &ConnInfo{
		Cid:          c.id,
		Kind:         "Client",
		Type:         "nats",
		IP:           ip,
		Port:         port,
		Start:        c.start,
		LastActivity: time.Unix(0, c.lastActive.Load()),
		InMsgs:       int64(c.inMsgs.Load()),
		InBytes:      int64(c.inBytes.Load()),
	}
	ci.Uptime = uptime(now.Sub(ci.Start))
	ci.Idle = uptime(now.Sub(ci.LastActivity))

	streams := c.srv.hub.streams
	c.mu.Lock()
	defer c.mu.Unlock()
	ci.Pending = c.out.size
	ci.OutMsgs, ci.OutBytes = int64(c.out.totalMsgs), int64(c.out.totalBytes)
	ci.NumSubs = uint32(len(c.subs))
	ci.Name, ci.Lang, ci.Version = c.client.name, c.client.lang, c.client.version

	var furthest lag
	feedLags := c.feedLagsLocked(streams)
	for i, st := range streams {
		if c.feeds[st] == nil {
			continue
		}
		ci.Readers = append(ci.Readers, ReaderLag{Stream: st.pattern, LagMsgs: feedLags[i].msgs, LagBytes: feedLags[i].bytes})
		if feedLags[i].more(furthest) {
			furthest = feedLags[i]
		}
	}
	first := len(ci.Readers)
	var seen map[queueKey]bool
	for _, cs := range c.subs {
		if cs.queue == "" {
			continue
		}
		key := queueKey{cs.subject, cs.queue}
		if seen[key] {
			continue
		}
		if seen == nil {
			seen = make(map[queueKey]bool)
		}
		seen[key] = true
		l := groupLags[key]
		ci.Readers = append(ci.Readers, ReaderLag{Queue: key.queue, Subject: key.subject, LagMsgs: l.msgs, LagBytes: l.bytes})
		if l.more(furthest) {
			furthest = l
		}
	}
	slices.SortFunc(ci.Readers[first:], func(a, b ReaderLag) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Queue, b.Queue))
	})
	ci.LagMsgs, ci.LagBytes = furthest.msgs, furthest.bytes
	return ci
}

// feedLagsLocked returns how far c's feed of each stream is behind, by
// stream index. c.mu must be held.
func (c *conn) feedLagsLocked(streams []*Stream) []lag {
	lags := make([]lag, len(streams))
	for i, st := range streams {
		if f := c.feeds[st]; f != nil {
			m, b := f.lag()
			lags[i] = lag{m, b}
		}
	}
	return lags
}

// listSubs fills in ci's subscriptions, as opts asks: copied under c.mu,
// described and sorted after it, so that the connection waits no longer
// than the copy takes.
func (c *conn) listSubs(ci *ConnInfo, opts ConnzOptions, groupLags map[queueKey]lag) {
	streams := c.srv.hub.streams
	c.mu.Lock()
	feedLags := c.feedLagsLocked(streams)
	subs := make([]connSub, 0, len(c.subs))
	for _, cs := range c.subs {
		subs = append(subs, connSub{conn: c, sid: cs.sid, subject: cs.subject, queue: cs.queue, max: cs.max, delivered: cs.delivered})
	}
	c.mu.Unlock()
	slices.SortFunc(subs, func(a, b connSub) int { return compareSids(a.sid, b.sid) })
	if opts.SubscriptionsDetail {
		ci.SubsDetail = make([]SubDetail, len(subs))
		for i := range subs {
			ci.SubsDetail[i] = subs[i].detail(streams, feedLags, groupLags)
		}
		return
	}
	ci.Subs = make([]string, len(subs))
	for i := range subs {
		ci.Subs[i] = subs[i].subject
	}
}

// detail describes cs, whose connection's feeds are feedLags behind, by
// index of streams. conn.mu must be held.
func (cs *connSub) detail(streams []*Stream, feedLags []lag, groupLags map[queueKey]lag) SubDetail {
	sd := SubDetail{
		Subject: cs.subject,
		Queue:   cs.queue,
		Sid:     cs.sid,
		Msgs:    int64(cs.delivered),
		Max:     int64(cs.max),
		Cid:     cs.conn.id,
		Mode:    ModeBuffered,
	}
	var furthest lag
	for i, st := range streams {
		if !subjects.Overlap(cs.subject, st.pattern) {
			continue
		}
		sd.Streams = append(sd.Streams, st.pattern)
		if cs.queue == "" && feedLags[i].more(furthest) {
			furthest = feedLags[i]
		}
	}
	if cs.queue != "" {
		furthest = groupLags[queueKey{cs.subject, cs.queue}]
	}
	sd.LagMsgs, sd.LagBytes = furthest.msgs, furthest.bytes
	return sd
}

// connInfo describes a closed connection as of its close.
func (cc *closedConn) connInfo() *ConnInfo {
	ip, port := addrOf(cc.remote)
	stop := cc.stop
	return &ConnInfo{
		Cid:          cc.cid,
		Kind:         "Client",
		Type:         "nats",
		IP:           ip,
		Port:         port,
		Start:        cc.start,
		LastActivity: cc.last,
		Stop:         &stop,
		Reason:       closedState(cc.reason),
		Uptime:       uptime(cc.stop.Sub(cc.start)),
		Idle:         uptime(cc.stop.Sub(cc.last)),
		Pending:      cc.pending,
		InMsgs:       int64(cc.inMsgs),
		OutMsgs:      int64(cc.outMsgs),
		InBytes:      int64(cc.inBytes),
		OutBytes:     int64(cc.outBytes),
		NumSubs:      uint32(cc.subs),
		Name:         cc.client.name,
		Lang:         cc.client.lang,
		Version:      cc.client.version,
	}
}

// sortConns sorts infos by key, as nats-server does, ties in cid order.
func sortConns(infos []*ConnInfo, key SortOpt, now time.Time) {
	slices.SortFunc(infos, func(a, b *ConnInfo) int { return cmp.Compare(a.Cid, b.Cid) })
	up := func(c *ConnInfo) time.Duration {
		if c.Stop != nil {
			return c.Stop.Sub(c.Start)
		}
		return now.Sub(c.Start)
	}
	desc := func(f func(*ConnInfo) int64) func(a, b *ConnInfo) int {
		return func(a, b *ConnInfo) int { return cmp.Compare(f(b), f(a)) }
	}
	var by func(a, b *ConnInfo) int
	switch key {
	case BySubs:
		by = desc(func(c *ConnInfo) int64 { return int64(c.NumSubs) })
	case ByPending:
		by = desc(func(c *ConnInfo) int64 { return int64(c.Pending) })
	case ByOutMsgs:
		by = desc(func(c *ConnInfo) int64 { return c.OutMsgs })
	case ByInMsgs:
		by = desc(func(c *ConnInfo) int64 { return c.InMsgs })
	case ByOutBytes:
		by = desc(func(c *ConnInfo) int64 { return c.OutBytes })
	case ByInBytes:
		by = desc(func(c *ConnInfo) int64 { return c.InBytes })
	case ByLast:
		by = desc(func(c *ConnInfo) int64 { return c.LastActivity.UnixNano() })
	case ByIdle:
		by = desc(func(c *ConnInfo) int64 { return int64(now.Sub(c.LastActivity)) })
	case ByUptime:
		by = func(a, b *ConnInfo) int { return cmp.Compare(up(a), up(b)) }
	case ByStop:
		by = desc(func(c *ConnInfo) int64 { return c.Stop.UnixNano() })
	case ByReason:
		by = func(a, b *ConnInfo) int { return cmp.Compare(a.Reason, b.Reason) }
	case ByLag:
		by = func(a, b *ConnInfo) int {
			return cmp.Or(cmp.Compare(b.LagMsgs, a.LagMsgs), cmp.Compare(b.LagBytes, a.LagBytes))
		}
	default: // ByCid, ByStart, ByRTT: cid order
		return
	}
	slices.SortStableFunc(infos, by)
}

// compareSids orders subscription ids as numbers when they are (nats.go's
// are), and as strings otherwise.
func compareSids(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}

// addrOf returns the IP and port of a TCP address, and nothing for another
// (a Unix socket's).
func addrOf(a net.Addr) (string, int) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String(), tcp.Port
	}
	return "", 0
}

// uptime renders d as nats-server does (its myUptime): 1y2d3h4m5s, with
// the leading zero units left out.
func uptime(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	years := days / 365
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}
