package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/buffer"
	"github.com/natsfan/natsfan/fanout"
	"github.com/natsfan/natsfan/ingest"
)

// runSidecar runs natsfan with a valid configuration until ctx ends (the
// first SIGTERM or SIGINT) or something fails that natsfan cannot recover
// from, then shuts down in this order:
//
//  1. /readyz answers 503 at once, so Kubernetes stops counting on the pod,
//     and the socket enters lame duck mode, as nats-server does: it takes no
//     new connection and sends INFO with "ldm":true to every client that
//     takes INFO at any time (protocol 1, past its first PING);
//  2. the upstream subscriptions are drained: what nats.go has received is
//     buffered, then the connection closes;
//  3. consumers read what is buffered, until NATSFAN_SHUTDOWN_TIMEOUT,
//     less a fifth of it (at most a second) kept for the next step, runs
//     out; then their connections close, once what is queued for them is
//     written (or the timeout has run out), and the socket file is
//     removed; what the timeout cut short is logged, with counts;
//  4. the HTTP servers and, in embedded mode, the NATS server stop.
func runSidecar(ctx context.Context, cfg *Config, log *zap.Logger, level zap.AtomicLevel) error {
	urls := cfg.NATSURL
	if cfg.Embedded() {
		srv, url, err := startEmbedded(cfg.EmbeddedPort, log)
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		urls = []string{url}
	}

	hub, err := fanout.NewHub(cfg.Subjects,
		fanout.WithRetention(buffer.Retention{
			MaxMessages: uint64(cfg.RetentionMessages),
			MaxBytes:    uint64(cfg.RetentionBytes),
			MaxAge:      cfg.RetentionAge,
		}),
		fanout.WithLagLimit(consumerLag(cfg)),
		fanout.WithLogger(log.Named("fanout")))
	if err != nil {
		return err
	}
	defer hub.Close()

	opts, err := natsOptions(cfg)
	if err != nil {
		return err
	}
	in := ingest.New(ingest.Config{
		URLs:            urls,
		NATSOptions:     opts,
		PendingMessages: cfg.IngestPendingMessages,
		PendingBytes:    int(cfg.IngestPendingBytes),
		MaxBatch:        cfg.IngestMaxBatch,
		ReconnectWait:   cfg.NATSReconnectWait,
		ReconnectBuffer: reconnectBuffer(cfg),
	}, hub.Streams(), log)
	if err := in.Start(ctx); err != nil {
		if ctx.Err() != nil {
			log.Info("shutdown requested during start-up")
			return nil
		}
		return err
	}
	defer in.Close()

	sock := fanout.NewServer(hub, fanout.ServerConfig{
		Name:             cfg.NATSName,
		Version:          infoVersion(version),
		MaxConnections:   cfg.SocketMaxConnections,
		MaxSubscriptions: cfg.SocketMaxSubscriptions,
		MaxSubsTotal:     cfg.SocketMaxSubsTotal,
		MaxQueueGroups:   cfg.SocketMaxQueueGroups,
		MaxControlLine:   cfg.SocketMaxControlLine,
		MaxPayload:       int(cfg.SocketMaxPayload),
		ConnectTimeout:   cfg.SocketConnectTimeout,
		PingInterval:     cfg.SocketPingInterval,
		MaxPingsOut:      cfg.SocketMaxPingsOut,
		WriteDeadline:    cfg.SocketWriteDeadline,
		MaxPending:       int(cfg.SocketMaxPending),
		Upstream:         in,
		PublishAllow:     cfg.PublishAllow,
		SubscribeAllow:   cfg.SubscribeAllow,
	}, log.Named("socket"))
	defer sock.Close()
	listeners, err := listenConsumers(cfg)
	if err != nil {
		return err
	}
	served := make(chan error, len(listeners))
	for _, ln := range listeners {
		go func() { served <- sock.Serve(ln) }()
	}

	reg := newRegistry(version)
	reg.MustRegister(collector{hub: hub, in: in, sock: sock, lag: consumerLag(cfg)})
	web := newHTTPServer(cfg.HTTPAddr, reg, level, in.Ready, log)
	web.serveMonitoring(&monitor{sock: sock, in: in, remote: cfg.MonitorRemote})
	if err := web.Start(); err != nil {
		return err
	}
	servers := []*listenServer{web.listenServer}
	if cfg.PprofAddr != "" {
		pp := newPprofServer(cfg.PprofAddr, log)
		if err := pp.Start(); err != nil {
			return err
		}
		servers = append(servers, pp)
	}

	consumers := []zap.Field{zap.String("socket", cfg.Socket)}
	listen := ""
	if cfg.Listen != "" {
		listen = listeners[1].Addr().String()
		consumers = append(consumers, zap.String("listen", listen))
	}
	log.Info("natsfan started", append(consumers,
		zap.Strings("subjects", cfg.Subjects),
		zap.String("probes", "http://"+web.Addr().String()+"/readyz"))...)
	logStartHints(log, cfg, listen)

	var failure error
	select {
	case <-ctx.Done():
		log.Info("shutting down", zap.Duration("timeout", cfg.ShutdownTimeout))
	case err := <-web.Err():
		failure = fmt.Errorf("HTTP server failed: %w", err)
	case err := <-served:
		failure = fmt.Errorf("consumer listener failed: %w", err)
	}
	web.SetNotReady("shutting down")
	sock.LameDuck()

	shutdown, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := in.Drain(shutdown); err != nil {
		log.Warn("upstream drain did not finish", zap.Error(err))
	}
	// A consumer that never reads makes the hub's Drain wait for it to the
	// end: keep part of the time for the others' connections to send what
	// is queued for them before they close.
	drain, cancelDrain := context.WithTimeout(shutdown, cfg.ShutdownTimeout-flushReserve(cfg.ShutdownTimeout))
	defer cancelDrain()
	var unread *fanout.DrainError
	if err := hub.Drain(drain); errors.As(err, &unread) {
		log.Warn("consumers had not read everything at the shutdown timeout",
			zap.Int("subscriptions", unread.Subscriptions), zap.Uint64("unread_messages", unread.Messages))
	} else if err != nil {
		log.Warn("consumers had not read everything at the shutdown timeout", zap.Error(err))
	}
	var unwritten *fanout.ShutdownError
	if err := sock.Shutdown(shutdown); errors.As(err, &unwritten) {
		log.Warn("consumer connections closed before everything was written",
			zap.Int("connections", unwritten.Connections), zap.Uint64("unwritten_messages", unwritten.Messages))
	} else if err != nil {
		log.Warn("consumer connections closed before everything was written", zap.Error(err))
	}
	for _, s := range servers {
		if err := s.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Warn("server shutdown", zap.String("server", s.name), zap.Error(err))
		}
	}
	if failure == nil {
		log.Info("natsfan stopped")
	}
	return failure
}

