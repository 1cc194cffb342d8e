package fanout

import (
	"regexp"
	"slices"
	"strconv"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// Upstream checks natsfan's own permissions, and answers a publish or a
// subscription they do not allow with a permissions violation, sent to
// natsfan's connection. nats-server would have sent it to the client that
// published or subscribed, which is what relayViolation does: a
// subscription's refusal goes to the clients of the interest it was made
// for, a publish's to the clients that published to that subject lately
// (each connection remembers its last recentPubs subjects). The text is
// nats-server's, unchanged, so the clients' libraries read it as they
// would from nats-server.
func (s *Server) relayViolation(text string) {
	m := violationRe.FindStringSubmatch(text)
	if m == nil {
		return
	}
	subject, err := strconv.Unquote(m[2])
	if err != nil {
		return
	}
	var to []*conn
	switch m[1] {
	case "Subscription":
		queue := ""
		if m[3] != "" {
			queue, _ = strconv.Unquote(m[3])
		}
		s.mu.Lock()
		in := s.interests[queueKey{subject, queue}]
		s.mu.Unlock()
		if in == nil {
			return
		}
		in.mu.Lock()
		for _, cs := range in.members {
			to = append(to, cs.conn)
		}
		in.mu.Unlock()
	case "Publish":
		s.mu.Lock()
		for c := range s.conns {
			to = append(to, c)
		}
		s.mu.Unlock()
		to = slices.DeleteFunc(to, func(c *conn) bool { return !c.publishedLately(subject) })
	}
	for _, c := range to {
		c.sendErr(text)
	}
}

// violationRe reads nats-server's permissions violation texts:
//
//	Permissions Violation for Publish to "orders.new"
//	Permissions Violation for Subscription to "orders.>" using queue "workers"
var violationRe = regexp.MustCompile(`^Permissions Violation for (Publish|Subscription) to ("(?:[^"\\]|\\.)*")(?: using queue ("(?:[^"\\]|\\.)*"))?`)

// recentPubs is how many of the subjects it published last a connection
// remembers, to be told when upstream refuses one of them.
const recentPubs = 8

// notePublishLocked records that the client published to subject. c.mu
// must be held.
func (c *conn) notePublishLocked(subject string) {
	if c.pubs[c.pubsNext] == subject {
		return
	}
	for _, p := range c.pubs {
		if p == subject {
			return
		}
	}
	c.pubs[c.pubsNext] = subject
	c.pubsNext = (c.pubsNext + 1) % recentPubs
}

// publishedLately reports whether subject is among the last subjects the
// client published to.
func (c *conn) publishedLately(subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pubs {
		if p == subject {
			return true
		}
	}
	return false
}

// sendErr sends the client an -ERR that leaves the connection open, from
// a goroutine other than its reader: it does not wait for room, and sends
// nothing to a connection whose outbound queue is full.
func (c *conn) sendErr(text string) {
	c.mu.Lock()
	if c.closed || c.out.full() {
		c.mu.Unlock()
		return
	}
	c.out.appendFrame(func(out []byte) []byte { return protocol.AppendErr(out, text) })
	c.mu.Unlock()
	c.wake()
}
