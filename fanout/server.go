package fanout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
	"github.com/natsfan/natsfan/subjects"
)

// ServerConfig sets the limits of a Server. A zero field takes the default
// given with it.
type ServerConfig struct {
	Name             string        // server_name in INFO; "natsfan"
	Version          string        // version in INFO, x.y.z as clients expect; "0.0.0"
	MaxConnections   int           // connections at once; 10,000
	MaxSubscriptions int           // subscriptions per connection; 10,000
	MaxSubsTotal     int           // subscriptions of all connections together; 100,000
	MaxQueueGroups   int           // distinct queue groups (subject and queue name) at once; 1,000
	MaxControlLine   int           // longest control line a client may send; 4,096
	MaxPayload       int           // largest PUB a client may send, advertised in INFO; 0: the upstream's max_payload (1 MiB without an Upstream, or before it first connects)
	MaxPending       int           // bytes queued for a client past which a message received on interest closes it as a slow consumer; 64 MiB
	ConnectTimeout   time.Duration // time a client has to send CONNECT; 2s
	PingInterval     time.Duration // time between the server's PINGs; 30s
	MaxPingsOut      int           // unanswered PINGs before the connection is stale; 2
	WriteDeadline    time.Duration // longest a write to a client may take; 10s
	IdleAfter        time.Duration // how long a connection's writer and feeds wait for more before they give their goroutines up; 1s

	// Upstream, when set, carries what the hub does not buffer: clients'
	// publishes and requests, and their subscriptions to other subjects
	// (interest.go, publish.go). Without it, a Server only serves the
	// hub's streams and refuses PUB.
	Upstream Upstream
	// PublishAllow and SubscribeAllow are the subject patterns clients may
	// publish to and subscribe to; empty means everything. Anything else
	// is refused with nats-server's permissions violation.
	PublishAllow   []string
	SubscribeAllow []string
	// InboxPrefix starts the subjects of clients' inboxes, which are
	// served on interest even when a stream covers them (interest.go);
	// "_INBOX.", the prefix of nats.go, nats.js and the nats CLI.
	InboxPrefix string
}

func (c *ServerConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Name == "" {
		c.Name = "natsfan"
	}
	if c.Version == "" {
		c.Version = "0.0.0"
	}
	if c.InboxPrefix == "" {
		c.InboxPrefix = "_INBOX."
	}
	def(&c.MaxConnections, 10_000)
	def(&c.MaxSubscriptions, 10_000)
	def(&c.MaxSubsTotal, 100_000)
	def(&c.MaxQueueGroups, 1_000)
	def(&c.MaxControlLine, protocol.DefaultMaxControlLine)
	def(&c.MaxPending, 64<<20)
	def(&c.MaxPingsOut, 2)
	defDur(&c.ConnectTimeout, 2*time.Second)
	defDur(&c.PingInterval, 30*time.Second)
	defDur(&c.WriteDeadline, 10*time.Second)
	defDur(&c.IdleAfter, time.Second)
}

// Close reasons, as counted in ServerStats.Closed.
const (
	CloseClient         = "client_closed"
	CloseSlowConsumer   = "slow_consumer"
	CloseStale          = "stale_connection"
	CloseConnectTimeout = "connect_timeout"
	CloseMaxConnections = "max_connections"
	CloseMaxControlLine = "max_control_line"
	CloseMaxPayload     = "max_payload"
	CloseProtocolError  = "protocol_error"
	CloseServerShutdown = "server_shutdown"
	CloseWriteError     = "write_error"
)

