package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// startHTTP starts a main HTTP server on a free loopback port and stops it
// when the test ends.
func startHTTP(t *testing.T, ready func() error) (*httpServer, zap.AtomicLevel, string) {
	t.Helper()
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	s := newHTTPServer("127.0.0.1:0", newRegistry("v0.0.0-test"), level, ready, zaptest.NewLogger(t))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, level, "http://" + s.Addr().String()
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHTTPServer_livez(t *testing.T) {
	_, _, base := startHTTP(t, func() error { return errors.New("upstream disconnected") })
	if code, body := do(t, "GET", base+"/livez", ""); code != 200 || body != "ok" {
		t.Errorf("GET /livez = %d %q, want 200 \"ok\" even when not ready", code, body)
	}
	if code, _ := do(t, "POST", base+"/livez", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /livez = %d, want 405", code)
	}
}

func TestHTTPServer_readyz(t *testing.T) {
	var notReady atomic.Pointer[string]
	_, _, base := startHTTP(t, func() error {
		if r := notReady.Load(); r != nil {
			return errors.New(*r)
		}
		return nil
	})
	if code, body := do(t, "GET", base+"/readyz", ""); code != 200 || body != "ok" {
		t.Errorf("ready: GET /readyz = %d %q, want 200 \"ok\"", code, body)
	}
	reason := `subscription to "foo.>" not active`
	notReady.Store(&reason)
	if code, body := do(t, "GET", base+"/readyz", ""); code != 503 || body != reason {
		t.Errorf("not ready: GET /readyz = %d %q, want 503 %q", code, body, reason)
	}
	notReady.Store(nil)
	if code, _ := do(t, "GET", base+"/readyz", ""); code != 200 {
		t.Errorf("ready again: GET /readyz = %d, want 200", code)
	}
}

func TestHTTPServer_SetNotReadyOverridesReadiness(t *testing.T) {
	s, _, base := startHTTP(t, func() error { return nil })
	s.SetNotReady("shutting down")
	if code, body := do(t, "GET", base+"/readyz", ""); code != 503 || body != "shutting down" {
		t.Errorf("GET /readyz = %d %q, want 503 \"shutting down\"", code, body)
	}
	if code, _ := do(t, "GET", base+"/livez", ""); code != 200 {
		t.Errorf("GET /livez = %d while shutting down, want 200", code)
	}
}

func TestHTTPServer_nilReadinessMeansReady(t *testing.T) {
	_, _, base := startHTTP(t, nil)
	if code, _ := do(t, "GET", base+"/readyz", ""); code != 200 {
		t.Errorf("GET /readyz = %d, want 200", code)
	}
}

func TestHTTPServer_metrics(t *testing.T) {
	_, _, base := startHTTP(t, nil)
	code, body := do(t, "GET", base+"/metrics", "")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{`natsfan_build_info{goversion="go`, `version="v0.0.0-test"`, "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestNewRegistry_isPrivate(t *testing.T) {
	a, b := newRegistry("a"), newRegistry("b") // would panic on a shared registry
	fa, err := a.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Gather(); err != nil {
		t.Fatal(err)
	}
	for _, mf := range fa {
		if mf.GetName() == "natsfan_build_info" {
			return
		}
	}
	t.Error("natsfan_build_info not gathered")
}

func TestHTTPServer_loglevel(t *testing.T) {
	_, level, base := startHTTP(t, nil)
	if code, body := do(t, "GET", base+"/loglevel", ""); code != 200 || !strings.Contains(body, `"level":"info"`) {
		t.Errorf("GET /loglevel = %d %q", code, body)
	}
	if code, body := do(t, "PUT", base+"/loglevel", `{"level":"debug"}`); code != 200 || !strings.Contains(body, `"level":"debug"`) {
		t.Errorf("PUT /loglevel from loopback = %d %q", code, body)
	}
	if level.Level() != zapcore.DebugLevel {
		t.Errorf("level = %v after PUT debug", level.Level())
	}
	if code, _ := do(t, "PUT", base+"/loglevel", `{"level":"loud"}`); code != 400 {
		t.Errorf("PUT /loglevel loud = %d, want 400", code)
	}
}

func TestHTTPServer_loglevelChangeOnlyFromLoopback(t *testing.T) {
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	h := newHTTPServer("127.0.0.1:0", newRegistry("test"), level, nil, zaptest.NewLogger(t)).Handler()
	for _, tt := range []struct {
		method, remote string
		want           int
	}{
		{"PUT", "10.1.2.3:5555", http.StatusForbidden},
		{"PUT", "[2001:db8::1]:5555", http.StatusForbidden},
		{"POST", "10.1.2.3:5555", http.StatusForbidden},
		{"GET", "10.1.2.3:5555", http.StatusOK},
		{"PUT", "127.0.0.1:5555", http.StatusOK},
		{"PUT", "[::1]:5555", http.StatusOK},
		{"PUT", "[::ffff:127.0.0.1]:5555", http.StatusOK},
	} {
		level.SetLevel(zapcore.InfoLevel)
		req := httptest.NewRequest(tt.method, "/loglevel", strings.NewReader(`{"level":"error"}`))
		req.RemoteAddr = tt.remote
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s /loglevel from %s = %d, want %d", tt.method, tt.remote, rec.Code, tt.want)
		}
		if tt.want == http.StatusForbidden && level.Level() != zapcore.InfoLevel {
			t.Errorf("%s from %s changed the level to %v", tt.method, tt.remote, level.Level())
		}
	}
}

func TestListenServer_StartReturnsBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newHTTPServer(ln.Addr().String(), newRegistry("test"), zap.NewAtomicLevel(), nil, zaptest.NewLogger(t))
	if err := s.Start(); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("Start on a port in use succeeded")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a server that never started: %v", err)
	}
}

