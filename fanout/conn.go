package fanout

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// conn is one client connection. Its goroutines:
//
//   - read reads and parses what the client sends and answers it, then
//     releases the connection once it closes;
//   - write sends what is queued in out, all of it in one write; it runs
//     only while there is something to send (wake starts it), so that an
//     idle connection does not keep its stack;
//   - one per stream the client's plain subscriptions read (feed.go), which
//     routes that stream's messages to them and encodes them into out; it
//     too runs only while there is something to deliver (notify.go).
//
// A timer PINGs the client.
//
// Queue groups (queue_group.go) put their members' messages into out from
// their own goroutine, and interests (interest.go) from the Upstream's.
//
// Lock order: Server.mu, then queueGroup.mu or interest.mu, then conn.mu. ctx ends when
// the connection closes.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64

	ctx    context.Context
	cancel context.CancelFunc

	// Owned by the goroutine that reads (read), which a new one takes over
	// from now and then.
	parser       protocol.Parser
	opts         protocol.ConnectOptions // what the client's CONNECTs set over nats-server's defaults
	connected    bool                    // a CONNECT has come
	firstPong    bool                    // the PONG to the first PING since CONNECT has gone (sendAccountInfo)
	unflushed    bool                    // a SUB subscribed upstream since the last PONG (publish.go)
	sawActivity  bool                    // the read being parsed had a command that counts as activity
	connectTimer *time.Timer             // closes the connection unless CONNECT comes first; nil once it has

	headers    atomic.Bool   // the client handles HMSG
	asyncInfo  atomic.Bool   // the client may be sent INFO at any time (sendAccountInfo)
	pingsOut   atomic.Int32  // PINGs sent and not answered
	pinger     *time.Timer   // PINGs the client every PingInterval
	writing    atomic.Bool   // a writer runs (write.go)
	kick       chan struct{} // tells the writer that runs there is more; capacity 1
	writerDone chan struct{} // closed by the writer that closed the socket

	// For monitoring (connz.go): start never changes; the rest are counted
	// outside mu by the reader and the writer (lastActive, once per write).
	start      time.Time
	lastActive atomic.Int64  // unix nanoseconds of the last CONNECT, SUB, UNSUB, PUB or delivery
	inMsgs     atomic.Uint64 // PUBs received (and refused, as nats-server counts them)
	inBytes    atomic.Uint64

	mu           sync.Mutex    // guards everything below
	room         chan struct{} // made by one who waits for room in out; closed when the writer takes out, or on close
	out          outbound      // frames queued for the client
	closed       bool
	subs         map[string]*connSub // by sid
	feeds        map[*Stream]*feed   // one per stream the plain subscriptions read
	waiters      []*queueGroup       // groups waiting for room in out
	client       clientInfo          // from CONNECT, for monitoring
	noResponders bool                // the client asked for no-responders status messages
	noEcho       bool                // the client asked not to receive its own messages
	echoes       echoFilter          // its own messages on their way back, when noEcho (echo.go)
	pubs         [recentPubs]string  // the subjects it published to last (violation.go)
	pubsNext     int
	requests     requestsInFlight // by reply subject (requests.go)
	reason       string           // why it closed: a Close* constant, or closeWriteDeadline

	feedsRunning sync.WaitGroup
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:        s,
		nc:         nc,
		id:         id,
		start:      time.Now(),
		ctx:        ctx,
		cancel:     cancel,
		parser:     protocol.Parser{MaxControlLine: s.cfg.MaxControlLine, MaxPayload: s.cfg.MaxPayload, NoHeaders: true},
		opts:       protocol.DefaultConnectOptions(),
		kick:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
		subs:       make(map[string]*connSub),
		feeds:      make(map[*Stream]*feed),
	}
	c.parser.MaxPayload = s.upstreamInfo().MaxPayload
	c.lastActive.Store(c.start.UnixNano())
	return c
}

// run serves the connection: it starts the connection's timers and reads
// what the client sends.
func (c *conn) run() {
	c.pinger = time.AfterFunc(c.srv.cfg.PingInterval, c.ping)
	c.connectTimer = time.AfterFunc(c.srv.cfg.ConnectTimeout, func() {
		c.closeWith(CloseConnectTimeout, protocol.TextAuthTimeout)
	})
	c.read(make([]byte, minReadBuffer))
}

