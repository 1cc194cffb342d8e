package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/natsfan/natsfan/fanout"
)

func TestRunSub_usageErrorsExit2WithTheUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr, besides the usage
	}{
		{"no subject", nil, "missing SUBJECT"},
		{"only flags", []string{"--count", "1"}, "missing SUBJECT"},
		{"count not a number", []string{"--count", "x", "a"}, `invalid value "x" for flag -count`},
		{"count negative", []string{"--count=-1", "a"}, "--count must be 0 or more"},
		{"two subjects", []string{"a", "b"}, `one SUBJECT only, got ["a" "b"]`},
		{"invalid subject", []string{"a..b"}, `"a..b"`},
		{"unknown flag", []string{"--queue", "q", "a"}, "flag provided but not defined: -queue"},
		{"empty socket", []string{"--socket", "", "a"}, "--socket must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"sub"}, tt.args...), nil, &stdout, &stderr)
			if code != exitConfigError {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "Usage: natsfan sub") {
				t.Errorf("stderr lacks %q or the usage:\n%s", tt.want, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

func TestRunSub_helpPrintsTheUsage(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"sub", arg}, []string{"NATSFAN_SOCKET=/run/natsfan/s.sock"}, &stdout, &stderr)
		if code != exitOK || stderr.Len() > 0 {
			t.Errorf("sub %s: exit status %d, stderr %q", arg, code, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"Usage: natsfan sub [--socket PATH] [--count N] SUBJECT", "default: /run/natsfan/s.sock", "from NATSFAN_SOCKET"} {
			if !strings.Contains(out, want) {
				t.Errorf("sub %s: usage lacks %q:\n%s", arg, want, out)
			}
		}
		for i, line := range strings.Split(out, "\n") {
			if len(line) > usageWidth {
				t.Errorf("usage line %d is %d bytes wide: %q", i+1, len(line), line)
			}
		}
	}
}

func TestParseSubArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    subArgs
	}{
		{"defaults", []string{"a.>"}, nil, subArgs{socket: "/tmp/natsfan.sock", subject: "a.>"}},
		{"socket from the environment", []string{"a"}, []string{"NATSFAN_SOCKET=/run/x.sock"}, subArgs{socket: "/run/x.sock", subject: "a"}},
		{"empty NATSFAN_SOCKET takes the default", []string{"a"}, []string{"NATSFAN_SOCKET="}, subArgs{socket: "/tmp/natsfan.sock", subject: "a"}},
		{"flags win over the environment", []string{"--socket", "/s", "--count", "3", "a.*"}, []string{"NATSFAN_SOCKET=/run/x.sock"}, subArgs{socket: "/s", count: 3, subject: "a.*"}},
		{"single dash and equals", []string{"-socket=/s", "-count=2", "a"}, nil, subArgs{socket: "/s", count: 2, subject: "a"}},
		{"flags after the subject", []string{"a", "--count", "5"}, nil, subArgs{socket: "/tmp/natsfan.sock", count: 5, subject: "a"}},
		{"a subject after --", []string{"--count", "1", "--", "a"}, nil, subArgs{socket: "/tmp/natsfan.sock", count: 1, subject: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got, code, done := parseSubArgs(tt.args, tt.environ, &stdout, &stderr)
			if done || got != tt.want {
				t.Errorf("parseSubArgs(%q) = %+v, %d, %v; want %+v\nstderr: %s", tt.args, got, code, done, tt.want, stderr.String())
			}
		})
	}
}