// flushReserve is how much of the shutdown timeout is kept for consumer
// connections to write what is queued for them once the hub has drained:
// a fifth, and at most a second.
func flushReserve(timeout time.Duration) time.Duration {
	return min(timeout/5, time.Second)
}

// listenConsumers opens the Unix socket and, when NATSFAN_LISTEN is set, the
// loopback TCP address consumers connect to.
func listenConsumers(cfg *Config) ([]net.Listener, error) {
	unix, err := fanout.ListenUnix(cfg.Socket, os.FileMode(cfg.SocketMode))
	if err != nil {
		return nil, fmt.Errorf("NATSFAN_SOCKET: %w", err)
	}
	listeners := []net.Listener{unix}
	if cfg.Listen != "" {
		tcp, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			unix.Close()
			return nil, fmt.Errorf("NATSFAN_LISTEN: %w", err)
		}
		listeners = append(listeners, tcp)
	}
	return listeners, nil
}

// reconnectBuffer is NATSFAN_NATS_RECONNECT_BUFFER as ingest takes it: 0
// there means the default, and holding nothing is negative.
func reconnectBuffer(cfg *Config) int {
	if cfg.NATSReconnectBuffer == 0 {
		return -1
	}
	return int(cfg.NATSReconnectBuffer)
}

// consumerLag is the lag limit every consumer gets.
func consumerLag(cfg *Config) buffer.Lag {
	lag := buffer.Lag{
		MaxMessages: uint64(cfg.ConsumerMaxLagMessages),
		MaxBytes:    uint64(cfg.ConsumerMaxLagBytes),
		Policy:      buffer.LagDisconnect,
	}
	if cfg.ConsumerLagPolicy == lagPolicySkip {
		lag.Policy = buffer.LagSkip
	}
	return lag
}

// upstreamPingInterval is how often natsfan checks that upstream still
// answers; two unanswered pings mark the connection stale.
const upstreamPingInterval = 15 * time.Second

// natsOptions turns the upstream authentication and TLS settings into
// nats.go options. loadConfig has checked that the files exist and that at
// most one authentication method is set.
func natsOptions(cfg *Config) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(cfg.NATSName),
		// nats.go pings every 2 minutes by default: a half-open upstream
		// connection would go unnoticed, and /readyz stay 200, for minutes.
		nats.PingInterval(upstreamPingInterval),
		nats.MaxPingsOutstanding(2),
	}
	switch {
	case cfg.NATSCredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.NATSCredsFile))
	case cfg.NATSNKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(cfg.NATSNKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("NATSFAN_NATS_NKEY_SEED_FILE: %w", err)
		}
		opts = append(opts, opt)
	case cfg.NATSToken != "":
		opts = append(opts, nats.Token(cfg.NATSToken))
	case cfg.NATSUser != "":
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	return opts, nil
}