// Consumers send little (CONNECT, SUB, PONG), and an idle connection's
// read buffer is held for as long as it lives: reads start small and the
// buffer grows only while reads fill it.
const (
	minReadBuffer = 512
	maxReadBuffer = 32 << 10
)

// read parses what the client sends into buf until the connection fails or
// closes, then releases the connection.
//
// A goroutine blocked in Read keeps the stack it grew, and the runtime
// shrinks a stack only to four times what is in use: a reader that handled
// a CONNECT, SUB, UNSUB or PUB, which grow it to 4 KiB, would hold 4 KiB
// for as long as its client stays idle, most of an idle consumer's or
// publisher's cost. So once the client has sent nothing of those for
// quietAfter, read goes on in a new goroutine, which blocks on the
// smallest stack (2 KiB), and lets the old one go. A read deadline tells
// it the client went quiet; a client that stays busy starts no goroutine.
func (c *conn) read(buf []byte) {
	var armed time.Time // when the deadline was last set; zero: none is
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			perr := c.parser.Parse(buf[:n], c.handle)
			if c.sawActivity { // once a read, not once a command: time.Now costs
				c.sawActivity = false
				now := c.active()
				if now.Sub(armed) > quietAfter/2 { // at most twice per quietAfter
					_ = c.nc.SetReadDeadline(now.Add(quietAfter))
					armed = now
				}
			}
			if perr != nil {
				c.protocolError(perr)
				break
			}
			if n == len(buf) && len(buf) < maxReadBuffer {
				buf = make([]byte, 2*len(buf)) // the parser keeps what it needs of the old one
			}
		}
		if err == nil {
			continue
		}
		if !armed.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) {
			_ = c.nc.SetReadDeadline(time.Time{})
			go c.read(buf) // quiet: on a new stack, with no deadline
			return
		}
		break // the client went away, or closeWith closed the connection
	}
	c.release()
}

// sendAccountInfo follows the PONG to the first PING since CONNECT with
// the INFO nats-server sends a protocol 1 client then (server/client.go,
// processPing): the server's INFO again, marked connect_info, naming the
// account the client is bound to, which through natsfan is the account of
// its upstream connection. nats.go's RemoteAccount reads it. From then on
// the client takes INFO at any time, as nats-server's async INFO asks
// (server/route.go, sendAsyncInfoToClients).
func (c *conn) sendAccountInfo() error {
	if !c.connected || c.firstPong {
		return nil
	}
	c.firstPong = true
	if c.opts.Protocol < 1 {
		return nil
	}
	c.asyncInfo.Store(true)
	// Without "ldm", even in lame duck mode: nats-server sets it only in
	// the INFO it sends when lame duck mode starts (server/server.go,
	// sendLDMToClients).
	info := c.srv.info(c, false)
	up := c.srv.upstreamInfo()
	info.ConnectInfo, info.RemoteAccount, info.IsSystemAccount = true, up.Account, up.SystemAccount
	return c.queue(func(out []byte) []byte { return protocol.AppendInfo(out, info) })
}

// quietAfter is how long a client sends no command that counts as activity
// before its reader moves to a new stack (read).
const quietAfter = 100 * time.Millisecond

// release closes the connection, waits for its writer and feeds to end,
// and gives back everything it held.
func (c *conn) release() {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	c.closeWith(CloseClient, "")
	<-c.writerDone
	c.pinger.Stop()
	var closed closedConn
	c.closedInfo(&closed)
	c.endSubs()
	c.feedsRunning.Wait()
	c.srv.forget(c, &closed)
}

// errClose stops parsing once the connection is closing.
var errClose = errors.New("fanout: connection closing")

