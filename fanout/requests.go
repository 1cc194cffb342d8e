package fanout

import "time"

// A request is a publish with a reply subject; it is in flight until a
// message arrives for the requester on that subject (the reply, or the
// no-responders status), as a requester sees it. Each connection keeps the
// reply subjects of its requests in flight, at most maxRequests of them: a
// request that gets no answer (its requester gave up, or the responder
// never answered) is forgotten after requestTTL, and past maxRequests the
// oldest make way. They are for the requests_in_flight gauge only, and
// cost a map lookup per delivery to a connection that has some.
type requestsInFlight map[string]int64 // reply subject → unix nanoseconds sent

const (
	maxRequests = 1024
	requestTTL  = time.Minute
)

// sent records a request with reply subject reply. c.mu must be held.
func (c *conn) requestSentLocked(reply string) {
	now := time.Now().UnixNano()
	if c.requests == nil {
		c.requests = make(requestsInFlight)
	}
	if len(c.requests) >= maxRequests {
		c.requests.expire(now)
	}
	c.requests[reply] = now
}

// answeredLocked records that a message arrived on subject, which answers
// a request in flight if it is its reply subject. c.mu must be held.
func (c *conn) answeredLocked(subject string) {
	if len(c.requests) > 0 {
		delete(c.requests, subject)
	}
}

// expire forgets the requests older than requestTTL, or else the oldest
// half, to make room.
func (r requestsInFlight) expire(now int64) {
	oldest := now
	for reply, at := range r {
		if now-at > int64(requestTTL) {
			delete(r, reply)
		} else {
			oldest = min(oldest, at)
		}
	}
	if len(r) < maxRequests {
		return
	}
	middle := oldest + (now-oldest)/2
	for reply, at := range r {
		if at <= middle {
			delete(r, reply)
		}
	}
}

// inFlight returns how many requests are in flight now, the lapsed ones
// not counted.
func (r requestsInFlight) inFlight(now int64) int {
	n := 0
	for _, at := range r {
		if now-at <= int64(requestTTL) {
			n++
		}
	}
	return n
}

// requestsInFlight returns how many requests the server's clients have in
// flight now.
func (s *Server) requestsInFlight() int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	now, n := time.Now().UnixNano(), 0
	for _, c := range conns {
		c.mu.Lock()
		n += c.requests.inFlight(now)
		c.mu.Unlock()
	}
	return n
}
