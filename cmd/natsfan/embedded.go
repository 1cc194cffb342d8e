package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// embeddedReadyTimeout bounds how long startEmbedded waits for the embedded
// server to accept connections.
const embeddedReadyTimeout = 10 * time.Second

// Embedded JetStream's limits: enough to try streams, KV and object stores
// on a laptop, never the machine's memory.
const (
	embeddedJetStreamMemory = 256 << 20
	embeddedJetStreamStore  = 1 << 30
)

// embedded is the nats-server of embedded mode.
type embedded struct {
	*server.Server
	storeDir string // JetStream's, a temporary directory
}

// Shutdown stops the server and removes what JetStream stored: embedded
// mode keeps nothing from one run to the next.
func (e *embedded) Shutdown() {
	e.Server.Shutdown()
	e.WaitForShutdown()
	os.RemoveAll(e.storeDir)
}

// startEmbedded starts a nats-server inside this process, listening on
// 127.0.0.1:port (-1 picks a free port), with JetStream storing in a
// temporary directory, and waits until it accepts clients. It returns the
// server, which the caller shuts down, and the URL clients connect to.
// This is embedded mode, for development: natsfan says so in a warning,
// since in production it belongs in front of a real NATS cluster.
//
// The server handles no signals and does no logging of its own; its
// notices and debug output go to log at debug level, its warnings and
// errors at warn and error.
func startEmbedded(port int, log *zap.Logger) (*embedded, string, error) {
	log = log.Named("embedded")
	dir, err := os.MkdirTemp("", "natsfan-jetstream-")
	if err != nil {
		return nil, "", fmt.Errorf("cannot make the embedded NATS server's JetStream directory: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName:         "natsfan-embedded",
		Host:               "127.0.0.1",
		Port:               port,
		NoSigs:             true,
		NoLog:              true,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: embeddedJetStreamMemory,
		JetStreamMaxStore:  embeddedJetStreamStore,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("cannot configure the embedded NATS server: %w", err)
	}
	s := &embedded{Server: srv, storeDir: dir}
	zl := &serverLogger{log: log, fatal: make(chan string, 1)}
	s.SetLogger(zl, log.Core().Enabled(zap.DebugLevel), false)
	go s.Start()

	// ReadyForConnections alone would wait out its whole timeout when the
	// port is taken; poll it briefly and watch for the server's fatal error.
	deadline := time.Now().Add(embeddedReadyTimeout)
	for !s.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-zl.fatal:
			s.Shutdown()
			return nil, "", fmt.Errorf("embedded NATS server cannot start on 127.0.0.1:%d (is the port in use? set NATSFAN_EMBEDDED_PORT): %s", port, msg)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, "", fmt.Errorf("embedded NATS server on 127.0.0.1:%d not ready for connections after %s", port, embeddedReadyTimeout)
		}
	}
	url := s.ClientURL()
	log.Warn("natsfan is running an embedded NATS server at "+url+"; this is for development only: set NATSFAN_NATS_URL to point natsfan at a real NATS cluster",
		zap.String("url", url))
	return s, url, nil
}

// serverLogger routes nats-server's logging to zap. Fatal errors, which
// nats-server's own logger would exit the process for, are logged and
// passed on to startEmbedded instead.
type serverLogger struct {
	log   *zap.Logger
	fatal chan string
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