// protocolError closes the connection for input nats-server would close it
// for, with its -ERR text when it sends one.
func (c *conn) protocolError(err error) {
	if errors.Is(err, errClose) {
		return
	}
	reason := CloseProtocolError
	switch {
	case errors.Is(err, protocol.ErrMaxControlLine):
		reason = CloseMaxControlLine
	case errors.Is(err, protocol.ErrMaxPayload):
		reason = CloseMaxPayload
	}
	text := ""
	var perr *protocol.ProtocolError
	if errors.As(err, &perr) {
		text = perr.Text
	}
	c.srv.log.Debug("protocol error", c.logField(), zap.Error(err))
	c.closeWith(reason, text)
}

// handle answers one command. It returns errClose once the connection is
// closing, which stops the parser.
func (c *conn) handle(cmd *protocol.Command) error {
	switch cmd.Op {
	case protocol.OpConnect, protocol.OpSub, protocol.OpUnsub, protocol.OpPub, protocol.OpHPub:
		c.sawActivity = true // what nats-server counts as activity (PINGs are not); read watches it to move the reader once the client is quiet
	}
	switch cmd.Op {
	case protocol.OpConnect:
		return c.handleConnect(cmd)
	case protocol.OpPing:
		return c.pong()
	case protocol.OpPong:
		c.pingsOut.Store(0)
	case protocol.OpSub:
		return c.subscribe(cmd.Subject, cmd.Queue, cmd.SID)
	case protocol.OpUnsub:
		c.unsubscribe(cmd.SID, cmd.Max)
		return c.ok()
	case protocol.OpPub, protocol.OpHPub:
		return c.publish(cmd)
	case protocol.OpErr:
		c.closeWith(CloseClient, "")
		return errClose
	case protocol.OpOK, protocol.OpInfo:
		// Nothing to do, as in nats-server.
	}
	return nil
}

func (c *conn) handleConnect(cmd *protocol.Command) error {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	info, err := c.opts.Parse(cmd.Arg)
	if err == nil {
		err = info.Validate()
	}
	if err != nil {
		c.protocolError(err)
		return errClose
	}
	c.opts = info.ConnectOptions
	c.connected = true
	c.headers.Store(info.Headers)
	c.parser.NoHeaders = !info.Headers
	c.mu.Lock()
	c.client = clientInfo{name: info.Name, lang: info.Lang, version: info.Version}
	c.noResponders = info.NoResponders
	c.noEcho = !info.Echo
	c.mu.Unlock()
	c.srv.log.Debug("client connected", c.logField(), zap.Stringer("connect", info))
	return c.ok()
}

// ok sends +OK to a client that asked for verbose mode.
func (c *conn) ok() error {
	if c.opts.Verbose {
		return c.queue(protocol.AppendOK)
	}
	return nil
}

// queueErr sends an -ERR that leaves the connection open.
func (c *conn) queueErr(text string) error {
	return c.queue(func(out []byte) []byte { return protocol.AppendErr(out, text) })
}

// queue appends a frame that answers the client (PONG, +OK, -ERR, INFO) to
// out and wakes the writer. Only the reader calls it: while out is full it
// waits for the writer, and so stops reading, as the client would if it
// were the one not keeping up; a client that sends without reading what it
// is answered cannot make natsfan hold more than the connection's limit.
// It returns errClose once the connection is closing.
func (c *conn) queue(frame func([]byte) []byte) error {
	c.mu.Lock()
	c.awaitRoomLocked()
	if c.closed {
		c.mu.Unlock()
		return errClose
	}
	c.out.appendFrame(frame)
	c.mu.Unlock()
	c.wake()
	return nil
}

// awaitRoomLocked waits until out has room or the connection has closed,
// waking the writer meanwhile; only the reader waits so. c.mu is held on
// entry and on return.
func (c *conn) awaitRoomLocked() {
	for c.out.full() && !c.closed {
		room := c.roomLocked()
		c.mu.Unlock()
		c.wake()
		<-room
		c.mu.Lock()
	}
}

// roomLocked returns a channel that is closed once the writer has taken
// what is queued in out, or the connection has closed. c.mu must be held.
func (c *conn) roomLocked() <-chan struct{} {
	if c.room == nil {
		c.room = make(chan struct{})
	}
	return c.room
}

