package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout"
)

// Defaults for the zero values of Config's fields.
const (
	DefaultPendingMessages = 1_000_000
	DefaultPendingBytes    = 256 << 20
	DefaultMaxBatch        = 256
	DefaultReconnectWait   = 2 * time.Second
	DefaultReconnectBuffer = nats.DefaultReconnectBufSize
)

// startFlushTimeout bounds Start's round trip to the server, as nats.go's
// Flush does.
const startFlushTimeout = 10 * time.Second

var (
	// ErrNotStarted is returned by Ready before Start has succeeded.
	ErrNotStarted = errors.New("ingest: not started")
	// ErrClosed is returned by Ready and Start once Close or Drain has begun.
	ErrClosed = errors.New("ingest: closed")
	// ErrNotConnected is what Ready's error matches (errors.Is) while the
	// connection to upstream is down; nats.go is reconnecting.
	ErrNotConnected = errors.New("ingest: upstream not connected")
)

// Config configures an Ingester. Zero values mean the defaults.
type Config struct {
	// URLs are the upstream servers; each may be a comma-separated list.
	// They may carry credentials: the Ingester logs them redacted.
	URLs []string

	// NATSOptions are applied first, as built by the caller: credentials,
	// TLS, the connection name, the ping interval and the like. The
	// Ingester applies its own after them and overrides the event handlers
	// and the reconnect policy; do not set those here (see the package
	// documentation).
	NATSOptions []nats.Option

	// PendingMessages and PendingBytes are the pending limits of each
	// subscription in nats.go: what it queues for the stream's callback
	// before it drops (and counts) what arrives. Defaults:
	// DefaultPendingMessages and DefaultPendingBytes. A negative value
	// means no limit of that kind.
	PendingMessages int
	PendingBytes    int

	// MaxBatch is the most messages appended to a stream in one
	// Stream.Append. Default: DefaultMaxBatch.
	MaxBatch int

	// ReconnectWait is how long nats.go waits between rounds of reconnect
	// attempts. Default: DefaultReconnectWait.
	ReconnectWait time.Duration

	// ReconnectBuffer is how many bytes of local publishes nats.go holds
	// while the connection is down, to send on reconnect; past it,
	// Publish fails. Default: DefaultReconnectBuffer. A negative value
	// holds nothing: Publish fails at once while disconnected.
	ReconnectBuffer int
}

