package fanout

import (
	"context"
	"errors"
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
)

// ServerConfig sets the limits of a Server. A zero field takes the default
// given with it.
type ServerConfig struct {
	Name             string        // server_name in INFO; "natsfan"
	Version          string        // version in INFO; "dev"
	MaxConnections   int           // connections at once; 10,000
	MaxSubscriptions int           // subscriptions per connection; 10,000
	MaxControlLine   int           // longest control line a client may send; 4,096
	MaxPayload       int           // largest PUB a client may send, advertised in INFO; 1 MiB
	ConnectTimeout   time.Duration // time a client has to send CONNECT; 2s
	PingInterval     time.Duration // time between the server's PINGs; 30s
	MaxPingsOut      int           // unanswered PINGs before the connection is stale; 2
	WriteDeadline    time.Duration // longest a write to a client may take; 10s
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
		c.Version = "dev"
	}
	def(&c.MaxConnections, 10_000)
	def(&c.MaxSubscriptions, 10_000)
	def(&c.MaxControlLine, protocol.DefaultMaxControlLine)
	def(&c.MaxPayload, protocol.DefaultMaxPayload)
	def(&c.MaxPingsOut, 2)
	defDur(&c.ConnectTimeout, 2*time.Second)
	defDur(&c.PingInterval, 30*time.Second)
	defDur(&c.WriteDeadline, 10*time.Second)
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

// maxOutbound is how much memory the frames queued for one client may hold
// (outbound.held: whole chunks, however full) before its subscriptions wait
// for the writer. Past it, messages stay in the hub's buffer, where the lag
// limit applies. A connection holds at most twice this (plus a frame each):
// what is queued, and what the writer is sending. The benchmark program delivered as fast with 256 KiB as with
// 1 MiB, and faster at 4 KiB messages and N=200.
const maxOutbound = 256 << 10

var closeReasons = [...]string{
	CloseClient, CloseSlowConsumer, CloseStale, CloseConnectTimeout, CloseMaxConnections,
	CloseMaxControlLine, CloseMaxPayload, CloseProtocolError, CloseServerShutdown, CloseWriteError,
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("fanout: server closed")

// Server serves the hub's messages to local clients over the NATS client
// protocol, so that any NATS client library can consume: it speaks INFO,
// CONNECT, PING/PONG, SUB (with queue groups), UNSUB (with a maximum) and
// delivers MSG or HMSG. Clients cannot publish: PUB and HPUB are answered
// with the permissions violation nats-server would send. A subscription to
// a subject the hub does not ingest is answered the same way.
//
// Each connection has a goroutine that reads and parses what the client
// sends, one that writes, and one per subscription that reads the hub and
// encodes messages into the connection's outbound buffer; the writer sends
// everything queued in one write, so a client that is behind gets many
// frames per syscall and one that keeps up gets each message at once.
type Server struct {
	hub *Hub
	cfg ServerConfig
	log *zap.Logger
	id  string

	mu        sync.Mutex // guards listeners, conns, queues, closing
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	queues    map[queueKey]*queueGroup
	closing   bool
	conned    sync.WaitGroup // every connection's goroutines

	nextID   atomic.Uint64
	accepted atomic.Uint64
	closed   [len(closeReasons)]atomic.Uint64
}

// NewServer returns a Server for hub. Serve starts it on a listener.
func NewServer(hub *Hub, cfg ServerConfig, log *zap.Logger) *Server {
	cfg.setDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{
		hub:       hub,
		cfg:       cfg,
		log:       log,
		id:        nuid.Next(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		queues:    make(map[queueKey]*queueGroup),
	}
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
				time.Sleep(backoff) // back off from a temporary accept failure
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
		s.mu.Unlock()
		s.countClose(CloseServerShutdown)
		nc.Close()
		return
	case len(s.conns) >= s.cfg.MaxConnections:
		s.mu.Unlock()
		s.countClose(CloseMaxConnections)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(protocol.AppendErr(nil, protocol.TextMaxConnections))
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.conned.Add(1)
	s.mu.Unlock()
	go c.run()
}

// forget removes a connection that has ended.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
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

// Shutdown stops accepting, then closes every connection once it has
// written what is queued for it, and waits for them until ctx ends; then
// it closes the rest at once. Call it after the hub's Drain, so that
// subscriptions have queued everything the hub held.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	for _, c := range conns {
		c.closeWith(CloseServerShutdown, "")
	}
	done := make(chan struct{})
	go func() {
		s.conned.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.abort()
		}
		<-done
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection at once.
func (s *Server) Close() {
	for _, c := range s.stop() {
		c.closeWith(CloseServerShutdown, "")
		c.abort()
	}
	s.conned.Wait()
}

// stop closes the listeners and returns the open connections.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// info is the INFO a new connection gets.
func (s *Server) info(c *conn) *protocol.ServerInfo {
	host, port := "", 0
	if addr, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		host, port = addr.IP.String(), addr.Port
	}
	return &protocol.ServerInfo{
		ID:         s.id,
		Name:       s.cfg.Name,
		Version:    s.cfg.Version,
		Proto:      1,
		GoVersion:  runtime.Version(),
		Host:       host,
		Port:       port,
		Headers:    true,
		MaxPayload: int32(s.cfg.MaxPayload),
		ClientID:   c.id,
	}
}

// ServerStats is a snapshot of a Server, for metrics.
type ServerStats struct {
	Connections int               // open now
	Accepted    uint64            // accepted since the server started
	Closed      map[string]uint64 // connections closed, by reason (the Close* constants)
}

// Stats returns a snapshot of the server.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	st := ServerStats{Connections: n, Accepted: s.accepted.Load(), Closed: make(map[string]uint64, len(closeReasons))}
	for i, r := range closeReasons {
		st.Closed[r] = s.closed[i].Load()
	}
	return st
}

// Config returns the server's configuration, defaults filled in.
func (s *Server) Config() ServerConfig { return s.cfg }

// connName is how logs name a connection.
func connName(id uint64) string { return "cid:" + strconv.FormatUint(id, 10) }