var closeReasons = [...]string{
	CloseClient, CloseSlowConsumer, CloseStale, CloseConnectTimeout, CloseMaxConnections,
	CloseMaxControlLine, CloseMaxPayload, CloseProtocolError, CloseServerShutdown, CloseWriteError,
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("fanout: server closed")

// Server serves local clients over the NATS client protocol, so that any
// NATS client library connects to it as to nats-server: it speaks INFO,
// CONNECT, PING/PONG, SUB (with queue groups), UNSUB (with a maximum),
// PUB and HPUB, and delivers MSG or HMSG. A SUB to a subject the hub
// buffers reads the hub; with an Upstream, a SUB to any other subject
// subscribes upstream on interest (interest.go), and publishes and
// requests go upstream (publish.go). Without one, PUB and SUBs outside the
// hub are answered with the permissions violation nats-server would send.
//
// Each connection has a goroutine that reads and parses what the client
// sends, one that writes, and one per stream its subscriptions read (a
// feed), which reads the hub and encodes messages into the connection's
// outbound queue; the writer sends everything queued in one write, so a
// client that is behind gets many frames per syscall and one that keeps up
// gets each message at once. Each queue group has one goroutine that
// hands every message to one member.
type Server struct {
	hub *Hub
	cfg ServerConfig
	log *zap.Logger
	id  string

	mu            sync.Mutex // guards listeners, conns, queues, interests, closedConns, closing, lameDuck
	listeners     map[net.Listener]struct{}
	conns         map[*conn]struct{}
	queues        map[queueKey]*queueGroup
	interests     map[queueKey]*interest // upstream subscriptions made for clients (interest.go)
	closedConns   closedRing             // the most recent closes, for /connz (closed.go)
	closing       bool
	lameDuck      bool
	stopped       chan struct{}  // closed when the server stops accepting
	conned        sync.WaitGroup // every connection's goroutines
	groupsRunning sync.WaitGroup // every queue group's goroutine

	routers        map[*Stream]*router // per stream, which wakes the feeds a message is for (route.go); never changes
	routersStopped sync.Once           // stopRouters

	subs      atomic.Int64  // subscriptions of all connections
	subsAdded atomic.Uint64 // SUBs ever accepted, and removed (UNSUB, or the connection closed)
	subsGone  atomic.Uint64
	delivered atomic.Uint64 // messages written to clients' sockets

	published      atomic.Uint64 // PUBs sent upstream, and their headers' and payloads' bytes
	publishedBytes atomic.Uint64
	requests       atomic.Uint64 // of them, with a reply subject
	pubDenied      atomic.Uint64 // PUBs refused: no Upstream, or not in the publish allow-list
	pubFailed      atomic.Uint64 // PUBs the Upstream could not send or hold, and requests while it was down
	pubErrLog      logThrottle   // publishes upstream refused
	nextID         atomic.Uint64
	accepted       atomic.Uint64
	closed         [len(closeReasons)]atomic.Uint64
}

// NewServer returns a Server for hub. Serve starts it on a listener. It
// starts a goroutine per stream of the hub, which ends when the Server has
// shut down or closed, or the hub has closed.
func NewServer(hub *Hub, cfg ServerConfig, log *zap.Logger) *Server {
	cfg.setDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		hub:       hub,
		cfg:       cfg,
		log:       log,
		id:        nuid.Next(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		queues:    make(map[queueKey]*queueGroup),
		interests: make(map[queueKey]*interest),
		stopped:   make(chan struct{}),
	}
	s.closedConns = newClosedRing()
	s.pubErrLog.every = 10 * time.Second
	s.startRouters()
	if cfg.Upstream != nil {
		cfg.Upstream.OnViolation(s.relayViolation)
	}
	return s
}

// Serve accepts connections on ln until Shutdown or Close, then returns
// ErrServerClosed. It may be called for several listeners at once (the Unix
// socket and a loopback TCP address). Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("cannot accept a connection; retrying", zap.Error(err), zap.Duration("in", backoff))
				select { // back off from a temporary accept failure
				case <-time.After(backoff):
				case <-s.stopped:
				}
				continue
			}
			return err
		}
		backoff = 0
		s.accepted.Add(1)
		s.start(nc)
	}
}

// start registers a new connection and starts its goroutines, or refuses
// it when the server is at its connection limit or shutting down.
func (s *Server) start(nc net.Conn) {
	c := newConn(s, nc, s.nextID.Add(1))
	s.mu.Lock()
	switch {
	case s.closing:
		s.closedConns.add(c.refused(CloseServerShutdown))
		s.mu.Unlock()
		s.countClose(CloseServerShutdown)
		nc.Close()
		return
	case len(s.conns) >= s.cfg.MaxConnections:
		s.closedConns.add(c.refused(CloseMaxConnections))
		s.mu.Unlock()
		s.countClose(CloseMaxConnections)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(protocol.AppendErr(nil, protocol.TextMaxConnections))
		nc.Close()
		return
	}
	// INFO goes first, before LameDuck can find the connection and queue
	// INFO with ldm: nats.go ignores lame duck mode in the INFO it connects
	// with.
	c.queue(func(out []byte) []byte { return protocol.AppendInfo(out, s.info(c, false)) })
	s.conns[c] = struct{}{}
	s.conned.Add(1)
	s.mu.Unlock()
	go c.run()
}