func TestWriteMsg(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeMsg(w, 1, &nats.Msg{Subject: "a.b", Reply: "_INBOX.x", Header: nats.Header{"Z": {"1"}, "A": {"x", "y"}}, Data: []byte("hello")})
	writeMsg(w, 2, &nats.Msg{Subject: "a.c", Data: []byte("line\n")})
	writeMsg(w, 3, &nats.Msg{Subject: "a.d"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `[#1] Received on "a.b" with reply "_INBOX.x"
A: x
A: y
Z: 1

hello

[#2] Received on "a.c"
line

[#3] Received on "a.d"

`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestRunSub_cannotConnectExits1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.sock")
	var stdout, stderr bytes.Buffer
	code := runSub(context.Background(), []string{"--socket", path, "a"}, nil, &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{"cannot connect to natsfan on socket " + path, "no such file or directory"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, stderr.String())
		}
	}
}

// servedHub returns a hub ingesting demo.>, the server serving it on a Unix
// socket, and that socket's path.
func servedHub(t *testing.T) (*fanout.Hub, *fanout.Server, string) {
	t.Helper()
	hub, err := fanout.NewHub([]string{"demo.>"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	dir, err := os.MkdirTemp("", "natsfan") // t.TempDir() can be too long for a socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := fanout.ListenUnix(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := fanout.NewServer(hub, fanout.ServerConfig{}, zap.NewNop())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return hub, srv, path
}

// subResult is what runSub did.
type subResult struct {
	code           int
	stdout, stderr string
}

// startSub runs runSub with args in the background.
func startSub(ctx context.Context, args ...string) <-chan subResult {
	done := make(chan subResult, 1)
	go func() {
		var stdout, stderr syncBuffer
		code := runSub(ctx, args, nil, &stdout, &stderr)
		done <- subResult{code, stdout.String(), stderr.String()}
	}()
	return done
}

// syncBuffer is a bytes.Buffer safe for concurrent use: nats.go's error
// handler writes to stderr from its own goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitSub waits for runSub to end.
func waitSub(t *testing.T, done <-chan subResult) subResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("natsfan sub did not end")
		return subResult{}
	}
}

// waitForSubscriptions polls until srv has n subscriptions, or runSub ends.
func waitForSubscriptions(t *testing.T, srv *fanout.Server, n int, done <-chan subResult) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Subscriptions != n {
		select {
		case r := <-done:
			t.Fatalf("natsfan sub ended before subscribing: status %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the socket has %d subscriptions, not %d", srv.Stats().Subscriptions, n)
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

func TestRunSub_printsWhatNatsfanDelivers(t *testing.T) {
	hub, srv, path := servedHub(t)
	done := startSub(context.Background(), "--socket", path, "--count", "2", "demo.>")
	waitForSubscriptions(t, srv, 1, done)

	now := time.Now()
	hub.Streams()[0].Append(now, fanout.Incoming{Subject: "demo.x", Header: nats.Header{"K": {"v"}}, Data: []byte("hello")})
	hub.Streams()[0].Append(now, fanout.Incoming{Subject: "demo.y.z", Reply: "reply.to", Data: []byte("world")})

	r := waitSub(t, done)
	if r.code != exitOK {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	want := `[#1] Received on "demo.x"
K: v

hello

[#2] Received on "demo.y.z" with reply "reply.to"
world

`
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, `subscribed to "demo.>"`) {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestRunSub_aSubjectNatsfanDoesNotIngestExits1(t *testing.T) {
	_, _, path := servedHub(t)
	r := waitSub(t, startSub(context.Background(), "--socket", path, "other.>"))
	if r.code != exitFailure {
		t.Errorf("exit status %d, want 1", r.code)
	}
	for _, want := range []string{`natsfan refused the subscription to "other.>"`, "NATSFAN_SUBJECTS", "ermissions violation"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r.stderr)
		}
	}
}

func TestRunSub_interruptExits0(t *testing.T) {
	_, srv, path := servedHub(t)
	ctx, interrupt := context.WithCancel(context.Background())
	done := startSub(ctx, "--socket", path, "demo.>")
	waitForSubscriptions(t, srv, 1, done)
	interrupt()
	if r := waitSub(t, done); r.code != exitOK {
		t.Errorf("exit status %d, want 0\nstderr: %s", r.code, r.stderr)
	}
}

func TestRunSub_natsfanGoingAwayExits1(t *testing.T) {
	_, srv, path := servedHub(t)
	done := startSub(context.Background(), "--socket", path, "demo.>")
	waitForSubscriptions(t, srv, 1, done)
	srv.Close()
	r := waitSub(t, done)
	if r.code != exitFailure || !strings.Contains(r.stderr, "natsfan closed the connection") {
		t.Errorf("exit status %d, want 1 saying natsfan closed the connection\nstderr: %s", r.code, r.stderr)
	}
}
