package fanout

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout/protocol"
)

// conn is one client connection. Its goroutines:
//
//   - run reads and parses what the client sends and answers it;
//   - write sends what is queued in out, all of it in one write, and PINGs
//     the client;
//   - one pump per subscription (sub.go) encodes messages into out.
//
// Lock order: conn.mu, then nothing. ctx ends when the connection closes;
// the pumps' contexts derive from it.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	log *zap.Logger

	ctx    context.Context
	cancel context.CancelFunc

	// Owned by run.
	parser  protocol.Parser
	verbose bool

	headers  atomic.Bool   // the client handles HMSG
	pingsOut atomic.Int32  // PINGs sent and not answered
	kick     chan struct{} // wakes the writer; capacity 1

	mu     sync.Mutex // guards out, closed, subs
	space  *sync.Cond // signalled when the writer has taken out
	out    outbound   // frames queued for the client
	closed bool
	subs   map[string]*connSub // by sid
	pumps  sync.WaitGroup
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:    s,
		nc:     nc,
		id:     id,
		log:    s.log.With(zap.String("conn", connName(id))),
		ctx:    ctx,
		cancel: cancel,
		parser: protocol.Parser{MaxControlLine: s.cfg.MaxControlLine, MaxPayload: s.cfg.MaxPayload},
		kick:   make(chan struct{}, 1),
		subs:   make(map[string]*connSub),
	}
	c.space = sync.NewCond(&c.mu)
	return c
}

// run serves the connection until it closes, then releases everything.
func (c *conn) run() {
	defer c.srv.forget(c)
	c.queue(func(out []byte) []byte { return protocol.AppendInfo(out, c.srv.info(c)) })

	var writer sync.WaitGroup
	writer.Go(c.write)
	connectTimer := time.AfterFunc(c.srv.cfg.ConnectTimeout, func() {
		c.closeWith(CloseConnectTimeout, protocol.TextAuthTimeout)
	})
	c.read(connectTimer)
	connectTimer.Stop()

	c.closeWith(CloseClient, "")
	writer.Wait()
	c.endSubs()
	c.pumps.Wait()
}

// Consumers send little (CONNECT, SUB, PONG), and an idle connection's
// read buffer is held for as long as it lives: reads start small and the
// buffer grows only while reads fill it.
const (
	minReadBuffer = 512
	maxReadBuffer = 32 << 10
)

// read parses what the client sends until the connection fails or closes.
func (c *conn) read(connectTimer *time.Timer) {
	buf := make([]byte, minReadBuffer)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			perr := c.parser.Parse(buf[:n], func(cmd *protocol.Command) error {
				if cmd.Op == protocol.OpConnect {
					connectTimer.Stop()
				}
				return c.handle(cmd)
			})
			if perr != nil {
				c.protocolError(perr)
				return
			}
			if n == len(buf) && len(buf) < maxReadBuffer {
				buf = make([]byte, 2*len(buf)) // the parser keeps what it needs of the old one
			}
		}
		if err != nil {
			return // the client went away, or closeWith closed the connection
		}
	}
}

// errClose stops parsing once handle has closed the connection.
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
	c.log.Debug("protocol error", zap.Error(err))
	c.closeWith(reason, text)
}

// handle answers one command.
func (c *conn) handle(cmd *protocol.Command) error {
	switch cmd.Op {
	case protocol.OpConnect:
		return c.handleConnect(cmd)
	case protocol.OpPing:
		c.queue(protocol.AppendPong)
	case protocol.OpPong:
		c.pingsOut.Store(0)
	case protocol.OpSub:
		c.subscribe(cmd.Subject, cmd.Queue, cmd.SID)
	case protocol.OpUnsub:
		c.unsubscribe(cmd.SID, cmd.Max)
	case protocol.OpPub, protocol.OpHPub:
		c.queueErr(protocol.PublishViolation(cmd.Subject))
	case protocol.OpErr:
		c.closeWith(CloseClient, "")
		return errClose
	case protocol.OpOK, protocol.OpInfo:
		// Nothing to do, as in nats-server.
	}
	return nil
}

func (c *conn) handleConnect(cmd *protocol.Command) error {
	info, err := protocol.ParseConnect(cmd.Arg)
	if err == nil {
		err = info.Validate()
	}
	if err != nil {
		c.protocolError(err)
		return errClose
	}
	c.verbose = info.Verbose
	c.headers.Store(info.Headers)
	c.log.Debug("client connected", zap.Stringer("connect", info))
	c.ok()
	return nil
}

// ok sends +OK to a client that asked for verbose mode.
func (c *conn) ok() {
	if c.verbose {
		c.queue(protocol.AppendOK)
	}
}

// queueErr sends an -ERR that leaves the connection open.
func (c *conn) queueErr(text string) {
	c.queue(func(out []byte) []byte { return protocol.AppendErr(out, text) })
}

// queue appends a control frame to out, whatever its size, and wakes the
// writer.
func (c *conn) queue(frame func([]byte) []byte) {
	c.mu.Lock()
	if !c.closed {
		c.out.appendFrame(frame)
	}
	c.mu.Unlock()
	c.wake()
}

func (c *conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// write sends what is queued, PINGs the client, and on close sends what is
// left (the -ERR that closed the connection among it) before closing the
// socket.
func (c *conn) write() {
	ping := time.NewTicker(c.srv.cfg.PingInterval)
	defer ping.Stop()
	// Reused between writes: the slice of what was taken, and the backing
	// array of the copy writev consumes (WriteTo empties iov itself).
	var spare, iovs net.Buffers
	for {
		closing := false
		select {
		case <-c.kick:
		case <-c.ctx.Done():
			closing = true
		case <-ping.C:
			if int(c.pingsOut.Add(1)) > c.srv.cfg.MaxPingsOut {
				c.closeWith(CloseStale, protocol.TextStaleConnection)
				continue
			}
			c.queue(protocol.AppendPing)
			continue
		}

		c.mu.Lock()
		taken := c.out.take(spare)
		c.space.Broadcast()
		c.mu.Unlock()
		if len(taken) > 0 {
			iovs = append(iovs[:0], taken...)
			iov := iovs
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteDeadline))
			if _, err := iov.WriteTo(c.nc); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.closeWith(CloseSlowConsumer, "")
				} else {
					c.closeWith(CloseWriteError, "")
				}
				closing = true
			}
		}
		spare = release(taken)
		if closing {
			c.nc.Close()
			return
		}
	}
}

// closeWith closes the connection once: the writer sends what is queued,
// and the -ERR text if there is one, then closes the socket. reason is
// what the close is counted as.
func (c *conn) closeWith(reason, errText string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if errText != "" {
		c.out.appendFrame(func(out []byte) []byte { return protocol.AppendErr(out, errText) })
	}
	c.closed = true
	c.space.Broadcast()
	c.mu.Unlock()
	c.srv.countClose(reason)
	if reason != CloseClient && reason != CloseServerShutdown {
		c.log.Info("closing connection", zap.String("reason", reason))
	}
	c.cancel()
}

// abort closes the socket at once, whatever is queued.
func (c *conn) abort() { c.nc.Close() }