// forget removes a connection that has ended, and keeps what closed says
// of it for /connz.
func (s *Server) forget(c *conn, closed *closedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.closedConns.add(closed)
	s.mu.Unlock()
	s.conned.Done()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) countClose(reason string) {
	for i, r := range closeReasons {
		if r == reason {
			s.closed[i].Add(1)
			return
		}
	}
}

// LameDuck starts a shutdown as nats-server's lame duck mode does: the
// server stops accepting connections and tells its clients, with an INFO
// whose "ldm" is true, that it is going away, so that they get ready to
// reconnect: those that take INFO at any time, as nats-server tells them
// (conn.lameDuck). Connections stay open and keep receiving; Shutdown closes
// them. It is idempotent, and Shutdown calls it if it was not called.
func (s *Server) LameDuck() {
	conns := s.stop()
	s.mu.Lock()
	first := !s.lameDuck
	s.lameDuck = true
	s.mu.Unlock()
	if !first {
		return
	}
	for _, c := range conns {
		c.lameDuck()
	}
}

// Shutdown enters lame duck mode (LameDuck), then closes every connection
// once it has written what is queued for it, and waits for them until ctx
// ends; then it closes the rest at once, and returns a *ShutdownError that
// says how many connections and messages it cut short. Call it after the
// hub's Drain, so that subscriptions have queued everything the hub held.
func (s *Server) Shutdown(ctx context.Context) error {
	s.LameDuck()
	conns := s.stop()
	for _, c := range conns {
		c.closeWith(CloseServerShutdown, "")
	}
	done := make(chan struct{})
	go func() {
		s.conned.Wait()
		s.groupsRunning.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stopRouters()
		return nil
	case <-ctx.Done():
	}
	cut := &ShutdownError{Err: ctx.Err()}
	for _, c := range conns {
		if n := c.undelivered(); n > 0 {
			cut.Connections++
			cut.Messages += n
		}
		c.abort()
	}
	s.stopGroups()
	<-done
	s.stopRouters()
	return cut
}

// ShutdownError is what Shutdown returns when its context ended before
// every connection had written what it was sent.
type ShutdownError struct {
	Connections int    // connections closed with messages not yet written
	Messages    uint64 // messages they had queued or not yet read from the hub
	Err         error  // the context's error
}

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("fanout: %d connections closed with %d messages undelivered: %v", e.Connections, e.Messages, e.Err)
}

func (e *ShutdownError) Unwrap() error { return e.Err }

// Close stops accepting and closes every connection at once.
func (s *Server) Close() {
	for _, c := range s.stop() {
		c.closeWith(CloseServerShutdown, "")
		c.abort()
	}
	s.conned.Wait()
	s.stopGroups()
	s.groupsRunning.Wait()
	s.stopRouters()
}

// stopGroups stops every queue group, whatever its members.
func (s *Server) stopGroups() {
	s.mu.Lock()
	groups := make([]*queueGroup, 0, len(s.queues))
	for _, g := range s.queues {
		groups = append(groups, g)
	}
	s.mu.Unlock()
	for _, g := range groups {
		g.stop()
	}
}

// stop closes the listeners and returns the open connections.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.stopped)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// streamsFor returns the streams whose messages a subscription to subject
// may receive.
func (s *Server) streamsFor(subject string) []*Stream {
	var streams []*Stream
	for _, st := range s.hub.streams {
		if subjects.Overlap(subject, st.pattern) {
			streams = append(streams, st)
		}
	}
	return streams
}

// reserveSub counts a new subscription against MaxSubsTotal, and reports
// false, counting nothing, when the server is at it.
func (s *Server) reserveSub() bool {
	if s.subs.Add(1) > int64(s.cfg.MaxSubsTotal) {
		s.subs.Add(-1)
		return false
	}
	s.subsAdded.Add(1)
	return true
}

