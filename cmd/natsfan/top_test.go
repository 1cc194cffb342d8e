package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunTop_usageErrorsExit2WithTheUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"interval not a duration", []string{"--interval", "soon"}, `invalid value "soon" for flag -interval`},
		{"interval zero", []string{"--interval", "0s"}, "--interval must be greater than 0"},
		{"limit zero", []string{"--limit", "0"}, "--limit must be greater than 0"},
		{"not a URL", []string{"--url", "127.0.0.1:8422"}, "--url must be an http:// or https:// URL"},
		{"unknown flag", []string{"--sort", "cid"}, "flag provided but not defined: -sort"},
		{"an argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"top"}, tt.args...), nil, &stdout, &stderr)
			if code != exitConfigError {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "Usage: natsfan top") {
				t.Errorf("stderr lacks %q or the usage:\n%s", tt.want, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

func TestRunTop_helpPrintsTheUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"top", "-h"}, []string{"NATSFAN_HTTP_ADDR=:9000"}, &stdout, &stderr)
	if code != exitOK || stderr.Len() > 0 {
		t.Errorf("exit status %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"Usage: natsfan top", "default: http://127.0.0.1:9000", "from NATSFAN_HTTP_ADDR"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout.String())
		}
	}
	for i, line := range strings.Split(stdout.String(), "\n") {
		if len(line) > usageWidth {
			t.Errorf("usage line %d is %d bytes wide: %q", i+1, len(line), line)
		}
	}
}

func TestDefaultTopURL(t *testing.T) {
	for addr, want := range map[string]string{
		"":               "http://127.0.0.1:8422",
		":9000":          "http://127.0.0.1:9000",
		"0.0.0.0:8422":   "http://127.0.0.1:8422",
		"[::]:8422":      "http://127.0.0.1:8422",
		"10.0.0.5:8422":  "http://10.0.0.5:8422",
		"localhost:8500": "http://localhost:8500",
		"[::1]:8422":     "http://[::1]:8422",
	} {
		var environ []string
		if addr != "" {
			environ = []string{"NATSFAN_HTTP_ADDR=" + addr}
		}
		if got, _ := defaultTopURL(environ); got != want {
			t.Errorf("NATSFAN_HTTP_ADDR=%q: %s, want %s", addr, got, want)
		}
	}
}

func TestRunTop_unreachableNatsfanExits1(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"top", "--once", "--url", url}, nil, &stdout, &stderr)
	if code != exitFailure || stdout.Len() > 0 {
		t.Errorf("exit status %d, stdout %q", code, stdout.String())
	}
	if want := "natsfan top: cannot reach natsfan at " + url + "/connz"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q: %s", want, stderr.String())
	}
}

func TestRunTop_aRefusalExits1WithNatsfansReason(t *testing.T) {
	_, sock, _ := servedHub(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "10.0.0.9:1234" // as if from another pod
		(&monitor{sock: sock}).handler((&monitor{sock: sock}).connz).ServeHTTP(w, r)
	}))
	defer refusing.Close()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"top", "--once", "--url", refusing.URL}, nil, &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("exit status %d, want 1", code)
	}
	if want := "natsfan answered 403 Forbidden"; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "loopback callers only") {
		t.Errorf("stderr lacks %q and the reason: %s", want, stderr.String())
	}
}

func TestRunTop_onceShowsTheStuckConsumerFirst(t *testing.T) {
	m := startMonitoredSidecar(t)
	reader := m.consumer(t, "reader", "demo.>")
	sent := m.stuck(t, "stuck", "demo.>")
	for range sent {
		if _, err := reader.NextMsg(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"top", "--once", "--url", m.url}, nil, &stdout, &stderr)
	if code != exitOK || stderr.Len() > 0 {
		t.Fatalf("exit status %d, stderr %q", code, stderr.String())
	}
	t.Logf("natsfan top --once:\n%s", stdout.String())
	lines := strings.Split(stdout.String(), "\n")
	if len(lines) < 8 {
		t.Fatalf("too few lines")
	}
	fields := func(i int) []string { return strings.Fields(lines[i]) }
	if !strings.HasPrefix(lines[0], "natsfan at "+m.url+" (server ") || !strings.HasSuffix(lines[0], ": 2 connections, the furthest behind first") {
		t.Errorf("title: %q", lines[0])
	}
	if got := strings.Join(fields(2), " "); got != "STREAM RETAINED BYTES SEQ READERS UPSTREAM FURTHEST BEHIND" {
		t.Errorf("streams header: %q", got)
	}
	if f := fields(3); f[0] != "demo.>" || f[4] != "2" || f[5] != "-" || f[6] != "cid" || f[8] != "stuck:" {
		t.Errorf("stream line: %q", lines[3])
	}
	if got := strings.Join(fields(5), " "); got != "CID NAME LANG VERSION SUBS LAG MSGS LAG BYTES PENDING MSGS OUT BYTES OUT IDLE UPTIME SUBJECTS" {
		t.Errorf("connections header: %q", got)
	}
	stuck, rest := fields(6), fields(7)
	if stuck[1] != "stuck" || stuck[2] != "raw" || stuck[3] != "1.0" || stuck[4] != "1" || stuck[5] == "0" || stuck[len(stuck)-1] != "demo.>" {
		t.Errorf("first connection: %q", lines[6])
	}
	if rest[1] != "reader" || rest[2] != "go" || rest[5] != "0" {
		t.Errorf("second connection: %q", lines[7])
	}
}

// TestRunTop_refreshesUntilInterrupted cancels natsfan top's context, as
// SIGINT does, once it has printed two tables: it exits 0.
func TestRunTop_refreshesUntilInterrupted(t *testing.T) {
	m := startMonitoredSidecar(t)
	m.consumer(t, "reader", "demo.>")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &frames{after: 2, done: cancel}
	var stderr bytes.Buffer
	code := run(ctx, []string{"top", "--interval", "10ms", "--url", m.url}, nil, out, &stderr)
	if code != exitOK || stderr.Len() > 0 {
		t.Errorf("exit status %d, stderr %q", code, stderr.String())
	}
	if n := strings.Count(out.String(), "natsfan at "); n < 2 {
		t.Errorf("%d tables printed, want 2 or more", n)
	}
}

// frames is a writer that calls done once it has been written after
// tables: one write is one table.
type frames struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	after int
	done  func()
}

// TestRunTop_aFailedRefreshIsReportedAndTriedAgain has natsfan fail one
// refresh, as while its container restarts: top says so and goes on.
func TestRunTop_aFailedRefreshIsReportedAndTriedAgain(t *testing.T) {
	m := startMonitoredSidecar(t)
	m.consumer(t, "reader", "demo.>")
	var requests atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connz" && requests.Add(1) == 2 { // the second refresh
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		resp, err := http.Get(m.url + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer flaky.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &frames{after: 2, done: cancel}
	var stderr syncBuffer
	code := run(ctx, []string{"top", "--interval", "10ms", "--url", flaky.URL}, nil, out, &stderr)
	if code != exitOK {
		t.Errorf("exit status %d, stderr %q", code, stderr.String())
	}
	if n := strings.Count(out.String(), "natsfan at "); n < 2 {
		t.Errorf("%d tables printed, want 2 or more", n)
	}
	if want := "503 Service Unavailable"; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "trying again") {
		t.Errorf("stderr lacks %q and trying again: %s", want, stderr.String())
	}
}

func (f *frames) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if bytes.HasPrefix(p, []byte("natsfan at ")) {
		if f.after--; f.after == 0 {
			f.done()
		}
	}
	return f.buf.Write(p)
}

func (f *frames) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String()
}