// madeRoomLocked wakes whoever waits for room. c.mu must be held.
func (c *conn) madeRoomLocked() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// send writes iov to the client. The write deadline bounds the time the
// client takes no byte at all, not the whole write: a client that reads,
// however slowly, is not stuck (a flight can be 512 KiB, which a busy
// reader may well take longer than the deadline to drain). The write goes
// on in windows of half the deadline; after one that times out, the client
// has made progress if the write got further, or if the socket holds less
// for it than after the window before (unsent: the kernel wakes a blocked
// writer only once much of a socket's buffer has drained). Only a write
// that blocks asks the kernel. It returns how many bytes were written.
func (c *conn) send(iov *net.Buffers) (int64, error) {
	deadline := c.srv.cfg.WriteDeadline
	var written int64
	progress := time.Now()
	held := -1 // what the socket held for the client after the last window; -1: not known
	for {
		_ = c.nc.SetWriteDeadline(time.Now().Add(deadline / 2))
		n, err := iov.WriteTo(c.nc)
		written += n
		var ne net.Error
		if err == nil || len(*iov) == 0 || !errors.As(err, &ne) || !ne.Timeout() {
			return written, err
		}
		now := unsent(c.nc)
		if n > 0 || held >= 0 && now >= 0 && now < held+int(n) {
			progress = time.Now()
		}
		held = now
		if time.Since(progress) >= deadline {
			return written, err // the client took nothing for the whole deadline
		}
	}
}

// closeWith closes the connection once. For an orderly close the writer
// sends what is queued, and the -ERR text if there is one, then closes the
// socket; a slow consumer is cut off at once, as nats-server does, without
// an -ERR (which nats.go would take for a reason not to reconnect). reason
// is what the close is counted as, and what /connz shows (closed.go).
func (c *conn) closeWith(reason, errText string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.reason = reason
	if errText != "" {
		c.out.appendFrame(func(out []byte) []byte { return protocol.AppendErr(out, errText) })
	}
	c.closed = true
	c.madeRoomLocked()
	waiters := c.waiters
	c.waiters = nil
	c.mu.Unlock()
	for _, g := range waiters {
		g.wake() // this member is gone: the group tries the others
	}
	counted := reason
	if reason == closeWriteDeadline {
		counted = CloseSlowConsumer
	}
	c.srv.countClose(counted)
	if counted == CloseSlowConsumer {
		c.abort() // ends a write in progress at once
	}
	if reason != CloseClient && reason != CloseServerShutdown {
		c.srv.log.Info("closing connection", c.logField(), zap.String("reason", reason))
	}
	c.cancel()
	c.wake() // the writer sends what is left and closes the socket
}

// lameDuck tells the client that the server is going away (INFO with
// "ldm":true), as nats-server does before it closes its clients, so that
// they reconnect. Like nats-server, it tells only a client that takes INFO
// at any time (asyncInfo): not one of protocol 0, nor one that has not
// sent a PING since its CONNECT. Unlike queue it does not wait for room:
// Shutdown calls it.
func (c *conn) lameDuck() {
	c.mu.Lock()
	if !c.closed && c.asyncInfo.Load() {
		c.out.appendFrame(func(out []byte) []byte { return protocol.AppendInfo(out, c.srv.info(c, true)) })
	}
	c.mu.Unlock()
	c.wake()
}

// undelivered returns how many messages are queued for the client and not
// yet taken by the writer, and how far its feeds are behind.
func (c *conn) undelivered() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := uint64(c.out.messages())
	for _, f := range c.feeds {
		lag, _ := f.lag()
		n += lag
	}
	return n
}

// logField names the connection in a log line. Lines are few (never one
// per message), so it is made for each rather than kept in a logger of the
// connection's own, which would cost every connection about 1 KiB.
func (c *conn) logField() zap.Field { return zap.String("conn", connName(c.id)) }

// active records activity now, for /connz's last_activity and idle, and
// returns the time it recorded.
func (c *conn) active() time.Time {
	now := time.Now()
	c.lastActive.Store(now.UnixNano())
	return now
}

// abort closes the socket at once, whatever is queued.
func (c *conn) abort() { c.nc.Close() }