func (s *Server) releaseSub() {
	s.subs.Add(-1)
	s.subsGone.Add(1)
}

// info is the INFO a connection gets: on accept, and with lameDuck set when
// the server is shutting down. Like nats-server's, it tells a TCP client
// the IP it connects from; a client of the Unix socket has none.
func (s *Server) info(c *conn, lameDuck bool) *protocol.ServerInfo {
	host, port, clientIP := "", 0, ""
	if addr, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		host, port = addr.IP.String(), addr.Port
	}
	if addr, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		clientIP = addr.IP.String()
	}
	up := s.upstreamInfo()
	return &protocol.ServerInfo{
		ID:           s.id,
		Name:         s.cfg.Name,
		Version:      up.Version,
		Proto:        1,
		GoVersion:    runtime.Version(),
		Host:         host,
		Port:         port,
		Headers:      true,
		MaxPayload:   int32(c.parser.MaxPayload),
		JetStream:    up.JetStream,
		ClientID:     c.id,
		ClientIP:     clientIP,
		LameDuckMode: lameDuck,
		JSAPILevel:   up.JSAPILevel,
	}
}

// upstreamInfo returns what to advertise in INFO of the upstream server:
// its version and JetStream, since clients judge by them what the server
// they talk to can do, and its max_payload, capped by
// ServerConfig.MaxPayload; the configured ones, and no JetStream, while
// upstream has not been reached.
func (s *Server) upstreamInfo() UpstreamInfo {
	var up UpstreamInfo
	if s.cfg.Upstream != nil {
		up = s.cfg.Upstream.ServerInfo()
	}
	up.Version = cmp.Or(up.Version, s.cfg.Version)
	switch {
	case up.MaxPayload > 0 && s.cfg.MaxPayload > 0:
		up.MaxPayload = min(s.cfg.MaxPayload, up.MaxPayload)
	case up.MaxPayload == 0:
		up.MaxPayload = cmp.Or(s.cfg.MaxPayload, protocol.DefaultMaxPayload)
	}
	return up
}

// ServerStats is a snapshot of a Server, for metrics.
type ServerStats struct {
	Connections      int               // open now
	Subscriptions    int               // SUBs of every connection, open now
	Delivered        uint64            // messages written to clients' sockets
	Interests        int               // upstream subscriptions held for clients' SUBs outside the hub
	Published        uint64            // PUBs sent upstream
	PublishedBytes   uint64            // their headers' and payloads' bytes
	Requests         uint64            // of them, with a reply subject
	RequestsInFlight int               // requests sent and not answered yet (a message on their reply subject), for at most a minute
	PubDenied        uint64            // PUBs refused by the publish allow-list (all of them without an Upstream)
	PubFailed        uint64            // PUBs refused because the Upstream could not send or hold them, and requests answered with no responders while it was down
	MaxPayload       int               // the max_payload advertised now
	Accepted         uint64            // accepted since the server started
	Closed           map[string]uint64 // connections closed, by reason (the Close* constants)
}

// Stats returns a snapshot of the server.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	st := ServerStats{
		Connections:      n,
		Subscriptions:    int(s.subs.Load()),
		Delivered:        s.delivered.Load(),
		Interests:        s.interestsOpen(),
		Published:        s.published.Load(),
		PublishedBytes:   s.publishedBytes.Load(),
		Requests:         s.requests.Load(),
		RequestsInFlight: s.requestsInFlight(),
		PubDenied:        s.pubDenied.Load(),
		PubFailed:        s.pubFailed.Load(),
		Accepted:         s.accepted.Load(),
		Closed:           make(map[string]uint64, len(closeReasons)),
	}
	for i, r := range closeReasons {
		st.Closed[r] = s.closed[i].Load()
	}
	st.MaxPayload = s.upstreamInfo().MaxPayload
	return st
}

// Config returns the server's configuration, defaults filled in.
func (s *Server) Config() ServerConfig { return s.cfg }

// connName is how logs name a connection.
func connName(id uint64) string { return "cid:" + strconv.FormatUint(id, 10) }
