package fanout

import (
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// What /connz?state=closed shows: the most recent closed connections, kept
// in a ring as nats-server keeps them. A close must cost O(1) and allocate
// (almost) nothing, however many connections churn, and what the ring
// holds must not depend on what clients send, so a record is a fixed-size
// value copied into a slot of a ring made with the Server:
//
//   - it keeps the connection's counters, CONNECT name, lang and version,
//     its number of SUBs and why it closed; not its SUBs themselves
//     (nats-server keeps those too): that would make a close cost, and the
//     ring hold, O(subscriptions) more;
//   - the ring holds closedRingSize records of 208 bytes (64-bit
//     platforms), 208 KiB in all, plus what they share with the closed
//     connections: the CONNECT fields, cut to maxClientField bytes each (a
//     close allocates only to cut one that is longer), and a TCP client's
//     address (about 50 bytes): at most about 450 KiB in all.
//
// The ring is guarded by Server.mu, so that a snapshot sees a connection
// either open or closed, never both.

// closedRingSize is how many closed connections /connz remembers. nats-server
// keeps 10,000; a sidecar's consumers are few, and 1,024 closes still span
// 17 minutes of a consumer reconnecting every second.
const closedRingSize = 1024

// maxClientField is the most of a CONNECT name, lang or version a closed
// connection's record keeps.
const maxClientField = 64

// closeWriteDeadline closes a connection that took no byte for the write
// deadline. It is counted as CloseSlowConsumer; /connz tells the two apart,
// as nats-server does.
const closeWriteDeadline = "slow_consumer_write_deadline"

// closedStates maps the reasons a connection closes for to nats-server's
// names for them (its ClosedState strings), which /connz shows.
var closedStates = map[string]string{
	CloseClient:         "Client Closed",
	CloseSlowConsumer:   "Slow Consumer (Pending Bytes)", // the lag limit: natsfan's max_pending
	closeWriteDeadline:  "Slow Consumer (Write Deadline)",
	CloseStale:          "Stale Connection",
	CloseConnectTimeout: "Authentication Timeout", // nats-server's name for no CONNECT in time
	CloseMaxConnections: "Maximum Connections Exceeded",
	CloseMaxControlLine: "Maximum Control Line Exceeded",
	CloseMaxPayload:     "Maximum Message Payload Exceeded",
	CloseProtocolError:  "Parse Error",
	CloseServerShutdown: "Server Shutdown",
	CloseWriteError:     "Write Error",
}

// closedState returns nats-server's name for reason.
func closedState(reason string) string {
	if s, ok := closedStates[reason]; ok {
		return s
	}
	return "Unknown State" // as nats-server says of a state it has no name for
}

// clientInfo is what a client says of itself in CONNECT.
type clientInfo struct {
	name, lang, version string
}

// closedConn is what /connz keeps of a closed connection.
type closedConn struct {
	cid                                uint64
	start, stop, last                  time.Time
	reason                             string // a Close* constant, or closeWriteDeadline
	remote                             net.Addr
	client                             clientInfo
	subs                               int
	pending                            int // bytes queued and never written
	outMsgs, outBytes, inMsgs, inBytes uint64
}

// closedInfo fills cc with what is kept of c once it has closed and its
// writer has returned, before its subscriptions end.
func (c *conn) closedInfo(cc *closedConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*cc = closedConn{
		cid:      c.id,
		start:    c.start,
		stop:     time.Now(),
		last:     time.Unix(0, c.lastActive.Load()),
		reason:   c.reason,
		remote:   c.nc.RemoteAddr(),
		client:   clientInfo{name: cut(c.client.name), lang: cut(c.client.lang), version: cut(c.client.version)},
		subs:     len(c.subs),
		pending:  c.out.size,
		outMsgs:  c.out.totalMsgs,
		outBytes: c.out.totalBytes,
		inMsgs:   c.inMsgs.Load(),
		inBytes:  c.inBytes.Load(),
	}
}

// cut returns s, or a copy of its first maxClientField bytes (to a UTF-8
// boundary) if it is longer, which does not keep all of s in memory.
func cut(s string) string {
	if len(s) <= maxClientField {
		return s
	}
	n := maxClientField
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

// refused returns what is kept of a connection the server refused before
// serving it.
func (c *conn) refused(reason string) *closedConn {
	return &closedConn{cid: c.id, start: c.start, stop: time.Now(), last: c.start, reason: reason, remote: c.nc.RemoteAddr()}
}

// closedRing holds the last closedRingSize closed connections. It must be
// externally synchronised (Server.mu).
type closedRing struct {
	conns []closedConn // filled up to its capacity; then the oldest is overwritten
	next  int          // the slot of the oldest record, once the ring is full
}

// newClosedRing returns an empty ring with room for every record, so that
// its memory is spent once and up front.
func newClosedRing() closedRing { return closedRing{conns: make([]closedConn, 0, closedRingSize)} }

// add keeps cc, forgetting the oldest record if the ring is full.
func (r *closedRing) add(cc *closedConn) {
	switch {
	case len(r.conns) < cap(r.conns):
		r.conns = append(r.conns, *cc)
	default:
		r.conns[r.next] = *cc
		r.next = (r.next + 1) % len(r.conns)
	}
}

// len returns how many records the ring holds.
func (r *closedRing) len() int { return len(r.conns) }

// appendTo appends the records to out, oldest first.
func (r *closedRing) appendTo(out []closedConn) []closedConn {
	out = append(out, r.conns[r.next:]...)
	return append(out, r.conns[:r.next]...)
}