func (c Config) withDefaults() Config {
	if c.PendingMessages == 0 {
		c.PendingMessages = DefaultPendingMessages
	}
	if c.PendingBytes == 0 {
		c.PendingBytes = DefaultPendingBytes
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.ReconnectBuffer == 0 {
		c.ReconnectBuffer = DefaultReconnectBuffer
	}
	return c
}

// Ingester owns the upstream connection and one subscription per stream,
// and appends what each subscription receives to its stream. Its methods are
// safe for concurrent use. Start it once; stop it with Drain or Close.
//
// Its nats.go event handlers run on nats.go's callback goroutine, one at a
// time; Close waits until the last of them has run. Do not call Close or
// Drain from a nats.go callback.
type Ingester struct {
	cfg  Config
	urls []string // cfg.URLs, redacted, one URL an entry: safe to log
	log  *zap.Logger
	subs []*subscription // one per stream, in the order of the streams

	mu        sync.Mutex    // guards started, stopStart, startDone, nc and closed
	started   bool          // Start has been called
	stopStart func()        // interrupts a Start under way; set with started
	startDone chan struct{} // closed as Start returns, once it has undone what it made if it failed
	nc        *nats.Conn    // set once Start has subscribed every stream
	closed    bool          // Close or Drain has begun

	closeOnce  sync.Once
	closing    atomic.Bool   // set by Close before it closes the connection
	connClosed chan struct{} // closed by the closed handler, the last to run

	disconnects atomic.Uint64
	reconnects  atomic.Uint64
	failures    atomic.Uint64          // failed connection attempts
	downSince   atomic.Int64           // UnixNano of the last disconnect
	lastErr     atomic.Pointer[error]  // the last connection error, until connected again
	url         atomic.Pointer[string] // redacted URL of the server last connected to
	downTotal   atomic.Int64           // nanoseconds disconnected, outages that ended
	// The connection's state and the server's INFO, as the event handlers
	// last saw them (state.go): asking nats.go takes the connection's
	// lock, which a publish holds while it waits for a full socket.
	status atomic.Int32 // a nats.Status
	server atomic.Pointer[fanout.UpstreamInfo]

	interests       atomic.Int64  // upstream subscriptions made for local clients (passthrough.go)
	interestDropped atomic.Uint64 // messages nats.go dropped for them, past the pending limits
	onViolation     atomic.Pointer[func(text string)]
	routerOnce      sync.Once
	interestRouter  atomic.Pointer[router] // delivers what interests receive (passthrough.go)
	reconnLog       throttle               // failed connection attempts
	errLog          throttle               // other asynchronous errors
}

// New returns an Ingester that will feed streams (at least one) from the
// upstream servers in cfg. It does not connect: Start does. log receives
// what happens to the connection and subscriptions, never a line per
// message; nil means no logging.
func New(cfg Config, streams []*fanout.Stream, log *zap.Logger) *Ingester {
	if len(streams) == 0 {
		panic("ingest: New needs at least one stream")
	}
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	cfg.NATSOptions = slices.Clone(cfg.NATSOptions)
	in := &Ingester{
		cfg:        cfg,
		urls:       redactURLs(cfg.URLs),
		log:        log.Named("ingest"),
		connClosed: make(chan struct{}),
		reconnLog:  throttle{every: time.Minute},
		errLog:     throttle{every: 10 * time.Second},
	}
	for _, st := range streams {
		if st == nil {
			panic("ingest: New given a nil stream")
		}
		in.subs = append(in.subs, newSubscription(st, cfg.MaxBatch))
	}
	return in
}

// Start connects to upstream and subscribes every stream's pattern. If no
// upstream server can be reached, it still succeeds: Ready reports it, and
// nats.go keeps trying (see the package documentation). When the connection
// is up, Start returns once the server has the subscriptions (a round trip,
// bounded by ctx), so what is published afterwards is ingested.
//
// Start returns an error only for what cannot fix itself: a malformed URL,
// contradictory nats.go options, a subject nats.go rejects; or if ctx ends
// first, or the Ingester was started or closed before. On error, nothing is
// left running, and the Ingester cannot be started again. Close or Drain
// called while Start is under way interrupts it: Start returns ErrClosed.
func (in *Ingester) Start(ctx context.Context) error {
	in.mu.Lock()
	started, closed := in.started, in.closed
	in.started = true
	if started || closed {
		in.mu.Unlock()
		if closed {
			return ErrClosed
		}
		return errors.New("ingest: Start called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	in.stopStart, in.startDone = cancel, done
	in.mu.Unlock()
	defer close(done)
	defer cancel()

	err := in.start(ctx)
	if err != nil {
		in.mu.Lock()
		closed = in.closed
		in.mu.Unlock()
		if closed {
			return ErrClosed // Close interrupted us: ctx's end was its doing
		}
	}
	return err
}

// start is Start once it is known to be the first call. Whatever it fails
// after connecting, it undoes before it returns.
func (in *Ingester) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	servers, err := checkURLs(in.cfg.URLs)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(servers, append(in.cfg.NATSOptions, in.natsOptions()...)...)
	if err != nil {
		return fmt.Errorf("ingest: cannot connect to upstream: %w", sanitize(err))
	}
	fail := func(err error) error {
		in.closing.Store(true)
		nc.Close()
		for _, s := range in.subs {
			s.stop()
		}
		<-in.connClosed
		return err
	}
	for _, s := range in.subs {
		if err := s.subscribe(nc, in.cfg.PendingMessages, in.cfg.PendingBytes); err != nil {
			return fail(err)
		}
	}
	if nc.Status() == nats.CONNECTED {
		fctx, cancel := context.WithTimeout(ctx, startFlushTimeout)
		err := nc.FlushWithContext(fctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return fail(fmt.Errorf("ingest: start interrupted: %w", ctx.Err()))
		}
		// Any other error is the connection dropping: nats.go resubscribes
		// when it is back, and the handlers have logged it.
	}

	in.mu.Lock()
	if in.closed { // Close or Drain was called while we connected
		in.mu.Unlock()
		return fail(ErrClosed)
	}
	in.noteStatus(nc)
	in.nc = nc
	in.mu.Unlock()

	patterns := make([]string, len(in.subs))
	for i, s := range in.subs {
		patterns[i] = s.pattern
	}
	in.log.Info("ingesting from upstream",
		zap.Strings("urls", in.urls),
		zap.Strings("patterns", patterns),
		zap.Bool("connected", nc.Status() == nats.CONNECTED),
		zap.Int("pending_messages_limit", in.cfg.PendingMessages),
		zap.Int("pending_bytes_limit", in.cfg.PendingBytes),
		zap.Int("max_batch", in.cfg.MaxBatch))
	return nil
}

// natsOptions are the options the Ingester applies after the caller's: its
// reconnect policy and its event handlers.
func (in *Ingester) natsOptions() []nats.Option {
	return []nats.Option{
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(in.cfg.ReconnectWait),
		nats.ReconnectBufSize(in.cfg.ReconnectBuffer),
		// Publish subjects are nats-server's to judge, as for a client
		// connected to it: it accepts more than nats.go's check does.
		nats.SkipSubjectValidation(),
		nats.IgnoreAuthErrorAbort(),
		func(o *nats.Options) error {
			// Close waits for the closed handler: it must run.
			o.NoCallbacksAfterClientClose = false
			return nil
		},
		nats.ConnectHandler(in.onConnect),
		nats.DisconnectErrHandler(in.onDisconnect),
		nats.ReconnectHandler(in.onReconnect),
		nats.ReconnectErrHandler(in.onConnectFailure),
		nats.ClosedHandler(in.onClosed),
		nats.ErrorHandler(in.onError),
		nats.LameDuckModeHandler(in.onLameDuck),
	}
}

// Ready returns nil when the upstream connection is up and every
// subscription is active; otherwise an error that says what is wrong, such
// as "ingest: upstream not connected (reconnecting): …" (matching
// ErrNotConnected) or one line per subscription upstream refused. It is
// meant for a readiness probe, and cheap.
func (in *Ingester) Ready() error {
	in.mu.Lock()
	nc, closed := in.nc, in.closed
	in.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case nc == nil:
		return ErrNotStarted
	}
	if status := in.connStatus(); status != nats.CONNECTED {
		err := fmt.Errorf("%w (%s)", ErrNotConnected, strings.ToLower(status.String()))
		if last := in.lastErr.Load(); last != nil {
			err = fmt.Errorf("%w: %v", err, *last)
		}
		return err
	}
	var errs []error
	for _, s := range in.subs {
		if err := s.ready(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Drain stops ingesting without losing what was received. It unsubscribes
// every subscription in nats.go's drain mode (Subscription.Drain): the
// server is told to stop sending, a round trip makes sure everything it sent
// before has arrived, and the callbacks append all of it to the streams.
// Then Drain closes the connection. If upstream is not connected, there is
// nothing to ask it: Drain appends what nats.go holds already, then closes.
//
// If ctx ends first, Drain closes at once, dropping what nats.go still
// holds, and returns an error wrapping ctx's. After Close, or a second
// time, it returns nil at once.
func (in *Ingester) Drain(ctx context.Context) error {
	in.mu.Lock()
	nc, closed := in.nc, in.closed
	in.closed = true // Ready reports that we are going, and Start will not begin
	in.mu.Unlock()
	if closed || nc == nil {
		in.Close()
		return nil
	}

	err := ctx.Err()
	switch {
	case err != nil:
		// Ended before we began: close at once.
	case in.connStatus() == nats.CONNECTED:
		for _, s := range in.subs {
			// An error means the subscription or the connection is closed
			// already: its done channel is, or is about to be, closed.
			_ = s.sub.Drain()
		}
		err = in.waitDrained(ctx)
	default:
		err = in.waitPendingAppended(ctx)
	}
	in.Close()
	if err != nil {
		return fmt.Errorf("ingest: drain cut short, queued messages dropped: %w", err)
	}
	return nil
}

// waitDrained waits until every drained subscription has appended what it
// received, or until ctx ends. A drained subscription ends once nats.go has
// nothing left pending for it, and a message stays pending until its
// callback has returned; so when it ends, all is appended.
func (in *Ingester) waitDrained(ctx context.Context) error {
	for _, s := range in.subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pendingPoll is how often waitPendingAppended looks at the pending counts,
// as often as nats.go's own Conn.Drain looks at its subscriptions.
const pendingPoll = 10 * time.Millisecond

// waitPendingAppended waits until nats.go holds nothing for any stream, or
// until ctx ends. It is the drain for a connection that is down: nothing is
// arriving, and a drain's round trip to the server would wait for a
// reconnect.
func (in *Ingester) waitPendingAppended(ctx context.Context) error {
	t := time.NewTicker(pendingPoll)
	defer t.Stop()
	for {
		idle := true
		for _, s := range in.subs {
			if n, _, err := s.sub.Pending(); err == nil && n > 0 {
				idle = false
				break
			}
		}
		if idle {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the connection at once; what nats.go still holds for the
// streams is dropped. When it returns, no callback appends to a stream
// again, every handler of the Ingester has run for the last time, and
// nothing the Ingester started runs any more. It is idempotent, and safe
// after Drain and before Start. Called while Start is under way, it makes
// Start return ErrClosed and waits until Start has undone what it did,
// which takes at most one connection attempt (nats.go's Timeout option).
func (in *Ingester) Close() {
	in.mu.Lock()
	in.closed = true
	stopStart, startDone := in.stopStart, in.startDone
	in.mu.Unlock()
	in.closeOnce.Do(func() {
		if stopStart != nil {
			stopStart()
			<-startDone
		}
		in.mu.Lock()
		nc := in.nc
		in.mu.Unlock()
		if nc == nil {
			return // never started, or Start failed and closed what it made
		}
		in.closing.Store(true)
		for _, s := range in.subs {
			s.keepDropped(s.sub)
		}
		nc.Close()
		for _, s := range in.subs {
			s.stop()
		}
		<-in.connClosed
		if r := in.interestRouter.Load(); r != nil {
			<-r.done
		}
		in.log.Info("stopped ingesting from upstream")
	})
}
