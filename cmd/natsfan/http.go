package main

// natsfan's operations endpoints. The main server (NATSFAN_HTTP_ADDR) must be
// reachable on the pod IP because kubelet probes do not come from loopback,
// so everything it serves is either harmless to read (probes, metrics, the
// current log level) or restricted to loopback callers (changing the log
// level; /connz and /subsz unless NATSFAN_HTTP_MONITOR_REMOTE, monitor.go).
// Profiling can leak a lot and cost CPU, so it lives on a separate, opt-in
// server that config validation only lets bind to loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newRegistry returns the private Prometheus registry natsfan's metrics go
// in, holding the Go runtime and process collectors and natsfan_build_info.
// natsfan never uses the global default registry, so tests can build as many
// registries as they like and no library can slip metrics in unnoticed.
func newRegistry(version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "natsfan_build_info",
		Help: "Always 1; the labels tell which natsfan build is running.",
		ConstLabels: prometheus.Labels{
			"version":   version,
			"goversion": runtime.Version(),
			"revision":  vcsRevision(),
		},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
	)
	return reg
}

// listenServer is an http.Server whose listener is bound by Start, so that a
// bind error is returned to the caller at start-up and the bound address is
// known (port 0 picks a free one).
type listenServer struct {
	name string // for logs: "http" or "pprof"
	log  *zap.Logger
	srv  *http.Server

	mu   sync.Mutex
	ln   net.Listener  // set by Start
	done chan struct{} // closed when Serve has returned
	errc chan error    // receives Serve's error, if it fails on its own
}

func newListenServer(name, addr string, h http.Handler, writeTimeout time.Duration, log *zap.Logger) *listenServer {
	log = log.Named(name)
	return &listenServer{
		name: name,
		log:  log,
		srv: &http.Server{
			Addr:              addr,
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          stdLogAt(log, zapcore.WarnLevel),
		},
		errc: make(chan error, 1),
	}
}

// Start binds the server's address and serves on it in a new goroutine. It
// returns the bind error, if any; a server is started at most once.
func (s *listenServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return fmt.Errorf("natsfan: %s server already started", s.name)
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen for %s on %s: %w", s.name, s.srv.Addr, err)
	}
	s.ln = ln
	s.done = make(chan struct{})
	s.log.Info("listening", zap.Stringer("addr", ln.Addr()))
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server failed", zap.Error(err))
			s.errc <- fmt.Errorf("%s server on %s: %w", s.name, ln.Addr(), err)
		}
	}()
	return nil
}

// Addr returns the bound address, or nil before Start.
func (s *listenServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Err returns a channel that receives an error if the server stops serving
// on its own, which it should never do; Shutdown does not send on it.
func (s *listenServer) Err() <-chan error { return s.errc }

// Shutdown stops accepting connections, waits for active requests to finish
// (or ctx to end, then closes what is left) and for the serving goroutine
// to return. It is a no-op on a server that was never started.
func (s *listenServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Requests still running past the deadline: cut them off.
		s.srv.Close()
	}
	<-done
	return err
}

// httpServer is natsfan's main HTTP server, on NATSFAN_HTTP_ADDR:
//
//	GET /livez      200 "ok" while the process serves HTTP at all; it never
//	                looks at the upstream, so an outage there cannot get the
//	                pod restarted
//	GET /readyz     200 "ok", or 503 with the reason not ready as the body
//	GET /metrics    Prometheus metrics from the registry given
//	GET /loglevel   the current level, {"level":"info"}
//	PUT /loglevel   change the level; loopback callers only, 403 otherwise
//	                (see logLevelHandler)
//	GET /connz      nats-server style monitoring, once serveMonitoring is
//	GET /subsz      called (monitor.go)
type httpServer struct {
	*listenServer
	mux      *http.ServeMux
	ready    func() error
	notReady atomic.Pointer[string] // forced reason, set by SetNotReady
}

// newHTTPServer returns the main HTTP server for addr, not yet started.
// ready reports why natsfan is not ready, or nil when it is; it is called
// on every GET /readyz, from the request's goroutine. A nil ready means
// always ready (unless SetNotReady was called).
func newHTTPServer(addr string, reg *prometheus.Registry, level zap.AtomicLevel, ready func() error, log *zap.Logger) *httpServer {
	s := &httpServer{ready: ready}
	mux := http.NewServeMux()
	s.mux = mux
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: stdLogAt(log.Named("metrics"), zapcore.ErrorLevel),
	}))
	mux.Handle("/loglevel", logLevelHandler(level, log))
	s.listenServer = newListenServer("http", addr, mux, 30*time.Second, log)
	return s
}

// serveMonitoring adds m's /connz and /subsz to the server. Call it before
// Start.
func (s *httpServer) serveMonitoring(m *monitor) {
	s.mux.Handle("GET /connz", m.handler(m.connz))
	s.mux.Handle("GET /subsz", m.handler(m.subsz))
}

// Handler returns the server's handler, for tests with httptest.
func (s *httpServer) Handler() http.Handler { return s.srv.Handler }

// SetNotReady makes /readyz answer 503 with reason from now on, whatever the
// readiness function says. natsfan calls it first thing on shutdown so that
// Kubernetes stops counting on the pod at once.
func (s *httpServer) SetNotReady(reason string) { s.notReady.Store(&reason) }

// readiness returns why natsfan is not ready, or nil.
func (s *httpServer) readiness() error {
	if reason := s.notReady.Load(); reason != nil {
		return errors.New(*reason)
	}
	if s.ready == nil {
		return nil
	}
	return s.ready()
}

