package fanout

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
	"github.com/natsfan/natsfan/subjects"
)

// publish answers PUB and HPUB: the message goes upstream, where every
// subscriber gets it, those of this Server included (their SUBs are
// upstream as interests, or the hub ingests the subject). Nothing is
// delivered locally on the side, so each local subscriber gets a
// message once, and a queue group's member anywhere in the cluster gets
// it, as from nats-server.
//
// A subject the publish allow-list does not match is refused with
// nats-server's permissions violation, and so is a message the Upstream
// cannot send or hold for a reconnect. A request (a PUB with a reply
// subject) while upstream is down gets the no-responders status at once,
// as a leaf node cut off from its hub answers a request nobody in it
// serves, rather than a timeout.
//
// A client in pedantic mode that publishes to a subject with a wildcard or
// an empty token is told so, and the message is published all the same, as
// nats-server does.
func (c *conn) publish(cmd *protocol.Command) error {
	c.inMsgs.Add(1)
	c.inBytes.Add(uint64(len(cmd.Payload)))
	if c.opts.Pedantic && !pedanticAccepts(cmd.Subject) {
		if err := c.queueErr(protocol.TextInvalidPublishSubject); err != nil {
			return err
		}
	}
	s := c.srv
	up := s.cfg.Upstream
	if up == nil || !s.mayPublish(cmd.Subject) {
		s.pubDenied.Add(1)
		return c.queueErr(protocol.PublishViolation(cmd.Subject))
	}
	if cmd.Reply != "" && !up.Connected() {
		s.pubFailed.Add(1) // and not in flight: it is answered at once
		c.noRespondersNow(cmd.Reply)
		return c.ok()
	}
	var header nats.Header
	if cmd.HeaderSize > 0 {
		h, err := nats.DecodeHeadersMsg(cmd.Header())
		if err != nil {
			c.srv.log.Debug("cannot read the headers of an HPUB", c.logField(), zap.Error(err))
			c.closeWith(CloseProtocolError, protocol.TextInvalidHeader)
			return errClose
		}
		header = h
	}
	c.mu.Lock()
	c.notePublishLocked(cmd.Subject)
	if cmd.Reply != "" {
		c.requestSentLocked(cmd.Reply)
	}
	if c.noEcho {
		c.expectEchoLocked(cmd.Subject, cmd.Reply, cmd.Data())
	}
	c.mu.Unlock()
	if err := up.Publish(cmd.Subject, cmd.Reply, header, cmd.Data()); err != nil {
		s.pubFailed.Add(1)
		if cmd.Reply != "" {
			c.mu.Lock()
			delete(c.requests, cmd.Reply) // never sent: not in flight
			c.mu.Unlock()
		}
		if s.pubErrLog.allow() {
			c.srv.log.Warn("cannot publish upstream; the client is told its publish was refused", c.logField(),
				zap.String("subject", cmd.Subject), zap.Error(err))
		}
		return c.queueErr(protocol.PublishViolation(cmd.Subject))
	}
	s.published.Add(1)
	s.publishedBytes.Add(uint64(len(cmd.Payload)))
	if cmd.Reply != "" {
		s.requests.Add(1)
	}
	return c.ok()
}

// pedanticAccepts reports whether nats-server lets a client in pedantic
// mode publish to subject without an -ERR: no token of it is empty or a
// wildcard (server/sublist.go, IsValidLiteralSubject, which unlike
// subjects.ValidateSubject does not look at the characters).
func pedanticAccepts(subject string) bool {
	for tok := range strings.SplitSeq(subject, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
	}
	return true
}

// mayPublish reports whether the publish allow-list lets clients publish
// to subject. An empty list allows everything.
func (s *Server) mayPublish(subject string) bool {
	if len(s.cfg.PublishAllow) == 0 {
		return true
	}
	for _, p := range s.cfg.PublishAllow {
		if subjects.Match(p, subject) {
			return true
		}
	}
	return false
}

// maySubscribe reports whether the subscribe allow-list lets clients
// subscribe to pattern: some entry must cover all it matches, as
// nats-server checks a subscription against its permissions. An empty list
// allows everything.
func (s *Server) maySubscribe(pattern string) bool {
	if len(s.cfg.SubscribeAllow) == 0 {
		return true
	}
	for _, p := range s.cfg.SubscribeAllow {
		if subjects.Covers(p, pattern) {
			return true
		}
	}
	return false
}

// noRespondersNow sends the client the status message nats-server sends
// for a request nobody can answer (HMSG with "NATS/1.0 503" on the reply
// subject), on each of its subscriptions that reply matches, if it asked
// for such messages in its CONNECT. Only the reader calls it: like queue,
// it waits for room in out, so a client that floods requests without
// reading its answers stops being read instead of growing its queue.
func (c *conn) noRespondersNow(reply string) {
	m := NewMsg(reply, "", nats.Header{statusField: {noRespondersStatus}}, nil, time.Now())
	c.mu.Lock()
	if c.closed || !c.noResponders {
		c.mu.Unlock()
		return
	}
	var to []*connSub
	for _, cs := range c.subs {
		if subjects.Match(cs.subject, reply) {
			to = append(to, cs)
		}
	}
	var left []*connSub
	for _, cs := range to {
		c.awaitRoomLocked()
		if c.closed {
			break
		}
		if cs.gone {
			continue
		}
		c.out.appendMsg(cs.sid, m, true)
		c.answeredLocked(m.Subject())
		if cs.count() {
			c.removeSubLocked(cs)
			left = append(left, cs)
		}
	}
	c.mu.Unlock()
	c.wake()
	for _, cs := range left {
		c.srv.leave(cs)
	}
}

// noRespondersStatus is the status code of nats-server's answer to a
// request nobody subscribes to.
const noRespondersStatus = "503"

// upstreamFlushTimeout bounds the round trip a PING waits for when the
// client's SUBs made upstream subscriptions: past it the PONG goes anyway.
const upstreamFlushTimeout = 5 * time.Second

// pong answers PING. After SUBs that subscribed upstream it first waits
// until upstream has them, so that the PONG means what it means from
// nats-server: whatever is published from now on reaches the client's
// subscriptions. The first PONG since CONNECT is followed by the INFO that
// names the account (sendAccountInfo).
func (c *conn) pong() error {
	if c.unflushed {
		c.unflushed = false
		if up := c.srv.cfg.Upstream; up.Connected() {
			ctx, cancel := context.WithTimeout(c.ctx, upstreamFlushTimeout)
			_ = up.Flush(ctx) // a failure is an outage: the PONG goes anyway
			cancel()
		}
	}
	if err := c.queue(protocol.AppendPong); err != nil {
		return err
	}
	return c.sendAccountInfo()
}

// logThrottle lets a kind of event be logged at most once an interval, so
// that a failure that repeats with every message costs one line a while.
type logThrottle struct {
	every time.Duration
	next  atomic.Int64 // unix nanoseconds before which nothing is logged
}

func (t *logThrottle) allow() bool {
	now := time.Now().UnixNano()
	next := t.next.Load()
	return now >= next && t.next.CompareAndSwap(next, now+int64(t.every))
}