func TestListenServer_ShutdownStopsServing(t *testing.T) {
	s := newPprofServer("127.0.0.1:0", zaptest.NewLogger(t))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	base := "http://" + s.Addr().String()
	if code, body := do(t, "GET", base+"/debug/pprof/cmdline", ""); code != 200 || body == "" {
		t.Errorf("GET /debug/pprof/cmdline = %d %q", code, body)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/debug/pprof/"); err == nil {
		t.Error("server still answers after Shutdown")
	}
	select {
	case err := <-s.Err():
		t.Errorf("Err() after a clean Shutdown: %v", err)
	default:
	}
}

func TestHTTPServer_hasNoPprof(t *testing.T) {
	_, _, base := startHTTP(t, nil)
	if code, _ := do(t, "GET", base+"/debug/pprof/", ""); code != 404 {
		t.Errorf("GET /debug/pprof/ on the main server = %d, want 404", code)
	}
}

// TestHTTPServer_loglevelAsTheREADMEShowsIt sends what
//
//	curl -X PUT -d '{"level":"debug"}' localhost:8422/loglevel
//
// sends: a JSON body with the form Content-Type curl gives -d. Without a
// Content-Type, with a form body or with the level in the query, PUT works
// too.
func TestHTTPServer_loglevelAsTheREADMEShowsIt(t *testing.T) {
	_, level, base := startHTTP(t, nil)
	for _, tt := range []struct {
		contentType, query, body string
		want                     zapcore.Level
	}{
		{"application/x-www-form-urlencoded", "", `{"level":"debug"}`, zapcore.DebugLevel},
		{"", "", `{"level":"warn"}`, zapcore.WarnLevel},
		{"application/json", "", `{"level":"error"}`, zapcore.ErrorLevel},
		{"application/x-www-form-urlencoded", "", "level=info", zapcore.InfoLevel},
		{"", "", "level=debug\n", zapcore.DebugLevel},
		{"", "?level=warn", "", zapcore.WarnLevel},
	} {
		req, err := http.NewRequest("PUT", base+"/loglevel"+tt.query, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `{"level":"` + tt.want.String() + `"}` + "\n"; resp.StatusCode != 200 || string(b) != want {
			t.Errorf("PUT /loglevel%s %q (Content-Type %q) = %d %q, want 200 %q", tt.query, tt.body, tt.contentType, resp.StatusCode, b, want)
		}
		if level.Level() != tt.want {
			t.Errorf("PUT /loglevel%s %q: level %v, want %v", tt.query, tt.body, level.Level(), tt.want)
		}
	}
	for _, body := range []string{`{"level":"fatal"}`, `{"level":"loud"}`, `{"lvl":"debug"}`, "level=", `{"level":""}`, "?level=debug", "debug", "", `{"level":`} {
		req := httptest.NewRequest("PUT", "/loglevel", strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		logLevelHandler(level, zaptest.NewLogger(t)).ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"error":`) {
			t.Errorf("PUT /loglevel %q = %d %q, want 400 and an error", body, rec.Code, rec.Body.String())
		}
	}
}

// TestHTTPServer_everyLogLevelChangeIsLogged, whatever the new level: a
// change to warn or error hides info lines.
func TestHTTPServer_everyLogLevelChangeIsLogged(t *testing.T) {
	var buf bytes.Buffer // the handler runs on the test's goroutine
	log, level, err := buildLogger("info", "json", zapcore.AddSync(&buf))
	if err != nil {
		t.Fatal(err)
	}
	h := newHTTPServer("127.0.0.1:0", newRegistry("test"), level, nil, log).Handler()
	from := "info"
	for _, to := range []string{"error", "warn", "error", "debug", "error", "info", "warn", "debug", "warn", "info"} {
		buf.Reset()
		req := httptest.NewRequest("PUT", "/loglevel", strings.NewReader(`{"level":"`+to+`"}`))
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("PUT %s = %d %s", to, rec.Code, rec.Body.String())
		}
		want := `"msg":"log level changed","from":"` + from + `","to":"` + to + `","remote":"127.0.0.1:5555"}`
		if out := buf.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, want) {
			t.Errorf("change from %s to %s logged as:\n%s\nwant one line with %s", from, to, out, want)
		}
		from = to
	}
	buf.Reset()
	req := httptest.NewRequest("PUT", "/loglevel", strings.NewReader(`{"level":"info"}`))
	req.RemoteAddr = "127.0.0.1:5555"
	h.ServeHTTP(httptest.NewRecorder(), req)
	if out := buf.String(); out != "" {
		t.Errorf("no change, but logged:\n%s", out)
	}
}