func (s *httpServer) serveReady(w http.ResponseWriter, _ *http.Request) {
	if err := s.readiness(); err != nil {
		writeText(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// writeText writes a short plain-text answer that must not be cached.
func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

// logLevelHandler serves the log level, refusing any request but a read
// from a non-loopback address, and logs every change.
//
//	GET /loglevel   {"level":"info"}
//	PUT /loglevel   with {"level":"debug"} or level=debug as the body,
//	                whatever the Content-Type, or ?level=debug; answers
//	                {"level":"debug"}, or 400 and {"error":"…"}
//
// zap's AtomicLevel handler reads a body as a form when the Content-Type is
// application/x-www-form-urlencoded, which is what curl -d sends, so the
// plain curl -X PUT -d '{"level":"debug"}' got a 400 from it. The levels are
// those of NATSFAN_LOG_LEVEL.
func logLevelHandler(level zap.AtomicLevel, log *zap.Logger) http.Handler {
	var mu sync.Mutex // one change at a time, so that each is logged from what it was
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			writeLevelJSON(w, http.StatusOK, "level", level.Level().String())
			return
		case !isLoopbackRemote(r.RemoteAddr):
			writeText(w, http.StatusForbidden, "the log level can only be changed from loopback (127.0.0.1 or ::1)\n")
			return
		case r.Method != http.MethodPut:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			writeLevelJSON(w, http.StatusMethodNotAllowed, "error", "only GET and PUT are supported")
			return
		}
		to, err := requestedLevel(r)
		if err != nil {
			writeLevelJSON(w, http.StatusBadRequest, "error", err.Error())
			return
		}
		mu.Lock()
		changeLevel(level, to, log, zap.String("remote", r.RemoteAddr))
		mu.Unlock()
		writeLevelJSON(w, http.StatusOK, "level", level.Level().String())
	})
}

// maxLevelBody is the most of a PUT /loglevel body that is read.
const maxLevelBody = 1 << 10

// requestedLevel returns the level a PUT /loglevel asks for: from a JSON
// body, or a form body, or the query, in that order.
func requestedLevel(r *http.Request) (zapcore.Level, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLevelBody+1))
	if err != nil {
		return 0, fmt.Errorf("cannot read the request: %v", err)
	}
	if len(body) > maxLevelBody {
		return 0, fmt.Errorf("the request body is longer than %d bytes", maxLevelBody)
	}
	var name string
	switch b := bytes.TrimSpace(body); {
	case len(b) > 0 && b[0] == '{':
		var req struct {
			Level *string `json:"level"`
		}
		if err := json.Unmarshal(b, &req); err != nil || req.Level == nil {
			return 0, errors.New(`expected a body such as {"level":"debug"} or level=debug`)
		}
		name = *req.Level
	case len(b) > 0:
		form, err := url.ParseQuery(string(b))
		if err != nil || !form.Has("level") {
			return 0, errors.New(`expected a body such as {"level":"debug"} or level=debug`)
		}
		name = form.Get("level")
	default:
		if !r.URL.Query().Has("level") {
			return 0, errors.New(`expected a body such as {"level":"debug"} or level=debug, or ?level=debug`)
		}
		name = r.URL.Query().Get("level")
	}
	switch l, err := zapcore.ParseLevel(name); {
	case err == nil && name != "" && l >= zapcore.DebugLevel && l <= zapcore.ErrorLevel: // zap reads "" as info
		return l, nil
	default:
		return 0, fmt.Errorf("unknown level %q: expected debug, info, warn or error", name)
	}
}

// changeLevel sets level to to, and logs the change whatever the levels: at
// info if either level lets info through, else at the less severe of the
// two, and while that one is in force (before the change when the level
// rises, after it when it falls).
func changeLevel(level zap.AtomicLevel, to zapcore.Level, log *zap.Logger, fields ...zap.Field) {
	from := level.Level()
	if from == to {
		return
	}
	logChange := func() {
		if ce := log.Check(max(zapcore.InfoLevel, min(from, to)), "log level changed"); ce != nil {
			ce.Write(append([]zap.Field{zap.Stringer("from", from), zap.Stringer("to", to)}, fields...)...)
		}
	}
	if to < from {
		level.SetLevel(to)
		logChange()
		return
	}
	logChange()
	level.SetLevel(to)
}

// writeLevelJSON writes a one-field JSON object, such as {"level":"info"},
// the answers of /loglevel.
func writeLevelJSON(w http.ResponseWriter, code int, key, value string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{key: value})
	w.Write(append(b, '\n'))
}

// stdLogAt returns a standard library logger writing to log at level, for
// the libraries that want one.
func stdLogAt(log *zap.Logger, level zapcore.Level) *stdlog.Logger {
	l, err := zap.NewStdLogAt(log, level)
	if err != nil {
		panic(err) // only for levels zap does not know
	}
	return l
}

// isLoopbackRemote reports whether an http.Request.RemoteAddr is a loopback
// address. Forwarding headers are ignored on purpose: anyone can send them.
func isLoopbackRemote(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// newPprofServer returns the net/http/pprof server for addr, not yet
// started. Its handlers are on a mux of its own, never on the main server's
// nor on http.DefaultServeMux (which importing net/http/pprof also fills, and
// natsfan never serves).
func newPprofServer(addr string, log *zap.Logger) *listenServer {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: CPU profiles and traces take as long as asked.
	return newListenServer("pprof", addr, mux, 0, log)
}
